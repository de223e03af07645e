/**
 * Build Lists on a night when nothing its lists are built from changed (lists/apply.ts unchangedSince):
 * no list is planned, and the counts are those of the whole plan. Any write to the lists or the people
 * by something else, a change in the roster, or other settings, and every list is planned again.
 */
import type { BuildListsResult } from '../../../nodes/shared/lists/apply';
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { asLeftBy, setAsLeftBy } from '../../../nodes/shared/store/sync-state';
import { ENGINES, openTestStore } from '../../support/engines';
import { rolledBack } from '../../support/rolled-back';
import type { Roster } from '../../support/roster-fixtures';
import { syntheticRoster, writeRoster } from '../../support/roster-fixtures';

const RECONCILE = { autoUpdate: true, archive: true, holdMassChanges: false };
const LISTS = { syncClassRosters: true, terms: ['y2027'], autoListsByRole: true, autoListsByGrade: true };

const withoutHow = (result: BuildListsResult) => ({ ...result.counts, unchangedSince: undefined, plannedFromChanges: undefined });

describe.each(ENGINES)('Build Lists on a night when nothing changed (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	/** One night (its snapshot stored as changes over `after`'s, as Normalize does); Build Lists is checked against the whole plan, which is rolled back. */
	async function night(roster: Roster, after?: string, lists: Record<string, unknown> = LISTS, reconcile: Record<string, unknown> = RECONCILE) {
		const runId = await writeRoster(store.db, roster, { changesOver: after });
		await reconcileRun(store.db, runId, reconcile);
		const whole = await rolledBack(store.db, async (tx) => {
			await setAsLeftBy(tx, 'lists', null);
			return buildListsRun(tx, runId, lists);
		});
		const result = await buildListsRun(store.db, runId, lists);
		expect(withoutHow(result)).toEqual(withoutHow(whole));
		expect(result.warnings).toEqual(whole.warnings);
		return { runId, result };
	}
	const members = async () => Number((await store.db.queryArrays('SELECT COUNT(*) FROM list_members'))[0][0]);

	test('an unchanged roster plans no list; a hand edit to a list, a changed person or other settings plan them all again', async () => {
		const roster = syntheticRoster(300, 1);
		const n1 = await night(roster);
		expect(n1.result.counts).toMatchObject({ listsCreated: expect.any(Number) });
		expect(n1.result.counts.unchangedSince).toBeUndefined();
		expect(n1.result.counts.listsCreated).toBeGreaterThan(70);
		expect(await asLeftBy(store.db, 'lists')).toBe(n1.runId);
		const stored = await members();

		const n2 = await night(roster, n1.runId);
		expect(n2.result.counts).toMatchObject({ unchangedSince: n1.runId, lists: n1.result.counts.lists, membersAdded: 0, listsCreated: 0 });
		expect(await asLeftBy(store.db, 'lists')).toBe(n2.runId);

		// Somebody takes a member off a class list: the next night plans every list and puts them back.
		await store.db.execute("DELETE FROM list_members WHERE person_id = (SELECT id FROM people WHERE sourced_id = 'stu-000003') AND list_id IN (SELECT id FROM user_lists WHERE kind = 'class') AND list_id = (SELECT MIN(list_id) FROM list_members WHERE person_id = (SELECT id FROM people WHERE sourced_id = 'stu-000003'))");
		expect(await asLeftBy(store.db, 'lists')).toBeNull();
		const n3 = await night(roster, n2.runId);
		expect(n3.result.counts).toMatchObject({ membersAdded: 1 });
		expect(n3.result.counts.unchangedSince).toBeUndefined();
		expect(await members()).toBe(stored);

		// A renamed student: the people changed, so every list is planned (none changes).
		const renamed = { ...roster, people: roster.people.map((p) => (p.sourcedId === 'stu-000004' ? { ...p, familyName: 'Renamed' } : p)) };
		const n4 = await night(renamed, n3.runId);
		expect(n4.result.counts).toMatchObject({ membersAdded: 0, membersRemoved: 0 });
		expect(n4.result.counts.unchangedSince).toBeUndefined();
		const n5 = await night(renamed, n4.runId);
		expect(n5.result.counts.unchangedSince).toBe(n4.runId);

		// Other settings (the fall semester's classes only): planned again, the other classes' lists archived.
		const n6 = await night(renamed, n5.runId, { ...LISTS, terms: ['fall'] });
		expect(n6.result.counts.listsArchived).toBeGreaterThan(0);
		expect(n6.result.counts.unchangedSince).toBeUndefined();

		// A student taken out of SIS sync by hand (Reconcile Users then skips them and writes nothing): planned again, off their lists.
		await store.db.execute("UPDATE people SET include_in_sis_sync = 0 WHERE sourced_id = 'stu-000005'");
		const n7 = await night(renamed, n6.runId, { ...LISTS, terms: ['fall'] });
		expect(n7.result.counts.unchangedSince).toBeUndefined();
		expect(n7.result.counts.membersRemoved).toBeGreaterThan(1);
	});

	test('the same roster after a grace period archives a student: the lists are planned, and they left theirs the night they went missing', async () => {
		const roster = syntheticRoster(200, 1);
		const grace = { ...RECONCILE, graceRuns: 2 };
		const gone = { ...roster, people: roster.people.filter((p) => p.sourcedId !== 'stu-000010') };
		const n1 = await night(roster);
		// Missing once (kept, not archived): the roster names neither them nor their enrollments, so they are off every list.
		const n2 = await night(gone, n1.runId, LISTS, grace);
		expect(n2.result.counts.membersRemoved).toBeGreaterThan(2);
		// Archived the night after: Reconcile Users wrote, so the lists are planned (and nothing is left to change).
		const n3 = await night(gone, n2.runId, LISTS, grace);
		expect(n3.result.counts.unchangedSince).toBeUndefined();
		expect(n3.result.counts.membersRemoved).toBe(0);
	});

	test('a night that archives a student plans every list, and the one after it may be skipped', async () => {
		const roster = syntheticRoster(200, 1);
		const n1 = await night(roster);
		const gone = { ...roster, people: roster.people.filter((p) => p.sourcedId !== 'stu-000010') };
		const n2 = await night(gone, n1.runId);
		expect(n2.result.counts).toMatchObject({ membersRemoved: expect.any(Number) });
		expect(n2.result.counts.unchangedSince).toBeUndefined();
		expect(n2.result.counts.membersRemoved).toBeGreaterThan(1);
		const n3 = await night(gone, n2.runId);
		expect(n3.result.counts.unchangedSince).toBe(n2.runId);
	});
});
