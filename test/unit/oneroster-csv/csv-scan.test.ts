/**
 * The CSV scanner reads what csv-parse reads (with the options the ingest used), record for record,
 * and fails where csv-parse fails, at the same record: checked on awkward inputs split at every
 * position, and on thousands of random ones.
 */
import { parse } from 'csv-parse/sync';

import { PARSE_OPTIONS } from '../../../nodes/shared/sources/oneroster-csv/csv-records';
import { CsvRecordScanner, CsvScanError } from '../../../nodes/shared/sources/oneroster-csv/csv-scan';

type Outcome = { records: string[][] } | { error: string; records: number };

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

function withScanner(pieces: string[], maxRecordChars: number): Outcome {
	const scanner = new CsvRecordScanner(maxRecordChars);
	const records: string[][] = [];
	try {
		for (const piece of pieces) scanner.push(piece, records);
		scanner.finish(records);
		return { records };
	} catch (error) {
		if (!(error instanceof CsvScanError)) throw error;
		return { error: error.code === 'invalid-opening-quote' || error.code === 'invalid-closing-quote' ? 'misplaced-quote' : error.code, records: error.records };
	}
}

const AWKWARD = [
	'a,b,c\n1,2,3\n',
	'a,b,c\r\n1,2,3\r\n',
	'a,b\r1,2\r',
	'a,b\n1,2',
	'\ufeffsourcedId,name\nu1,"Zoë, ""Jr"""\n',
	'a,b\n\n1,2\n\n',
	'a,b\n"multi\nline",x\n"with\r\ncrlf",y\n',
	'a,b\r\nx\ny,z\r\n',
	'a,b\nx\ry,z\n',
	'a,b,\n1,2,\n,,\n',
	'a\n""\n"",""\n',
	'a,b\n1,"2"\n3,"4',
	'a,b\n1,x"y\n',
	'a,b\n1,"x"y\n',
	'a,b\n"x" ,y\n',
	'a,b\n ""x,y\n',
	'"a""b",c\n',
	'\n',
	'\r\n',
	'',
	'a',
	'"',
	'a,"b\n',
	'x,"{LDAP:1},{LTI:2}",z\r\ny,"{LDAP:3},{LT',
	'a,b\n1,"x\ny"\n2,"p\nq\nr",s\n3,4\n',
	'a,b\r\n1,"x\r\ny"\r\n2,"p\rq\nr",s\r\n3,4',
];

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
		let seed = 7;
		const random = () => {
			seed = (seed * 1103515245 + 12345) & 0x7fffffff;
			return seed / 0x80000000;
		};
		const alphabet = ['a', 'b', ',', ',', '"', '"', '\n', '\n', '\r', ' ', 'é', '\ufeff'];
		let compared = 0;
		for (let n = 0; n < Number(process.env.CSV_FUZZ ?? 4000); n++) {
			const length = Math.floor(random() * Number(process.env.CSV_FUZZ_LENGTH ?? 24));
			let text = '';
			for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
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
