/**
 * Clever API v3 records → OneRoster 1.1 JSON records, which the OneRoster flattening then turns into
 * staged rows (so Clever lands in the same staging area, columns and checks as a OneRoster pull):
 *
 * | Clever                                    | OneRoster 1.1                                   |
 * |-------------------------------------------|-------------------------------------------------|
 * | district                                  | org, type district                              |
 * | school                                    | org, type school, parent = district, identifier = school_number |
 * | term                                      | academicSession, type term, schoolYear = end year |
 * | course                                    | course, org = district, courseCode = number      |
 * | section                                   | class (scheduled), course, school, term           |
 * | section.students / section.teachers       | enrollments (student / teacher; primary = section.teacher) |
 * | user with role student/teacher            | user, role student/teacher, orgs = the role's schools |
 * | user with role staff / district_admin     | user, role aide / administrator                  |
 * | user with role contact                    | user, role parent/guardian/relative, agents = their students |
 * | student dob, gender, race, hispanic_ethnicity | demographics                                  |
 */
import type { JsonRecord } from '../oneroster-rest/paging';

/** The user roles Clever v3 has, in the order they are pulled (a person with two roles keeps the first). */
export const CLEVER_ROLES = ['student', 'teacher', 'staff', 'district_admin', 'contact'] as const;
export type CleverRole = (typeof CLEVER_ROLES)[number];

const str = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
const ref = (sourcedId: string, type: string) => (sourcedId ? { sourcedId, type } : null);
const active = (record: JsonRecord) => ({ status: 'active', dateLastModified: str(record.last_modified) || str(record.created) });

/** Clever grade words → CEDS grade levels. */
export function cleverGrade(grade: unknown): string {
	const value = str(grade).trim();
	if (/^\d{1,2}$/.test(value)) return value.padStart(2, '0');
	const words: Record<string, string> = {
		InfantToddler: 'IT',
		Preschool: 'PR',
		PreKindergarten: 'PK',
		TransitionalKindergarten: 'TK',
		Kindergarten: 'KG',
		PostGraduate: '13',
		Ungraded: 'UG',
		Other: 'Other',
	};
	return words[value] ?? value;
}

/** `MM/DD/YYYY` (Clever v3.0) or `YYYY-MM-DD` → `YYYY-MM-DD`. */
export function cleverDate(value: unknown): string {
	const text = str(value).trim();
	const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
	if (us) return `${us[3]}-${us[1].padStart(2, '0')}-${us[2].padStart(2, '0')}`;
	return text.slice(0, 10);
}

export function districtToOrg(district: JsonRecord): JsonRecord {
	return { sourcedId: str(district.id), ...active(district), name: str(district.name) || 'District', type: 'district', identifier: '' };
}

export function schoolToOrg(school: JsonRecord): JsonRecord {
	return {
		sourcedId: str(school.id),
		...active(school),
		name: str(school.name),
		type: 'school',
		identifier: str(school.school_number) || str(school.sis_id),
		parent: ref(str(school.district), 'org'),
	};
}

export function termToSession(term: JsonRecord): JsonRecord {
	const endDate = cleverDate(term.end_date);
	return {
		sourcedId: str(term.id),
		...active(term),
		title: str(term.name) || 'Term',
		type: 'term',
		startDate: cleverDate(term.start_date),
		endDate,
		schoolYear: endDate.slice(0, 4),
	};
}

export function courseToCourse(course: JsonRecord): JsonRecord {
	return {
		sourcedId: str(course.id),
		...active(course),
		title: str(course.name) || str(course.number),
		courseCode: str(course.number),
		org: ref(str(course.district), 'org'),
	};
}

/** A section's class; a section without a course gets its own id as course (Clever does not require one). */
export function sectionToClass(section: JsonRecord): JsonRecord {
	const grade = cleverGrade(section.grade);
	return {
		sourcedId: str(section.id),
		...active(section),
		title: str(section.name) || str(section.section_number) || str(section.id),
		classCode: str(section.section_number),
		classType: 'scheduled',
		grades: grade ? [grade] : [],
		subjects: str(section.subject) ? [str(section.subject)] : [],
		course: ref(str(section.course) || `section:${str(section.id)}`, 'course'),
		school: ref(str(section.school), 'org'),
		terms: str(section.term_id) ? [ref(str(section.term_id), 'academicSession')] : [],
		periods: str(section.period) ? [str(section.period)] : [],
	};
}

/** Enrollments of a section: its students and teachers (primary: the section's `teacher`, else the first teacher). */
export function sectionEnrollments(section: JsonRecord): JsonRecord[] {
	const id = str(section.id);
	const school = ref(str(section.school), 'org');
	const base = { ...active(section), class: ref(id, 'class'), school };
	const teachers = Array.isArray(section.teachers) ? section.teachers.map(str).filter(Boolean) : [];
	const primaryTeacher = str(section.teacher) || teachers[0] || '';
	if (primaryTeacher && !teachers.includes(primaryTeacher)) teachers.unshift(primaryTeacher);
	const students = Array.isArray(section.students) ? section.students.map(str).filter(Boolean) : [];
	return [
		...teachers.map((teacher) => ({ ...base, sourcedId: `${id}:teacher:${teacher}`, user: ref(teacher, 'user'), role: 'teacher', primary: teacher === primaryTeacher ? 'true' : 'false' })),
		...[...new Set(students)].map((student) => ({ ...base, sourcedId: `${id}:student:${student}`, user: ref(student, 'user'), role: 'student', primary: 'false' })),
	];
}

const ONEROSTER_ROLE: Record<Exclude<CleverRole, 'contact'>, string> = {
	student: 'student',
	teacher: 'teacher',
	staff: 'aide',
	district_admin: 'administrator',
};

/** A contact's relationship word → OneRoster role. */
function contactRole(contact: JsonRecord): string {
	const relationships = Array.isArray(contact.student_relationships) ? (contact.student_relationships as JsonRecord[]) : [];
	const words = relationships.map((r) => `${str(r.relationship)} ${str(r.type)}`.toLowerCase());
	if (words.some((w) => w.includes('guardian'))) return 'guardian';
	if (words.some((w) => /parent|mother|father/.test(w))) return 'parent';
	return 'relative';
}

/** A Clever user as a OneRoster user with `role` (the role pulled); undefined when it lacks that role. */
export function userToUser(user: JsonRecord, role: CleverRole): JsonRecord | undefined {
	const roles = (user.roles ?? {}) as Record<string, JsonRecord | undefined>;
	const data = roles[role];
	if (!data) return undefined;
	const name = (user.name ?? {}) as JsonRecord;
	const credentials = (data.credentials ?? {}) as JsonRecord;
	const district = str(user.district) || str(data.district);
	const schools = [...new Set([str(data.school), ...(Array.isArray(data.schools) ? data.schools.map(str) : [])].filter(Boolean))];
	const orgs = role === 'student' || role === 'teacher' || role === 'staff' ? (schools.length > 0 ? schools : [district]) : [district];
	const identifier = role === 'student' ? str(data.student_number) || str(data.sis_id) : str(data.teacher_number) || str(data.staff_id) || str(data.sis_id);
	const userIds = [
		{ type: 'clever', identifier: str(user.id) },
		...(str(data.sis_id) ? [{ type: 'sis', identifier: str(data.sis_id) }] : []),
		...(str(data.state_id) ? [{ type: 'state', identifier: str(data.state_id) }] : []),
	];
	const agents =
		role === 'contact' && Array.isArray(data.student_relationships)
			? (data.student_relationships as JsonRecord[]).map((r) => ref(str(r.student), 'user')).filter(Boolean)
			: [];
	const grade = role === 'student' ? cleverGrade(data.grade) : '';
	return {
		sourcedId: str(user.id),
		...active(user),
		enabledUser: 'true',
		orgs: orgs.filter(Boolean).map((org) => ref(org, 'org')),
		role: role === 'contact' ? contactRole(data) : ONEROSTER_ROLE[role],
		username: str(credentials.district_username) || str(user.email) || str(data.sis_id) || str(user.id),
		userIds,
		givenName: str(name.first),
		familyName: str(name.last),
		middleName: str(name.middle),
		identifier,
		email: str(user.email),
		phone: role === 'contact' ? str(data.phone) : '',
		agents,
		grades: grade ? [grade] : [],
	};
}

/** Demographics of a Clever student (v3: on the student role). */
export function studentDemographics(user: JsonRecord): JsonRecord | undefined {
	const data = ((user.roles ?? {}) as Record<string, JsonRecord | undefined>).student;
	if (!data) return undefined;
	const gender = str(data.gender).toUpperCase();
	const race = str(data.race).toLowerCase();
	const yes = (value: boolean) => (value ? 'true' : 'false');
	const hispanic = str(data.hispanic_ethnicity).toUpperCase();
	return {
		sourcedId: str(user.id),
		...active(user),
		birthDate: data.dob ? cleverDate(data.dob) : '',
		sex: gender === 'M' ? 'male' : gender === 'F' ? 'female' : gender === 'X' ? 'other' : '',
		americanIndianOrAlaskaNative: race ? yes(race.includes('american indian')) : '',
		asian: race ? yes(race.includes('asian')) : '',
		blackOrAfricanAmerican: race ? yes(race.includes('black')) : '',
		nativeHawaiianOrOtherPacificIslander: race ? yes(race.includes('hawaiian')) : '',
		white: race ? yes(race.includes('caucasian') || race.includes('white')) : '',
		demographicRaceTwoOrMoreRaces: race ? yes(race.includes('two or more') || race.includes('multi')) : '',
		hispanicOrLatinoEthnicity: hispanic === 'Y' ? 'true' : hispanic === 'N' ? 'false' : '',
	};
}

/** The school ids a Clever user belongs to, for School ID scoping. */
export function userSchools(user: JsonRecord, role: CleverRole): string[] {
	const data = ((user.roles ?? {}) as Record<string, JsonRecord | undefined>)[role];
	if (!data) return [];
	return [str(data.school), ...(Array.isArray(data.schools) ? data.schools.map(str) : [])].filter(Boolean);
}
