/**
 * Sync runs (the history) and their per-record problems.
 */
import { randomBytes } from 'node:crypto';

import type { RecordProblem } from '../model/errors';
import { RosterRunError } from '../model/errors';
import type { SqlDb } from './sql';
import { fromJson, nowIso, placeholders, toBooleanInt, toJson } from './sql';

/** The stages of a run, in pipeline order. */
export const RUN_STAGES = ['created', 'staged', 'normalized', 'reconciled', 'lists', 'reported'] as const;
export type RunStage = (typeof RUN_STAGES)[number];

/**
 * - running: on its way through the stages; completed: reported.
 * - held: Reconcile Users planned more changes than the mass-change thresholds allow; nothing
 *   applied, the plan is stored, waiting for Approve Held Run.
 * - stopped: the pre-flight drift check in Normalize found the export changed; nothing applied.
 * - discarded: a held run an operator discarded; rolled_back: an applied run a rollback reverted.
 * - failed: an error stopped it; nothing applied.
 */
export type RunStatus = 'running' | 'held' | 'stopped' | 'discarded' | 'rolled_back' | 'failed' | 'completed';

/** Statuses after which a run goes no further (Publish Report still reports it). */
const ENDED: Partial<Record<RunStatus, string>> = {
	failed: 'it failed earlier',
	stopped: 'the pre-flight drift check stopped it',
	discarded: 'it was discarded',
	rolled_back: 'it was rolled back',
};

export interface RunRecord {
	id: string;
	kind: string;
	source: string;
	status: RunStatus;
	stage: RunStage;
	dryRun: boolean;
	startedAt: string;
	finishedAt: string | null;
	settings: Record<string, unknown>;
	/** Counts per stage, e.g. `{ staged: { users: 10 }, normalized: { people: 10 } }`. */
	counts: Record<string, Record<string, unknown>>;
	warnings: string[];
	error: string | null;
}

interface RunRow {
	[key: string]: string | number | null;
	id: string;
	kind: string;
	source: string;
	status: string;
	stage: string;
	dry_run: number;
	started_at: string;
	finished_at: string | null;
	settings: string | null;
	counts: string | null;
	warnings: string | null;
	error: string | null;
}

function toRunRecord(row: RunRow): RunRecord {
	return {
		id: row.id,
		kind: row.kind,
		source: row.source,
		status: row.status as RunStatus,
		stage: row.stage as RunStage,
		dryRun: Number(row.dry_run) === 1,
		startedAt: row.started_at,
		finishedAt: row.finished_at,
		settings: fromJson(row.settings, {}),
		counts: fromJson(row.counts, {}),
		warnings: fromJson(row.warnings, []),
		error: row.error,
	};
}

let lastRunTime = 0;

/** Sortable, readable run ids: `20261122T020000123Z-3f9a1c` (UTC to the millisecond, increasing within a process). */
export function newRunId(now = Date.now()): string {
	lastRunTime = Math.max(now, lastRunTime + 1);
	const stamp = new Date(lastRunTime).toISOString().replace(/[-:.]/g, '');
	return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export async function createRun(
	db: SqlDb,
	options: { kind?: string; source: string; dryRun?: boolean; settings?: Record<string, unknown> },
): Promise<RunRecord> {
	const id = newRunId();
	await db.execute(
		'INSERT INTO sync_runs (id, kind, source, status, stage, dry_run, started_at, settings, counts, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
		[
			id,
			options.kind ?? 'sync',
			options.source,
			'running',
			'created',
			toBooleanInt(options.dryRun ?? false),
			nowIso(),
			toJson(options.settings ?? {}),
			'{}',
			'[]',
		],
	);
	return getRun(db, id);
}

export async function findRun(db: SqlDb, runId: string): Promise<RunRecord | undefined> {
	const rows = await db.query<RunRow>('SELECT * FROM sync_runs WHERE id = ?', [runId]);
	return rows[0] ? toRunRecord(rows[0]) : undefined;
}

export async function getRun(db: SqlDb, runId: string): Promise<RunRecord> {
	const run = await findRun(db, runId);
	if (!run) {
		throw new RosterRunError(
			`Run ${runId} is not in this roster store`,
			'Check that every RosterSync node uses the same Roster Store credential as the node that started the run.',
		);
	}
	return run;
}

/** Fails unless the run has reached `stage` (and has not failed). */
export async function requireStage(db: SqlDb, runId: string, stage: RunStage, step: string): Promise<RunRecord> {
	const run = await getRun(db, runId);
	const ended = ENDED[run.status];
	if (ended) {
		throw new RosterRunError(`${step} cannot continue run ${runId}: ${ended} (${run.error ?? 'no reason recorded'})`);
	}
	if (run.status === 'held') {
		throw new RosterRunError(
			`${step} cannot continue run ${runId}: it is held for approval (more changes than the mass-change thresholds allow)`,
			'Decide on it with Roster Reconcile Users → Approve Held Run (apply adds and updates, apply all, or discard).',
		);
	}
	if (RUN_STAGES.indexOf(run.stage) < RUN_STAGES.indexOf(stage)) {
		throw new RosterRunError(
			`${step} needs run ${runId} to be ${stage}, but it is only ${run.stage}`,
			'Connect this node after the step that produces it (CSV Ingest → Normalize → Reconcile Users → Build Lists → Publish Report).',
		);
	}
	return run;
}

/** Records that a stage finished: its counts and warnings are kept under the stage's name. */
export async function completeStage(
	db: SqlDb,
	runId: string,
	stage: RunStage,
	counts: Record<string, unknown>,
	warnings: string[] = [],
	status: RunStatus = 'running',
): Promise<RunRecord> {
	const run = await getRun(db, runId);
	const allCounts = { ...run.counts, [stage]: counts };
	const allWarnings = [...new Set([...run.warnings, ...warnings])];
	const finished = status !== 'running' && status !== 'held' ? nowIso() : null;
	await db.execute('UPDATE sync_runs SET stage = ?, status = ?, counts = ?, warnings = ?, finished_at = COALESCE(?, finished_at) WHERE id = ?', [
		stage,
		status,
		toJson(allCounts),
		toJson(allWarnings),
		finished,
		runId,
	]);
	return getRun(db, runId);
}

export async function failRun(db: SqlDb, runId: string, message: string): Promise<void> {
	await db.execute("UPDATE sync_runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?", [
		message,
		nowIso(),
		runId,
	]);
}

export async function listRuns(db: SqlDb, limit: number): Promise<RunRecord[]> {
	const rows = await db.query<RunRow>('SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?', [limit]);
	return rows.map(toRunRecord);
}

/** The newest sync run that got at least to `stage` and did not fail (nor was stopped, discarded or rolled back), other than `exceptRunId`. */
export async function lastGoodRun(db: SqlDb, stage: RunStage, exceptRunId?: string): Promise<RunRecord | undefined> {
	const stages = RUN_STAGES.slice(RUN_STAGES.indexOf(stage));
	const rows = await db.query<RunRow>(
		`SELECT * FROM sync_runs WHERE kind = 'sync' AND status NOT IN ('failed', 'stopped', 'discarded', 'rolled_back') AND dry_run = 0 AND id <> ? AND stage IN (${placeholders(stages)}) ORDER BY id DESC LIMIT 1`,
		[exceptRunId ?? '', ...stages],
	);
	return rows[0] ? toRunRecord(rows[0]) : undefined;
}

/**
 * Runs whose changes reached the people store: sync runs, not dry, reconciled, and not held,
 * stopped, discarded, rolled back or failed.
 */
const APPLIED_RUN = `kind = 'sync' AND dry_run = 0 AND status IN ('running', 'completed') AND stage IN ('reconciled', 'lists', 'reported')`;

/** The newest applied run other than `exceptRunId`: the "last good run" the drift check compares with. */
export async function lastAppliedRun(db: SqlDb, exceptRunId = ''): Promise<RunRecord | undefined> {
	const rows = await db.query<RunRow>(`SELECT * FROM sync_runs WHERE ${APPLIED_RUN} AND id <> ? ORDER BY id DESC LIMIT 1`, [exceptRunId]);
	return rows[0] ? toRunRecord(rows[0]) : undefined;
}

/** The oldest applied run started after `runId`, if any: its plan supersedes `runId`'s. */
export async function appliedRunAfter(db: SqlDb, runId: string): Promise<RunRecord | undefined> {
	const rows = await db.query<RunRow>(`SELECT * FROM sync_runs WHERE ${APPLIED_RUN} AND id > ? ORDER BY id LIMIT 1`, [runId]);
	return rows[0] ? toRunRecord(rows[0]) : undefined;
}

/** Sets a run's status (and its error text, the reason shown for held, stopped, discarded runs); keeps the stage. */
export async function setRunStatus(db: SqlDb, runId: string, status: RunStatus, reason?: string): Promise<RunRecord> {
	const finished = status === 'running' || status === 'held' ? null : nowIso();
	await db.execute('UPDATE sync_runs SET status = ?, error = COALESCE(?, error), finished_at = COALESCE(?, finished_at) WHERE id = ?', [
		status,
		reason ?? null,
		finished,
		runId,
	]);
	return getRun(db, runId);
}

/** Merges `values` into the counts a stage recorded (e.g. the decision on a held run), and adds warnings. */
export async function addStageCounts(
	db: SqlDb,
	runId: string,
	stage: RunStage,
	values: Record<string, unknown>,
	warnings: string[] = [],
): Promise<RunRecord> {
	const run = await getRun(db, runId);
	const counts = { ...run.counts, [stage]: { ...(run.counts[stage] ?? {}), ...values } };
	await db.execute('UPDATE sync_runs SET counts = ?, warnings = ? WHERE id = ?', [toJson(counts), toJson([...run.warnings, ...warnings]), runId]);
	return getRun(db, runId);
}

export async function addProblems(db: SqlDb, runId: string, stage: RunStage, problems: RecordProblem[]): Promise<void> {
	if (problems.length === 0) return;
	const [{ next }] = await db.query<{ next: number }>(
		'SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM run_problems WHERE run_id = ?',
		[runId],
	);
	let seq = Number(next);
	await db.insertMany(
		'run_problems',
		['run_id', 'seq', 'stage', 'file', 'row_number', 'field', 'sourced_id', 'message'],
		problems.map((problem) => [
			runId,
			seq++,
			stage,
			problem.file ?? null,
			problem.row ?? null,
			problem.field ?? null,
			problem.sourcedId ?? null,
			problem.message,
		]),
	);
}

export interface StoredProblem extends RecordProblem {
	stage: RunStage;
}

export async function listProblems(db: SqlDb, runId: string, limit = 1_000_000): Promise<StoredProblem[]> {
	const rows = await db.query(
		'SELECT stage, file, row_number, field, sourced_id, message FROM run_problems WHERE run_id = ? ORDER BY seq LIMIT ?',
		[runId, limit],
	);
	return rows.map((row) => ({
		stage: row.stage as RunStage,
		file: (row.file as string | null) ?? undefined,
		row: row.row_number === null ? undefined : Number(row.row_number),
		field: (row.field as string | null) ?? undefined,
		sourcedId: (row.sourced_id as string | null) ?? undefined,
		message: String(row.message),
	}));
}

export async function countProblems(db: SqlDb, runId: string, stage?: RunStage): Promise<number> {
	const rows = await db.query<{ n: number }>(
		`SELECT COUNT(*) AS n FROM run_problems WHERE run_id = ?${stage ? ' AND stage = ?' : ''}`,
		stage ? [runId, stage] : [runId],
	);
	return Number(rows[0].n);
}

/** Marks a run as a dry run: a stage ran without changing the people store. A dry run never turns into a real one. */
export async function markDryRun(db: SqlDb, runId: string): Promise<void> {
	await db.execute('UPDATE sync_runs SET dry_run = 1 WHERE id = ?', [runId]);
}

/** Keeps the settings a stage ran with, under the stage's name in the run's settings (for the report and history). */
export async function recordStageSettings(
	db: SqlDb,
	runId: string,
	stage: RunStage,
	settings: Record<string, unknown>,
): Promise<void> {
	const run = await getRun(db, runId);
	await db.execute('UPDATE sync_runs SET settings = ? WHERE id = ?', [toJson({ ...run.settings, [stage]: settings }), runId]);
}
