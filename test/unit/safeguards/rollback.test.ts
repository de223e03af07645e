/**
 * Safeguard 5: Rollback reverts a whole applied run — people, parent contacts, lists and
 * memberships — from its run_changes, recorded as a run of its own (which can be rolled back too).
 */
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { rollbackRun } from '../../../nodes/shared/history/rollback';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { approveHeldRun } from '../../../nodes/shared/reconcile/approve';
import { buildReport, listHistory, publishRun } from '../../../nodes/shared/report/report';
import { listChanges } from '../../../nodes/shared/store/changes';
import { getRun, lastAppliedRun, listProblems } from '../../../nodes/shared/store/runs';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import type { Roster } from '../../support/roster-fixtures';
import { MANUAL_MANNY, addManualPeople, day1, day2, writeRoster } from '../../support/roster-fixtures';
import { school, without } from './helpers';

const SYNC = { includePrimaryParentContact: true, autoUpdate: true, archive: true };
const LISTS = { syncClassRosters: true, terms: ['y2027'], autoListsByRole: true, autoListsByGrade: true };
const NEW_PARENT_EMAIL = 'mary.lovelace@parents.example.net';

/** Day 2, and Ada's parent has a new email. */
function day2WithParentChange(): Roster {
	const roster = day2();
	roster.contacts = roster.contacts.map((c) => (c.sourcedId === 'p1' ? { ...c, email: NEW_PARENT_EMAIL } : c));
	return roster;
}

/** What an operator sees in the store: people, lists and memberships (bookkeeping columns left out). */
async function storeState(db: SqlDb) {
	const people = await db.query(
		'SELECT id, role, given_name, family_name, email, email_key, sourced_id, sis_id, student_number, grade, school_id, parent_name, parent_email, parent_phone, include_in_sis_sync, source, archived_at FROM people ORDER BY id',
	);
	const lists = await db.query('SELECT id, kind, source_key, title, term_id, class_id, grade, is_public, archived_at FROM user_lists ORDER BY id');
	const members = await db.query('SELECT list_id, person_id, membership FROM list_members ORDER BY list_id, membership, person_id');
	return { people, lists, members };
}

describe.each(ENGINES)('rollback (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
		await addManualPeople(store.db, [MANUAL_MANNY]);
	});
	afterEach(async () => store.close());

	async function night(roster: Roster): Promise<string> {
		const runId = await writeRoster(store.db, roster);
		const { held } = await reconcileRun(store.db, runId, SYNC);
		expect(held).toBe(false);
		await buildListsRun(store.db, runId, LISTS);
		await publishRun(store.db, runId);
		return runId;
	}

	test('rolling back night 2 brings people, parent contacts, lists and memberships back to night 1; rolling back the rollback redoes it', async () => {
		const night1 = await night(day1());
		const afterNight1 = await storeState(store.db);
		const night2 = await night(day2WithParentChange());
		const afterNight2 = await storeState(store.db);
		expect(afterNight2).not.toEqual(afterNight1);
		const ada = afterNight2.people.find((p) => p.sourced_id === 's1')!;
		expect(ada.parent_email).toBe(NEW_PARENT_EMAIL);

		const result = await rollbackRun(store.db, night2);
		expect(result.conflicts).toEqual([]);
		expect(await storeState(store.db)).toEqual(afterNight1);
		expect(result.target).toMatchObject({ id: night2, status: 'rolled_back', error: `rolled back by run ${result.run.id}` });
		expect(result.run).toMatchObject({ kind: 'rollback', status: 'completed', source: `rollback of run ${night2}`, dryRun: false });
		// Ben renamed back, Tess's SIS link and email back, Ada's parent email back; Cleo restored.
		expect(result.counts.people).toMatchObject({ updated: 3, restored: 1, created: 0, deleted: 0 });
		expect(result.counts.byRole.student).toMatchObject({ updated: 2, restored: 1 });
		expect(result.counts.lists).toMatchObject({ listsDeleted: 1, membersAdded: expect.any(Number), membersRemoved: expect.any(Number) });
		expect(result.counts.lists.membersAdded).toBeGreaterThan(0);
		const changes = await listChanges(store.db, result.run.id);
		expect(changes.find((c) => c.entity === 'person' && c.sourcedId === 's3')).toMatchObject({ action: 'restore', fields: ['archived_at'], after: { archived_at: null }, applied: true });
		expect(changes.find((c) => c.entity === 'person' && c.sourcedId === 's1')).toMatchObject({
			action: 'update',
			fields: ['parent_email'],
			before: { parent_email: NEW_PARENT_EMAIL },
		});
		expect((await store.db.query("SELECT missing_runs FROM people WHERE sourced_id = 's3'"))[0].missing_runs).toBe(0);

		// The rolled-back run is no longer the last good run; Build Lists refuses it; the history shows both.
		expect((await lastAppliedRun(store.db))?.id).toBe(night1);
		const history = await listHistory(store.db, 5);
		expect(history.map((h) => [h.runId, h.kind, h.status])).toEqual([
			[result.run.id, 'rollback', 'completed'],
			[night2, 'sync', 'rolled_back'],
			[night1, 'sync', 'completed'],
		]);
		await expect(rollbackRun(store.db, night2)).rejects.toThrow(`Run ${night2} was rolled back already (rolled back by run ${result.run.id})`);

		const redo = await rollbackRun(store.db, result.run.id);
		expect(redo.conflicts).toEqual([]);
		expect(await storeState(store.db)).toEqual(afterNight2);
	});

	test("what was changed after the run is kept and listed as a conflict; the rest is reverted", async () => {
		await night(day1());
		const night2 = await night(day2());
		// Someone edits Ben by hand after night 2.
		await store.db.execute("UPDATE people SET given_name = 'Benny' WHERE sourced_id = 's2'");
		const result = await rollbackRun(store.db, night2);
		expect(result.conflicts).toEqual([{ sourcedId: 's2', message: `Benjamin Carter: given_name changed after run ${night2}; kept` }]);
		const people = await storeState(store.db);
		expect(people.people.find((p) => p.sourced_id === 's2')!.given_name).toBe('Benny');
		expect(people.people.find((p) => p.sourced_id === 's3')!.archived_at).toBeNull();
		expect(await listProblems(store.db, result.run.id)).toEqual([
			{ stage: 'reconciled', sourcedId: 's2', message: `Benjamin Carter: given_name changed after run ${night2}; kept`, file: undefined, row: undefined, field: undefined },
		]);
		const report = await buildReport(store.db, result.run.id);
		expect(report.subject).toBe(`RosterSync: rollback of run ${night2}`);
		expect(report.text).toContain(`This run rolled back run ${night2}: its changes to people, parent contacts, lists and memberships were reverted.`);
		expect(report.text).toContain(`1 changes of run ${night2} were changed again since and were kept`);
		expect(report.text).toContain('Benjamin Carter: given_name changed after run');
	});

	test('a dry run previews the rollback and changes nothing', async () => {
		await night(day1());
		const night2 = await night(day2());
		const before = await storeState(store.db);
		const preview = await rollbackRun(store.db, night2, { dryRun: true });
		expect(await storeState(store.db)).toEqual(before);
		expect(preview.run).toMatchObject({ kind: 'rollback', dryRun: true, status: 'completed' });
		expect(preview.target.status).toBe('completed');
		expect(preview.counts.people).toMatchObject({ updated: 2, restored: 1 });
		const changes = await listChanges(store.db, preview.run.id);
		expect(changes.length).toBeGreaterThan(0);
		expect(changes.every((change) => !change.applied)).toBe(true);
		expect((await buildReport(store.db, preview.run.id)).text).toContain(`Preview of rolling back run ${night2}`);
		await expect(rollbackRun(store.db, preview.run.id)).rejects.toThrow(/is a dry run/);
	});

	test('rolling back the first run deletes the people and lists it created; a discarded run has nothing to roll back', async () => {
		const first = await night(day1());
		const result = await rollbackRun(store.db, first);
		expect(result.counts.people).toMatchObject({ deleted: 8 });
		expect(result.counts.lists.listsDeleted).toBeGreaterThan(0);
		const state = await storeState(store.db);
		expect(state.people.map((p) => p.id)).toEqual([MANUAL_MANNY.id]);
		expect(state.lists).toEqual([]);
		expect(state.members).toEqual([]);

		// Rolling back the rollback creates them again, with the same ids.
		await rollbackRun(store.db, result.run.id);
		expect((await storeState(store.db)).people).toHaveLength(9);

		const big = await night(school());
		const held = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 60)), SYNC);
		expect(held.held).toBe(true);
		await approveHeldRun(store.db, held.run.id, 'discard');
		await expect(rollbackRun(store.db, held.run.id)).rejects.toThrow(`Run ${held.run.id} applied no changes (it is discarded): there is nothing to roll back`);
		expect((await getRun(store.db, big)).status).toBe('completed');
	});
});
