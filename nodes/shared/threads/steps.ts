/**
 * The engine's steps that work on the store alone (no n8n helper, no network): what a step thread
 * (step-thread.ts) can run. One table, so that a step runs the same on its own thread and on the
 * caller's.
 */
import { buildListsRun } from '../lists/apply';
import type { ListSettings } from '../lists/settings';
import type { ProgressCallback } from '../model/progress';
import type { NormalizeOptions } from '../normalize/normalize';
import { normalizeRun } from '../normalize/normalize';
import { reconcileRun } from '../reconcile/apply';
import type { ReconcileSettings, ThresholdOverrides } from '../reconcile/settings';
import type { SqlDb } from '../store/sql';

/** Each step's settings, as plain data (they cross to the step's thread as a copy). */
export interface StepSettings {
	normalize: Omit<NormalizeOptions, 'onProgress'>;
	reconcile: Partial<Omit<ReconcileSettings, 'thresholds'>> & { thresholds?: ThresholdOverrides };
	buildLists: Partial<ListSettings>;
}

export type StepName = keyof StepSettings;

export const STEPS = {
	normalize: (db: SqlDb, runId: string, settings: StepSettings['normalize'], onProgress?: ProgressCallback) => normalizeRun(db, runId, { ...settings, onProgress }),
	reconcile: (db: SqlDb, runId: string, settings: StepSettings['reconcile']) => reconcileRun(db, runId, settings),
	buildLists: (db: SqlDb, runId: string, settings: StepSettings['buildLists']) => buildListsRun(db, runId, settings),
};

export type StepResult<S extends StepName> = Awaited<ReturnType<(typeof STEPS)[S]>>;
