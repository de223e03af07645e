/**
 * The CSV scanner reads what csv-parse reads (with the options the ingest used), record for record,
 * and fails where csv-parse fails, at the same record: checked on awkward inputs split at every
 * position, and on thousands of random ones.
 */
import { parse } from 'csv-parse/sync';

import { PARSE_OPTIONS } from '../../../nodes/shared/sources/oneroster-csv/csv-records';
import type { Outcome } from './csv-cases';
import { AWKWARD, randomCsvTexts, withScanner } from './csv-cases';

const ERROR_KINDS: Record<string, string> = {
	CSV_QUOTE_NOT_CLOSED: 'unclosed-quote',
	CSV_MAX_RECORD_SIZE: 'record-too-long',
	INVALID_OPENING_QUOTE: 'misplaced-quote',
	CSV_INVALID_CLOSING_QUOTE: 'misplaced-quote',
};

function withCsvParse(text: string, maxRecordChars: number): Outcome {
	try {
		return { records: parse(text, { ...PARSE_OPTIONS, max_record_size: maxRecordChars }) as string[][] };
	} catch (error) {
		// csv-parse/sync throws its own copy of CsvError: recognise it by its code.
		const { code, records } = error as { code?: string; records?: number };
		if (typeof code !== 'string') throw error;
		return { error: ERROR_KINDS[code] ?? code, records: records ?? -1 };
	}
}

describe('the CSV scanner reads as csv-parse does', () => {
	test.each(AWKWARD.map((text) => [JSON.stringify(text), text]))('%s, split anywhere', (_, text) => {
		const expected = withCsvParse(text, 1 << 20);
		expect(withScanner([text], 1 << 20)).toEqual(expected);
		for (let at = 0; at <= text.length; at++) {
			expect(withScanner([text.slice(0, at), text.slice(at)], 1 << 20)).toEqual(expected);
			for (let second = at; second <= text.length; second += 3) {
				expect(withScanner([text.slice(0, at), text.slice(at, second), text.slice(second)], 1 << 20)).toEqual(expected);
			}
		}
	});

	test('a record longer than the limit', () => {
		const text = `a,b\n1,${'x'.repeat(100)}\n2,3\n`;
		expect(withScanner([text], 50)).toEqual({ error: 'record-too-long', records: 1 });
		expect(withScanner([text.slice(0, 30), text.slice(30)], 50)).toEqual({ error: 'record-too-long', records: 1 });
		const unclosed = `a,b\n1,"${'x\n'.repeat(100)}`;
		expect(withScanner([unclosed.slice(0, 20), unclosed.slice(20, 120), unclosed.slice(120)], 50)).toEqual({ error: 'record-too-long', records: 1 });
	});

	test('random inputs', () => {
		const { texts, random } = randomCsvTexts(Number(process.env.CSV_FUZZ ?? 4000), Number(process.env.CSV_FUZZ_LENGTH ?? 24));
		let compared = 0;
		for (const text of texts) {
			const expected = withCsvParse(text, 1 << 20);
			const at = Math.floor(random() * (text.length + 1));
			expect({ text, outcome: withScanner([text.slice(0, at), text.slice(at)], 1 << 20) }).toEqual({ text, outcome: expected });
			// Three pieces: a record carried over into a piece once the file's line break is known.
			const second = at + Math.floor(random() * (text.length - at + 1));
			expect({ text, outcome: withScanner([text.slice(0, at), text.slice(at, second), text.slice(second)], 1 << 20) }).toEqual({ text, outcome: expected });
			compared++;
		}
		expect(compared).toBe(Number(process.env.CSV_FUZZ ?? 4000));
	});
});
