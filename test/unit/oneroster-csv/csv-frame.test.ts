/**
 * Records framed in a file's bytes (csv-frame.ts) and read into cells only where asked for give what the
 * scanner gives reading the whole text: the same records, or the same error at the same record. Checked
 * on the awkward inputs split at every byte, read a record at a time and in runs, and on random ones.
 */
import { CsvRecordFramer, FramedCsvRecords } from '../../../nodes/shared/sources/oneroster-csv/csv-frame';
import type { Outcome } from './csv-cases';
import { AWKWARD, randomCsvTexts, scanOutcome, withScanner } from './csv-cases';

type Reading = 'runs' | 'one by one' | 'skipping';

/**
 * Reads `pieces` as the ingest does: frames each, then reads the records framed into cells, all at once
 * ('runs'), one at a time, or every other record only ('skipping': the records skipped are left out of the
 * outcome, and must not change how the others read). The ingest skips only rows that are byte for byte a
 * row read before, so valid ones: records from the first invalid one on (`valid`) are all read.
 */
function withFramer(pieces: Buffer[], maxRecordChars: number, reading: Reading, valid = Infinity): Outcome & { framed?: number } {
	const reader = new FramedCsvRecords(maxRecordChars);
	const records: string[][] = [];
	let before = 0;
	const read = (count: number) => {
		if (reading === 'runs') reader.cells(0, count, before, records);
		else {
			for (let i = 0; i < count; i++) {
				if (reading === 'skipping' && (before + i) % 2 === 1 && before + i < valid) continue;
				reader.cells(i, i + 1, before + i, records);
			}
		}
		before += count;
	};
	try {
		for (const piece of pieces) read(reader.take(piece, before));
		read(reader.finish());
		return { records, framed: before };
	} catch (error) {
		return scanOutcome(error);
	}
}

/** What withFramer must give: the scanner's records (every other one when skipping), or its error. */
function expected(text: string, maxRecordChars: number, reading: Reading): Outcome & { framed?: number } {
	const whole = withScanner([text], maxRecordChars);
	if ('error' in whole) return whole;
	return { records: reading === 'skipping' ? whole.records.filter((_, i) => i % 2 === 0) : whole.records, framed: whole.records.length };
}

/** Records before the scanner's error (all when none). */
function validRecords(text: string, maxRecordChars: number): number {
	const whole = withScanner([text], maxRecordChars);
	return 'error' in whole ? whole.records : Infinity;
}

const READINGS: Reading[] = ['runs', 'one by one', 'skipping'];

describe('records framed in bytes read as the scanner reads the whole text', () => {
	test.each(AWKWARD.map((text) => [JSON.stringify(text), text]))('%s, split at every byte', (_, text) => {
		const bytes = Buffer.from(text);
		for (const reading of READINGS) {
			const wanted = expected(text, 1 << 20, reading);
			const valid = validRecords(text, 1 << 20);
			expect(withFramer([bytes], 1 << 20, reading, valid)).toEqual(wanted);
			for (let at = 0; at <= bytes.length; at++) {
				expect(withFramer([bytes.subarray(0, at), bytes.subarray(at)], 1 << 20, reading, valid)).toEqual(wanted);
				for (let second = at; second <= bytes.length; second += 3) {
					expect(withFramer([bytes.subarray(0, at), bytes.subarray(at, second), bytes.subarray(second)], 1 << 20, reading, valid)).toEqual(wanted);
				}
			}
		}
	});

	test('random inputs, split at random bytes', () => {
		const { texts, random } = randomCsvTexts(Number(process.env.CSV_FUZZ ?? 4000), Number(process.env.CSV_FUZZ_LENGTH ?? 24), 11);
		let compared = 0;
		for (const text of texts) {
			const bytes = Buffer.from(text);
			const at = Math.floor(random() * (bytes.length + 1));
			const second = at + Math.floor(random() * (bytes.length - at + 1));
			for (const reading of READINGS) {
				const outcome = withFramer([bytes.subarray(0, at), bytes.subarray(at, second), bytes.subarray(second)], 1 << 20, reading, validRecords(text, 1 << 20));
				expect({ text, outcome }).toEqual({ text, outcome: expected(text, 1 << 20, reading) });
			}
			compared++;
		}
		expect(compared).toBe(Number(process.env.CSV_FUZZ ?? 4000));
	});

	test('a record longer than the limit, ended or never (an unclosed quote), fails at its row as the scanner does', () => {
		const long = `a,b\n1,${'x'.repeat(100)}\n2,3\n`;
		const unclosed = `a,b\n1,"${'é\n'.repeat(300)}`;
		const quoteFirst = `a,b\n1,x"${'y'.repeat(400)}`;
		for (const text of [long, unclosed, quoteFirst]) {
			const bytes = Buffer.from(text);
			const wanted = withScanner([text], 50);
			expect(wanted).toHaveProperty('error');
			for (const size of [7, 30, 1000]) {
				const pieces: Buffer[] = [];
				for (let at = 0; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size));
				expect(withFramer(pieces, 50, 'runs')).toEqual(wanted);
			}
		}
	});
});

describe('CsvRecordFramer', () => {
	it('gives each record its bytes without the delimiter, the delimiter the first line break outside quotes', () => {
		const cases: Array<[string, number, string[]]> = [
			['a,b\n1,2\n', 0x0a, ['a,b', '1,2']],
			['a,b\r\n1,"x\r\ny"\r\n2,3', -1, ['a,b', '1,"x\r\ny"', '2,3']],
			['"a\nb",c\rd\ne\r', 0x0d, ['"a\nb",c', 'd\ne']],
			['a\r\nb\nc\r\n', -1, ['a', 'b\nc']],
			['\n\nx', 0x0a, ['', '', 'x']],
		];
		for (const [text, delimiter, records] of cases) {
			const framer = new CsvRecordFramer();
			const framed: string[] = [];
			const collect = (bytes: Buffer) => {
				for (let i = 0; i < framer.count; i++) framed.push(bytes.toString('utf8', framer.starts[i], framer.ends[i]));
			};
			collect(framer.frame(Buffer.from(text)));
			collect(framer.finish());
			expect({ text, framed, delimiter: framer.delimiter }).toEqual({ text, framed: records, delimiter });
		}
	});
});
