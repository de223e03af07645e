/**
 * Build Lists planned from what changed (lists/apply.ts changedRunLists) against the plan of every list.
 * Each night is planned and applied both ways on the same store: first the whole way, in a transaction
 * that is rolled back, then as Build Lists does it. The lists, their members and the run's list changes
 * must come out the same (new lists' ids and the night's timestamps compared by what they stand for).
 */
import type { BuildListsResult } from '../../../nodes/shared/lists/apply';
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import type { CanonicalEnrollment } from '../../../nodes/shared/model/roster';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { asLeftBy, setAsLeftBy } from '../../../nodes/shared/store/sync-state';
import { ENGINES, openTestStore } from '../../support/engines';
import { comparable, expectSameAsWholePlan, rolledBack } from '../../support/rolled-back';
import type { Roster } from '../../support/roster-fixtures';
import { student, syntheticRoster, writeRoster } from '../../support/roster-fixtures';

const RECONCILE = { autoUpdate: true, archive: true, holdMassChanges: false };
const LISTS = { syncClassRosters: true, terms: ['y2027'], autoListsByRole: true, autoListsByGrade: true };

/** The lists, their members and the run's list changes, as comparable values. */
async function observe(db: SqlDb, runId: string, nightStart: string) {
	const lists = await db.queryArrays('SELECT id, source_key, kind, title, term_id, class_id, grade, is_public, archived_at FROM user_lists ORDER BY source_key');
	const members = await db.queryArrays(
		'SELECT l.source_key, p.sourced_id, m.membership, m.added_run_id FROM list_members m JOIN user_lists l ON l.id = m.list_id JOIN people p ON p.id = m.person_id ORDER BY l.source_key, m.membership, p.sourced_id',
	);
	const changes = await db.queryArrays(
		"SELECT seq, entity, entity_id, action, role, label, sourced_id, fields, before_values, after_values, applied FROM run_changes WHERE run_id = ? AND entity IN ('list', 'list_member') ORDER BY seq",
		[runId],
	);
	const keyOf = new Map(lists.map(([id, key]) => [String(id), `list:${String(key)}`]));
	return comparable({ lists: lists.map((row) => row.slice(1)), members, changes }, keyOf, nightStart);
}

const withoutHow = (result: BuildListsResult) => ({ ...result.counts, plannedFromChanges: undefined, unchangedSince: undefined });

describe.each(ENGINES)('Build Lists planned from changes equals the plan of every list (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function night(roster: Roster, after?: string, lists: Record<string, unknown> = LISTS) {
		const runId = await writeRoster(store.db, roster, { changesOver: after });
		await reconcileRun(store.db, runId, RECONCILE);
		const nightStart = new Date().toISOString();
		const result = await expectSameAsWholePlan(
			store.db,
			'lists',
			(db) => buildListsRun(db, runId, lists),
			(db) => observe(db, runId, nightStart),
			withoutHow,
		);
		return { runId, result };
	}

	const enrollment = (classId: string, personId: string, role: 'student' | 'teacher', sourcedId = `enr-${classId}-${personId}`): CanonicalEnrollment => ({
		sourcedId,
		classId,
		personId,
		role,
		primary: role === 'teacher',
		beginDate: null,
		endDate: null,
	});
	const withoutEnrollments = (roster: Roster, ...sourcedIds: string[]): Roster => ({ ...roster, enrollments: roster.enrollments.filter((e) => !sourcedIds.includes(e.sourcedId)) });
	const withEnrollments = (roster: Roster, ...enrollments: CanonicalEnrollment[]): Roster => ({ ...roster, enrollments: [...roster.enrollments, ...enrollments] });
	const editPerson = (roster: Roster, sourcedId: string, change: Record<string, unknown>): Roster => ({
		...roster,
		people: roster.people.map((p) => (p.sourcedId === sourcedId ? { ...p, ...change } : p)),
	});
	const planned = (n: { result: BuildListsResult }) => n.result.counts.plannedFromChanges;

	test('nights of changed people and enrollments: leavers, arrivals, a new grade and its end, a teacher moving class, duplicate enrollments, a row problem', async () => {
		const r1 = syntheticRoster(300, 1);
		const n1 = await night(r1);
		expect(planned(n1)).toBeUndefined();

		// Night 2: a leaver (archived: off every list), a new student in two classes, a student moved up a grade, a renamed
		// student (no list changes), a teacher moving from one class to another, a second enrollment of a student in their class.
		let r2 = { ...r1, people: r1.people.filter((p) => p.sourcedId !== 'stu-000030') };
		r2 = withoutEnrollments(r2, ...r1.enrollments.filter((e) => e.personId === 'stu-000030').map((e) => e.sourcedId));
		r2 = { ...r2, people: [...r2.people, student('stu-000900', 'New', 'Arrival', '11', 'S000900')] };
		r2 = withEnrollments(r2, enrollment('cls-000000', 'stu-000900', 'student'), enrollment('cls-000020', 'stu-000900', 'student'));
		r2 = editPerson(r2, 'stu-000040', { grade: '10' });
		r2 = editPerson(r2, 'stu-000041', { familyName: 'Renamed' });
		r2 = withoutEnrollments(r2, 'enr-t-cls-000003');
		r2 = withEnrollments(r2, enrollment('cls-000003', 'tch-000005', 'teacher', 'enr-t2-cls-000003'), enrollment('cls-000001', 'stu-000050', 'student', 'enr-dup-050'));
		const n2 = await night(r2, n1.runId);
		expect(planned(n2)).toMatchObject({ since: n1.runId });
		expect(planned(n2)!.lists).toBeLessThan(n1.result.counts.lists / 2);
		// A teacher who stays lost a class: whether another enrollment still gives it is read from the night's enrollments.
		expect(planned(n2)!.readEnrollments).toBe(true);
		expect(n2.result.counts).toMatchObject({ membersAdded: expect.any(Number), membersRemoved: expect.any(Number), managersAdded: 1, managersRemoved: 1 });

		// Night 3: one of the two enrollments of a student in a class goes (still a member), a student drops a class, a
		// kindergartner arrives (a new grade list), and a student whose row had a problem tonight loses a class (kept on it).
		let r3 = withoutEnrollments(r2, 'enr-dup-050');
		r3 = withoutEnrollments(r3, r2.enrollments.find((e) => e.personId === 'stu-000060' && e.role === 'student')!.sourcedId);
		r3 = { ...r3, people: [...r3.people, student('stu-000901', 'Small', 'One', 'KG', 'S000901')] };
		r3 = withEnrollments(r3, enrollment('cls-000002', 'stu-000901', 'student'));
		r3 = withoutEnrollments(r3, r2.enrollments.find((e) => e.personId === 'stu-000070' && e.role === 'student')!.sourcedId);
		r3 = { ...r3, problems: [{ file: 'users.csv', row: 72, field: 'email', sourcedId: 'stu-000070', message: 'not an email address' }] };
		const n3 = await night(r3, n2.runId);
		expect(planned(n3)).toMatchObject({ since: n2.runId });
		expect(n3.result.counts).toMatchObject({ listsCreated: 1, membersRemoved: 1 });
		expect(planned(n3)!.readEnrollments).toBe(true);
		expect(n3.result.counts.lists).toBe(n2.result.counts.lists + 1);
		// The kept member leaves no basis for the next night's plan.
		expect(await asLeftBy(store.db, 'lists')).toBeNull();

		// Night 4 (planned whole, as night 3 kept someone): the kindergartner leaves; night 5 brings them back.
		const r4 = { ...withoutEnrollments(r3, 'enr-cls-000002-stu-000901'), people: r3.people.filter((p) => p.sourcedId !== 'stu-000901'), problems: [] };
		const n4 = await night(r4, n3.runId);
		expect(planned(n4)).toBeUndefined();
		expect(n4.result.counts.listsArchived).toBe(1);
		const n5 = await night(r3, n4.runId);
		expect(planned(n5)).toMatchObject({ since: n4.runId });
		expect(n5.result.counts).toMatchObject({ listsRestored: 1 });
		// Someone back in the roster, and then gone again: all their enrollments are changed records, none is read.
		expect(planned(n5)!.readEnrollments).toBeUndefined();
		const n6 = await night(r4, n5.runId);
		expect(planned(n6)).toMatchObject({ since: n5.runId });
		expect(n6.result.counts).toMatchObject({ listsArchived: 1 });
		expect(n6.result.counts.lists).toBe(n4.result.counts.lists);
		expect(planned(n6)!.readEnrollments).toBeUndefined();

		// A student taken out of SIS sync by hand (planned whole, off their lists); renamed the next night, they stay off.
		await store.db.execute("UPDATE people SET include_in_sis_sync = 0 WHERE sourced_id = 'stu-000080'");
		const n7 = await night(r4, n6.runId);
		expect(planned(n7)).toBeUndefined();
		const n8 = await night(editPerson(r4, 'stu-000080', { familyName: 'Renamed' }), n7.runId);
		expect(planned(n8)).toMatchObject({ since: n7.runId });
		expect(n8.result.counts.membersAdded).toBe(0);
		expect(planned(n8)!.readEnrollments).toBeUndefined();

		// The SIS gives a student a new sourcedId (found by SIS id, relinked): their lists follow them, none of the night's enrollments read.
		const moved = (sourcedId: string) => (sourcedId === 'stu-000090' ? 'stu-000090-new' : sourcedId);
		const r9 = {
			...r4,
			people: r4.people.map((p) => ({ ...p, sourcedId: moved(p.sourcedId) })),
			enrollments: r4.enrollments.map((e) => (e.personId === 'stu-000090' ? { ...e, sourcedId: `${e.sourcedId}-new`, personId: moved(e.personId) } : e)),
		};
		const n9 = await night(r9, n8.runId);
		expect(planned(n9)).toMatchObject({ since: n8.runId });
		expect(planned(n9)!.readEnrollments).toBeUndefined();
		// A class list's member is the same person; a student in a class they were not in is added (a new enrollment, a class they lacked).
		const r10 = withEnrollments(r9, enrollment('cls-000004', 'stu-000090-new', 'student', 'enr-extra-090'));
		const n10 = await night(r10, n9.runId);
		expect(planned(n10)!.readEnrollments).toBeUndefined();
		expect(n10.result.counts.membersAdded).toBeLessThanOrEqual(1);
	});

	test('the same roster after a grace period archives a student: planned from Reconcile Users\' writes alone', async () => {
		const roster = syntheticRoster(150, 1);
		const gone = { ...roster, people: roster.people.filter((p) => p.sourcedId !== 'stu-000010') };
		const graceTwo = async (r: Roster, after?: string) => {
			const runId = await writeRoster(store.db, r, { changesOver: after });
			await reconcileRun(store.db, runId, { ...RECONCILE, graceRuns: 2 });
			return runId;
		};
		const n1 = await graceTwo(roster);
		await buildListsRun(store.db, n1, LISTS);
		const n2 = await graceTwo(gone, n1);
		await buildListsRun(store.db, n2, LISTS);
		const n3 = await graceTwo(gone, n2);
		const whole = await rolledBack(store.db, async (tx) => {
			await setAsLeftBy(tx, 'lists', null);
			return buildListsRun(tx, n3, LISTS);
		});
		const result = await buildListsRun(store.db, n3, LISTS);
		// The archived student is in neither roster: the night's enrollments are read for theirs (there are none).
		expect(result.counts.plannedFromChanges).toMatchObject({ since: n2, readEnrollments: true });
		expect(withoutHow(result)).toEqual(withoutHow(whole));
		expect(result.counts.enrollmentsWithoutPerson).toBe(whole.counts.enrollmentsWithoutPerson);
	});

	test('a touched grade Minga has no name for (titled by its first student) and subject lists are planned whole', async () => {
		const r1 = syntheticRoster(120, 1);
		const n1 = await night(r1);
		const odd = editPerson(r1, 'stu-000010', { grade: 'Ungraded-A' });
		const n2 = await night(odd, n1.runId);
		expect(planned(n2)).toBeUndefined();
		// A night that touches nobody in that grade is planned from changes; one that touches its student, whole.
		const n3 = await night(editPerson(odd, 'stu-000011', { familyName: 'Renamed' }), n2.runId);
		expect(planned(n3)).toMatchObject({ since: n2.runId });
		const n3b = await night(editPerson(editPerson(odd, 'stu-000011', { familyName: 'Renamed' }), 'stu-000010', { familyName: 'Renamed' }), n3.runId);
		expect(planned(n3b)).toBeUndefined();
		const subjects = { ...LISTS, autoListsBySubject: true };
		const n4 = await night(editPerson(odd, 'stu-000012', { familyName: 'Renamed' }), n3b.runId, subjects);
		const n5 = await night(editPerson(odd, 'stu-000013', { familyName: 'Renamed' }), n4.runId, subjects);
		expect(planned(n5)).toBeUndefined();
	});
});
