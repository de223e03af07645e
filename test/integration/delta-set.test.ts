/**
 * A OneRoster delta set gives what the bulk set it was cut from gives: the generated district's day 1,
 * then day 2 either as the bulk set or as the delta between the two (bench/district-generator.ts
 * writeDeltaSet), through Normalize and Reconcile Users on both store engines. And the reverse delta
 * (day 2 → day 1) brings back day 1's snapshot. This pins the delta path's results for any change to
 * how it is computed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeDayTwo, writeDeltaSet, writeDistrict } from '../../bench/district-generator';
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../nodes/shared/reconcile/apply';
import { listChanges } from '../../nodes/shared/store/changes';
import { openFolderFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import type { RosterStore } from '../../nodes/shared/store/store';
import { setAsLeftBy } from '../../nodes/shared/store/sync-state';
import { ENGINES, openTestStore } from '../support/engines';
import { moveToLegacyTables } from '../support/legacy-snapshot';

const DISTRICT = { students: 1500, schools: 3, seed: 11 };
const RECONCILE = { includePrimaryParentContact: true, autoUpdate: true, archive: true, holdMassChanges: false };

let dir: string;
const day = (name: string) => join(dir, name);
beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'rostersync-delta-set-'));
	await writeDistrict(day('day1'), DISTRICT);
	await writeDayTwo(day('day1'), day('day2'), DISTRICT);
	writeDeltaSet(day('day1'), day('day2'), day('delta'));
	writeDeltaSet(day('day2'), day('day1'), day('back'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('writeDeltaSet: each file has the changed and new rows as active, the gone ones as tobedeleted; the manifest says delta', () => {
	const rows = (name: string, file: string) => readFileSync(join(day(name), file), 'utf8').trim().split('\n');
	const [header, ...users] = rows('delta', 'users.csv');
	expect(header).toBe(rows('day2', 'users.csv')[0]);
	const statuses = new Set(users.map((row) => row.split(',')[1]));
	expect(statuses).toEqual(new Set(['active', 'tobedeleted']));
	const dayOne = new Set(rows('day1', 'users.csv'));
	for (const row of users.filter((r) => r.split(',')[1] === 'active')) {
		expect(dayOne.has(row.replace(/^([^,]*),active,[^,]*,/, '$1,,,'))).toBe(false);
	}
	expect(readFileSync(join(day('delta'), 'manifest.csv'), 'utf8')).toMatch(/^file\.users,delta$/m);
	expect(readFileSync(join(day('delta'), 'manifest.csv'), 'utf8')).not.toMatch(/,bulk$/m);
	// No change at all in orgs: a delta file with only its header.
	expect(rows('delta', 'orgs.csv')).toHaveLength(1);
});

describe.each(ENGINES)('a delta set against the bulk set it was cut from, on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function night(name: string) {
		const { run } = await stageRun(store.db, oneRosterCsvSource(name, () => openFolderFileSet(day(name))));
		const normalized = await normalizeRun(store.db, run.id);
		const reconciled = await reconcileRun(store.db, run.id, RECONCILE);
		return { runId: run.id, normalized, reconciled, snapshot: await readSnapshot(store.db, run.id) };
	}
	const comparable = (n: Awaited<ReturnType<typeof night>>) => ({ ...n.normalized.counts, deltaFrom: undefined });
	/** Reconcile's counts without how it planned (from changes, or the whole roster). */
	const planCounts = (n: Awaited<ReturnType<typeof night>>) => ({ ...n.reconciled.counts, plannedFromChanges: undefined, peopleAsLeftBy: undefined });

	test('day 2 as a delta set: the same snapshot, counts and reconcile plan as day 2 in bulk; the reverse delta brings back day 1', async () => {
		const one = await night('day1');
		const bulk = await night('day2');
		const back = await night('back');
		expect(back.normalized.counts.deltaFrom).toBe(bulk.runId);
		expect(back.snapshot).toEqual(one.snapshot);
		// The day-2 changes undone: the gone come back (restored), the new leave (archived), the changed change back.
		expect(back.reconciled.counts).toMatchObject({ created: 0, restored: bulk.reconciled.counts.archived, archived: bulk.reconciled.counts.created });
		expect(back.reconciled.counts.updated).toBeGreaterThan(0);

		await store.close();
		store = await openTestStore(engine);
		await night('day1');
		const delta = await night('delta');
		expect(delta.snapshot).toEqual(bulk.snapshot);
		expect(comparable(delta)).toEqual(comparable(bulk));
		expect(planCounts(delta)).toEqual(planCounts(bulk));
		// The delta night's snapshot is stored as changes over day 1's, and the people table is as day 1 left it:
		// Reconcile Users planned only the records that changed; day 2 in bulk (a whole snapshot) planned all.
		expect(delta.reconciled.counts.plannedFromChanges?.records).toBeLessThan(50);
		// Day 2 in bulk stores its people as changes over day 1's too, so it was planned from changes as well.
		expect(bulk.reconciled.counts.plannedFromChanges?.records).toBeLessThan(50);
		expect(bulk.reconciled.counts).toMatchObject({ created: 8, archived: expect.any(Number), updated: expect.any(Number) });

		// The delta night stored its snapshot as changes over day 1's: every entity, a few records of its own.
		const storedRecords = async (runId: string) =>
			Number((await store.db.queryArrays('SELECT COALESCE(SUM(row_count), 0) FROM snapshot_chunks WHERE run_id = ?', [runId]))[0][0]);
		const layers = await store.db.queryArrays('SELECT entity, base_run_id FROM snapshot_layers WHERE run_id = ? ORDER BY entity', [delta.runId]);
		expect(layers.map(([entity]) => entity)).toEqual(['classes', 'contacts', 'courses', 'enrollments', 'orgs', 'people', 'terms']);
		const dayOne = await storedRecords(layers[0][1] as string);
		expect(await storedRecords(delta.runId)).toBeGreaterThan(0);
		expect(await storedRecords(delta.runId)).toBeLessThan(dayOne * 0.05);
		// A delta night after it stores changes over the same day 1 records: undoing day 2 leaves no person changed.
		const undone = await night('back');
		expect(undone.snapshot).toEqual(back.snapshot);
		expect(planCounts(undone)).toEqual(planCounts(back));
		expect(await store.db.queryArrays("SELECT base_run_id, removed_count FROM snapshot_layers WHERE run_id = ? AND entity = 'people'", [undone.runId])).toEqual([
			[layers[0][1], 0],
		]);
	});

	test('day 2 in bulk planned from changes records and applies what the whole plan does', async () => {
		const changesOf = async (runId: string) =>
			(await listChanges(store.db, runId, { entities: ['person'] })).map(({ action, sourcedId, fields, before, after, reason, applied }) => ({ action, sourcedId, fields, before, after, reason, applied }));
		const peopleBySourcedId = async () => (await store.db.queryArrays('SELECT sourced_id, given_name, family_name, email, grade, archived_at IS NULL, missing_runs, parent_phone FROM people ORDER BY sourced_id'));
		await night('day1');
		const fromChanges = await night('day2');
		expect(fromChanges.reconciled.counts.plannedFromChanges).toBeDefined();
		const expected = { counts: planCounts(fromChanges), changes: await changesOf(fromChanges.runId), people: await peopleBySourcedId() };

		await store.close();
		store = await openTestStore(engine);
		await night('day1');
		// As if something else had written the people table since day 1: day 2 plans the whole roster.
		await setAsLeftBy(store.db, 'people', null);
		const whole = await night('day2');
		expect(whole.reconciled.counts.plannedFromChanges).toBeUndefined();
		// Archives are stamped with the time of the night.
		const stamped = (changes: Awaited<ReturnType<typeof changesOf>>) =>
			changes.map((change) => (change.action === 'archive' ? { ...change, after: { archived_at: typeof change.after?.archived_at } } : change));
		expect({ counts: planCounts(whole), changes: stamped(await changesOf(whole.runId)), people: await peopleBySourcedId() }).toEqual({
			...expected,
			changes: stamped(expected.changes),
		});
	});

	test('day 2 as a delta set onto a snapshot from before migration 4 (one row per record): the same snapshot', async () => {
		await night('day1');
		const bulk = await night('day2');
		await store.close();
		store = await openTestStore(engine);
		const one = await night('day1');
		await moveToLegacyTables(store.db, one.runId);
		const delta = await night('delta');
		expect(delta.snapshot).toEqual(bulk.snapshot);
		expect(planCounts(delta)).toEqual(planCounts(bulk));
	});
});
