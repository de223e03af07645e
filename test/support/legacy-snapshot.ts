/** Snapshots as they were stored before migration 4 (one row per record in the snapshot_* tables), for tests. */
import type { SnapshotTable } from '../../nodes/shared/store/snapshot';
import { SNAPSHOT_TABLES, readSnapshotRecords } from '../../nodes/shared/store/snapshot';
import type { SqlDb } from '../../nodes/shared/store/sql';

/** Moves a run's snapshot into the tables of before migration 4, one row per record. */
export async function moveToLegacyTables(db: SqlDb, runId: string): Promise<void> {
	const move = async <T>(spec: SnapshotTable<T>) => {
		const records = await readSnapshotRecords(db, runId, spec);
		await db.insertMany(spec.table, ['run_id', ...spec.columns], records.map((record) => [runId, ...spec.toRow(record)]));
	};
	for (const spec of SNAPSHOT_TABLES as ReadonlyArray<SnapshotTable<unknown>>) await move(spec);
	await db.execute('DELETE FROM snapshot_chunks WHERE run_id = ?', [runId]);
	await db.execute('DELETE FROM snapshot_layers WHERE run_id = ?', [runId]);
}
