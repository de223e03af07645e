/**
 * Snapshot tables read rows either as objects (fromRow) or as arrays of values (fromValues, for large
 * reads): both must give the same record, for every table.
 */
import { SNAPSHOT_TABLES } from '../../../nodes/shared/store/snapshot';
import type { SqlValue } from '../../../nodes/shared/store/sql';

describe.each(SNAPSHOT_TABLES.map((spec) => [spec.table, spec] as const))('%s', (_, spec) => {
	test('fromValues reads what fromRow reads', () => {
		const samples: SqlValue[][] = [
			spec.columns.map((column, i) => (column === 'enabled' || column === 'is_primary' ? 1 : /grades|subjects|term_ids|school_ids/.test(column) ? '["a","b"]' : `${column}-${i}`)),
			spec.columns.map((column) => (column === 'enabled' || column === 'is_primary' ? 0 : /grades|subjects|term_ids|school_ids/.test(column) ? '[]' : column === 'sourced_id' ? 'x' : null)),
		];
		for (const values of samples) {
			const row = Object.fromEntries(spec.columns.map((column, i) => [column, values[i]]));
			expect((spec.fromValues as (v: SqlValue[]) => unknown)(values)).toEqual((spec.fromRow as (r: typeof row) => unknown)(row));
		}
	});
});
