/**
 * FirstRows, the checker's table of each sourcedId's first row.
 */
import { FirstRows } from '../../../nodes/shared/sources/oneroster-csv/file-check';

test('every id keeps its first row as the table grows', () => {
	const table = new FirstRows();
	const ids = Array.from({ length: 50_000 }, (_, i) => `enr-${String(i).padStart(6, '0')}-${i % 7}`);
	ids.forEach((id, i) => expect(table.firstRow(id, i + 2)).toBeUndefined());
	ids.forEach((id, i) => expect(table.firstRow(id, 999_999)).toBe(i + 2));
});

test('ids are told apart exactly, whatever their characters', () => {
	const table = new FirstRows();
	const ids = ['', 'a', 'A', 'a ', 'Zoë', 'Zoe\u0308', '李', '😀', '1', '01', 'x'.repeat(1000), 'lone \uD800', 'lone \uDBFF'];
	ids.forEach((id, i) => expect(table.firstRow(id, i + 2)).toBeUndefined());
	ids.forEach((id, i) => expect(table.firstRow(id, 0)).toBe(i + 2));
	expect(table.firstRow('b', 100)).toBeUndefined();
});

test('rowOf finds an id without remembering one it has not seen', () => {
	const table = new FirstRows();
	const ids = Array.from({ length: 5_000 }, (_, i) => `u-${i}`);
	ids.forEach((id) => expect(table.rowOf(id)).toBeUndefined());
	ids.forEach((id, i) => expect(table.firstRow(id, i + 2)).toBeUndefined());
	ids.forEach((id, i) => expect(table.rowOf(id)).toBe(i + 2));
	expect(table.rowOf('u-5000')).toBeUndefined();
	expect(table.firstRow('u-5000', 9)).toBeUndefined();
});
