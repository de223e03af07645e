/**
 * One test per flaw of real exports: file-level errors stop the ingest with a RosterInputError
 * that names file, row and field; row-level problems skip the row and are listed; tolerated
 * flaws are read and warned about.
 */
import { DEFAULT_MAX_ROW_PROBLEMS, ROW_BATCH_SIZE } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import { expectLocation, ingestError, ingestFiles, minimalSet11, set11 } from './helpers';

const USERS_HEADER = minimalSet11()['users.csv'].split('\n')[0];
const ENROLLMENTS_HEADER = minimalSet11()['enrollments.csv'].split('\n')[0];

function users(...rows: string[]): string {
	return [USERS_HEADER, ...rows, ''].join('\n');
}
function enrollments(...rows: string[]): string {
	return [ENROLLMENTS_HEADER, ...rows, ''].join('\n');
}
function manifestWith(lines: string[]): string {
	return minimalSet11()['manifest.csv'].replace(/file\.[\s\S]*/, '') + lines.join('\n') + '\n';
}

describe('file-level errors', () => {
	test('missing required column: names every missing column', async () => {
		const header = USERS_HEADER.replace(',givenName', '').replace(',role', '');
		const error = await ingestError(set11({ 'users.csv': `${header}\nU1,,,true,S1,ann,,Archer,,,,,,,,,\n` }));
		expect(error.message).toMatch(/^users\.csv, row 1, field "role": missing required columns "role", "givenName"/);
		expectLocation(error, { file: 'users.csv', row: 1, field: 'role' });
	});

	test('header case mismatch: says which column and the expected spelling', async () => {
		const error = await ingestError(set11({ 'users.csv': users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,').replace(/^sourcedId/, 'SourcedId') }));
		expect(error.message).toContain('column "SourcedId" must be spelled "sourcedId"');
		expectLocation(error, { file: 'users.csv', row: 1, field: 'SourcedId' });
	});

	test('broken UTF-8 (a Latin-1 é) names file and row', async () => {
		const latin1 = Buffer.concat([
			Buffer.from(`${USERS_HEADER}\nU1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,\nU2,,,true,S1,student,rene,,Ren`),
			Buffer.from([0xe9]),
			Buffer.from(',Roy,,,,,,,10,\n'),
		]);
		const error = await ingestError(set11({ 'users.csv': latin1 }));
		expect(error.message).toContain('not valid UTF-8');
		expectLocation(error, { file: 'users.csv', row: 3 });
	});

	test('a multi-byte character cut off at the end of the file is broken UTF-8', async () => {
		const cut = Buffer.concat([Buffer.from(users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,').trimEnd() + '\nU2,,,true,S1,student,z,,Zo'), Buffer.from('é').subarray(0, 1)]);
		const error = await ingestError(set11({ 'users.csv': cut }));
		expectLocation(error, { file: 'users.csv', row: 3 });
	});

	test('truncated mid-row (unclosed quote at end of file) names the row where the quote opens', async () => {
		const truncated = `${USERS_HEADER}\nU1,,,true,S1,student,ann,"{LDAP:1},{LTI:2}",Ann,Archer,,,,,,,09,\nU2,,,true,S1,student,bob,"{LDAP:3},{LT`;
		const error = await ingestError(set11({ 'users.csv': truncated }));
		expect(error.message).toContain('ends inside a quoted value');
		expectLocation(error, { file: 'users.csv', row: 3 });
	});

	test('a stray quote inside an unquoted value names its row', async () => {
		const error = await ingestError(set11({ 'users.csv': users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,', 'U2,,,true,S1,student,bob,,Bob,Baker 5\'10",,,,,,,10,') }));
		expect(error.message).toContain('a quote (") is in the wrong place');
		expectLocation(error, { file: 'users.csv', row: 3 });
	});

	test('bulk file with status filled: names row and field, suggests declaring it delta', async () => {
		const error = await ingestError(
			set11({ 'enrollments.csv': enrollments('E1,,,K1,S1,U1,student,false,,', 'E2,active,,K1,S1,U2,student,false,,') }),
		);
		expect(error.message).toContain('status is "active", but enrollments.csv is declared bulk');
		expectLocation(error, { file: 'enrollments.csv', row: 3, field: 'status' });
		expect(error.hint).toContain('file.enrollments,delta');
	});

	test('bulk file with dateLastModified filled is refused too', async () => {
		const error = await ingestError(set11({ 'enrollments.csv': enrollments('E1,,2024-09-01T10:00:00Z,K1,S1,U1,student,false,,') }));
		expectLocation(error, { file: 'enrollments.csv', row: 2, field: 'dateLastModified' });
	});

	test('wrong OneRoster version in the manifest', async () => {
		const error = await ingestError(set11({ 'manifest.csv': minimalSet11()['manifest.csv'].replace('oneroster.version,1.1', 'oneroster.version,1.0') }));
		expect(error.message).toContain('oneroster.version is "1.0": this node reads OneRoster 1.1 and 1.2');
		expectLocation(error, { file: 'manifest.csv', row: 3, field: 'value' });
	});

	test('missing manifest explains what manifest.csv is for', async () => {
		const error = await ingestError(set11({ 'manifest.csv': null }));
		expect(error.message).toMatch(/manifest\.csv is missing from .*says the OneRoster version and whether each file is bulk, delta or absent/);
		expectLocation(error, { file: 'manifest.csv' });
	});

	test('a file declared bulk but missing', async () => {
		const error = await ingestError(set11({ 'enrollments.csv': null }));
		expect(error.message).toContain('manifest.csv declares enrollments.csv as bulk, but');
		expectLocation(error, { file: 'enrollments.csv' });
	});

	test('users.csv declared absent: this node needs people', async () => {
		const error = await ingestError(set11({ 'manifest.csv': minimalSet11()['manifest.csv'].replace('file.users,bulk', 'file.users,absent'), 'users.csv': null }));
		expectLocation(error, { file: 'users.csv' });
	});

	test('an empty file (no header) is refused', async () => {
		const error = await ingestError(set11({ 'enrollments.csv': '' }));
		expect(error.message).toContain('the file is empty');
		expectLocation(error, { file: 'enrollments.csv', row: 1 });
	});

	test('a misnamed file (Users.csv) is refused', async () => {
		const files = set11();
		const error = await ingestError({ ...files, 'users.csv': null, 'Users.csv': files['users.csv'] });
		expect(error.message).toContain('must be named "users.csv"');
		expectLocation(error, { file: 'Users.csv' });
	});
});

describe('row-level problems', () => {
	test('duplicate sourcedIds: the later row is skipped and names the first', async () => {
		const { summary, sink } = await ingestFiles(
			set11({ 'users.csv': users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,', 'U2,,,true,S1,student,bob,,Bob,Baker,,,,,,,10,', 'U1,,,true,S1,student,ann2,,Ann,Other,,,,,,,09,') }),
		);
		expect(sink.problems).toEqual([
			{ file: 'users.csv', row: 4, field: 'sourcedId', sourcedId: 'U1', message: 'sourcedId "U1" already appears in row 2; this row is skipped' },
		]);
		expect(summary.files.find((file) => file.entity === 'users')).toMatchObject({ rows: 2, skipped: 1 });
		expect(sink.record('users', 'U1')?.username).toBe('ann');
		expect(summary.problemCount).toBe(1);
	});

	test('unknown role', async () => {
		const { sink, summary } = await ingestFiles(set11({ 'users.csv': users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,', 'J1,,,true,S1,janitor,jim,,Jim,Jones,,,,,,,,') }));
		expect(sink.problems).toHaveLength(1);
		expect(sink.problems[0]).toMatchObject({ file: 'users.csv', row: 3, field: 'role', sourcedId: 'J1' });
		expect(sink.problems[0].message).toMatch(/^unknown role "janitor"; OneRoster 1.1 allows "administrator", "aide"/);
		expect(summary.files.find((file) => file.entity === 'users')).toMatchObject({ rows: 1, skipped: 1 });
	});

	test('a role word of 1.2 only (principal) is unknown in a 1.1 users.csv', async () => {
		const { sink } = await ingestFiles(set11({ 'users.csv': users('P1,,,true,S1,principal,pat,,Pat,Park,,,,,,,,') }));
		expect(sink.problems[0]).toMatchObject({ row: 2, field: 'role', message: expect.stringContaining('unknown role "principal"') });
	});

	test('a vocabulary word in the wrong letter case is read in the spec spelling, with a warning', async () => {
		const { sink, summary } = await ingestFiles(set11({ 'users.csv': users('U1,,,TRUE,S1,Student,ann,,Ann,Archer,,,,,,,kg,') }));
		expect(sink.problems).toEqual([]);
		expect(sink.record('users', 'U1')).toMatchObject({ enabledUser: 'true', role: 'student', grades: 'KG' });
		expect(summary.warnings).toEqual(
			expect.arrayContaining([
				'users.csv: 1 value(s) in column "role" differ from the role vocabulary only in letter case (e.g. "Student"); read as "student"',
			]),
		);
	});

	test('unknown grade is a problem; single-digit grades are padded with one warning per file', async () => {
		const { sink, summary } = await ingestFiles(
			set11({ 'users.csv': users('U1,,,true,S1,student,ann,,Ann,Archer,,,,,,,9,', 'U2,,,true,S1,student,bob,,Bob,Baker,,,,,,,"8,9",', 'U3,,,true,S1,student,cy,,Cy,Cole,,,,,,,13th,') }),
		);
		expect(sink.problems).toEqual([
			{ file: 'users.csv', row: 4, field: 'grades', sourcedId: 'U3', message: expect.stringMatching(/^unknown grade "13th"; OneRoster grades are "IT", "PR"/) },
		]);
		expect(sink.record('users', 'U1')?.grades).toBe('09');
		expect(sink.record('users', 'U2')?.grades).toBe('08,09');
		expect(summary.warnings).toContain(
			'users.csv: 3 value(s) in column "grades" have single-digit grades (e.g. "9"); read as two-digit grades (e.g. "09")',
		);
	});

	test('required value empty', async () => {
		const { sink } = await ingestFiles(set11({ 'users.csv': users('U1,,,true,S1,student,ann,,,Archer,,,,,,,09,', ',,,true,S1,student,nobody,,No,Body,,,,,,,09,') }));
		expect(sink.problems).toEqual([
			{ file: 'users.csv', row: 2, field: 'givenName', sourcedId: 'U1', message: 'required value "givenName" is empty' },
			{ file: 'users.csv', row: 3, field: 'sourcedId', message: 'required value "sourcedId" is empty' },
		]);
	});

	test('bad dates', async () => {
		const { sink } = await ingestFiles(set11({ 'enrollments.csv': enrollments('E1,,,K1,S1,U1,student,false,2024-02-30,', 'E2,,,K1,S1,U2,student,false,08/15/2024,', 'E3,,,K1,S1,T1,teacher,true,2024-08-15,2025-06-01') }));
		expect(sink.problems.map(({ row, field, message }) => ({ row, field, message }))).toEqual([
			{ row: 2, field: 'beginDate', message: '"2024-02-30" is not a date of the form YYYY-MM-DD' },
			{ row: 3, field: 'beginDate', message: '"08/15/2024" is not a date of the form YYYY-MM-DD' },
		]);
		expect(sink.rows.get('enrollments')?.map((row) => row.sourcedId)).toEqual(['E3']);
	});

	test('rows with too few fields, or extra non-empty fields, state the counts', async () => {
		const { sink } = await ingestFiles(
			set11({ 'enrollments.csv': enrollments('E1,,,K1,S1,U1,student', 'E2,,,K1,S1,U2,student,false,,,oops', 'E3,,,K1,S1,T1,teacher,true,,,,') }),
		);
		expect(sink.problems).toEqual([
			{ file: 'enrollments.csv', row: 2, sourcedId: 'E1', message: 'row has 7 field(s) but the header has 10 columns' },
			{ file: 'enrollments.csv', row: 3, sourcedId: 'E2', message: 'row has 11 fields but the header has 10 columns; extra values: "oops"' },
		]);
		expect(sink.rows.get('enrollments')?.map((row) => row.cells.length)).toEqual([10]);
	});

	test('maxRowProblems caps the list, not the count', async () => {
		const rows = Array.from({ length: 30 }, (_, i) => `E${i},,,K1,S1,U1,nobody,false,,`);
		const { sink, summary } = await ingestFiles(set11({ 'enrollments.csv': enrollments(...rows) }), { maxRowProblems: 5 });
		expect(sink.problems).toHaveLength(5);
		expect(summary.problemCount).toBe(30);
		expect(summary.warnings).toContain('30 row problems in all; only the first 5 are listed');
		expect(DEFAULT_MAX_ROW_PROBLEMS).toBeGreaterThan(5);
	});
});

describe('delta files', () => {
	const deltaManifest = () => minimalSet11()['manifest.csv'].replace('file.enrollments,bulk', 'file.enrollments,delta');

	test('status must be active or tobedeleted, dateLastModified an ISO date-time; tobedeleted rows need only their sourcedId', async () => {
		const { sink, summary } = await ingestFiles(
			set11({
				'manifest.csv': deltaManifest(),
				'enrollments.csv': enrollments(
					'E1,active,2024-09-01T10:00:00Z,K1,S1,U1,student,false,,',
					'E2,deleted,2024-09-01T10:00:00Z,K1,S1,U2,student,false,,',
					'E3,tobedeleted,2024-09-01T10:00:00.000Z,,,,,,,',
					'E4,active,,K1,S1,T1,teacher,true,,',
				),
			}),
		);
		expect(summary.files.find((file) => file.entity === 'enrollments')).toMatchObject({ mode: 'delta', rows: 2, skipped: 2 });
		expect(sink.files.get('enrollments')?.mode).toBe('delta');
		expect(sink.problems.map(({ row, field, message }) => ({ row, field, message }))).toEqual([
			{ row: 3, field: 'status', message: 'status "deleted" is not one of "active", "tobedeleted", "inactive"' },
			{ row: 5, field: 'dateLastModified', message: 'required value "dateLastModified" is empty (delta file)' },
		]);
	});

	test('a delta file needs the status and dateLastModified columns', async () => {
		const header = ENROLLMENTS_HEADER.replace(',status,dateLastModified', '');
		const error = await ingestError(set11({ 'manifest.csv': deltaManifest(), 'enrollments.csv': `${header}\nE1,K1,S1,U1,student,false,,\n` }));
		expectLocation(error, { file: 'enrollments.csv', row: 1, field: 'status' });
	});
});

describe('tolerated flaws', () => {
	test('UTF-8 BOM and CRLF line ends', async () => {
		const crlf = (text: string) => '\ufeff' + text.replace(/\n/g, '\r\n');
		const { sink, summary } = await ingestFiles(set11({ 'users.csv': crlf(minimalSet11()['users.csv']), 'manifest.csv': crlf(minimalSet11()['manifest.csv']) }));
		expect(summary.problemCount).toBe(0);
		expect(sink.files.get('users')?.columns[0]).toBe('sourcedId');
		expect(sink.record('users', 'T1')).toMatchObject({ sourcedId: 'T1', password: '' });
		expect(sink.rows.get('users')).toHaveLength(3);
	});

	test('quoted multi-value fields keep their commas', async () => {
		const { sink } = await ingestFiles(
			set11({ 'users.csv': users('U1,,,true,"S1,S2",student,ann,"{LDAP:12},{LTI:15}",Ann,Archer,,,,,,,"09,10",', 'U2,,,true,S1,student,"O\'Brien, Bob",,Bob,"O""Brien",,,,,,,10,') }),
		);
		expect(sink.problems).toEqual([]);
		expect(sink.record('users', 'U1')).toMatchObject({ orgSourcedIds: 'S1,S2', userIds: '{LDAP:12},{LTI:15}', grades: '09,10' });
		expect(sink.record('users', 'U2')).toMatchObject({ username: "O'Brien, Bob", familyName: 'O"Brien' });
	});

	test('metadata.* and ext_* columns are kept silently; unknown columns are kept with a warning', async () => {
		const header = `${USERS_HEADER},metadata.homeroom,ext_clever_id,nickname`;
		const { sink, summary } = await ingestFiles(set11({ 'users.csv': `${header}\nU1,,,true,S1,student,ann,,Ann,Archer,,,,,,,09,,7A,c-1,Annie\n` }));
		expect(sink.record('users', 'U1')).toMatchObject({ 'metadata.homeroom': '7A', ext_clever_id: 'c-1', nickname: 'Annie' });
		expect(summary.warnings).toEqual(['users.csv: column "nickname" is not in OneRoster 1.1; kept as it is']);
	});

	test('a header with a trailing comma: the unnamed column is kept, with a warning', async () => {
		const { sink, summary } = await ingestFiles(set11({ 'enrollments.csv': `${ENROLLMENTS_HEADER},\nE1,,,K1,S1,U1,student,false,,,\n` }));
		expect(summary.problemCount).toBe(0);
		expect(sink.rows.get('enrollments')?.[0].cells).toHaveLength(11);
		expect(summary.warnings).toEqual(['enrollments.csv: the header has 1 column(s) without a name (e.g. a trailing comma); kept as they are']);
	});

	test('no trailing newline, a trailing blank line, and manifest.version 1', async () => {
		const { sink, summary } = await ingestFiles(
			set11({
				'manifest.csv': minimalSet11()['manifest.csv'].replace('manifest.version,1.0', 'manifest.version,1'),
				'users.csv': minimalSet11()['users.csv'].trimEnd(),
				'enrollments.csv': minimalSet11()['enrollments.csv'] + '\n',
			}),
		);
		expect(summary.problemCount).toBe(0);
		expect(summary.warnings).toEqual([]);
		expect(sink.rows.get('users')).toHaveLength(3);
		expect(sink.rows.get('enrollments')).toHaveLength(3);
	});

	test('oneroster.version 1.1.0 is read as 1.1', async () => {
		const { summary } = await ingestFiles(set11({ 'manifest.csv': minimalSet11()['manifest.csv'].replace('oneroster.version,1.1', 'oneroster.version,1.1.0') }));
		expect(summary.version).toBe('1.1');
	});

	test('files present but declared absent, and files this node does not use, are ignored with warnings', async () => {
		const { summary, sink } = await ingestFiles(
			set11({
				'manifest.csv': manifestWith(['file.orgs,bulk', 'file.users,bulk', 'file.enrollments,bulk', 'file.courses,absent', 'file.results,bulk']),
				'courses.csv': 'sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n',
				'results.csv': 'sourcedId\n',
				'notes.txt': 'hello',
				'roles.csv': 'sourcedId\n',
			}),
		);
		expect(summary.warnings).toEqual([
			'courses.csv is present but declared absent in manifest.csv; ignored',
			'notes.txt is not a OneRoster file; ignored',
			'results.csv is not used by this node (OneRoster 1.1); ignored',
			'roles.csv is not part of OneRoster 1.1; ignored',
		]);
		expect(sink.files.has('courses')).toBe(false);
	});
});

test('rows reach the sink in batches of ROW_BATCH_SIZE', async () => {
	const rows = Array.from({ length: 2 * ROW_BATCH_SIZE + 7 }, (_, i) => `E${i},,,K1,S1,U1,student,false,2024-08-15,`);
	const { sink, summary } = await ingestFiles(set11({ 'enrollments.csv': enrollments(...rows) }));
	expect(summary.files.at(-1)).toMatchObject({ entity: 'enrollments', rows: rows.length, skipped: 0 });
	expect(sink.batchSizes.slice(-3)).toEqual([ROW_BATCH_SIZE, ROW_BATCH_SIZE, 7]);
	expect(sink.rows.get('enrollments')?.at(-1)).toMatchObject({ rowNumber: rows.length + 1, sourcedId: `E${rows.length - 1}` });
});
