/**
 * Normalize's choice of each student's primary parent contact, and its checks of enrollments that
 * name a contact, on both store engines (bulk and delta users files).
 */
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { openBufferFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import { listProblems } from '../../nodes/shared/store/runs';
import type { RosterStore } from '../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../support/engines';

const USERS_HEADER =
	'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password';

function manifest(usersMode: 'bulk' | 'delta'): string {
	return [
		'propertyName,value',
		'manifest.version,1.0',
		'oneroster.version,1.1',
		'file.academicSessions,bulk',
		'file.classes,bulk',
		'file.courses,bulk',
		'file.demographics,absent',
		'file.enrollments,bulk',
		'file.orgs,bulk',
		`file.users,${usersMode}`,
		'',
	].join('\n');
}

const ORGS = ['sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId', 'D1,,,Test District,district,,', 'S1,,,Test School,school,,D1', ''].join(
	'\n',
);

/**
 * U1 lists G1 then G2 (its own first contact wins); U2 lists nobody, and G2 then G3 list it (the
 * first to list it wins); U3 lists only a teacher, and G3 lists it; G4 lists nobody (not kept).
 */
const USERS = [
	USERS_HEADER,
	'U1,,,true,S1,student,u1,,Ann,Archer,,1001,,,,"G1,G2",09,',
	'U2,,,true,S1,student,u2,,Bob,Baker,,1002,,,,,10,',
	'U3,,,true,S1,student,u3,,Cat,Cole,,1003,,,,T1,10,',
	'T1,,,true,S1,teacher,t1,,Tess,Turner,,T01,,,,,,',
	'G1,,,true,S1,parent,g1,,Gail,Archer,,,g1@example.org,,,U1,,',
	'G2,,,true,S1,guardian,g2,,Gus,Baker,,,g2@example.org,,,"U1,U2",,',
	'G3,,,true,S1,guardian,g3,,Gia,Cole,,,g3@example.org,,,"U2,U3",,',
	'G4,,,true,S1,relative,g4,,Gil,Archer,,,g4@example.org,,,,,',
	'',
].join('\n');

const ENROLLMENTS = [
	'sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate',
	'E1,,,K1,S1,U1,student,false,,',
	'E2,,,K1,S1,G2,student,false,,',
	'',
].join('\n');

function source(files: Record<string, string>) {
	return oneRosterCsvSource('binary input', () => openBufferFileSet(Object.entries(files).map(([name, data]) => ({ name, data: Buffer.from(data) }))));
}

const CLASSES_HEADER =
	'sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods';

describe.each(ENGINES)('Normalize: primary contacts on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	const bulkSet = () => ({
		'manifest.csv': manifest('bulk'),
		'orgs.csv': ORGS,
		'academicSessions.csv': [
			'sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear',
			'Y1,,,2024-2025,schoolYear,2024-08-15,2025-06-01,,2025',
			'',
		].join('\n'),
		'courses.csv': ['sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes', 'C1,,,Y1,Homeroom,HR,09,S1,,', ''].join(
			'\n',
		),
		'classes.csv': [CLASSES_HEADER, 'K1,,,Homeroom,09,C1,HR-1,homeroom,,S1,Y1,,,', ''].join('\n'),
		'users.csv': USERS,
		'enrollments.csv': ENROLLMENTS,
	});

	test("a student's own first listed contact, else the first contact that lists the student", async () => {
		const { run } = await stageRun(store.db, source(bulkSet()));
		const { counts } = await normalizeRun(store.db, run.id);
		expect(counts).toMatchObject({ contacts: 3, studentsWithPrimaryContact: 3, enrollments: 1, skippedRows: 1 });
		const snapshot = await readSnapshot(store.db, run.id);
		const contactOf = Object.fromEntries(snapshot.people.map((p) => [p.sourcedId, p.primaryContactId]));
		expect(contactOf).toEqual({ U1: 'G1', U2: 'G2', U3: 'G3', T1: null });
		expect(snapshot.contacts.map((c) => [c.sourcedId, c.relationship])).toEqual([
			['G1', 'parent'],
			['G2', 'guardian'],
			['G3', 'guardian'],
		]);
		const problems = (await listProblems(store.db, run.id)).filter((p) => p.stage === 'normalized');
		expect(problems).toEqual([
			expect.objectContaining({
				file: 'enrollments.csv',
				row: 3,
				field: 'userSourcedId',
				sourcedId: 'E2',
				message: 'enrollment names "G2", a guardian, not a student or staff member',
			}),
		]);
	});

	test('a listed contact is found past blanks, spaces and ids that are no contact', async () => {
		const users = [
			USERS_HEADER,
			'U1,,,true,S1,student,u1,,Ann,Archer,,1001,,,,"  , T1 ,,G3 , G1",09,',
			'U2,,,true,S1,student,u2,,Bob,Baker,,1002,,,,",,nobody,  G1",10,',
			'U3,,,true,S1,student,u3,,Cat,Cole,,1003,,,,"T1, ,",10,',
			'T1,,,true,S1,teacher,t1,,Tess,Turner,,T01,,,,,,',
			'G1,,,true,S1,parent,g1,,Gail,Archer,,,g1@example.org,,,,,',
			'G3,,,true,S1,guardian,g3,,Gia,Cole,,,g3@example.org,,,,,',
			'',
		].join('\n');
		const { run } = await stageRun(store.db, source({ ...bulkSet(), 'users.csv': users, 'enrollments.csv': ENROLLMENTS.split('\n').slice(0, 2).join('\n') }));
		await normalizeRun(store.db, run.id);
		const snapshot = await readSnapshot(store.db, run.id);
		expect(Object.fromEntries(snapshot.people.map((p) => [p.sourcedId, p.primaryContactId]))).toEqual({ U1: 'G3', U2: 'G1', U3: null, T1: null });
	});

	test('a delta users file: a deleted contact is dropped, untouched students keep theirs', async () => {
		const first = await stageRun(store.db, source(bulkSet()));
		await normalizeRun(store.db, first.run.id);
		const deltaUsers = [USERS_HEADER, 'G1,tobedeleted,2025-01-10T10:00:00Z,true,S1,parent,g1,,Gail,Archer,,,g1@example.org,,,U1,,', ''].join('\n');
		const second = await stageRun(
			store.db,
			source({ ...bulkSet(), 'manifest.csv': manifest('delta'), 'users.csv': deltaUsers }),
		);
		const { counts } = await normalizeRun(store.db, second.run.id);
		expect(counts.deltaFrom).toBe(first.run.id);
		const snapshot = await readSnapshot(store.db, second.run.id);
		const contactOf = Object.fromEntries(snapshot.people.map((p) => [p.sourcedId, p.primaryContactId]));
		// U1's contact is gone: no row of this file names U1's agents, so nothing else is known; the others keep theirs.
		expect(contactOf).toEqual({ U1: null, U2: 'G2', U3: 'G3', T1: null });
		expect(snapshot.contacts.map((c) => c.sourcedId)).toEqual(['G2', 'G3']);
	});

	test('a delta users file: a deleted student is gone, an updated one changes, the rest come back from the previous snapshot as they were', async () => {
		const first = await stageRun(store.db, source(bulkSet()));
		await normalizeRun(store.db, first.run.id);
		const before = await readSnapshot(store.db, first.run.id);
		const deltaUsers = [
			USERS_HEADER,
			'U2,tobedeleted,2025-01-10T10:00:00Z,true,S1,student,u2,,Bob,Baker,,1002,,,,,10,',
			'U3,active,2025-01-10T10:00:00Z,true,S1,student,u3,,Cathy,Cole,,1003,,,,G3,11,',
			'',
		].join('\n');
		const second = await stageRun(store.db, source({ ...bulkSet(), 'manifest.csv': manifest('delta'), 'users.csv': deltaUsers }));
		await normalizeRun(store.db, second.run.id);
		const snapshot = await readSnapshot(store.db, second.run.id);
		const previous = (id: string) => before.people.find((p) => p.sourcedId === id);
		expect(snapshot.people).toEqual([
			previous('T1'),
			previous('U1'),
			{ ...previous('U3'), givenName: 'Cathy', grade: '11', primaryContactId: 'G3' },
		]);
		// G2 was U2's contact only: with U2 gone, nobody in the roster points at it.
		expect(snapshot.contacts).toEqual(before.contacts.filter((c) => c.sourcedId !== 'G2'));
	});

	test('a delta users file that turns a teacher into a guardian and a guardian into a teacher: each is then only what its row says', async () => {
		const first = await stageRun(store.db, source(bulkSet()));
		await normalizeRun(store.db, first.run.id);
		const deltaUsers = [
			USERS_HEADER,
			'T1,active,2025-01-10T10:00:00Z,true,S1,guardian,t1,,Tess,Turner,,T01,,,,U2,,',
			'G3,active,2025-01-10T10:00:00Z,true,S1,teacher,g3,,Gia,Cole,,G03,g3@example.org,,,,,',
			'',
		].join('\n');
		const second = await stageRun(store.db, source({ ...bulkSet(), 'manifest.csv': manifest('delta'), 'users.csv': deltaUsers }));
		const { counts } = await normalizeRun(store.db, second.run.id);
		const snapshot = await readSnapshot(store.db, second.run.id);
		expect(snapshot.people.map((p) => [p.sourcedId, p.role])).toEqual([
			['G3', 'teacher'],
			['U1', 'student'],
			['U2', 'student'],
			['U3', 'student'],
		]);
		// T1 now lists U2 (before G2, which this file does not name); G3 is nobody's contact any more.
		expect(snapshot.contacts.map((c) => [c.sourcedId, c.relationship])).toEqual([
			['G1', 'parent'],
			['T1', 'guardian'],
		]);
		expect(Object.fromEntries(snapshot.people.map((p) => [p.sourcedId, p.primaryContactId]))).toEqual({ G3: null, U1: 'G1', U2: 'T1', U3: null });
		expect(counts).toMatchObject({ people: { student: 3, teacher: 1, staff: 0, admin: 0 }, contacts: 2 });
	});

	test('delta nights in a row: a new contact that lists an untouched student becomes its contact, a rejected row changes nothing, an enrollment of someone deleted is a problem', async () => {
		const first = await stageRun(store.db, source(bulkSet()));
		await normalizeRun(store.db, first.run.id);
		const before = await readSnapshot(store.db, first.run.id);
		const previous = (id: string) => before.people.find((p) => p.sourcedId === id);
		const night = async (users: string[], enrollments = ENROLLMENTS) => {
			const { run } = await stageRun(
				store.db,
				source({ ...bulkSet(), 'manifest.csv': manifest('delta'), 'users.csv': [USERS_HEADER, ...users, ''].join('\n'), 'enrollments.csv': enrollments }),
			);
			const { counts } = await normalizeRun(store.db, run.id);
			const snapshot = await readSnapshot(store.db, run.id);
			const problems = (await listProblems(store.db, run.id)).filter((p) => p.stage === 'normalized' || p.stage === 'staged').map((p) => `${p.field}: ${p.message}`);
			return { counts, snapshot, problems, contactOf: Object.fromEntries(snapshot.people.map((p) => [p.sourcedId, p.primaryContactId])) };
		};
		// Night 2: G5 (new) lists U1, whose row is not in the file: the first contact to list it wins over the one it had (G1,
		// then nobody's contact: dropped). U4 is new and lists nobody. U3's row names an org not in orgs.csv: rejected, U3 stays as it was.
		const two = await night([
			'G5,active,2025-01-10T10:00:00Z,true,S1,guardian,g5,,Gwen,Archer,,,g5@example.org,,,U1,,',
			'U4,active,2025-01-10T10:00:00Z,true,S1,student,u4,,Dan,Dale,,1004,,,,,11,',
			'U3,active,2025-01-10T10:00:00Z,true,S9,student,u3,,Cat,Cole,,1003,,,,T1,12,',
		]);
		expect(two.contactOf).toEqual({ T1: null, U1: 'G5', U2: 'G2', U3: 'G3', U4: null });
		expect(two.snapshot.people.find((p) => p.sourcedId === 'U3')).toEqual(previous('U3'));
		expect(two.snapshot.contacts.map((c) => c.sourcedId)).toEqual(['G2', 'G3', 'G5']);
		expect(two.counts).toMatchObject({ people: { student: 4, teacher: 1, staff: 0, admin: 0 }, contacts: 3, studentsWithPrimaryContact: 3 });
		expect(two.problems).toEqual([
			'orgSourcedIds: user U3 names org "S9", which is not in orgs.csv',
			'userSourcedId: enrollment names "G2", a guardian, not a student or staff member',
		]);
		// Night 3 (over night 2, itself changes over night 1): G2 and U1 deleted; U2 then has no contact left; E1 names U1.
		const three = await night(
			['G2,tobedeleted,2025-01-11T10:00:00Z,true,S1,guardian,g2,,Gus,Baker,,,g2@example.org,,,"U1,U2",,', 'U1,tobedeleted,2025-01-11T10:00:00Z,true,S1,student,u1,,Ann,Archer,,1001,,,,"G1,G2",09,'],
		);
		expect(three.contactOf).toEqual({ T1: null, U2: null, U3: 'G3', U4: null });
		expect(three.snapshot.contacts.map((c) => c.sourcedId)).toEqual(['G3']);
		expect(three.counts).toMatchObject({ people: { student: 3, teacher: 1, staff: 0, admin: 0 }, contacts: 1, studentsWithPrimaryContact: 1, enrollments: 0 });
		expect(three.problems).toEqual([
			'userSourcedId: enrollment names user "U1", who is not in users.csv',
			'userSourcedId: enrollment names user "G2", who is not in users.csv',
		]);
		// Night 4: U1 back, listing G1 (a contact no more: not in the snapshot, nor in this file); G1 comes back and lists U1.
		const four = await night([
			'U1,active,2025-01-12T10:00:00Z,true,S1,student,u1,,Ann,Archer,,1001,,,,"G1,G2",09,',
			'G1,active,2025-01-12T10:00:00Z,true,S1,parent,g1,,Gail,Archer,,,g1@example.org,,,U1,,',
		]);
		expect(four.contactOf).toEqual({ T1: null, U1: 'G1', U2: null, U3: 'G3', U4: null });
		expect(four.snapshot.contacts.map((c) => [c.sourcedId, c.relationship])).toEqual([
			['G1', 'parent'],
			['G3', 'guardian'],
		]);
		expect(four.snapshot.people.find((p) => p.sourcedId === 'U1')).toEqual(previous('U1'));
		expect(four.counts).toMatchObject({ people: { student: 4, teacher: 1, staff: 0, admin: 0 }, contacts: 2, studentsWithPrimaryContact: 2, enrollments: 1 });
	});

	test('names and ids outside Latin-1 come back as they were read, people in UTF-16 code unit order of their ids', async () => {
		const users = [
			USERS_HEADER,
			// U+FF21 (Ａ) sorts after the surrogate pair of U+1F600 (😀) in code units, before it in code points.
			'\uFF21,,,true,S1,student,a,,Zoë,Ōtsuka,,2001,,,,"G😀",09,',
			'😀,,,true,S1,student,b,,李,小龍,,2002,,,,,10,',
			'G😀,,,true,S1,guardian,g,,Günter,Ünal-😀,,,g@example.org,,,"😀,\uFF21",,',
			'',
		].join('\n');
		const { run } = await stageRun(store.db, source({ ...bulkSet(), 'users.csv': users, 'enrollments.csv': ENROLLMENTS.split('\n')[0] + '\n' }));
		await normalizeRun(store.db, run.id);
		const snapshot = await readSnapshot(store.db, run.id);
		expect(snapshot.people.map((p) => [p.sourcedId, p.givenName, p.familyName, p.primaryContactId])).toEqual([
			['😀', '李', '小龍', 'G😀'],
			['\uFF21', 'Zoë', 'Ōtsuka', 'G😀'],
		]);
		expect(snapshot.contacts.map((c) => [c.sourcedId, c.givenName, c.familyName])).toEqual([['G😀', 'Günter', 'Ünal-😀']]);
	});
});
