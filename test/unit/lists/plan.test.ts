/** The pure lists planner, without a store. */
import type { DesiredList } from '../../../nodes/shared/lists/plan';
import { ListsPlanner, PersonIndex, classListTitle, gradeKey, gradeTitle, planLists, selectClasses, sortedUnique } from '../../../nodes/shared/lists/plan';
import { listSettings } from '../../../nodes/shared/lists/settings';
import type { UserListRow } from '../../../nodes/shared/store/lists';
import { PERSON_ID_SEPARATOR } from '../../../nodes/shared/store/lists';
import { day2, klass, userList } from '../../support/roster-fixtures';

test('grades: 9 and 09 are one grade, letters without case', () => {
	expect(gradeKey('9')).toBe('09');
	expect(gradeKey(' 09 ')).toBe('09');
	expect(gradeKey('kg')).toBe('KG');
	expect(gradeTitle('09')).toBe('Grade 9');
	expect(gradeTitle('KG')).toBe('Kindergarten');
});

test('class list titles tell sections apart by code and period', () => {
	expect(classListTitle(klass('c', 'Algebra I', [], { classCode: 'ALG1-01', periods: '3' }))).toBe('Algebra I (ALG1-01, Period 3)');
	expect(classListTitle(klass('c', 'ALG1-01 Algebra', [], { classCode: 'ALG1-01' }))).toBe('ALG1-01 Algebra');
	expect(classListTitle(klass('c', 'Homeroom', []))).toBe('Homeroom');
});

test('term selection: by sourcedId or title; a selected parent term takes its children’s classes', () => {
	const { terms, classes, courses } = day2();
	const pick = (settings: Parameters<typeof listSettings>[0]) => [...selectClasses(listSettings(settings), terms, classes, courses).classListClasses].sort();
	expect(pick({ syncClassRosters: true, terms: ['fall'] })).toEqual(['cls-alg', 'cls-eng']);
	expect(pick({ syncClassRosters: true, terms: ['spring 2027'] })).toEqual(['cls-art']);
	expect(pick({ syncClassRosters: true, terms: ['y2027'] })).toEqual(['cls-alg', 'cls-art', 'cls-eng']);
	expect(pick({ syncClassRosters: true, terms: ['y2027'], grades: ['10'] })).toEqual(['cls-art']);
	expect(pick({ syncClassRosters: false, terms: ['y2027'] })).toEqual([]);
	const unknown = selectClasses(listSettings({ syncClassRosters: true, terms: ['Winter'] }), terms, classes, courses);
	expect(unknown.classListsOn).toBe(false);
	expect(unknown.warnings).toEqual(['term "Winter" is not in the roster', 'none of the selected terms is in the roster: class lists were left as they are']);
});

describe('planLists diffs people as numbers', () => {
	const settings = listSettings({ syncClassRosters: true, terms: ['fall'] });
	const stored: UserListRow = { id: 'l1', kind: 'class', source_key: 'class:c1', title: 'Algebra', term_id: 't', class_id: 'c1', grade: null, is_public: 0, visibility_set_by_hand: 0, archived_at: null, created_at: 'x', updated_at: 'x' };
	const want = (members: Int32Array): DesiredList => ({ sourceKey: 'class:c1', kind: 'class', title: 'Algebra', termId: 't', classId: 'c1', grade: null, members, managers: new Int32Array(0) });
	const plan = (people: PersonIndex, members: Int32Array, storedMembers: string[], protectedPeople = new Set<number>()) =>
		planLists({
			now: 'now',
			dryRun: false,
			settings,
			builtKinds: new Set(['class']),
			desired: [want(members)],
			lists: [stored],
			memberships: new Map([['l1', { member: storedMembers.join(PERSON_ID_SEPARATOR) }]]),
			people,
			roster: { classes: 1, enrollments: 1, people: 1 },
			protectedPeople,
			sourcedIdOf: (n) => ['s-b', 's-c', 's-d'][n],
		});

	test('a list as stored changes nothing', () => {
		const people = new PersonIndex(['id-c', 'id-b', 'id-d']);
		const result = plan(people, sortedUnique([1, 0, 1]), ['id-b', 'id-c']);
		expect(result.changes).toEqual([]);
		expect(result.counts).toMatchObject({ listsUpdated: 0, membersAdded: 0, membersRemoved: 0 });
	});

	test('stored members in any order, and ones no link knows, are diffed exactly; changes list people in id order', () => {
		const people = new PersonIndex(['id-c', 'id-b', 'id-d']);
		// id-a is on the list by hand (no SIS link) and sorts before every linked id; id-c has a problem row this run.
		const result = plan(people, sortedUnique([2]), ['id-c', 'id-a', 'id-b'], new Set([people.numberOf('id-c')!]));
		expect(result.memberAdds).toEqual([{ listId: 'l1', membership: 'member', personIds: ['id-d'] }]);
		expect(result.memberRemoves).toEqual([{ listId: 'l1', membership: 'member', personIds: ['id-a', 'id-b'] }]);
		expect(result.changes.map((c) => [c.action, c.before ?? c.after])).toEqual([
			['add', { person_ids: ['id-d'], sourced_ids: ['s-d'] }],
			['remove', { person_ids: ['id-a', 'id-b'], sourced_ids: [null, 's-b'] }],
		]);
		expect(result.counts).toMatchObject({ listsUpdated: 1, membersAdded: 1, membersRemoved: 2 });
	});
});

test('planned a slice of lists at a time, the parts concatenated are the whole plan', () => {
	const settings = listSettings({ syncClassRosters: true, terms: ['fall'] });
	const row = (id: string, sourceKey: string, extra: Partial<UserListRow> = {}): UserListRow =>
		userList(id, 'class', sourceKey, { title: sourceKey, term_id: 't', class_id: sourceKey.slice('class:'.length), ...extra });
	const want = (sourceKey: string, members: number[], managers: number[] = []): DesiredList => ({
		sourceKey,
		kind: 'class',
		title: sourceKey,
		termId: 't',
		classId: sourceKey.slice('class:'.length),
		grade: null,
		members: sortedUnique(members),
		managers: sortedUnique(managers),
	});
	const people = () => new PersonIndex(['id-a', 'id-b', 'id-c', 'id-d']);
	// Out of order on purpose: a new list, a list as stored, one with member changes, a restore, a title change, one gone (archived).
	const desired = [want('class:e', [0, 1], [3]), want('class:a', [0]), want('class:c', [1, 2]), want('class:b', [2]), want('class:d', [0], [3])];
	const lists = [row('l-a', 'class:a'), row('l-b', 'class:b', { archived_at: 'old' }), row('l-c', 'class:c'), row('l-d', 'class:d', { title: 'old title' }), row('l-z', 'class:z')];
	const memberships = new Map([
		['l-a', { member: 'id-a' }],
		['l-b', { member: 'id-c' }],
		['l-c', { member: ['id-a', 'id-b'].join(PERSON_ID_SEPARATOR) }],
		['l-d', { member: 'id-a', manager: 'id-d' }],
	]);
	const input = (index: PersonIndex) => {
		let next = 0;
		return {
			now: 'now',
			dryRun: false,
			settings,
			builtKinds: new Set(['class'] as const),
			desired,
			lists,
			memberships,
			people: index,
			roster: { classes: 1, enrollments: 1, people: 1 },
			protectedPeople: new Set<number>(),
			sourcedIdOf: (n: number) => `s-${n}`,
			newId: () => `new-${++next}`,
		};
	};
	const whole = planLists(input(people()));

	const planner = new ListsPlanner(input(people()));
	const parts = [0, 2, 4].map((start) => planner.planSlice(planner.desired.slice(start, start + 2), (listId) => memberships.get(listId)));
	parts.push(planner.planArchives());
	const joined = <K extends 'creates' | 'rewrites' | 'memberAdds' | 'memberRemoves' | 'changes'>(key: K) => parts.flatMap((part) => part[key] as unknown[]);
	expect(joined('changes')).toEqual(whole.changes);
	expect(joined('creates')).toEqual(whole.creates);
	expect(joined('rewrites')).toEqual(whole.rewrites);
	expect(joined('memberAdds')).toEqual(whole.memberAdds);
	expect(joined('memberRemoves')).toEqual(whole.memberRemoves);
	expect(planner.counts).toEqual(whole.counts);
	expect(whole.counts).toMatchObject({ listsCreated: 1, listsUpdated: 2, listsRestored: 1, listsArchived: 1, membersAdded: 3, membersRemoved: 1, managersAdded: 1 });
	expect(whole.changes.map((c) => [c.entityId, c.action])).toEqual([
		['l-b', 'restore'],
		['l-c', 'add'],
		['l-c', 'remove'],
		['l-d', 'update'],
		['new-1', 'create'],
		['new-1', 'add'],
		['new-1', 'add'],
		['l-z', 'archive'],
	]);
});

test('a stored id text is compared with the wanted people in place: exact ids, separators and length', () => {
	const people = new PersonIndex(['id-b', 'id-a', 'id-ab']);
	const joined = (...ids: string[]) => ids.join(PERSON_ID_SEPARATOR);
	const numbers = (...ids: string[]) => sortedUnique(ids.map((id) => people.numberOf(id)!));
	expect(people.holdsJoined(numbers('id-a', 'id-b'), joined('id-a', 'id-b'))).toBe(true);
	expect(people.holdsJoined(numbers('id-a'), joined('id-ab'))).toBe(false);
	expect(people.holdsJoined(numbers('id-ab'), joined('id-a'))).toBe(false);
	expect(people.holdsJoined(numbers('id-a', 'id-b'), joined('id-a', 'id-b', 'id-c'))).toBe(false);
	expect(people.holdsJoined(numbers('id-a', 'id-ab', 'id-b'), joined('id-a', 'id-ab', 'id-b'))).toBe(true);
	expect(people.holdsJoined(numbers('id-a', 'id-b'), 'id-a,id-b')).toBe(false);
	// Once an id came that sorts before the known ones, number order is not id order: never "as stored".
	people.intern('id-0');
	expect(people.holdsJoined(numbers('id-a', 'id-b'), joined('id-a', 'id-b'))).toBe(false);
});
