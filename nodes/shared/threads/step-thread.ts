/**
 * An engine step on a thread of its own (worker_threads), with its own connection to the store.
 *
 * Why: in n8n, a step running on n8n's main thread shares its V8 heap with n8n's own (~200–400 MB
 * live). Each garbage collection the step causes then marks n8n's objects too, so the steps ran
 * 1.3–1.6× slower in n8n than in a bare Node process (100,000 students, first night: Reconcile Users
 * 2.73 against 1.69 s, Build Lists 4.37 against 3.28). On its own thread a step has a heap of its own,
 * let go whole when the step ends (measured in a bare process holding a large heap: a first night on
 * the main thread 10.63 → 12.00 s; on a thread 10.61 → 10.76). Which steps: steps.ts.
 *
 * The step's settings and result cross as copies (structured clone); an error comes back with its
 * class, message, hint, location and run id, as if thrown here. The thread ends with the step. Without
 * the compiled worker file next to this one (the engine run from TypeScript sources, as jest does),
 * the step runs on this thread.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { RosterConnectionError, RosterInputError, RosterRunError } from '../model/errors';
import type { StoreConfig } from '../store/store';
import { withStore } from '../store/store';
import type { StepName, StepResult, StepSettings } from './steps';
import { STEPS } from './steps';

/** What the thread is given. */
export interface StepTask<S extends StepName = StepName> {
	step: S;
	store: StoreConfig;
	runId: string;
	settings: StepSettings[S];
}

/** What the thread says when the step is done: its result or its error. */
export type StepMessage = { result: unknown } | { error: ErrorData };

/** An error as data (structured clone keeps only an Error's message and stack). */
export interface ErrorData {
	name: string;
	message: string;
	stack?: string;
	/** The properties the adapter reads (hint, runId, location, fields, code). */
	properties: Record<string, unknown>;
}

const ERROR_CLASSES: Record<string, { prototype: Error }> = { RosterRunError, RosterInputError, RosterConnectionError };
const ERROR_PROPERTIES = ['hint', 'runId', 'location', 'fields', 'code'];

export function errorToData(error: unknown): ErrorData {
	if (!(error instanceof Error)) return { name: 'Error', message: String(error), properties: {} };
	const properties: Record<string, unknown> = {};
	for (const name of ERROR_PROPERTIES) {
		const value = (error as unknown as Record<string, unknown>)[name];
		if (value !== undefined) properties[name] = structuredClone(value);
	}
	return { name: error.name, message: error.message, stack: error.stack, properties };
}

export function errorFromData(data: ErrorData): Error {
	const error = Object.create(ERROR_CLASSES[data.name]?.prototype ?? Error.prototype) as Error;
	Object.defineProperty(error, 'message', { value: data.message, writable: true, configurable: true });
	Object.defineProperty(error, 'stack', { value: data.stack, writable: true, configurable: true });
	if (data.name !== 'Error') error.name = data.name;
	return Object.assign(error, data.properties);
}

/**
 * The compiled worker, dist/nodes/shared/threads/step-worker.js: beside this module when it is compiled
 * alone, or two folders up from a node's bundled file (dist/nodes/<Node>/, scripts/bundle.mjs). Absent
 * when the engine runs from its TypeScript sources.
 */
const WORKER_FILE = [join(__dirname, 'step-worker.js'), join(__dirname, '..', 'shared', 'threads', 'step-worker.js')].find((file) => existsSync(file));

/**
 * Runs `step` of run `runId` on its own thread (on this one without the compiled worker).
 *
 * The step thread gets V8's own heap sizes for a worker (no resourceLimits; flags such as NODE_OPTIONS'
 * --max-semi-space-size apply to it as to n8n's thread). A young generation of 192 MiB was set here for CSV
 * staging, which ran on a thread then and does not now; for Reconcile Users and Build Lists it made no
 * difference beyond noise. Measured in n8n 2.40.7 at 100,000 students (bench --in-n8n, 3 runs each, one after
 * the other): first night 10.94 s median (10.77–11.11) without it against 11.20 (11.05–11.56) with it, bulk day
 * two 6.91 (6.80–7.02) against 7.04 (7.00–7.29), peak RSS 1,052–1,156 against 1,046–1,318 MiB. (Runs of either a
 * quarter of an hour apart differed by more than that: compare settings one after the other.)
 */
export async function runStepInThread<S extends StepName>(task: StepTask<S>): Promise<StepResult<S>> {
	if (!WORKER_FILE) return runStep(task);
	const worker = new Worker(WORKER_FILE, {
		workerData: task,
		execArgv: ['--disable-warning=ExperimentalWarning'],
	});
	return new Promise<StepResult<S>>((resolve, reject) => {
		let settled = false;
		const settle = (done: () => void) => {
			if (settled) return;
			settled = true;
			done();
		};
		worker.on('message', (message: StepMessage) => {
			if ('result' in message) settle(() => resolve(message.result as StepResult<S>));
			else settle(() => reject(errorFromData(message.error)));
		});
		worker.once('error', (error) => settle(() => reject(error)));
		worker.once('exit', (code) => settle(() => reject(new Error(`The ${task.step} step's thread stopped (exit code ${code}) before it was done`))));
	});
}

/** Runs the step on this thread: in the step's thread, and without one. */
export async function runStep<S extends StepName>(task: StepTask<S>): Promise<StepResult<S>> {
	const step = STEPS[task.step] as (db: unknown, runId: string, settings: StepSettings[S]) => Promise<StepResult<S>>;
	return withStore(task.store, (store) => step(store.db, task.runId, task.settings));
}
