/**
 * Full pull or delta: a delta pull asks only for records changed since the last successful
 * run of the same source (`filter=dateLastModified>'…'`), and is staged as delta files that
 * Normalize merges onto that run's snapshot. A full pull every N days catches what a delta
 * cannot see (records removed without a `tobedeleted` tombstone).
 *
 * "Last successful run" is what Normalize merges a delta onto: the newest run that reached
 * at least `normalized`, did not fail and is not a dry run. If that run came from another
 * source (or another school scope), the pull is full.
 */
import type { SqlDb } from '../../store/sql';
import { fromJson } from '../../store/sql';
import { lastGoodRun } from '../../store/runs';

export type PullMode = 'full' | 'delta';

export interface PullPlan {
	mode: PullMode;
	/** Delta: records changed after this time (ISO 8601, UTC). */
	since?: string;
	/** Why this mode, for the summary. */
	reason: string;
}

export interface DeltaSettings {
	/** Pull only changes since the last successful run. */
	enabled: boolean;
	/** A full pull when the last one of this source is this many days old (0: always full). */
	fullEveryDays: number;
}

/** Changes are asked for from this long before the previous pull started (clock skew; upserts are idempotent). */
export const DELTA_OVERLAP_MS = 10 * 60_000;

const DAY_MS = 24 * 60 * 60_000;

export async function planPull(db: SqlDb, source: string, settings: DeltaSettings, now = Date.now()): Promise<PullPlan> {
	if (!settings.enabled) return { mode: 'full', reason: 'delta pulls are off' };
	if (settings.fullEveryDays <= 0) return { mode: 'full', reason: 'a full pull every run (Full Pull Every 0 days)' };
	const previous = await lastGoodRun(db, 'normalized');
	if (!previous) return { mode: 'full', reason: 'no earlier complete run to apply changes to' };
	if (previous.source !== source) {
		return { mode: 'full', reason: `the last complete run (${previous.id}) came from another source` };
	}
	const lastFull = await lastFullPull(db, source);
	if (!lastFull) return { mode: 'full', reason: 'no full pull of this source yet' };
	if (now - Date.parse(lastFull.startedAt) >= settings.fullEveryDays * DAY_MS) {
		return { mode: 'full', reason: `the last full pull (${lastFull.id}) is ${settings.fullEveryDays} or more days old` };
	}
	const since = new Date(Date.parse(previous.startedAt) - DELTA_OVERLAP_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
	return { mode: 'delta', since, reason: `changes since run ${previous.id}` };
}

/** The newest good run of `source` (as lastGoodRun counts them: a possible delta base) that pulled everything. */
async function lastFullPull(db: SqlDb, source: string): Promise<{ id: string; startedAt: string } | undefined> {
	const rows = await db.query(
		"SELECT id, started_at, counts FROM sync_runs WHERE source = ? AND kind = 'sync' AND dry_run = 0 AND status NOT IN ('failed', 'stopped', 'discarded', 'rolled_back') AND stage NOT IN ('created', 'staged') ORDER BY id DESC LIMIT 200",
		[source],
	);
	for (const row of rows) {
		const counts = fromJson<{ staged?: { fetch?: { pull?: string } } }>(row.counts, {});
		if (counts.staged?.fetch?.pull === 'full') return { id: String(row.id), startedAt: String(row.started_at) };
	}
	return undefined;
}
