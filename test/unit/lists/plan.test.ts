/** The pure lists planner, without a store. */
import type { DesiredList } from '../../../nodes/shared/lists/plan';
import { PersonIndex, classListTitle, gradeKey, gradeTitle, planLists, selectClasses, sortedUnique } from '../../../nodes/shared/lists/plan';
import { listSettings } from '../../../nodes/shared/lists/settings';
import type { UserListRow } from '../../../nodes/shared/store/lists';
import { PERSON_ID_SEPARATOR } from '../../../nodes/shared/store/lists';
import { day2, klass } from '../../support/roster-fixtures';

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
