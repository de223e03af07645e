/**
 * Engine steps on a thread of their own (nodes/shared/threads/step-thread.ts), as the packaged nodes run
 * Reconcile Users and Build Lists. The thread needs the compiled worker, so this test compiles the engine
 * (bench/build-engine.mjs, cached by the sources' hash) and loads the compiled modules: a night whose
 * steps ran on threads leaves the store as the same night run on this thread does; an error comes back
 * with its class, message, hint and run id.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeDistrict } from '../../bench/district-generator';
import type * as StepThread from '../../nodes/shared/threads/step-thread';
import { REPO_ROOT } from '../support/paths';

type Load = <T>(path: string) => T;

/** The engine compiled to JavaScript, and its modules. */
function compiledEngine(): { dir: string; load: Load } {
	const script = "import('./bench/build-engine.mjs').then((m) => process.stdout.write(m.buildEngine().dir))";
	const dir = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	return { dir, load: <T>(path: string) => require(join(dir, path)) as T };
}

import type { StepSettings } from '../../nodes/shared/threads/steps';

const SETTINGS: StepSettings = {
	reconcile: { includePrimaryParentContact: true, autoUpdate: true, archive: true },
	buildLists: { syncClassRosters: true, terms: ['as-2026'], autoListsByRole: true, autoListsByGrade: true },
};

let work: string;
let district: string;
let engine: { dir: string; load: Load };
let thread: typeof StepThread;

beforeAll(async () => {
	engine = compiledEngine();
	thread = engine.load<typeof StepThread>('nodes/shared/threads/step-thread.js');
	work = mkdtempSync(join(tmpdir(), 'rostersync-step-thread-'));
	district = join(work, 'district');
	await writeDistrict(district, { students: 300 });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Stages and normalizes the district in a new store; returns the store's config and the run. */
async function stagedStore(name: string): Promise<{ store: { engine: 'sqlite'; path: string }; runId: string }> {
	const { withStore } = engine.load<typeof import('../../nodes/shared/store/store')>('nodes/shared/store/store.js');
	const { stageRun } = engine.load<typeof import('../../nodes/shared/sources/stage-run')>('nodes/shared/sources/stage-run.js');
	const { oneRosterCsvSource } = engine.load<typeof import('../../nodes/shared/sources/oneroster-csv/source')>('nodes/shared/sources/oneroster-csv/source.js');
	const { openFolderFileSet } = engine.load<typeof import('../../nodes/shared/sources/oneroster-csv/file-set')>('nodes/shared/sources/oneroster-csv/file-set.js');
	const store = { engine: 'sqlite' as const, path: join(work, `${name}.sqlite`) };
	const { normalizeRun } = engine.load<typeof import('../../nodes/shared/normalize/normalize')>('nodes/shared/normalize/normalize.js');
	const { run } = await withStore(store, async (opened) => {
		const staged = await stageRun(opened.db, oneRosterCsvSource(`folder ${district}`, () => openFolderFileSet(district)));
		return normalizeRun(opened.db, staged.run.id);
	});
	return { store, runId: run.id };
}

/** What a night left in the store: people, lists and memberships as rows (ids aside), and the run's counts. */
async function outcome(store: { engine: 'sqlite'; path: string }, runId: string) {
	const { withStore } = engine.load<typeof import('../../nodes/shared/store/store')>('nodes/shared/store/store.js');
	return withStore(store, async ({ db }) => ({
		people: await db.queryArrays('SELECT sourced_id, role, given_name, family_name, email, parent_email, archived_at FROM people ORDER BY sourced_id, role'),
		lists: await db.queryArrays('SELECT source_key, title FROM user_lists ORDER BY source_key'),
		members: await db.queryArrays(
			'SELECT l.source_key, p.sourced_id, m.membership FROM list_members m JOIN user_lists l ON l.id = m.list_id JOIN people p ON p.id = m.person_id ORDER BY 1, 2, 3',
		),
		counts: (await db.queryArrays('SELECT counts FROM sync_runs WHERE id = ?', [runId]))[0][0],
	}));
}

describe('engine steps on their own thread', () => {
	it('the compiled engine has the worker the steps run on', () => {
		expect(existsSync(join(engine.dir, 'nodes/shared/threads/step-worker.js'))).toBe(true);
	});

	it('a night whose Reconcile Users and Build Lists ran on threads leaves the store as on this thread', async () => {
		const onThreads = await stagedStore('threads');
		const here = await stagedStore('here');
		// Threads started meanwhile are counted (the compiled engine reads worker_threads.Worker when it starts one).
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const workerThreads = require('node:worker_threads') as { Worker: typeof import('node:worker_threads').Worker };
		const { Worker } = workerThreads;
		let threadsStarted = 0;
		workerThreads.Worker = class extends Worker {
			constructor(...args: ConstructorParameters<typeof Worker>) {
				super(...args);
				threadsStarted++;
			}
		};
		let reconciled, built;
		try {
			reconciled = await thread.runStepInThread({ step: 'reconcile', store: onThreads.store, runId: onThreads.runId, settings: SETTINGS.reconcile });
			built = await thread.runStepInThread({ step: 'buildLists', store: onThreads.store, runId: onThreads.runId, settings: SETTINGS.buildLists });
		} finally {
			// Restored whatever happened: the other tests start threads of their own.
			workerThreads.Worker = Worker;
		}
		// Each step had a thread of its own.
		expect(threadsStarted).toBe(2);

		const hereReconciled = await thread.runStep({ step: 'reconcile', store: here.store, runId: here.runId, settings: SETTINGS.reconcile });
		const hereBuilt = await thread.runStep({ step: 'buildLists', store: here.store, runId: here.runId, settings: SETTINGS.buildLists });

		// The results crossed as data: the same counts as on this thread, for the run asked.
		expect(reconciled.run.id).toBe(onThreads.runId);
		expect(reconciled.counts).toEqual(hereReconciled.counts);
		expect(reconciled.counts.created).toBeGreaterThan(300);
		expect(built.counts).toEqual(hereBuilt.counts);
		expect(built.run.status).toBe(hereBuilt.run.status);
		// The store holds the same people, lists and memberships.
		const [a, b] = [await outcome(onThreads.store, onThreads.runId), await outcome(here.store, here.runId)];
		expect(a.people.length).toBeGreaterThan(300);
		expect(a.members.length).toBeGreaterThan(1000);
		expect(a).toEqual(b);
	}, 120_000);

	it('an error comes back as the engine threw it: class, message, hint and run id', async () => {
		const { runId, store } = await stagedStore('error');
		// Build Lists before Reconcile Users: the engine refuses, names the step, and records the run as failed.
		const { RosterRunError } = engine.load<typeof import('../../nodes/shared/model/errors')>('nodes/shared/model/errors.js');
		const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as Error & { hint?: string; runId?: string });
		const onThread = await failure(thread.runStepInThread({ step: 'buildLists', store, runId, settings: SETTINGS.buildLists }));
		const here = await failure(thread.runStep({ step: 'buildLists', store, runId, settings: SETTINGS.buildLists }));
		expect(onThread).toBeInstanceOf(RosterRunError);
		expect(here).toBeInstanceOf(RosterRunError);
		expect(onThread?.message).toBe(here?.message);
		expect(onThread?.message).toMatch(/Build Lists/);
		expect(onThread?.hint).toBe(here?.hint);
		expect(onThread?.hint).toBeTruthy();
		expect(onThread?.name).toBe('RosterRunError');
	}, 60_000);

	it('errors as data keep what the nodes read of them', () => {
		const { RosterInputError } = engine.load<typeof import('../../nodes/shared/model/errors')>('nodes/shared/model/errors.js');
		const thrown = Object.assign(new RosterInputError('not a date', { file: 'users.csv', row: 7, field: 'birthDate' }, 'Fix the export.'), { runId: 'run-1' });
		const back = thread.errorFromData(structuredClone(thread.errorToData(thrown)));
		expect(back).toBeInstanceOf(RosterInputError);
		expect(back).toMatchObject({ name: 'RosterInputError', message: thrown.message, hint: 'Fix the export.', runId: 'run-1', location: { file: 'users.csv', row: 7, field: 'birthDate' } });
		expect(back.stack).toBe(thrown.stack);
		const plain = thread.errorFromData(thread.errorToData('a string'));
		expect(plain).toBeInstanceOf(Error);
		expect(plain.message).toBe('a string');
	});
});
