/**
 * CSV Ingest + Normalize on real inputs: the Ed-Fi Grand Bend sample set (written by others,
 * with real flaws) from a real sshd and from n8n-style binary buffers, on both store engines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { RosterInputError } from '../../nodes/shared/model/errors';
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../nodes/shared/reconcile/apply';
import { openBufferFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { openSftpFileSet } from '../../nodes/shared/sources/oneroster-csv/sftp-file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun, StagingFailedError } from '../../nodes/shared/sources/stage-run';
import { getRun, listProblems } from '../../nodes/shared/store/runs';
import type { SqlDb } from '../../nodes/shared/store/sql';
import type { RosterStore } from '../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../support/engines';
import { GRAND_BEND_1_0, GRAND_BEND_1_1, sharedDataDir } from '../support/paths';
import type { SshdServer } from '../support/sshd';
import { copyIntoServed, startSshd, writeServedFiles } from '../support/sshd';
import { buildZip } from '../support/zip';

function filesOf(dir: string): Array<{ name: string; data: Buffer }> {
	return readdirSync(dir).map((name) => ({ name, data: readFileSync(join(dir, name)) }));
}

function bufferSource(files: Array<{ name: string; data: Buffer }>) {
	return oneRosterCsvSource('binary input', () => openBufferFileSet(files));
}

async function tableCounts(db: SqlDb): Promise<Record<string, number>> {
	const counts: Record<string, number> = {};
	for (const table of ['people', 'user_lists', 'staging_rows', 'staging_chunks', 'staging_files', 'snapshots', 'snapshot_chunks', 'run_problems', 'run_changes']) {
		counts[table] = Number((await db.query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
	}
	return counts;
}

/** Replaces one file of the sample set. */
function withFile(files: Array<{ name: string; data: Buffer }>, name: string, content: string) {
	return files.map((file) => (file.name === name ? { name, data: Buffer.from(content) } : file));
}

const sample = () => filesOf(sharedDataDir(GRAND_BEND_1_1));
const sampleText = (name: string) => readFileSync(join(sharedDataDir(GRAND_BEND_1_1), name), 'utf8');

let sshd: SshdServer;
beforeAll(async () => {
	sshd = await startSshd();
});
afterAll(async () => sshd?.stop());

describe.each(ENGINES)('CSV Ingest + Normalize on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function expectGrandBend(runId: string) {
		const { counts } = await normalizeRun(store.db, runId);
		expect(counts.people).toEqual({ student: 8, teacher: 2, staff: 0, admin: 0 });
		expect(counts).toMatchObject({ schools: 1, orgs: 2, terms: 3, courses: 2, classes: 2, enrollments: 24, skippedRows: 0 });
		const snapshot = await readSnapshot(store.db, runId);
		const peter = snapshot.people.find((p) => p.sourcedId === '604918');
		expect(peter).toMatchObject({
			role: 'student',
			givenName: 'Peter',
			middleName: 'Ivan',
			familyName: 'Nash',
			email: 'Peter.Nash@studentgps.org',
			username: 'Peter Ivan Nash',
			grade: '09',
			schoolIds: ['255901001'],
			primarySchoolId: '255901001',
			phone: '(950) 434 7904',
		});
		// The teacher rows carry a trailing comma (19 fields against 18 columns): accepted as they are.
		expect(snapshot.people.find((p) => p.sourcedId === '207268')).toMatchObject({ role: 'teacher', givenName: 'Sara', familyName: 'Preston' });
		const english = snapshot.classes.find((c) => c.sourcedId === '25590100101Trad120ENG112011');
		expect(english?.termIds).toEqual(['255901001_2021_2020-2021_Fall', '255901001_2021_2020-2021_Spring']);
		expect(english?.schoolId).toBe('255901001');
		const teacherEnrollments = snapshot.enrollments.filter((e) => e.role === 'teacher');
		expect(teacherEnrollments).toHaveLength(4);
		expect(teacherEnrollments.every((e) => e.primary)).toBe(true);
		expect(snapshot.enrollments.filter((e) => e.personId === '604863')).toHaveLength(4);
		const district = snapshot.orgs.find((o) => o.sourcedId === '255901');
		expect(district).toMatchObject({ type: 'district', name: 'Grand Bend ISD', parentId: null });
		expect((await getRun(store.db, runId)).stage).toBe('normalized');
	}

	test('the sample set from a real sshd (loose files, key login, host key checked)', async () => {
		const remote = await copyIntoServed(sshd, sharedDataDir(GRAND_BEND_1_1), `${engine}/loose`);
		const source = oneRosterCsvSource('sftp', () =>
			openSftpFileSet(
				{
					host: sshd.host,
					port: sshd.port,
					username: sshd.username,
					privateKey: sshd.privateKey,
					passphrase: sshd.passphrase,
					hostKeyFingerprint: sshd.hostKeyFingerprint,
				},
				remote,
			),
		);
		const { run, summary } = await stageRun(store.db, source);
		expect(summary.version).toBe('1.1');
		expect(run.counts.staged).toMatchObject({
			files: { orgs: 2, academicSessions: 3, courses: 2, classes: 2, users: 10, demographics: 8, enrollments: 24 },
		});
		await expectGrandBend(run.id);
	});

	test('the sample set as a zip on sshd (password login)', async () => {
		const zip = await buildZip(Object.fromEntries(sample().map((f) => [`export/${f.name}`, f.data])));
		const dir = await writeServedFiles(sshd, `${engine}/zip`, { 'oneroster-2026-11-22.zip': zip });
		const source = oneRosterCsvSource('sftp', () =>
			openSftpFileSet({ host: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password }, dir),
		);
		const { run } = await stageRun(store.db, source);
		await expectGrandBend(run.id);
	});

	test('the sample set from binary input (loose CSV buffers)', async () => {
		const { run } = await stageRun(store.db, bufferSource(sample()));
		await expectGrandBend(run.id);
	});

	test('School ID scoping keeps the chosen school and refuses an unknown one', async () => {
		const { run } = await stageRun(store.db, bufferSource(sample()));
		await expect(normalizeRun(store.db, run.id, { schoolIds: ['999'] })).rejects.toThrow(
			/School ID "999" is not a school in this roster \(schools: 255901001 Grand Bend High School\)/,
		);
		const { counts } = await normalizeRun(store.db, run.id, { schoolIds: ['255901001'] });
		expect(counts.people.student).toBe(8);
		expect(counts.classes).toBe(2);
	});

	test('the OneRoster 1.0 set is refused as the wrong version, and nothing is staged', async () => {
		const before = await tableCounts(store.db);
		const failure = await stageRun(store.db, bufferSource(filesOf(sharedDataDir(GRAND_BEND_1_0)))).catch((e) => e);
		expect(failure).toBeInstanceOf(StagingFailedError);
		expect(failure.message).toMatch(/OneRoster 1\.0|not OneRoster 1\.1/);
		expect(failure.message).toMatch(/1\.1 or 1\.2/);
		expect(await tableCounts(store.db)).toEqual(before);
		const run = await getRun(store.db, failure.runId);
		expect(run.status).toBe('failed');
		expect(run.error).toBe(failure.message);
	});

	const brokenSets: Array<[string, () => Array<{ name: string; data: Buffer }>, RegExp]> = [
		[
			'a required column missing',
			() => withFile(sample(), 'users.csv', sampleText('users.csv').replace('givenName,', 'firstName,')),
			/users\.csv.*givenName/,
		],
		[
			'header case mismatch',
			() => withFile(sample(), 'enrollments.csv', sampleText('enrollments.csv').replace('classSourcedId', 'ClassSourcedId')),
			/enrollments\.csv.*ClassSourcedId.*classSourcedId/,
		],
		[
			'a file truncated mid-row',
			() => withFile(sample(), 'users.csv', sampleText('users.csv').slice(0, sampleText('users.csv').indexOf('Roland')) + '"Rol'),
			/users\.csv.*row/,
		],
		[
			'a bulk file with status filled',
			() => withFile(sample(), 'orgs.csv', sampleText('orgs.csv').replace('255901001,,,', '255901001,active,,')),
			/orgs\.csv.*row 3.*status/,
		],
		[
			'broken UTF-8',
			() => sample().map((f) => (f.name === 'users.csv' ? { name: f.name, data: Buffer.concat([f.data.subarray(0, 300), Buffer.from([0xc3, 0x28]), f.data.subarray(300)]) } : f)),
			/users\.csv.*(UTF-8|utf-8)/,
		],
		['a declared file missing', () => sample().filter((f) => f.name !== 'enrollments.csv'), /enrollments\.csv/],
	];

	test.each(brokenSets)('a set with %s fails with a clear message and leaves the store unchanged', async (_name, files, message) => {
		const before = await tableCounts(store.db);
		const failure = await stageRun(store.db, bufferSource(files())).catch((e) => e);
		expect(failure).toBeInstanceOf(StagingFailedError);
		expect(failure.cause).toBeInstanceOf(RosterInputError);
		expect(failure.message).toMatch(message);
		expect(await tableCounts(store.db)).toEqual(before);
	});

	test('row-level problems skip the row, are listed with file/row/field, and the rest goes on', async () => {
		const users = sampleText('users.csv').replace('604927,,,true,255901001,student', '604927,,,true,255901001,pupil');
		const { run } = await stageRun(store.db, bufferSource(withFile(sample(), 'users.csv', users)));
		const problems = await listProblems(store.db, run.id);
		expect(problems).toEqual([
			expect.objectContaining({ stage: 'staged', file: 'users.csv', row: 5, field: 'role', sourcedId: '604927' }),
		]);
		const { counts } = await normalizeRun(store.db, run.id);
		expect(counts.people.student).toBe(7);
		// Larry's enrollments now point at nobody: listed, not silently dropped.
		const enrollmentProblems = (await listProblems(store.db, run.id)).filter((p) => p.stage === 'normalized');
		expect(enrollmentProblems).toHaveLength(2);
		expect(enrollmentProblems[0]).toMatchObject({
			file: 'enrollments.csv',
			row: 7,
			field: 'userSourcedId',
			message: 'enrollment names user "604927", whose row in users.csv was skipped',
		});
	});

	describe('users rows skipped beyond Max Row Problems Listed', () => {
		const pupils = (count: number) => {
			let left = count;
			return sampleText('users.csv').replace(/,student,/g, (match) => (left-- > 0 ? ',pupil,' : match));
		};
		const activeStudents = async () =>
			Number((await store.db.query("SELECT COUNT(*) AS n FROM people WHERE role = 'student' AND archived_at IS NULL"))[0].n);
		const day1 = async () => {
			const { run } = await stageRun(store.db, bufferSource(sample()));
			await normalizeRun(store.db, run.id);
			await reconcileRun(store.db, run.id, { archive: true });
			expect(await activeStudents()).toBe(8);
		};
		const day2 = async (files: Array<{ name: string; data: Buffer }>, maxRowProblems: number) => {
			const { run } = await stageRun(store.db, oneRosterCsvSource('binary input', () => openBufferFileSet(files), { maxRowProblems }));
			await normalizeRun(store.db, run.id, { drift: { checks: [] } });
			return reconcileRun(store.db, run.id, { archive: true, holdMassChanges: false });
		};

		test('archive nobody: the unlisted rows may be anybody', async () => {
			await day1();
			const result = await day2(withFile(sample(), 'users.csv', pupils(4)), 1);
			expect(result.counts).toMatchObject({ archived: 0, archiveBlocked: 4 });
			expect(result.warnings).toContain(
				'3 skipped users rows are beyond the listed problems (Max Row Problems Listed), so who they are is not known; archiving skipped',
			);
			expect(await activeStudents()).toBe(8);
		});

		test('problems beyond the list in other files do not stop archiving', async () => {
			await day1();
			// Micheal left (his row and enrollments are gone); three enrollment rows are broken, one listed.
			const users = sampleText('users.csv').replace(/^605015,.*\n/m, '');
			let broken = 3;
			const enrollments = sampleText('enrollments.csv')
				.split('\n')
				.filter((line) => !line.includes(',605015,'))
				.map((line) => (line.endsWith(',student,,2020-08-17,2020-12-18') && broken-- > 0 ? line.replace(',student,', ',pupil,') : line))
				.join('\n');
			const result = await day2(withFile(withFile(sample(), 'users.csv', users), 'enrollments.csv', enrollments), 1);
			expect(result.counts.archived).toBe(1);
			expect(await activeStudents()).toBe(7);
		});
	});

	test('a delta users file is applied onto the last complete run', async () => {
		const first = await stageRun(store.db, bufferSource(sample()));
		await normalizeRun(store.db, first.run.id);
		const manifest = sampleText('manifest.csv').replace('file.users,bulk', 'file.users,delta');
		const deltaUsers = [
			'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password',
			'604863,active,2026-11-21T10:00:00Z,true,255901001,student,Mary Archer-Smith,{Local:863},Mary,Archer-Smith,,,Mary.Archer@studentgps.org,,,,10,',
			'605015,tobedeleted,2026-11-21T10:00:00Z,true,255901001,student,Micheal Turner,{Local:015},Micheal,Turner,,,,,,,09,',
		].join('\n');
		const second = await stageRun(store.db, bufferSource(withFile(withFile(sample(), 'manifest.csv', manifest), 'users.csv', deltaUsers)));
		const { counts } = await normalizeRun(store.db, second.run.id);
		expect(counts.deltaFrom).toBe(first.run.id);
		expect(counts.people.student).toBe(7);
		const snapshot = await readSnapshot(store.db, second.run.id);
		expect(snapshot.people.find((p) => p.sourcedId === '604863')).toMatchObject({ familyName: 'Archer-Smith', grade: '10' });
		expect(snapshot.people.find((p) => p.sourcedId === '605015')).toBeUndefined();
		expect(snapshot.people.find((p) => p.sourcedId === '604918')?.middleName).toBe('Ivan');
		// Micheal's enrollments went with him; the others are all still there.
		expect(snapshot.enrollments).toHaveLength(22);
	});

	test('a delta enrollments file: deletions, an update and a new enrollment apply; a bad row keeps the earlier record; a gone student takes the rest of his', async () => {
		const first = await stageRun(store.db, bufferSource(sample()));
		await normalizeRun(store.db, first.run.id);
		const before = (await readSnapshot(store.db, first.run.id)).enrollments;
		const [deleted, updated, badlyUpdated] = [before[0], before[1], before[2]];
		const manifest = sampleText('manifest.csv').replace('file.users,bulk', 'file.users,delta').replace('file.enrollments,bulk', 'file.enrollments,delta');
		const header = sampleText('enrollments.csv').split('\n')[0];
		const deltaEnrollments = [
			header,
			`${deleted.sourcedId},tobedeleted,2026-11-21T10:00:00Z,${deleted.classId},255901001,${deleted.personId},student,,,`,
			`${updated.sourcedId},active,2026-11-21T10:00:00Z,${updated.classId},255901001,${updated.personId},student,true,2021-01-11,2021-05-28`,
			`${badlyUpdated.sourcedId},active,2026-11-21T10:00:00Z,NO-SUCH-CLASS,255901001,${badlyUpdated.personId},student,,,`,
			'NEW-ENROLLMENT,active,2026-11-21T10:00:00Z,25590100102Trad220ALG112011,255901001,605015,student,,2021-01-04,2021-05-28',
			'',
		].join('\n');
		const usersHeader = sampleText('users.csv').split('\n')[0];
		const deltaUsers = [usersHeader, '604927,tobedeleted,2026-11-21T10:00:00Z,true,255901001,student,Larry Mahoney,{Local:927},Larry,Mahoney,,,,,,,09,', ''].join('\n');
		const second = await stageRun(
			store.db,
			bufferSource(withFile(withFile(withFile(sample(), 'manifest.csv', manifest), 'enrollments.csv', deltaEnrollments), 'users.csv', deltaUsers)),
		);
		const { counts } = await normalizeRun(store.db, second.run.id);
		const after = (await readSnapshot(store.db, second.run.id)).enrollments;
		const expected = [
			...before
				.filter((e) => e !== deleted && e.personId !== '604927')
				.map((e) => (e === updated ? { ...e, primary: true, beginDate: '2021-01-11', endDate: '2021-05-28' } : e)),
			{ sourcedId: 'NEW-ENROLLMENT', classId: '25590100102Trad220ALG112011', personId: '605015', role: 'student', primary: false, beginDate: '2021-01-04', endDate: '2021-05-28' },
		].sort((a, b) => (a.sourcedId < b.sourcedId ? -1 : 1));
		expect(after).toEqual(expected);
		expect(after.find((e) => e.sourcedId === badlyUpdated.sourcedId)).toEqual(badlyUpdated);
		expect(counts.enrollments).toBe(expected.length);
		const problems = (await listProblems(store.db, second.run.id)).filter((p) => p.stage === 'normalized');
		expect(problems).toEqual([expect.objectContaining({ file: 'enrollments.csv', row: 4, field: 'classSourcedId', sourcedId: badlyUpdated.sourcedId })]);
	});

	test.each([
		['users in bulk, read as changes over the night before', { users: 'bulk', schoolIds: [] as string[] }],
		['users in bulk under a School ID scope (people written whole)', { users: 'bulk', schoolIds: ['255901001'] }],
		['a delta users file', { users: 'delta', schoolIds: [] as string[] }],
	])('a delta classes file deletes a class: its enrollments leave the snapshot though the delta enrollments file names none of them (%s)', async (_, night) => {
		const first = await stageRun(store.db, bufferSource(sample()));
		await normalizeRun(store.db, first.run.id, { schoolIds: night.schoolIds });
		const before = (await readSnapshot(store.db, first.run.id)).enrollments;
		const goneClass = '25590100102Trad220ALG112011';
		expect(before.filter((e) => e.classId === goneClass).length).toBeGreaterThan(0);
		expect(before.filter((e) => e.classId !== goneClass).length).toBeGreaterThan(0);
		const manifest = sampleText('manifest.csv')
			.replace('file.classes,bulk', 'file.classes,delta')
			.replace('file.enrollments,bulk', 'file.enrollments,delta')
			.replace('file.users,bulk', `file.users,${night.users}`);
		const classesHeader = sampleText('classes.csv').split('\n')[0];
		const deltaClasses = [classesHeader, `${goneClass},tobedeleted,2026-11-21T10:00:00Z,ALG-1,09,03100500,Algebra I,scheduled,220,255901001,,Algebra I,02052,2`, ''].join('\n');
		const deltaEnrollments = [sampleText('enrollments.csv').split('\n')[0], ''].join('\n');
		const usersHeader = sampleText('users.csv').split('\n')[0];
		let files = withFile(withFile(withFile(sample(), 'manifest.csv', manifest), 'classes.csv', deltaClasses), 'enrollments.csv', deltaEnrollments);
		if (night.users === 'delta') files = withFile(files, 'users.csv', [usersHeader, ''].join('\n'));
		const second = await stageRun(store.db, bufferSource(files));
		const { counts } = await normalizeRun(store.db, second.run.id, { schoolIds: night.schoolIds });
		const snapshot = await readSnapshot(store.db, second.run.id);
		expect(snapshot.classes.map((c) => c.sourcedId)).not.toContain(goneClass);
		expect(snapshot.people.length).toBe((await readSnapshot(store.db, first.run.id)).people.length);
		expect(snapshot.enrollments).toEqual(before.filter((e) => e.classId !== goneClass));
		expect(counts.enrollments).toBe(snapshot.enrollments.length);
	});

	test('a delta file with no earlier complete run is refused', async () => {
		const manifest = sampleText('manifest.csv').replace('file.users,bulk', 'file.users,delta');
		const { run } = await stageRun(store.db, bufferSource(withFile(sample(), 'manifest.csv', manifest)));
		await expect(normalizeRun(store.db, run.id)).rejects.toThrow(/users\.csv is a delta file, but there is no earlier complete run/);
	});
});
