/**
 * Snapshot retention: each run keeps its canonical snapshot (for drift checks, delta files,
 * approvals and "roster as of"); snapshots older than the retention are deleted, except those
 * still needed: held runs (an approval plans them again), the last good run (the drift check's
 * baseline) and the last complete run (delta files apply onto it). Run history and run changes
 * are kept whatever the retention.
 */
import { lastAppliedRun, lastGoodRun } from './runs';
import { deleteSnapshot } from './snapshot';
import type { SqlDb } from './sql';

/** Default retention of snapshots, in days. */
export const DEFAULT_KEEP_SNAPSHOTS_DAYS = 90;

/** Deletes snapshots older than `keepDays` days (0 = keep all); returns the run ids whose snapshot went. */
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
	return pruned;
}
