/**
 * A small OneRoster 1.2 set (test/fixtures/oneroster-1.2-small): roles.csv, preferred names,
 * 1.2 role words, and the 1.2 rules about which files a set must carry.
 */
import { openFolderFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { ingestOneRosterCsv } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import { MemoryStagingSink } from '../../support/memory-staging-sink';
import { expectLocation, FIXTURE_1_2, ingestError, ingestFiles, readFolder } from './helpers';

test('the 1.2 fixture set ingests with roles.csv and preferred names', async () => {
	const set = await openFolderFileSet(FIXTURE_1_2);
	const sink = new MemoryStagingSink();
	const summary = await ingestOneRosterCsv(set, sink);
	await set.close();

	expect(summary.version).toBe('1.2');
	expect(summary.files.map(({ entity, rows, skipped }) => [entity, rows, skipped])).toEqual([
		['orgs', 3, 0],
		['academicSessions', 3, 0],
		['courses', 2, 0],
		['classes', 3, 0],
		['users', 8, 0],
		['roles', 9, 0],
		['demographics', 3, 0],
		['enrollments', 7, 0],
	]);
	expect(summary.problemCount).toBe(0);
	expect(summary.warnings).toEqual(['README.md is not a OneRoster file; ignored']);

	expect(sink.files.get('users')?.version).toBe('1.2');
	expect(sink.record('users', 'U-1001')).toMatchObject({
		givenName: 'Ana',
		familyName: 'García',
		preferredGivenName: 'Lucy',
		primaryOrgSourcedId: 'S110',
		pronouns: 'she/her',
		userIds: '{LDAP:ana.garcia},{SIS:1001}',
	});
	expect(sink.record('users', 'U-3001')).toMatchObject({ preferredGivenName: 'Polly', preferredFamilyName: 'Dubois-Smith' });
	expect(sink.records('roles').map((role) => [role.userSourcedId, role.roleType, role.role])).toEqual([
		['U-1001', 'primary', 'student'],
		['U-1002', 'primary', 'student'],
		['U-1003', 'primary', 'student'],
		['U-2001', 'primary', 'teacher'],
		['U-2002', 'primary', 'teacher'],
		['U-2002', 'secondary', 'counselor'],
		['U-3001', 'primary', 'principal'],
		['U-3002', 'primary', 'districtAdministrator'],
		['P-9001', 'primary', 'guardian'],
	]);
	expect(sink.record('classes', 'K-BIO-3')).toMatchObject({ grades: '09,10', periods: '3,4', termSourcedIds: 'T2025-1' });
});

test('roles.csv: unknown roleType and a 1.1-only role word are row problems', async () => {
	const files = readFolder(FIXTURE_1_2);
	const roles = files['roles.csv'].toString().replace('R-1002,,,U-1002,primary', 'R-1002,,,U-1002,main').replace('R-1003,,,U-1003,primary,student', 'R-1003,,,U-1003,primary,administrator');
	const { sink } = await ingestFiles({ ...files, 'roles.csv': roles });
	expect(sink.problems.map(({ file, row, field, sourcedId }) => ({ file, row, field, sourcedId }))).toEqual([
		{ file: 'roles.csv', row: 3, field: 'roleType', sourcedId: 'R-1002' },
		{ file: 'roles.csv', row: 4, field: 'role', sourcedId: 'R-1003' },
	]);
	expect(sink.problems[0].message).toBe('unknown role type "main"; OneRoster 1.2 allows "primary", "secondary"');
});

test('a bulk 1.2 users.csv needs roles.csv', async () => {
	const files = readFolder(FIXTURE_1_2);
	const manifest = files['manifest.csv'].toString().replace('file.roles,bulk', 'file.roles,absent');
	const error = await ingestError({ ...files, 'manifest.csv': manifest, 'roles.csv': null });
	expect(error.message).toContain('the set has no roles.csv (or declares it absent), but users.csv is bulk');
	expectLocation(error, { file: 'roles.csv' });
});

test('a 1.2 users.csv with the 1.1 role column warns that the column is not in 1.2', async () => {
	const files = readFolder(FIXTURE_1_2);
	const users = files['users.csv']
		.toString()
		.split('\n')
		.map((line, index) => (line === '' ? line : `${line},${index === 0 ? 'role' : 'student'}`))
		.join('\n');
	const { summary } = await ingestFiles({ ...files, 'users.csv': users });
	expect(summary.warnings).toContain('users.csv: column "role" is not in OneRoster 1.2; kept as it is');
});
