/**
 * The staging area's packed chunks: what goes in comes back out, row for row, whatever the cells hold.
 */
import type { StagedRow } from '../../../nodes/shared/model/roster';
import { cellAt, cellsOf, packRows, unpackRows, unpackRowTexts } from '../../../nodes/shared/store/staging';
import { seededInts } from '../../support/seeded';

const row = (rowNumber: number, cells: string[], sourcedId = cells[0]): StagedRow => ({ rowNumber, sourcedId, cells });

describe('packed staging chunks', () => {
	test('plain rows use the separator encoding and come back equal', () => {
		const rows = [row(2, ['u1', '', 'Zoë', 'O\'Brien, "Jr"', 'a\nb']), row(3, ['u2', 'x', '', '', '']), row(7, [''] , '')];
		const packed = packRows(rows, 0);
		expect(packed.encoding).toBe('u1');
		expect(unpackRows(packed.encoding, packed.data, 0)).toEqual(rows);
	});

	test('a sourcedId that is not the row’s own cell is kept', () => {
		const rows = [row(2, ['a', 'b'], 'other'), row(4, ['c', 'd'], 'd')];
		const packed = packRows(rows, 0);
		expect(unpackRows(packed.encoding, packed.data, 0)).toEqual(rows);
		expect(unpackRows(packRows(rows, -1).encoding, packRows(rows, -1).data, -1)).toEqual(rows);
	});

	test.each([
		['a record separator', 'x\u001ey'],
		['a field separator', 'x\u001fy'],
		['a NUL', 'x\u0000y'],
	])('cells holding %s fall back to JSON', (_, value) => {
		const rows = [row(2, ['u1', value]), row(3, ['u2', 'plain'])];
		const packed = packRows(rows, 0);
		expect(packed.encoding).toBe('json');
		expect(unpackRows(packed.encoding, packed.data, 0)).toEqual(rows);
	});

	test('rows a source says are plain (RowHints) pack as they would have been checked to', () => {
		const rows = [row(2, ['u1', 'Zoë', '']), row(3, ['u2', 'x', 'y'], 'other')];
		expect(packRows(rows, 0, true)).toEqual(packRows(rows, 0));
		// An empty sourcedId other than the row's own cell still needs JSON, whatever the source says.
		expect(packRows([row(2, ['u1', 'v'], '')], 0, true).encoding).toBe('json');
	});

	test('an empty sourcedId that differs from its cell falls back to JSON', () => {
		const rows = [row(2, ['u1', 'v'], '')];
		const packed = packRows(rows, 0);
		expect(packed.encoding).toBe('json');
		expect(unpackRows(packed.encoding, packed.data, 0)).toEqual(rows);
	});

	test('rows shorter than the sourcedId column keep their sourcedId', () => {
		const rows = [row(2, ['only'], 'sid')];
		const packed = packRows(rows, 3);
		expect(unpackRows(packed.encoding, packed.data, 3)).toEqual(rows);
	});

	test('seeded random rows (empty cells, rows of one to six cells, unicode, own and other sourcedIds) come back equal', () => {
		const next = seededInts(11);
		const words = ['', '', 'a', 'Zoë', '2026-08-20', 'stu-000123', '李', 'x y', '"q"', ','];
		for (let chunk = 0; chunk < 50; chunk++) {
			const rows = Array.from({ length: 1 + next(40) }, (_, i) => {
				const cells = Array.from({ length: 1 + next(6) }, () => words[next(words.length)]);
				const sourcedId = next(3) === 0 ? `other-${i}` : (cells[0] ?? `id-${i}`);
				return row(2 + i * (1 + next(3)), cells, sourcedId === '' ? `id-${i}` : sourcedId);
			});
			const sourcedIdIndex = next(2) === 0 ? 0 : -1;
			const packed = packRows(rows, sourcedIdIndex);
			expect(packed.encoding).toBe('u1');
			expect(unpackRows(packed.encoding, packed.data, sourcedIdIndex)).toEqual(rows);
		}
	});

	describe('row texts (what matches a row to another night\'s without its cells)', () => {
		/** Each row's text (unpackRowTexts), checked to give back the row: its number, sourcedId and cells. */
		const textsOf = (rows: StagedRow[], sourcedIdIndex = 0) => {
			const { encoding, data } = packRows(rows, sourcedIdIndex);
			const texts = unpackRowTexts(encoding, data, sourcedIdIndex);
			expect(texts.map(({ rowNumber, sourcedId }) => ({ rowNumber, sourcedId }))).toEqual(rows.map(({ rowNumber, sourcedId }) => ({ rowNumber, sourcedId })));
			expect(texts.map((text) => cellsOf(text))).toEqual(rows.map((r) => r.cells));
			texts.forEach((text, i) => {
				const { cells } = rows[i];
				expect([...cells.keys(), cells.length].map((at) => cellAt(text, at))).toEqual([...cells, undefined]);
			});
			return { encoding, texts: texts.map(({ text }) => text) };
		};

		test('the same cells and sourcedId give the same text; any cell or the sourcedId changed, another', () => {
			const base = [row(2, ['e1', 'c1', 'u1', 'student']), row(3, ['e2', 'c1', 'u2', 'student'])];
			const { encoding, texts } = textsOf(base);
			expect(encoding).toBe('u1');
			// Other row numbers, the same rows: the same texts.
			expect(textsOf([row(9, base[0].cells), row(4, base[1].cells)]).texts).toEqual(texts);
			expect(textsOf([row(2, ['e1', 'c1', 'u1', 'teacher'])]).texts[0]).not.toBe(texts[0]);
			expect(textsOf([row(2, ['e1', 'c1', 'u1', 'student', ''])]).texts[0]).not.toBe(texts[0]);
			expect(textsOf([row(2, ['e1', 'c1', 'u1', 'student'], 'other')]).texts[0]).not.toBe(texts[0]);
		});

		test('a sourcedId in another column, or not its own cell, is read from the record', () => {
			expect(textsOf([row(2, ['a', 'b', 'id-1'], 'id-1'), row(3, ['c', 'd', 'id-2'], 'elsewhere')], 2).encoding).toBe('u1');
			expect(textsOf([row(2, ['x', 'y'], 'z')], -1).encoding).toBe('u1');
		});

		test('a row a chunk packs as JSON has the text of a u1 row where one can hold it, and a text of its own where not', () => {
			const plain = row(2, ['e1', 'c1', 'u1']);
			const odd = row(3, ['e2', 'c\u001f1', 'u2']);
			const mixed = textsOf([plain, odd]);
			expect(mixed.encoding).toBe('json');
			expect(mixed.texts[0]).toBe(textsOf([plain]).texts[0]);
			expect(mixed.texts[1].startsWith('\u0000')).toBe(true);
			// The same odd row again: the same text; its neighbour's cell split where the separator was: another.
			expect(textsOf([row(7, odd.cells)]).texts[0]).toBe(mixed.texts[1]);
			expect(textsOf([row(3, ['e2', 'c', '1', 'u2'], 'e2')]).texts[0]).not.toBe(mixed.texts[1]);
		});
	});
});
