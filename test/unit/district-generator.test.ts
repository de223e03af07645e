import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { writeDayTwo, writeDistrict, type DistrictCounts } from '../../bench/district-generator';

type Row = Record<string, string>;
interface Dir {
	raw: Record<string, string>;
	headers: Record<string, string[]>;
	rows: Record<string, Row[]>;
	manifest: Map<string, string>;
}

const ENTITY_FILES = ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments', 'demographics'];
const GRADES = ['PK', 'KG', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'];
const GUARDIAN_ROLES = new Set(['parent', 'guardian', 'relative']);
// Expected headers are written out here, as an independent check of spec.ts.
/** The columns every OneRoster CSV file starts with. */
const RECORD_COLUMNS = ['sourcedId', 'status', 'dateLastModified'];
/** The users.csv columns 1.1 and 1.2 share, after enabledUser (1.1 puts orgSourcedIds and role before them). */
const USER_COLUMNS = [
	'username',
	'userIds',
	'givenName',
	'familyName',
	'middleName',
	'identifier',
	'email',
	'sms',
	'phone',
	'agentSourcedIds',
	'grades',
	'password',
];

let tmp: string;
beforeAll(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'district-generator-'));
});
afterAll(() => {
	fs.rmSync(tmp, { recursive: true, force: true });
});

function readDir(dir: string): Dir {
	const out: Dir = { raw: {}, headers: {}, rows: {}, manifest: new Map() };
	for (const file of fs.readdirSync(dir)) {
		if (!file.endsWith('.csv')) continue;
		const name = file.slice(0, -4);
		const text = fs.readFileSync(path.join(dir, file), 'utf8');
		out.raw[name] = text;
		// Strict parse: every record must have exactly the header's column count.
		const records = parse(text, { bom: true }) as string[][];
		out.headers[name] = records[0];
		const bad = records.filter((cells) => cells.length !== records[0].length).length;
		expect([file, bad]).toEqual([file, 0]);
		out.rows[name] = records.slice(1).map((cells) => Object.fromEntries(records[0].map((h, i) => [h, cells[i]])));
	}
	for (const r of out.rows.manifest ?? []) out.manifest.set(r.propertyName, r.value);
	return out;
}

function split(v: string): string[] {
	return v === '' ? [] : v.split(',');
}

function byId(rows: Row[]): Map<string, Row> {
	const m = new Map<string, Row>();
	const dupes: string[] = [];
	for (const r of rows) {
		if (m.has(r.sourcedId)) dupes.push(r.sourcedId);
		m.set(r.sourcedId, r);
	}
	expect(dupes).toEqual([]);
	return m;
}

/** Collects failed checks so that big loops cost one `expect` (jest's per-call overhead dominates otherwise). */
class Problems {
	readonly list: string[] = [];
	check(ok: boolean, what: string): void {
		if (!ok && this.list.length < 50) this.list.push(what);
	}
	assertNone(): void {
		expect(this.list).toEqual([]);
	}
}

/** Person role of a users row, for either version. */
function roleOf(d: Dir, userId: string, roles12?: Map<string, string>): string {
	if (roles12) return roles12.get(userId) as string;
	return d.rows.users.find((u) => u.sourcedId === userId)?.role ?? '';
}

/** Referential integrity and shape checks shared by day one, day two and 1.2. */
function checkIntegrity(d: Dir, counts: DistrictCounts, version: '1.1' | '1.2'): void {
	const p = new Problems();
	expect(d.manifest.get('manifest.version')).toBe('1.0');
	expect(d.manifest.get('oneroster.version')).toBe(version);
	for (const f of ENTITY_FILES) expect(d.manifest.get(`file.${f}`)).toBe('bulk');
	expect(d.manifest.get('file.lineItems')).toBe('absent');
	expect(d.manifest.get('file.roles')).toBe(version === '1.2' ? 'bulk' : undefined);

	const orgs = byId(d.rows.orgs);
	const sessions = byId(d.rows.academicSessions);
	const courses = byId(d.rows.courses);
	const classes = byId(d.rows.classes);
	const users = byId(d.rows.users);
	const enrollments = byId(d.rows.enrollments);
	byId(d.rows.demographics);

	expect(counts.orgs).toBe(orgs.size);
	expect(counts.academicSessions).toBe(sessions.size);
	expect(counts.courses).toBe(courses.size);
	expect(counts.classes).toBe(classes.size);
	expect(counts.users).toBe(users.size);
	expect(counts.enrollments).toBe(enrollments.size);
	expect(counts.demographics).toBe(d.rows.demographics.length);
	expect(counts.students + counts.teachers + counts.staff + counts.admins + counts.guardians).toBe(users.size);

	expect([...orgs.values()].filter((o) => o.type === 'district')).toHaveLength(1);
	for (const o of orgs.values())
		if (o.type === 'school') p.check(orgs.get(o.parentSourcedId)?.type === 'district', `org ${o.sourcedId} parent`);
	for (const s of sessions.values())
		if (s.parentSourcedId) p.check(sessions.has(s.parentSourcedId), `session ${s.sourcedId} parent`);
	for (const c of courses.values()) {
		p.check(orgs.has(c.orgSourcedId), `course ${c.sourcedId} org`);
		p.check(sessions.get(c.schoolYearSourcedId)?.type === 'schoolYear', `course ${c.sourcedId} year`);
		for (const g of split(c.grades)) p.check(GRADES.includes(g), `course ${c.sourcedId} grade ${g}`);
	}
	for (const c of classes.values()) {
		p.check(courses.get(c.courseSourcedId)?.orgSourcedId === c.schoolSourcedId, `class ${c.sourcedId} course`);
		p.check(orgs.get(c.schoolSourcedId)?.type === 'school', `class ${c.sourcedId} school`);
		p.check(split(c.termSourcedIds).length > 0, `class ${c.sourcedId} terms`);
		for (const t of split(c.termSourcedIds)) p.check(sessions.has(t), `class ${c.sourcedId} term ${t}`);
		p.check(['homeroom', 'scheduled'].includes(c.classType), `class ${c.sourcedId} type`);
	}

	// Roles: 1.1 in users.csv, 1.2 in roles.csv (exactly one primary role per user).
	let roleOfUser: Map<string, string>;
	let orgsOfUser: Map<string, string[]>;
	if (version === '1.1') {
		roleOfUser = new Map([...users.values()].map((u) => [u.sourcedId, u.role]));
		orgsOfUser = new Map([...users.values()].map((u) => [u.sourcedId, split(u.orgSourcedIds)]));
		for (const r of roleOfUser.values())
			p.check(
				['student', 'teacher', 'aide', 'administrator', 'proctor', 'parent', 'guardian', 'relative'].includes(r),
				`1.1 role ${r}`,
			);
	} else {
		roleOfUser = new Map();
		orgsOfUser = new Map();
		const roles = byId(d.rows.roles);
		expect(counts.roles).toBe(roles.size);
		for (const r of roles.values()) {
			p.check(users.has(r.userSourcedId), `role ${r.sourcedId} user`);
			p.check(orgs.has(r.orgSourcedId), `role ${r.sourcedId} org`);
			p.check(
				[
					'aide',
					'counselor',
					'districtAdministrator',
					'guardian',
					'parent',
					'principal',
					'proctor',
					'relative',
					'siteAdministrator',
					'student',
					'systemAdministrator',
					'teacher',
				].includes(r.role),
				`role ${r.sourcedId} role ${r.role}`,
			);
			p.check(['primary', 'secondary'].includes(r.roleType), `role ${r.sourcedId} roleType`);
			const list = orgsOfUser.get(r.userSourcedId) ?? [];
			if (r.roleType === 'primary') {
				p.check(!roleOfUser.has(r.userSourcedId), `user ${r.userSourcedId} has two primary roles`);
				roleOfUser.set(r.userSourcedId, r.role);
				list.unshift(r.orgSourcedId);
				p.check(
					users.get(r.userSourcedId)?.primaryOrgSourcedId === r.orgSourcedId,
					`user ${r.userSourcedId} primaryOrgSourcedId`,
				);
			} else list.push(r.orgSourcedId);
			orgsOfUser.set(r.userSourcedId, list);
		}
		expect(roleOfUser.size).toBe(users.size);
	}

	for (const u of users.values()) {
		const role = roleOfUser.get(u.sourcedId) as string;
		const uOrgs = orgsOfUser.get(u.sourcedId) ?? [];
		const id = u.sourcedId;
		p.check(uOrgs.length > 0, `user ${id} has no org`);
		for (const o of uOrgs) p.check(orgs.has(o), `user ${id} org ${o}`);
		p.check(u.enabledUser === 'true', `user ${id} enabledUser`);
		p.check(u.givenName !== '' && u.familyName !== '', `user ${id} names`);
		for (const a of split(u.agentSourcedIds)) {
			const other = roleOfUser.get(a) ?? '';
			p.check(users.has(a), `user ${id} agent ${a} missing`);
			p.check(
				role === 'student' ? GUARDIAN_ROLES.has(other) : GUARDIAN_ROLES.has(role) && other === 'student',
				`user ${id} (${role}) agent ${a} (${other})`,
			);
			p.check(split(users.get(a)?.agentSourcedIds ?? '').includes(id), `agent ${a} does not link back to ${id}`);
		}
		if (role === 'student') {
			p.check(GRADES.includes(u.grades), `student ${id} grade ${u.grades}`);
			p.check(u.userIds === `{SIS:${u.identifier}}`, `student ${id} userIds`);
			p.check(u.username !== '', `student ${id} username`);
		}
		if (role === 'student' || GUARDIAN_ROLES.has(role))
			p.check(split(u.agentSourcedIds).length >= 1, `user ${id} has no agents`);
	}

	// Enrollments reference existing classes and users, with matching school and role.
	const primaries = new Map<string, number>();
	const perStudent = new Map<string, number>();
	for (const e of enrollments.values()) {
		const cls = classes.get(e.classSourcedId);
		const at = `enrollment ${e.sourcedId}`;
		p.check(cls !== undefined, `${at} class`);
		p.check(users.has(e.userSourcedId), `${at} user`);
		p.check(e.schoolSourcedId === cls?.schoolSourcedId, `${at} school`);
		p.check(roleOfUser.get(e.userSourcedId) === e.role, `${at} role`);
		p.check((orgsOfUser.get(e.userSourcedId) ?? []).includes(e.schoolSourcedId), `${at} user not at school`);
		if (e.role === 'teacher' && e.primary === 'true')
			primaries.set(e.classSourcedId, (primaries.get(e.classSourcedId) ?? 0) + 1);
		if (e.role === 'student') {
			p.check(e.primary === 'false', `${at} primary`);
			perStudent.set(e.userSourcedId, (perStudent.get(e.userSourcedId) ?? 0) + 1);
		}
	}
	for (const c of classes.keys())
		p.check(primaries.get(c) === 1, `class ${c} has ${primaries.get(c) ?? 0} primary teachers`);
	for (const u of users.values()) {
		if (roleOfUser.get(u.sourcedId) !== 'student') continue;
		const n = perStudent.get(u.sourcedId) ?? 0;
		p.check(n >= 3 && n <= 7, `student ${u.sourcedId} has ${n} classes`);
	}

	const students = new Set(
		[...users.values()].filter((u) => roleOfUser.get(u.sourcedId) === 'student').map((u) => u.sourcedId),
	);
	expect(students.size).toBe(counts.students);
	expect(new Set(d.rows.demographics.map((r) => r.sourcedId))).toEqual(students);
	for (const r of d.rows.demographics) {
		p.check(/^\d{4}-\d\d-\d\d$/.test(r.birthDate), `demographics ${r.sourcedId} birthDate`);
		p.check(
			(version === '1.1' ? ['male', 'female'] : ['male', 'female', 'unspecified', 'other']).includes(r.sex),
			`demographics ${r.sourcedId} sex`,
		);
	}
	p.assertNone();
}

describe('writeDistrict (OneRoster 1.1, 500 students)', () => {
	let dir: string;
	let counts: DistrictCounts;
	let d: Dir;
	beforeAll(async () => {
		dir = path.join(tmp, 'd500');
		counts = await writeDistrict(dir, { students: 500 });
		d = readDir(dir);
	});

	it('writes the 1.1 files with the spec headers', () => {
		expect(Object.keys(d.raw).sort()).toEqual([...ENTITY_FILES, 'manifest'].sort());
		expect(d.headers.users).toEqual([...RECORD_COLUMNS, 'enabledUser', 'orgSourcedIds', 'role', ...USER_COLUMNS]);
		expect(d.headers.enrollments).toEqual([
			...RECORD_COLUMNS,
			'classSourcedId',
			'schoolSourcedId',
			'userSourcedId',
			'role',
			'primary',
			'beginDate',
			'endDate',
		]);
		expect(d.headers.classes).toEqual([
			...RECORD_COLUMNS,
			'title',
			'grades',
			'courseSourcedId',
			'classCode',
			'classType',
			'location',
			'schoolSourcedId',
			'termSourcedIds',
			'subjects',
			'subjectCodes',
			'periods',
		]);
		expect(d.headers.manifest).toEqual(['propertyName', 'value']);
		expect(d.raw.users.charCodeAt(0)).not.toBe(0xfeff);
	});

	it('has consistent relations', () => {
		checkIntegrity(d, counts, '1.1');
	});

	it('has a realistic shape', () => {
		expect(counts.students).toBe(500);
		const students = d.rows.users.filter((u) => u.role === 'student');
		expect(new Set(students.map((s) => s.grades))).toEqual(new Set(GRADES));
		const guardians = d.rows.users.filter((u) => GUARDIAN_ROLES.has(u.role));
		expect(guardians.length / students.length).toBeGreaterThan(1.35);
		expect(guardians.length / students.length).toBeLessThan(1.7);
		const links = students.reduce((acc, s) => acc + split(s.agentSourcedIds).length, 0);
		expect(links / students.length).toBeGreaterThan(1.4);
		expect(links / students.length).toBeLessThan(1.85);
		const noEmail = students.filter((s) => s.email === '').length / students.length;
		expect(noEmail).toBeGreaterThan(0.01);
		expect(noEmail).toBeLessThan(0.1);
		const adults = counts.teachers + counts.staff + counts.admins;
		expect(adults / counts.students).toBeGreaterThan(0.06);
		expect(adults / counts.students).toBeLessThan(0.11);
		expect(counts.teachers / counts.students).toBeGreaterThan(1 / 20);
		expect(counts.teachers / counts.students).toBeLessThan(1 / 13);
		const studentEnrollments = d.rows.enrollments.filter((e) => e.role === 'student').length;
		expect(studentEnrollments / counts.classes).toBeGreaterThan(15);
		expect(studentEnrollments / counts.classes).toBeLessThan(30);
		const coTaught =
			d.rows.enrollments.filter((e) => e.role === 'teacher' && e.primary === 'false').length / counts.classes;
		expect(coTaught).toBeGreaterThan(0.03);
		expect(coTaught).toBeLessThan(0.2);
		expect(students.filter((s) => !/^\d+$/.test(s.identifier))).toEqual([]);
		expect(d.rows.users.some((u) => /[^\x00-\x7f]/.test(u.givenName + u.familyName))).toBe(true);
		expect(d.rows.users.some((u) => u.role === 'aide')).toBe(true);
		expect(d.rows.users.some((u) => u.role === 'administrator')).toBe(true);
	});

	it('is deterministic: same seed → same bytes, other seed → other data', async () => {
		const again = path.join(tmp, 'd500-again');
		await writeDistrict(again, { students: 500 });
		for (const f of fs.readdirSync(dir))
			expect(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(dir, f)))).toBe(true);
		const other = path.join(tmp, 'd500-seed2');
		await writeDistrict(other, { students: 500, seed: 2 });
		expect(fs.readFileSync(path.join(other, 'users.csv')).equals(fs.readFileSync(path.join(dir, 'users.csv')))).toBe(
			false,
		);
		expect(
			fs.readFileSync(path.join(other, 'enrollments.csv')).equals(fs.readFileSync(path.join(dir, 'enrollments.csv'))),
		).toBe(false);
	});
});

describe('writeDistrict (larger, several schools)', () => {
	it('spreads grades over elementary, middle and high schools and quotes awkward names', async () => {
		const dir = path.join(tmp, 'd6000');
		const counts = await writeDistrict(dir, { students: 6000, seed: 7 });
		const d = readDir(dir);
		checkIntegrity(d, counts, '1.1');
		const schools = d.rows.orgs.filter((o) => o.type === 'school');
		expect(schools).toHaveLength(8);
		const gradesBySchool = new Map<string, Set<string>>();
		for (const u of d.rows.users) {
			if (u.role !== 'student') continue;
			const set = gradesBySchool.get(u.orgSourcedIds) ?? new Set<string>();
			set.add(u.grades);
			gradesBySchool.set(u.orgSourcedIds, set);
		}
		const spans = [...gradesBySchool.values()].map((s) => [...s].sort().join(' '));
		expect(spans).toContain('01 02 03 04 05 KG PK');
		expect(spans).toContain('06 07 08');
		expect(spans).toContain('09 10 11 12');
		// Names with commas or quotes survive a CSV round trip.
		const awkward = d.rows.users.filter((u) => /[",]/.test(u.givenName + u.familyName));
		expect(awkward.length).toBeGreaterThan(0);
		expect(d.raw.users).toContain('""');
		// Guardians whose children attend two schools list both.
		expect(d.rows.users.some((u) => GUARDIAN_ROLES.has(u.role) && split(u.orgSourcedIds).length > 1)).toBe(true);
		// Some Chinese or Arabic script.
		expect(d.rows.users.some((u) => /[\u4e00-\u9fff\u0600-\u06ff]/.test(u.givenName))).toBe(true);
	});
});

describe('writeDistrict (OneRoster 1.2)', () => {
	it('writes users.csv with the 1.2 columns and roles.csv', async () => {
		const dir = path.join(tmp, 'v12');
		const counts = await writeDistrict(dir, { students: 2500, version: '1.2' });
		const d = readDir(dir);
		expect(d.headers.users).toEqual([
			...RECORD_COLUMNS,
			'enabledUser',
			...USER_COLUMNS,
			'userMasterIdentifier',
			'resourceSourcedIds',
			'preferredGivenName',
			'preferredMiddleName',
			'preferredFamilyName',
			'primaryOrgSourcedId',
			'pronouns',
		]);
		expect(d.headers.roles).toEqual([
			...RECORD_COLUMNS,
			'userSourcedId',
			'roleType',
			'role',
			'beginDate',
			'endDate',
			'orgSourcedId',
			'userProfileSourcedId',
		]);
		checkIntegrity(d, counts, '1.2');
		const roles = new Set(d.rows.roles.map((r) => r.role));
		for (const r of ['counselor', 'principal', 'districtAdministrator', 'aide', 'teacher', 'student', 'parent'])
			expect(roles.has(r)).toBe(true);
		expect(d.rows.users.some((u) => u.preferredGivenName !== '')).toBe(true);
		expect(d.rows.users.some((u) => u.pronouns !== '')).toBe(true);
		expect(
			roleOf(
				d,
				d.rows.users[0].sourcedId,
				new Map(d.rows.roles.filter((r) => r.roleType === 'primary').map((r) => [r.userSourcedId, r.role])),
			),
		).toBe('districtAdministrator');
	});

	it('can leave out resourceSourcedIds (CSV binding 1.2.1 layout)', async () => {
		const dir = path.join(tmp, 'v121');
		await writeDistrict(dir, { students: 300, version: '1.2', resourceSourcedIdsColumn: false });
		const d = readDir(dir);
		expect(d.headers.users).not.toContain('resourceSourcedIds');
		expect(d.headers.users).toHaveLength(22);
	});
});

describe('writeDistrict and writeDayTwo with GUID sourcedIds', () => {
	it('gives every person a 36-character GUID, the same in users, enrollments, agents and day two; other ids stay', async () => {
		const options = { students: 300, seed: 5, guidIds: true };
		const dir1 = path.join(tmp, 'guid1');
		const dir2 = path.join(tmp, 'guid2');
		const counts = await writeDistrict(dir1, options);
		const result = await writeDayTwo(dir1, dir2, { ...options, changedPercent: 2, gonePercent: 1, newPercent: 1 });
		const day1 = readDir(dir1);
		const day2 = readDir(dir2);
		checkIntegrity(day1, counts, '1.1');
		checkIntegrity(day2, result.counts, '1.1');
		const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/;
		for (const d of [day1, day2]) {
			expect(d.rows.users.filter((u) => !GUID.test(u.sourcedId)).map((u) => u.sourcedId)).toEqual([]);
			expect(d.rows.enrollments.filter((e) => !GUID.test(e.userSourcedId))).toEqual([]);
			expect(d.rows.users.flatMap((u) => split(u.agentSourcedIds)).filter((id) => !GUID.test(id))).toEqual([]);
			expect(new Set(d.rows.users.map((u) => u.sourcedId)).size).toBe(d.rows.users.length);
		}
		expect(day1.rows.classes.every((c) => !GUID.test(c.sourcedId))).toBe(true);
		// Day two's people are day one's, less the gone, plus the added.
		const ids1 = new Set(day1.rows.users.map((u) => u.sourcedId));
		const ids2 = new Set(day2.rows.users.map((u) => u.sourcedId));
		expect(result.gone.length).toBeGreaterThan(0);
		expect(result.gone.every((id) => ids1.has(id) && !ids2.has(id))).toBe(true);
		expect(result.added.every((id) => GUID.test(id) && ids2.has(id) && !ids1.has(id))).toBe(true);
		expect([...ids1].filter((id) => !ids2.has(id)).sort()).toEqual([...result.gone, ...result.goneContacts].sort());
		// The short style is the default.
		expect((await writeDistrict(path.join(tmp, 'short'), { students: 50, seed: 5 })).students).toBe(50);
		expect(readDir(path.join(tmp, 'short')).rows.users.some((u) => u.sourcedId.startsWith('stu-'))).toBe(true);
	});
});

describe('writeDayTwo', () => {
	const options = { students: 2000, seed: 3 };
	let day1: Dir;
	let day2: Dir;
	let result: Awaited<ReturnType<typeof writeDayTwo>>;
	beforeAll(async () => {
		const dir1 = path.join(tmp, 'day1');
		const dir2 = path.join(tmp, 'day2');
		await writeDistrict(dir1, options);
		result = await writeDayTwo(dir1, dir2, { ...options, changedPercent: 2, gonePercent: 1, newPercent: 1 });
		day1 = readDir(dir1);
		day2 = readDir(dir2);
	});

	it('is a valid district', () => {
		checkIntegrity(day2, result.counts, '1.1');
		expect(result.counts.students).toBe(2000 - 20 + 20);
	});

	it('changes, removes and adds the people it reports', () => {
		const u1 = byId(day1.rows.users);
		const u2 = byId(day2.rows.users);
		expect(result.changed.length).toBeGreaterThanOrEqual(40);
		expect(result.gone.filter((id) => id.startsWith('stu-'))).toHaveLength(20);
		expect(result.added).toHaveLength(20);
		const kinds = new Set(Object.values(result.changes));
		expect(kinds).toEqual(new Set(['familyName', 'email', 'grades']));
		const p = new Problems();
		for (const id of result.changed) {
			const a = u1.get(id);
			const b = u2.get(id);
			p.check(a !== undefined && b !== undefined, `changed ${id} missing`);
			if (!a || !b) continue;
			const field = result.changes[id];
			p.check(b[field] !== a[field], `changed ${id}: ${field} is the same`);
			for (const k of Object.keys(a)) if (k !== field) p.check(b[k] === a[k], `changed ${id}: ${k} changed too`);
		}
		const e2Users = new Set(day2.rows.enrollments.map((e) => e.userSourcedId));
		const agents2 = new Set(day2.rows.users.flatMap((u) => split(u.agentSourcedIds)));
		for (const id of result.gone) {
			p.check(u1.has(id) && !u2.has(id), `gone ${id} still there (or never was)`);
			p.check(!e2Users.has(id), `gone ${id} still enrolled`);
			p.check(!agents2.has(id), `gone ${id} still an agent`);
		}
		const enrolled2 = new Map<string, number>();
		for (const e of day2.rows.enrollments) enrolled2.set(e.userSourcedId, (enrolled2.get(e.userSourcedId) ?? 0) + 1);
		const demo2 = new Set(day2.rows.demographics.map((r) => r.sourcedId));
		for (const id of result.added) {
			p.check(!u1.has(id) && u2.get(id)?.role === 'student', `added ${id}`);
			p.check((enrolled2.get(id) ?? 0) >= 3, `added ${id} enrollments`);
			p.check(demo2.has(id), `added ${id} demographics`);
		}
		for (const id of result.addedContacts) p.check(!u1.has(id) && u2.has(id), `added contact ${id}`);
		for (const id of result.goneContacts) p.check(u1.has(id) && !u2.has(id), `gone contact ${id}`);
		for (const id of result.contactsWithGoneChild)
			p.check(u2.has(id) && u2.get(id)!.agentSourcedIds !== u1.get(id)!.agentSourcedIds, `contact ${id} agents`);
		p.assertNone();
	});

	it('keeps every other record byte-identical', () => {
		const lines = (text: string): Map<string, string> =>
			new Map(
				text
					.split('\n')
					.filter(Boolean)
					.map((l) => [l.slice(0, l.indexOf(',')), l]),
			);
		const touched = new Set([
			...result.changed,
			...result.gone,
			...result.goneContacts,
			...result.contactsWithGoneChild,
		]);
		const l1 = lines(day1.raw.users);
		const l2 = lines(day2.raw.users);
		const p = new Problems();
		let same = 0;
		for (const [id, line] of l1) {
			if (touched.has(id)) continue;
			p.check(l2.get(id) === line, `users row ${id} differs`);
			same++;
		}
		expect(same).toBeGreaterThan(l1.size * 0.9);
		const gone = new Set(result.gone);
		const e2 = lines(day2.raw.enrollments);
		for (const e of day1.rows.enrollments)
			if (!gone.has(e.userSourcedId)) p.check(e2.has(e.sourcedId), `enrollment ${e.sourcedId} lost`);
		for (const [id, line] of lines(day1.raw.enrollments))
			if (e2.has(id)) p.check(e2.get(id) === line, `enrollment ${id} differs`);
		p.assertNone();
		for (const f of ['orgs', 'academicSessions', 'courses', 'classes']) expect(day2.raw[f]).toBe(day1.raw[f]);
	});

	it('refuses a district written with other options and writes day one when missing', async () => {
		await expect(
			writeDayTwo(path.join(tmp, 'day1'), path.join(tmp, 'nope'), { students: 2000, seed: 4 }),
		).rejects.toThrow(/not generated with these options/);
		const fresh = path.join(tmp, 'fresh-day1');
		const r = await writeDayTwo(fresh, path.join(tmp, 'fresh-day2'), { students: 400, seed: 5 });
		expect(fs.existsSync(path.join(fresh, 'manifest.csv'))).toBe(true);
		expect(r.counts.students).toBe(400 - 2 + 2);
	});
});
