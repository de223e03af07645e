import { buildListsRun } from '../../../nodes/shared/lists/apply';
import type { ListSettings } from '../../../nodes/shared/lists/settings';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { ReconcileSettings } from '../../../nodes/shared/reconcile/settings';
import { listChanges } from '../../../nodes/shared/store/changes';
import type { UserListRow } from '../../../nodes/shared/store/lists';
import { insertLists, insertMembers, loadAllLists, loadListMembers } from '../../../nodes/shared/store/lists';
import { loadPeople } from '../../../nodes/shared/store/people';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import type { Roster } from '../../support/roster-fixtures';
import { MANUAL_MANNY, addManualPeople, day1, day2, enroll, writeRoster } from '../../support/roster-fixtures';

const SYNC = { autoUpdate: true, archive: true };
const FALL = { syncClassRosters: true, terms: ['fall'] };

describe.each(ENGINES)('Build Lists (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
		await addManualPeople(store.db, [MANUAL_MANNY]);
	});
	afterEach(async () => {
		await store.close();
	});

	async function sync(roster: Roster, lists: Partial<ListSettings>, reconcile: Partial<ReconcileSettings> = SYNC) {
		const runId = await writeRoster(store.db, roster);
		await reconcileRun(store.db, runId, reconcile);
		return buildListsRun(store.db, runId, lists);
	}

	/** sourcedId → people id and back. */
	async function ids() {
		const people = await loadPeople(store.db);
		const bySourced = new Map(people.filter((p) => p.sourced_id).map((p) => [p.sourced_id as string, p.id]));
		const byId = new Map(people.map((p) => [p.id, p.sourced_id ?? p.id]));
		return { of: (sourcedId: string) => bySourced.get(sourcedId)!, sourcedIds: (personIds: string[]) => personIds.map((id) => byId.get(id)).sort() };
	}

	async function list(sourceKey: string): Promise<UserListRow | undefined> {
		return (await loadAllLists(store.db)).find((l) => l.source_key === sourceKey);
	}

	async function members(sourceKey: string, membership: 'member' | 'manager' = 'member'): Promise<string[]> {
		const found = await list(sourceKey);
		if (!found) return [];
		const { sourcedIds } = await ids();
		return sourcedIds((await loadListMembers(store.db, found.id)).filter((m) => m.membership === membership).map((m) => m.person_id)) as string[];
	}

	test('with the defaults nothing is built', async () => {
		const result = await sync(day1(), {});
		expect(result.counts).toMatchObject({ listsCreated: 0, membersAdded: 0, lists: 0 });
		expect(result.run.stage).toBe('lists');
		expect(result.run.counts.lists).toMatchObject({ listsCreated: 0, dryRun: false });
		expect(await loadAllLists(store.db)).toEqual([]);
	});

	test('Sync class rosters without terms creates nothing and warns', async () => {
		const result = await sync(day1(), { syncClassRosters: true });
		expect(result.counts.listsCreated).toBe(0);
		expect(result.warnings.join('\n')).toMatch(/class lists will not roster in until terms are selected/);
		expect(await loadAllLists(store.db)).toEqual([]);
	});

	test('class lists for the selected term: students are members, teachers and co-teachers managers, private by default', async () => {
		const result = await sync(day1(), FALL);
		expect(result.counts).toMatchObject({ listsCreated: 2, membersAdded: 6, managersAdded: 3, listsArchived: 0 });
		const algebra = (await list('class:cls-alg'))!;
		expect(algebra).toMatchObject({ kind: 'class', title: 'Algebra I (ALG1-01, Period 1)', term_id: 'fall', class_id: 'cls-alg', grade: '09', is_public: 0, archived_at: null });
		expect(await members('class:cls-alg')).toEqual(['s1', 's2', 's3']);
		expect(await members('class:cls-alg', 'manager')).toEqual(['t1', 't2']);
		expect(await members('class:cls-eng')).toEqual(['s1', 's2', 's4']);
		expect(await members('class:cls-eng', 'manager')).toEqual(['t2']);

		const changes = await listChanges(store.db, result.run.id, { entities: ['list', 'list_member'] });
		expect(changes.filter((c) => c.entity === 'list').map((c) => [c.action, c.label])).toEqual([
			['create', 'Algebra I (ALG1-01, Period 1)'],
			['create', 'English 9 (ENG9-02, Period 2)'],
		]);
		// One row per list, action and membership, naming the people.
		const adds = changes.filter((c) => c.entity === 'list_member');
		expect(adds.map((c) => [c.label, c.action, c.role, c.after!.sourced_ids])).toEqual([
			[algebra.title, 'add', 'member', ['s1', 's2', 's3']],
			[algebra.title, 'add', 'manager', ['t1', 't2']],
			['English 9 (ENG9-02, Period 2)', 'add', 'member', ['s1', 's2', 's4']],
			['English 9 (ENG9-02, Period 2)', 'add', 'manager', ['t2']],
		]);
		expect(adds.every((c) => c.applied && c.before === null)).toBe(true);
		const managers = adds[1];
		expect(managers).toMatchObject({ entityId: algebra.id, sourcedId: 'cls-alg' });
		expect((await ids()).sourcedIds(managers.after!.person_ids as string[])).toEqual(['t1', 't2']);
	});

	test('lists follow the roster: leaver removed, bad row kept, new id followed, new term listed only when selected', async () => {
		await sync(day1(), FALL);
		const result = await sync(day2(), FALL);
		// s3 left (archived) → removed from Algebra; s4's row was bad → stays in English; Tess is still Algebra's manager.
		expect(result.counts).toMatchObject({ listsCreated: 0, listsUpdated: 1, membersRemoved: 1, membersAdded: 0, managersAdded: 0, managersRemoved: 0 });
		expect(await members('class:cls-alg')).toEqual(['s1', 's2']);
		expect(await members('class:cls-alg', 'manager')).toEqual(['t1-new', 't2']);
		expect(await members('class:cls-eng')).toEqual(['s1', 's2', 's4']);
		expect(await list('class:cls-art')).toBeUndefined();
		const removal = (await listChanges(store.db, result.run.id, { entities: ['list_member'] }))[0];
		expect(removal).toMatchObject({ action: 'remove', role: 'member', sourcedId: 'cls-alg', applied: true, after: null });
		expect(removal.before!.sourced_ids).toEqual(['s3']);

		const both = await sync(day2(), { syncClassRosters: true, terms: ['Fall 2026', 'spring'] });
		expect(both.counts).toMatchObject({ listsCreated: 1, membersAdded: 1, managersAdded: 1 });
		expect(await members('class:cls-art')).toEqual(['s1']);
	});

	test('a class that leaves the selected terms is archived (members kept) and restored when it comes back', async () => {
		await sync(day2(), { syncClassRosters: true, terms: ['y2027'] });
		expect((await loadAllLists(store.db)).map((l) => l.source_key).sort()).toEqual(['class:cls-alg', 'class:cls-art', 'class:cls-eng']);

		const spring = await sync(day2(), { syncClassRosters: true, terms: ['spring'] });
		expect(spring.counts).toMatchObject({ listsArchived: 2, listsCreated: 0, membersRemoved: 0 });
		expect((await list('class:cls-alg'))!.archived_at).not.toBeNull();
		expect(await members('class:cls-alg')).toEqual(['s1', 's2']);
		expect((await list('class:cls-art'))!.archived_at).toBeNull();

		const back = await sync(day2(), { syncClassRosters: true, terms: ['y2027'] });
		expect(back.counts).toMatchObject({ listsRestored: 2, listsArchived: 0, listsCreated: 0 });
		expect((await list('class:cls-alg'))!.archived_at).toBeNull();
		const restore = (await listChanges(store.db, back.run.id, { entities: ['list'] }))[0];
		expect(restore).toMatchObject({ action: 'restore', fields: ['archived_at'] });
	});

	test('visibility: new lists follow the setting, existing lists keep what was set by hand', async () => {
		await sync(day1(), { ...FALL, newListsPublic: true });
		expect((await list('class:cls-alg'))!.is_public).toBe(1);
		await store.db.execute("UPDATE user_lists SET is_public = 0, visibility_set_by_hand = 1 WHERE source_key = 'class:cls-eng'");
		const roster = day1();
		roster.classes = roster.classes.map((c) => (c.sourcedId === 'cls-eng' ? { ...c, title: 'English 9 Honors' } : c));
		const result = await sync(roster, { ...FALL, newListsPublic: true });
		expect(result.counts.listsUpdated).toBe(1);
		expect(await list('class:cls-eng')).toMatchObject({ title: 'English 9 Honors (ENG9-02, Period 2)', is_public: 0 });
		expect((await list('class:cls-alg'))!.is_public).toBe(1);
	});

	test('grade filter: 9 and 09 are one grade; classes of other grades get no list', async () => {
		expect((await sync(day1(), { ...FALL, grades: ['10'] })).counts.listsCreated).toBe(0);
		expect((await sync(day1(), { ...FALL, grades: ['9'] })).counts.listsCreated).toBe(2);
	});

	test('auto lists by role, grade, subject and teacher', async () => {
		const result = await sync(day1(), { autoListsByRole: true, autoListsByGrade: true, autoListsBySubject: true, autoListsByTeacher: true });
		const keys = (await loadAllLists(store.db)).map((l) => l.source_key).sort();
		expect(keys).toEqual([
			'grade:09',
			'grade:10',
			'role:admin',
			'role:staff',
			'role:student',
			'role:teacher',
			'subject:english',
			'subject:mathematics',
			'teacher:t1',
			'teacher:t2',
		]);
		expect(result.counts.listsCreated).toBe(10);
		expect(await members('role:student')).toEqual(['s1', 's2', 's3', 's4']);
		expect((await list('role:student'))!.title).toBe('All Students');
		expect(await members('grade:09')).toEqual(['s1', 's2', 's3']);
		expect((await list('grade:09'))!.title).toBe('Grade 9');
		expect(await members('subject:mathematics')).toEqual(['s1', 's2', 's3']);
		expect((await list('subject:mathematics'))!.title).toBe('Mathematics');
		expect(await members('teacher:t2')).toEqual(['s1', 's2', 's3', 's4']);
		expect(await members('teacher:t2', 'manager')).toEqual(['t2']);
		expect((await list('teacher:t1'))!.title).toBe('Students of Tess Tanner');
	});

	test('a kind switched off is left alone; manual lists are never touched', async () => {
		await insertLists(store.db, [
			{ id: 'manual-list', kind: 'manual', source_key: null, title: 'Robotics club', term_id: null, class_id: null, grade: null, is_public: 1, visibility_set_by_hand: 1, archived_at: null, created_at: 'x', updated_at: 'x' },
		]);
		await insertMembers(store.db, [{ list_id: 'manual-list', person_id: MANUAL_MANNY.id, membership: 'member', added_run_id: null }]);
		await sync(day1(), { autoListsByRole: true });
		const result = await sync(day1(), {});
		expect(result.counts.listsArchived).toBe(0);
		expect((await list('role:student'))!.archived_at).toBeNull();
		expect((await loadAllLists(store.db)).find((l) => l.id === 'manual-list')).toMatchObject({ archived_at: null, title: 'Robotics club' });
		expect(await loadListMembers(store.db, 'manual-list')).toHaveLength(1);
	});

	test('enrollment dates are not interpreted: the export is the roster', async () => {
		const roster = day1();
		roster.enrollments.push(enroll('cls-eng', 's3', 'student', false, { beginDate: '2019-08-20', endDate: '2020-01-31' }));
		await sync(roster, FALL);
		expect(await members('class:cls-eng')).toEqual(['s1', 's2', 's3', 's4']);
	});

	test('an export without enrollments leaves class lists as they are', async () => {
		await sync(day1(), FALL);
		const roster = day1();
		roster.enrollments = [];
		const result = await sync(roster, FALL);
		expect(result.counts).toMatchObject({ membersRemoved: 0, managersRemoved: 0, listsArchived: 0 });
		expect(result.warnings.join('\n')).toMatch(/no classes or enrollments in the roster/);
		expect(await members('class:cls-alg')).toEqual(['s1', 's2', 's3']);
	});

	test('a dry run changes no list and plans what the real run does (people it would create included)', async () => {
		const dryRunId = await writeRoster(store.db, day1());
		await reconcileRun(store.db, dryRunId, { ...SYNC, dryRun: true });
		const dry = await buildListsRun(store.db, dryRunId, { ...FALL, autoListsByRole: true });
		expect(dry.dryRun).toBe(true);
		expect(await loadAllLists(store.db)).toEqual([]);
		const planned = await listChanges(store.db, dryRunId, { entities: ['list', 'list_member'] });
		expect(planned.every((c) => !c.applied)).toBe(true);

		const real = await sync(day1(), { ...FALL, autoListsByRole: true });
		const { dryRun: _a, ...dryCounts } = dry.counts;
		const { dryRun: _b, ...realCounts } = real.counts;
		expect(realCounts).toEqual(dryCounts);
		expect(dryCounts).toMatchObject({ listsCreated: 6, membersAdded: 14, managersAdded: 3 });
		const summary = (changes: typeof planned) =>
			changes.map((c) => `${c.entity} ${c.action} ${c.role} ${c.label} ${c.sourcedId ?? ''} ${JSON.stringify((c.after ?? c.before)?.sourced_ids ?? null)}`);
		expect(summary(await listChanges(store.db, real.run.id, { entities: ['list', 'list_member'] }))).toEqual(summary(planned));
	});

	test('needs a reconciled run', async () => {
		const runId = await writeRoster(store.db, day1());
		await expect(buildListsRun(store.db, runId, FALL)).rejects.toThrow(/needs run .* to be reconciled/);
	});
});
