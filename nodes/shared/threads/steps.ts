/**
 * The engine's steps that run on a thread of their own in n8n (step-thread.ts): Reconcile Users and
 * Build Lists, which work on the store alone. One table, so that a step runs the same on its thread
 * and on the caller's.
 *
 * Not here: CSV Ingest and Normalize. Measured in n8n 2.40.7 at 100,000 students (bench --in-n8n), on a
 * thread CSV Ingest took 3.34–4.17 s a night against 2.38–3.53 s on n8n's thread, and Normalize gained
 * nothing on the first night (3.77–4.48 s against 3.36–4.39 s) and lost on day two (2.73–4.05 s against 2.61–2.83 s).
 * Measured again with each thread's CPU split (/proc/self/task): Normalize on a thread, day two 3.21–3.36 s against
 * 2.70–2.84 s; the same user CPU (2.25 against 2.21 s), but 0.97 against 0.25 s in the kernel, for ~185,000 page
 * faults of the thread's fresh heap. The cost of a thread is its fresh memory, not its start (~40 ms).
 */
import { buildListsRun } from '../lists/apply';
import type { ListSettings } from '../lists/settings';
import { reconcileRun } from '../reconcile/apply';
import type { ReconcileSettings, ThresholdOverrides } from '../reconcile/settings';
import type { SqlDb } from '../store/sql';

/** Each step's settings, as plain data (they cross to the step's thread as a copy). */
export interface StepSettings {
	reconcile: Partial<Omit<ReconcileSettings, 'thresholds'>> & { thresholds?: ThresholdOverrides };
	buildLists: Partial<ListSettings>;
}

export type StepName = keyof StepSettings;

export const STEPS = {
	reconcile: (db: SqlDb, runId: string, settings: StepSettings['reconcile']) => reconcileRun(db, runId, settings),
	buildLists: (db: SqlDb, runId: string, settings: StepSettings['buildLists']) => buildListsRun(db, runId, settings),
};

export type StepResult<S extends StepName> = Awaited<ReturnType<(typeof STEPS)[S]>>;
