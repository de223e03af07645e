/**
 * Reconcile Users' plan from changes (reconcile/apply.ts matchChangedRecords) against the plan of the
 * whole roster. Each night is planned and applied both ways on the same store: first the whole way, in
 * a transaction that is rolled back, then as Reconcile Users does it. The people table and the run's
 * changes must come out the same, field for field (new people's ids and the night's timestamps are
 * the only values that may differ, and are compared by what they stand for).
 */
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { ReconcileResult } from '../../../nodes/shared/reconcile/apply';
import type { CanonicalPerson } from '../../../nodes/shared/model/roster';
import { insertPeople, PEOPLE_COLUMNS } from '../../../nodes/shared/store/people';
import { asLeftBy, setAsLeftBy } from '../../../nodes/shared/store/sync-state';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { comparable, expectSameAsWholePlan } from '../../support/rolled-back';
import type { Roster } from '../../support/roster-fixtures';
import { manualPerson, student, syntheticRoster, writeRoster } from '../../support/roster-fixtures';

const SETTINGS = { includePrimaryParentContact: true, autoUpdate: true, archive: true, graceRuns: 2, rosterAdmins: false, holdMassChanges: false };

/** What a night left: the people table and the run's person changes, as comparable values. */
async function observe(db: SqlDb, runId: string, nightStart: string) {
	const people = await db.queryArrays(`SELECT ${PEOPLE_COLUMNS.join(', ')} FROM people ORDER BY sourced_id, id`);
	const changes = await db.queryArrays(
		"SELECT seq, entity_id, action, role, label, sourced_id, reason, fields, before_values, after_values, applied FROM run_changes WHERE run_id = ? AND entity = 'person' ORDER BY seq",
		[runId],
	);
	// People created tonight have new random ids: named by their sourcedId instead.
	const createdAt = PEOPLE_COLUMNS.indexOf('created_at');
	const newIds = new Map(people.filter((row) => String(row[createdAt]) >= nightStart).map((row) => [String(row[0]), `new:${String(row[PEOPLE_COLUMNS.indexOf('sourced_id')])}`]));
	return comparable({ people, changes }, newIds, nightStart);
}

const withoutHow = (result: ReconcileResult) => ({ ...result.counts, plannedFromChanges: undefined, peopleAsLeftBy: undefined });

describe.each(ENGINES)('Reconcile Users planned from changes equals the whole plan, on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	/** Writes the night's snapshot, plans and applies it both ways, checks they agree; the result of the real one. */
	async function night(roster: Roster, options: { changesOver?: string; dryRun?: boolean } = {}) {
		const runId = await writeRoster(store.db, roster, options);
		const nightStart = new Date().toISOString();
		const result = await expectSameAsWholePlan(
			store.db,
			'people',
			(db) => reconcileRun(db, runId, SETTINGS),
			(db) => observe(db, runId, nightStart),
			withoutHow,
		);
		return { runId, result };
	}

	const edit = (roster: Roster, sourcedId: string, change: Partial<CanonicalPerson>): Roster => ({
		...roster,
		people: roster.people.map((person) => (person.sourcedId === sourcedId ? { ...person, ...change } : person)),
	});
	const without = (roster: Roster, ...sourcedIds: string[]): Roster => ({ ...roster, people: roster.people.filter((person) => !sourcedIds.includes(person.sourcedId)) });
	const withPeople = (roster: Roster, ...people: CanonicalPerson[]): Roster => ({ ...roster, people: [...roster.people, ...people] });

	test('six nights: updates, leavers within and past the grace period, returns, new people, contacts, ambiguous matches, people the sync skips, a hand edit, a dry run', async () => {
		await insertPeople(store.db, [
			// Found by SIS id, not in SIS sync: skipped every night.
			manualPerson('m-skip', 'student', 'Skip', 'Me', { sis_id: 'S000005' }),
			// Two people with student 7's email: ambiguous every night, and both kept though missing.
			manualPerson('m-amb-1', 'staff', 'Amb', 'One', { email: 'given7.family7@gbhs.example.org', include_in_sis_sync: 1 }),
			manualPerson('m-amb-2', 'staff', 'Amb', 'Two', { email: 'given7.family7@gbhs.example.org', include_in_sis_sync: 1 }),
			// In SIS sync but in no roster: missing on night 1 (kept: grace 2), archived on night 2.
			manualPerson('m-gone', 'staff', 'Gone', 'Soon', { include_in_sis_sync: 1 }),
			// An admin linked by sourcedId; admins are not synced.
			manualPerson('m-admin', 'admin', 'Admin0', 'A0', { sourced_id: 'adm-000000', include_in_sis_sync: 1 }),
		]);
		const r1 = syntheticRoster(300, 1);
		const n1 = await night(r1);
		expect(n1.result.counts.plannedFromChanges).toBeUndefined();
		expect(n1.result.counts).toMatchObject({ ambiguous: 1, archiveBlocked: 2, pendingArchive: 1 });
		expect(await asLeftBy(store.db, 'people')).toBe(n1.runId);

		// Night 2: m-gone archived; a rename, two leavers (kept: grace 2), a new student with student 20's email (who is unchanged:
		// ambiguous), a new student, a parent's new phone, a teacher's new email.
		let r2 = edit(r1, 'stu-000010', { familyName: 'Renamed' });
		r2 = edit(r2, 'tch-000001', { email: 'new.teacher@gbhs.example.org' });
		r2 = without(r2, 'stu-000011', 'stu-000012');
		r2 = withPeople(r2, student('stu-000900', 'Twin', 'Twenty', '09', 'S000900', { email: 'given20.family20@gbhs.example.org' }), student('stu-000901', 'New', 'Student', '09', 'S000901'));
		r2 = { ...r2, contacts: r2.contacts.map((contact) => (contact.sourcedId === 'par-000030' ? { ...contact, phone: '555-0130' } : contact)) };
		const n2 = await night(r2, { changesOver: n1.runId });
		expect(n2.result.counts.plannedFromChanges).toMatchObject({ since: n1.runId });
		expect(n2.result.counts.plannedFromChanges!.records).toBeLessThan(20);
		expect(n2.result.counts).toMatchObject({ created: 1, updated: 3, pendingArchive: 2, archived: 1, ambiguous: 2 });

		// Night 3 (changes over night 1's records, as night 2's): one leaver back, the other archived, a contact gone, a rename.
		let r3 = withPeople(r2, r1.people.find((person) => person.sourcedId === 'stu-000011')!);
		r3 = edit(r3, 'stu-000050', { givenName: 'Fifty' });
		r3 = { ...r3, contacts: r3.contacts.filter((contact) => contact.sourcedId !== 'par-000040') };
		const n3 = await night(r3, { changesOver: n2.runId });
		expect(n3.result.counts.plannedFromChanges).toMatchObject({ since: n2.runId });
		expect(n3.result.counts).toMatchObject({ archived: 1, updated: 1, pendingArchive: 0 });

		// A hand edit: the people table is no longer as night 3 left it, so night 4 plans the whole roster (and undoes the edit).
		await store.db.execute("UPDATE people SET given_name = 'Edited' WHERE sourced_id = 'stu-000060'");
		expect(await asLeftBy(store.db, 'people')).toBeNull();
		const r4 = edit(r3, 'stu-000070', { givenName: 'Seventy' });
		const n4 = await night(r4, { changesOver: n3.runId });
		expect(n4.result.counts.plannedFromChanges).toBeUndefined();
		expect(n4.result.counts.updated).toBe(2);

		// Night 5 from changes again; night 6 a dry run, which leaves the table as night 5 left it; night 7 from night 5.
		const r5 = without(r4, 'stu-000080');
		const n5 = await night(r5, { changesOver: n4.runId });
		expect(n5.result.counts.plannedFromChanges).toMatchObject({ since: n4.runId });
		const r6 = edit(r5, 'stu-000090', { familyName: 'Ninety' });
		const n6 = await night(r6, { changesOver: n5.runId, dryRun: true });
		expect(n6.result.counts).toMatchObject({ dryRun: true, updated: 1, plannedFromChanges: { since: n5.runId } });
		expect(await asLeftBy(store.db, 'people')).toBe(n5.runId);
		const n7 = await night(r6, { changesOver: n6.runId });
		expect(n7.result.counts).toMatchObject({ updated: 1, plannedFromChanges: { since: n5.runId } });

		// A night written whole (a bulk export) after changes: the two snapshots are not comparable by how they are stored.
		const n8 = await night(edit(r6, 'stu-000100', { familyName: 'Hundred' }));
		expect(n8.result.counts.plannedFromChanges).toBeUndefined();
	});

	test('a record of a role not synced matched by email leaves a plan the next night cannot start from', async () => {
		await insertPeople(store.db, [manualPerson('m-admin', 'admin', 'Admin', 'Zero', { email: 'admin0.a0@gbhs.example.org', include_in_sis_sync: 1 })]);
		const r1 = syntheticRoster(100, 1);
		const n1 = await night(r1);
		expect(await asLeftBy(store.db, 'people')).toBeNull();
		const n2 = await night(edit(r1, 'stu-000010', { familyName: 'Renamed' }), { changesOver: n1.runId });
		expect(n2.result.counts.plannedFromChanges).toBeUndefined();
		// With that admin gone from the roster, the plan is a basis again.
		const n3 = await night(without(r1, 'adm-000000'), { changesOver: n2.runId });
		expect(await asLeftBy(store.db, 'people')).toBe(n3.runId);
		const n4 = await night(without(edit(r1, 'stu-000020', { familyName: 'Renamed' }), 'adm-000000'), { changesOver: n3.runId });
		expect(n4.result.counts.plannedFromChanges).toMatchObject({ since: n3.runId });
	});

	test('any write to people clears which run left the table as it is; settings that change the plan make it plan the whole roster', async () => {
		const r1 = syntheticRoster(100, 1);
		const n1 = await night(r1);
		expect(await asLeftBy(store.db, 'people')).toBe(n1.runId);
		for (const write of [
			"UPDATE people SET phone = '1' WHERE sourced_id = 'stu-000001'",
			"DELETE FROM people WHERE sourced_id = 'stu-000002'",
			"INSERT INTO people (id, role, given_name, family_name, include_in_sis_sync, source, missing_runs, created_at, updated_at) VALUES ('hand', 'staff', 'A', 'B', 1, 'manual', 0, 'x', 'x')",
		]) {
			await setAsLeftBy(store.db, 'people', n1.runId);
			await store.db.execute(write);
			expect(await asLeftBy(store.db, 'people')).toBeNull();
		}
		await setAsLeftBy(store.db, 'people', n1.runId);
		const runId = await writeRoster(store.db, r1, { changesOver: n1.runId });
		const result = await reconcileRun(store.db, runId, { ...SETTINGS, autoUpdate: false });
		expect(result.counts.plannedFromChanges).toBeUndefined();
	});
});
