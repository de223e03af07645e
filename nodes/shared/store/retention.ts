/**
 * Snapshot retention: each run keeps its canonical snapshot (for drift checks, delta files,
 * approvals and "roster as of"); snapshots older than the retention are deleted, except those
 * still needed: held runs (an approval plans them again), the last good run (the drift check's
 * baseline) and the last complete run (delta files apply onto it). A run's staged rows (the raw
 * export, ~1M rows a night for a large district) go with the same retention. Run history and run
 * changes are kept whatever the retention.
 */
import { lastAppliedRun, lastGoodRun } from './runs';
import { deleteSnapshot } from './snapshot';
import { clearStaging } from './staging';
import type { SqlDb } from './sql';

/** Default retention of snapshots, in days. */
export const DEFAULT_KEEP_SNAPSHOTS_DAYS = 90;

/**
 * Deletes snapshots older than `keepDays` days (0 = keep all), and the staged rows of runs started
 * before then; returns the run ids whose snapshot went.
 */
export async function pruneSnapshots(db: SqlDb, keepDays: number, now = new Date()): Promise<string[]> {
	if (!(keepDays > 0)) return [];
	const cutoff = new Date(now.getTime() - keepDays * 86_400_000).toISOString();
	const rows = await db.query(
		"SELECT s.run_id FROM snapshots s LEFT JOIN sync_runs r ON r.id = s.run_id WHERE s.created_at < ? AND (r.status IS NULL OR r.status <> 'held') ORDER BY s.run_id",
		[cutoff],
	);
	const keep = new Set([(await lastAppliedRun(db))?.id, (await lastGoodRun(db, 'normalized'))?.id]);
	const pruned = rows.map((row) => String(row.run_id)).filter((runId) => !keep.has(runId));
	for (const runId of pruned) await db.transaction((tx) => deleteSnapshot(tx, runId));
	const staged = await db.query(
		"SELECT DISTINCT f.run_id FROM staging_files f JOIN sync_runs r ON r.id = f.run_id WHERE r.started_at < ? AND r.status <> 'held' ORDER BY f.run_id",
		[cutoff],
	);
	for (const row of staged) {
		const runId = String(row.run_id);
		if (!keep.has(runId)) await db.transaction((tx) => clearStaging(tx, runId));
	}
	return pruned;
}
