/**
 * Canonical roster fixtures written straight into a run's snapshot (no CSV, no Normalize),
 * for the Reconcile Users, Build Lists and Publish Report tests.
 *
 * day1() / day2() are one small high school on two nights:
 *  - s2 Ben Carter is renamed "Benjamin" on day 2 (updated only with Auto update);
 *  - s3 Cleo Diaz has left on day 2 (archived only with Archive);
 *  - s4 Dan Evans's users row is bad on day 2 (a staged problem): never archived for it;
 *  - teacher Tess Tanner's sourcedId changes t1 → t1-new on day 2 (her email differs only
 *    in case): she is matched by email, not duplicated;
 *  - staff "Manny Manual" appears in the SIS on day 2, matching a manual user who is not in
 *    SIS sync (see MANUAL_MANNY): reported as skipped, untouched;
 *  - the spring term's classes appear on day 2 (lists only when spring is selected).
 */
import type { RecordProblem } from '../../nodes/shared/model/errors';
import type {
	CanonicalClass,
	CanonicalContact,
	CanonicalCourse,
	CanonicalEnrollment,
	CanonicalOrg,
	CanonicalPerson,
	CanonicalTerm,
	PersonRole,
} from '../../nodes/shared/model/roster';
import type { UserListRow } from '../../nodes/shared/store/lists';
import type { PersonRow } from '../../nodes/shared/store/people';
import { emailKey, insertPeople } from '../../nodes/shared/store/people';
import { addProblems, completeStage, createRun } from '../../nodes/shared/store/runs';
import {
	CLASS_TABLE,
	CONTACT_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	ORG_TABLE,
	PERSON_TABLE,
	TERM_TABLE,
	writeSnapshotHeader,
	writeSnapshotRecords,
} from '../../nodes/shared/store/snapshot';
import type { SqlDb } from '../../nodes/shared/store/sql';

export interface Roster {
	orgs: CanonicalOrg[];
	terms: CanonicalTerm[];
	courses: CanonicalCourse[];
	classes: CanonicalClass[];
	people: CanonicalPerson[];
	contacts: CanonicalContact[];
	enrollments: CanonicalEnrollment[];
	/** Rows skipped with a problem before the snapshot (recorded under stage 'staged'). */
	problems: RecordProblem[];
}

export const SCHOOL_ID = 'sch-gbhs';
export const SCHOOL_NAME = 'Grand Bend High School';

export function person(sourcedId: string, role: PersonRole, given: string, family: string, extra: Partial<CanonicalPerson> = {}): CanonicalPerson {
	return {
		sourcedId,
		role,
		sisRole: role === 'admin' ? 'administrator' : role === 'staff' ? 'aide' : role,
		givenName: given,
		familyName: family,
		middleName: null,
		preferredGivenName: null,
		preferredFamilyName: null,
		email: `${given}.${family}@gbhs.example.org`.toLowerCase(),
		username: `${given}${family}`.toLowerCase(),
		sisId: null,
		grade: null,
		schoolIds: [SCHOOL_ID],
		primarySchoolId: SCHOOL_ID,
		enabled: true,
		phone: null,
		sms: null,
		primaryContactId: null,
		...extra,
	};
}

export function student(sourcedId: string, given: string, family: string, grade: string, sisId: string, extra: Partial<CanonicalPerson> = {}): CanonicalPerson {
	return person(sourcedId, 'student', given, family, { grade, sisId, ...extra });
}

export function term(sourcedId: string, title: string, type: string, parentId: string | null): CanonicalTerm {
	return { sourcedId, title, type, startDate: '2026-08-20', endDate: '2027-06-20', parentId, schoolYear: '2027' };
}

export function klass(sourcedId: string, title: string, termIds: string[], extra: Partial<CanonicalClass> = {}): CanonicalClass {
	return {
		sourcedId,
		title,
		classCode: null,
		classType: 'scheduled',
		courseId: null,
		schoolId: SCHOOL_ID,
		termIds,
		grades: [],
		subjects: [],
		periods: null,
		...extra,
	};
}

let enrollmentSeq = 0;
export function enroll(classId: string, personId: string, role: PersonRole, primary = false, extra: Partial<CanonicalEnrollment> = {}): CanonicalEnrollment {
	return {
		sourcedId: `e-${classId}-${personId}-${++enrollmentSeq}`,
		classId,
		personId,
		role,
		primary,
		beginDate: null,
		endDate: null,
		...extra,
	};
}

export const PARENT_EMAIL = 'mom.lovelace@parents.example.net';
export const PARENT_PHONE = '519-555-0101';

export function day1(): Roster {
	return {
		orgs: [
			{ sourcedId: 'dist-1', name: 'Grand Bend District', type: 'district', identifier: null, parentId: null },
			{ sourcedId: SCHOOL_ID, name: SCHOOL_NAME, type: 'school', identifier: 'GBHS', parentId: 'dist-1' },
		],
		terms: [
			term('y2027', '2026-2027', 'schoolYear', null),
			term('fall', 'Fall 2026', 'semester', 'y2027'),
			term('spring', 'Spring 2027', 'semester', 'y2027'),
		],
		courses: [
			{ sourcedId: 'crs-alg', title: 'Algebra I', courseCode: 'ALG1', grades: ['09'], subjects: ['Mathematics'], orgId: SCHOOL_ID },
			{ sourcedId: 'crs-eng', title: 'English 9', courseCode: 'ENG9', grades: ['09'], subjects: ['English'], orgId: SCHOOL_ID },
			{ sourcedId: 'crs-art', title: 'Art', courseCode: 'ART', grades: ['10'], subjects: ['Art'], orgId: SCHOOL_ID },
		],
		classes: [
			klass('cls-alg', 'Algebra I', ['fall'], { classCode: 'ALG1-01', courseId: 'crs-alg', grades: ['09'], subjects: ['Mathematics'], periods: '1' }),
			klass('cls-eng', 'English 9', ['fall'], { classCode: 'ENG9-02', courseId: 'crs-eng', grades: ['09'], subjects: ['English'], periods: '2' }),
		],
		people: [
			student('s1', 'Ada', 'Lovelace', '09', '1001', { primaryContactId: 'p1', phone: '519-555-0199' }),
			student('s2', 'Ben', 'Carter', '09', '1002'),
			student('s3', 'Cleo', 'Diaz', '09', '1003'),
			student('s4', 'Dan', 'Evans', '10', '1004'),
			person('t1', 'teacher', 'Tess', 'Tanner', { email: 'tess.tanner@gbhs.example.org' }),
			person('t2', 'teacher', 'Uma', 'Usher', { sisId: 'T200' }),
			person('st1', 'staff', 'Sam', 'Stone', { sisId: 'E300' }),
			person('a1', 'admin', 'Alex', 'Admin', { sisId: 'E400' }),
		],
		contacts: [
			{ sourcedId: 'p1', relationship: 'parent', givenName: 'Mary', familyName: 'Lovelace', email: PARENT_EMAIL, phone: PARENT_PHONE, sms: null },
		],
		enrollments: [
			enroll('cls-alg', 's1', 'student'),
			enroll('cls-alg', 's2', 'student'),
			enroll('cls-alg', 's3', 'student'),
			enroll('cls-alg', 't1', 'teacher', true),
			enroll('cls-alg', 't2', 'teacher', false),
			enroll('cls-eng', 's1', 'student'),
			enroll('cls-eng', 's2', 'student'),
			enroll('cls-eng', 's4', 'student'),
			enroll('cls-eng', 't2', 'teacher', true),
		],
		problems: [],
	};
}

export function day2(): Roster {
	const roster = day1();
	const renamed = (p: CanonicalPerson) => (p.sourcedId === 's2' ? { ...p, givenName: 'Benjamin' } : p);
	const newTeacherId = (p: CanonicalPerson) => (p.sourcedId === 't1' ? { ...p, sourcedId: 't1-new', email: 'TESS.Tanner@GBHS.example.org' } : p);
	roster.people = roster.people
		.filter((p) => p.sourcedId !== 's3' && p.sourcedId !== 's4')
		.map(renamed)
		.map(newTeacherId);
	roster.people.push(person('st2', 'staff', 'Manny', 'Manual', { email: MANUAL_MANNY.email }));
	roster.classes.push(
		klass('cls-art', 'Art', ['spring'], { classCode: 'ART-01', courseId: 'crs-art', grades: ['10'], subjects: ['Art'], periods: '3' }),
	);
	roster.enrollments = roster.enrollments
		.filter((e) => e.personId !== 's3' && e.personId !== 's4')
		.map((e) => (e.personId === 't1' ? { ...e, personId: 't1-new' } : e));
	roster.enrollments.push(enroll('cls-art', 's1', 'student'), enroll('cls-art', 't2', 'teacher', true));
	roster.problems = [
		{ file: 'users.csv', row: 5, field: 'givenName', sourcedId: 's4', message: 'required value "givenName" is empty' },
	];
	return roster;
}

/** Writes `roster` as the canonical snapshot of a new run, which is then at stage 'normalized'. */
/**
 * A run with `roster` as its normalized snapshot. `changesOver`: a run whose snapshot this one follows, as
 * a delta night's Normalize writes it (each entity stored as changes over that snapshot's base).
 */
export async function writeRoster(db: SqlDb, roster: Roster, options: { source?: string; dryRun?: boolean; changesOver?: string } = {}): Promise<string> {
	const run = await createRun(db, { source: options.source ?? 'fixture:grand-bend', dryRun: options.dryRun });
	await completeStage(db, run.id, 'staged', { files: {} });
	await addProblems(db, run.id, 'staged', roster.problems);
	const over = options.changesOver;
	await writeSnapshotRecords(db, run.id, ORG_TABLE, roster.orgs, over);
	await writeSnapshotRecords(db, run.id, TERM_TABLE, roster.terms, over);
	await writeSnapshotRecords(db, run.id, COURSE_TABLE, roster.courses, over);
	await writeSnapshotRecords(db, run.id, CLASS_TABLE, roster.classes, over);
	await writeSnapshotRecords(db, run.id, PERSON_TABLE, roster.people, over);
	await writeSnapshotRecords(db, run.id, CONTACT_TABLE, roster.contacts, over);
	// As Normalize keeps them: only enrollments whose class and person are in the roster.
	const personIds = new Set(roster.people.map((person) => person.sourcedId));
	const classIds = new Set(roster.classes.map((klass) => klass.sourcedId));
	const enrollments = roster.enrollments.filter((enrollment) => personIds.has(enrollment.personId) && classIds.has(enrollment.classId));
	await writeSnapshotRecords(db, run.id, ENROLLMENT_TABLE, enrollments, over);
	const peopleCounts: Record<string, number> = { student: 0, teacher: 0, staff: 0, admin: 0 };
	for (const p of roster.people) peopleCounts[p.role]++;
	const schools = roster.orgs.filter((org) => org.type === 'school').map((org) => org.sourcedId);
	await writeSnapshotHeader(db, run.id, schools, { people: peopleCounts });
	await completeStage(db, run.id, 'normalized', {
		schools: schools.length,
		classes: roster.classes.length,
		people: peopleCounts,
		enrollments: enrollments.length,
		skippedRows: roster.problems.length,
	});
	return run.id;
}

/** A person typed in by hand in the store. */
export function manualPerson(id: string, role: PersonRole, given: string, family: string, extra: Partial<PersonRow> = {}): PersonRow {
	const now = '2026-08-01T00:00:00.000Z';
	const email = extra.email === undefined ? `${given}.${family}@gbhs.example.org`.toLowerCase() : extra.email;
	return {
		id,
		role,
		given_name: given,
		family_name: family,
		middle_name: null,
		preferred_name: null,
		email,
		email_key: emailKey(email),
		username: null,
		student_number: null,
		sis_id: null,
		sourced_id: null,
		grade: null,
		school_id: SCHOOL_ID,
		school_ids: null,
		phone: null,
		parent_name: null,
		parent_email: null,
		parent_phone: null,
		include_in_sis_sync: 0,
		source: 'manual',
		archived_at: null,
		missing_runs: 0,
		last_seen_run_id: null,
		created_at: now,
		updated_at: now,
		...extra,
	};
}

/** A manual user not in SIS sync, whose email the SIS's staff member st2 has on day 2. */
export const MANUAL_MANNY = manualPerson('manual-manny', 'staff', 'Manny', 'Manual', { email: 'manny.manual@gbhs.example.org' });

/** A stored user list (user_lists row): titled by its id, no term, class or grade, not archived. */
export function userList(id: string, kind: string, sourceKey: string | null, extra: Partial<UserListRow> = {}): UserListRow {
	return {
		id,
		kind,
		source_key: sourceKey,
		title: id,
		term_id: null,
		class_id: null,
		grade: null,
		is_public: 0,
		visibility_set_by_hand: 0,
		archived_at: null,
		created_at: 'x',
		updated_at: 'x',
		...extra,
	};
}

export async function addManualPeople(db: SqlDb, people: PersonRow[]): Promise<void> {
	await insertPeople(db, people);
}

/**
 * A district-sized synthetic roster: `students` students in grades 09–12 (each with a parent
 * contact), one teacher per 17 students, staff and admins, classes of 28 in two semesters, and
 * seven enrollments per student. `variant` 2 is the next night: 1% of students left, 1% new,
 * 2% renamed.
 */
export function syntheticRoster(students: number, variant: 1 | 2 = 1): Roster {
	const pad = (n: number) => String(n).padStart(6, '0');
	const grades = ['09', '10', '11', '12'];
	const subjects = ['Mathematics', 'English', 'Science', 'History', 'Art', 'Music', 'PE'];
	const teacherCount = Math.ceil(students / 17);
	const roster: Roster = {
		orgs: [
			{ sourcedId: 'dist-1', name: 'Synthetic District', type: 'district', identifier: null, parentId: null },
			{ sourcedId: SCHOOL_ID, name: SCHOOL_NAME, type: 'school', identifier: 'GBHS', parentId: 'dist-1' },
		],
		terms: [term('y2027', '2026-2027', 'schoolYear', null), term('fall', 'Fall 2026', 'semester', 'y2027'), term('spring', 'Spring 2027', 'semester', 'y2027')],
		courses: subjects.map((subject, i) => ({ sourcedId: `crs-${i}`, title: subject, courseCode: `C${i}`, grades, subjects: [subject], orgId: SCHOOL_ID })),
		classes: [],
		people: [],
		contacts: [],
		enrollments: [],
		problems: [],
	};
	const left = (i: number) => variant === 2 && i % 100 === 0;
	const renamed = (i: number) => variant === 2 && i % 50 === 1;
	for (let i = 0; i < students; i++) {
		if (left(i)) continue;
		const grade = grades[i % 4];
		roster.people.push(
			student(`stu-${pad(i)}`, renamed(i) ? `Renamed${i}` : `Given${i}`, `Family${i}`, grade, `S${pad(i)}`, {
				primaryContactId: `par-${pad(i)}`,
			}),
		);
		roster.contacts.push({ sourcedId: `par-${pad(i)}`, relationship: 'parent', givenName: 'Parent', familyName: `Family${i}`, email: `parent${i}@example.net`, phone: `555${pad(i)}`, sms: null });
	}
	if (variant === 2) {
		for (let i = students; i < students + students / 100; i++) roster.people.push(student(`stu-${pad(i)}`, `Given${i}`, `Family${i}`, '09', `S${pad(i)}`));
	}
	for (let t = 0; t < teacherCount; t++) roster.people.push(person(`tch-${pad(t)}`, 'teacher', `Teacher${t}`, `T${t}`, { sisId: `T${pad(t)}` }));
	for (let s = 0; s < students / 33; s++) roster.people.push(person(`stf-${pad(s)}`, 'staff', `Staff${s}`, `S${s}`, { sisId: `E${pad(s)}` }));
	for (let a = 0; a < students / 100; a++) roster.people.push(person(`adm-${pad(a)}`, 'admin', `Admin${a}`, `A${a}`, { sisId: `A${pad(a)}` }));

	// Seven periods; per period, student i sits in class floor(i / 28) of that period, so a
	// student who leaves or arrives changes only their own classes.
	const perClass = 28;
	const classesPerPeriod = Math.ceil((students + students / 100) / perClass);
	const studentsOf = new Map<number, string[]>();
	for (const p of roster.people) {
		if (p.role !== 'student') continue;
		const i = Number(p.sourcedId.slice(4));
		const list = studentsOf.get(Math.floor(i / perClass)) ?? [];
		list.push(p.sourcedId);
		studentsOf.set(Math.floor(i / perClass), list);
	}
	for (let period = 0; period < 7; period++) {
		for (let slot = 0; slot < classesPerPeriod; slot++) {
			const classNumber = period * classesPerPeriod + slot;
			const classId = `cls-${pad(classNumber)}`;
			const teacherId = `tch-${pad(classNumber % teacherCount)}`;
			roster.classes.push(
				klass(classId, `${subjects[period]} ${classNumber}`, [classNumber % 2 === 0 ? 'fall' : 'spring'], {
					courseId: `crs-${period}`,
					subjects: [subjects[period]],
					grades: [grades[slot % 4]],
					periods: String(period + 1),
				}),
			);
			roster.enrollments.push({ sourcedId: `enr-t-${classId}`, classId, personId: teacherId, role: 'teacher', primary: true, beginDate: null, endDate: null });
			for (const personId of studentsOf.get(slot) ?? []) {
				roster.enrollments.push({ sourcedId: `enr-${classId}-${personId}`, classId, personId, role: 'student', primary: false, beginDate: null, endDate: null });
			}
		}
	}
	return roster;
}
