/**
 * JSON → staged rows in the CSV column vocabulary (what Normalize reads), for OneRoster 1.2 users
 * and roles, and Clever records; paging helpers that read real servers' envelopes and Link headers.
 */
import { cleverDate, cleverGrade, sectionEnrollments, userToUser } from '../../../nodes/shared/sources/clever/map';
import { flattenRecord, rolesOf, stagedColumns } from '../../../nodes/shared/sources/oneroster-rest/flatten';
import { nextLink, recordsOf } from '../../../nodes/shared/sources/oneroster-rest/paging';
import { oneRosterRoot } from '../../../nodes/shared/sources/oneroster-rest/source';
import { retryAfterMs } from '../../../nodes/shared/sources/oneroster-rest/requests';

const row = (columns: string[], cells: string[]) => Object.fromEntries(columns.map((c, i) => [c, cells[i]]));

describe('OneRoster JSON → staged rows', () => {
	const user12 = {
		sourcedId: 'u1',
		status: 'active',
		dateLastModified: '2024-08-01T00:00:00Z',
		enabledUser: true,
		username: 'ann',
		userIds: [
			{ type: 'Local', identifier: '863' },
			{ type: 'State', identifier: 'S-1' },
		],
		givenName: 'Annabel',
		familyName: 'Lee',
		preferredFirstName: 'Ann',
		preferredLastName: 'Leigh',
		roles: [
			{ roleType: 'primary', role: 'student', org: { href: '/orgs/s1', sourcedId: 's1', type: 'org' } },
			{ roleType: 'secondary', role: 'student', org: { sourcedId: 's2' }, beginDate: '2024-08-01' },
		],
		primaryOrg: { sourcedId: 's1' },
		agents: [{ sourcedId: 'p1' }, { sourcedId: 'p2' }],
		grades: ['09'],
		password: 'never-staged',
	};

	test('1.2 users: preferred names in the CSV columns, userIds as {type:identifier}, agents as a list, no password', () => {
		const columns = stagedColumns('users', '1.2');
		const staged = row(columns, flattenRecord('users', user12, columns));
		expect(staged).toMatchObject({
			sourcedId: 'u1',
			enabledUser: 'true',
			userIds: '{Local:863},{State:S-1}',
			preferredGivenName: 'Ann',
			preferredFamilyName: 'Leigh',
			primaryOrgSourcedId: 's1',
			agentSourcedIds: 'p1,p2',
			grades: '09',
			password: '',
		});
	});

	test('1.2 roles → roles rows with a stable sourcedId', () => {
		const columns = stagedColumns('roles', '1.2');
		const roles = rolesOf(user12).map((role) => row(columns, flattenRecord('roles', role, columns)));
		expect(roles).toEqual([
			expect.objectContaining({ sourcedId: 'u1:student:s1', userSourcedId: 'u1', roleType: 'primary', role: 'student', orgSourcedId: 's1' }),
			expect.objectContaining({ sourcedId: 'u1:student:s2', roleType: 'secondary', orgSourcedId: 's2', beginDate: '2024-08-01' }),
		]);
	});

	test('1.1 classes and enrollments: references, lists, booleans', () => {
		const classColumns = stagedColumns('classes', '1.1');
		const klass = row(
			classColumns,
			flattenRecord('classes', { sourcedId: 'c1', title: 'Art', classType: 'scheduled', course: { sourcedId: 'k1' }, school: { sourcedId: 's1' }, terms: [{ sourcedId: 't1' }, { sourcedId: 't2' }], periods: ['1', '2'], grades: ['09', '10'] }, classColumns),
		);
		expect(klass).toMatchObject({ courseSourcedId: 'k1', schoolSourcedId: 's1', termSourcedIds: 't1,t2', periods: '1,2', grades: '09,10' });
		const enrollmentColumns = stagedColumns('enrollments', '1.1');
		const enrollment = row(enrollmentColumns, flattenRecord('enrollments', { sourcedId: 'e1', user: { sourcedId: 'u1' }, class: { sourcedId: 'c1' }, school: { sourcedId: 's1' }, role: 'teacher', primary: true }, enrollmentColumns));
		expect(enrollment).toMatchObject({ userSourcedId: 'u1', classSourcedId: 'c1', schoolSourcedId: 's1', primary: 'true' });
	});

	test('a 1.1 user sent with 1.2-style roles still gets its role and orgs', () => {
		const columns = stagedColumns('users', '1.1');
		const staged = row(columns, flattenRecord('users', { ...user12, role: undefined, orgs: undefined }, columns));
		expect(staged).toMatchObject({ role: 'student', orgSourcedIds: 's1' });
	});
});

describe('Clever → OneRoster', () => {
	test('grades, dates, contacts and section enrollments', () => {
		expect(['1', '12', 'Kindergarten', 'PreKindergarten', 'PostGraduate', 'Ungraded'].map(cleverGrade)).toEqual(['01', '12', 'KG', 'PK', '13', 'UG']);
		expect(cleverDate('5/30/1997')).toBe('1997-05-30');
		expect(cleverDate('1997-05-30')).toBe('1997-05-30');
		const contact = userToUser(
			{ id: 'g1', district: 'd1', name: { first: 'Pat', last: 'Lee' }, roles: { contact: { student_relationships: [{ student: 'u1', relationship: 'Guardian', type: 'Parent/Guardian' }], phone: '555' } } },
			'contact',
		);
		expect(contact).toMatchObject({ role: 'guardian', agents: [{ sourcedId: 'u1', type: 'user' }], orgs: [{ sourcedId: 'd1', type: 'org' }], phone: '555' });
		expect(userToUser({ id: 'x', roles: { teacher: {} } }, 'student')).toBeUndefined();
		const enrollments = sectionEnrollments({ id: 's', school: 'sc', teacher: 't2', teachers: ['t1'], students: ['a', 'b', 'a'] });
		expect(enrollments.map((e) => [e.sourcedId, e.role, e.primary])).toEqual([
			['s:teacher:t2', 'teacher', 'true'],
			['s:teacher:t1', 'teacher', 'false'],
			['s:student:a', 'student', 'false'],
			['s:student:b', 'student', 'false'],
		]);
	});
});

describe('reading real servers', () => {
	test('envelopes: orgs vs schools, users for /students, a bare array', () => {
		expect(recordsOf({ orgs: [{ sourcedId: 'a' }] }, ['orgs', 'schools'])).toHaveLength(1);
		expect(recordsOf({ schools: [{ sourcedId: 'a' }] }, ['orgs', 'schools'])).toHaveLength(1);
		expect(recordsOf({ users: [] }, ['users', 'students'])).toEqual([]);
		expect(recordsOf([{ sourcedId: 'a' }], ['users'])).toHaveLength(1);
		expect(recordsOf({ users: null }, ['users'])).toEqual([]);
		expect(recordsOf({ message: 'hi' }, ['users'])).toBeUndefined();
	});

	test('Link rel="next", relative or absolute; Retry-After in seconds or as a date', () => {
		const response = (headers: Record<string, string>) => ({ status: 200, headers, body: '' });
		expect(nextLink(response({ link: '</ims/oneroster/v1p1/users?offset=100&limit=100>; rel="next", </ims/oneroster/v1p1/users?offset=900>; rel="last"' }), 'https://sis.example.org/ims/oneroster/v1p1/users?limit=100')).toBe(
			'https://sis.example.org/ims/oneroster/v1p1/users?offset=100&limit=100',
		);
		expect(nextLink(response({ link: '<https://other.example.org/x?cursor=abc>; rel=next' }), 'https://sis.example.org/')).toBe('https://other.example.org/x?cursor=abc');
		expect(nextLink(response({ link: '<https://sis.example.org/x>; rel="last"' }), 'https://sis.example.org/')).toBeUndefined();
		expect(retryAfterMs(response({ 'retry-after': '3' }))).toBe(3000);
		const now = Date.parse('2024-08-01T00:00:00Z');
		expect(retryAfterMs(response({ 'retry-after': 'Thu, 01 Aug 2024 00:00:10 GMT' }), now)).toBe(10_000);
	});

	test('base URLs with or without /ims/oneroster/…', () => {
		expect(oneRosterRoot('https://d.infinitecampus.org/campus/api/oneroster/v1p1/d/', '1.1')).toBe('https://d.infinitecampus.org/campus/api/oneroster/v1p1/d/ims/oneroster/v1p1');
		expect(oneRosterRoot('https://sis.org/ims/oneroster/v1p1', '1.2')).toBe('https://sis.org/ims/oneroster/rostering/v1p2');
		expect(oneRosterRoot('https://sis.org/api/ims/oneroster/rostering/v1p2/', '1.2')).toBe('https://sis.org/api/ims/oneroster/rostering/v1p2');
	});
});
