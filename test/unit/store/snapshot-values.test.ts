/**
 * Snapshot records are written as their values in `columns` order (toRow) and read back from them
 * (fromValues): for every table, reading what was written gives the same values. Nulls and unusual
 * text are covered through the store in snapshot-chunks.test.ts.
 */
import { SNAPSHOT_TABLES } from '../../../nodes/shared/store/snapshot';
import type { SqlValue } from '../../../nodes/shared/store/sql';

describe.each(SNAPSHOT_TABLES.map((spec) => [spec.table, spec] as const))('%s', (_, spec) => {
	test('toRow gives back the values fromValues read, column for column', () => {
		const samples: SqlValue[][] = [
			spec.columns.map((column, i) => (column === 'enabled' || column === 'is_primary' ? 1 : /grades|subjects|term_ids|school_ids/.test(column) ? '["a","b"]' : `${column}-${i}`)),
			spec.columns.map((column, i) => (column === 'enabled' || column === 'is_primary' ? 0 : /grades|subjects|term_ids|school_ids/.test(column) ? '[]' : `${i}`)),
		];
		for (const values of samples) {
			const record = (spec.fromValues as (v: SqlValue[]) => unknown)(values);
			expect((spec.toRow as (r: unknown) => SqlValue[])(record)).toEqual(values);
		}
	});
});
