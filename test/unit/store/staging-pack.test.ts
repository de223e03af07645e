/**
 * The staging area's packed chunks: what goes in comes back out, row for row, whatever the cells hold.
 */
import type { StagedRow } from '../../../nodes/shared/model/roster';
import { packRows, unpackRows } from '../../../nodes/shared/store/staging';

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
});
