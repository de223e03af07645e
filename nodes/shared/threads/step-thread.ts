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
 * The step thread's young generation, where V8 puts new objects: a worker's is capped at half the main
 * thread's by default (new space 64 against 128 MiB, measured), and a step makes ~0.7–0.8 GB of
 * short-lived objects on a first night at 100,000 students, so it would collect them twice as often.
 * With this, as on the main thread (a first night on threads in a bare process, CSV staging the
 * most allocating step: 2.44–2.59 s with the default, 2.24–2.33 s with this, 2.22–2.34 s on the main thread).
 */
const STEP_YOUNG_GENERATION_MIB = 192;

/** n8n runs with V8's young generation set (NODE_OPTIONS=--max-semi-space-size=…, as the README suggests to save memory): the step thread keeps it. */
const YOUNG_GENERATION_SET_FOR_N8N = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) => flag.startsWith('--max-semi-space-size'));

/** Runs `step` of run `runId` on its own thread (on this one without the compiled worker). */
export async function runStepInThread<S extends StepName>(task: StepTask<S>): Promise<StepResult<S>> {
	if (!WORKER_FILE) return runStep(task);
	const worker = new Worker(WORKER_FILE, {
		workerData: task,
		execArgv: ['--disable-warning=ExperimentalWarning'],
		...(YOUNG_GENERATION_SET_FOR_N8N ? {} : { resourceLimits: { maxYoungGenerationSizeMb: STEP_YOUNG_GENERATION_MIB } }),
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
