/**
 * The raw and canonical roster model shared by every source, the store and the planners.
 */

/** OneRoster entities a source can stage. Names are the OneRoster CSV file names without `.csv`. */
export const STAGED_ENTITIES = [
	'orgs',
	'academicSessions',
	'courses',
	'classes',
	'users',
	'roles',
	'demographics',
	'enrollments',
] as const;
export type StagedEntity = (typeof STAGED_ENTITIES)[number];

export type OneRosterVersion = '1.1' | '1.2';
export type FileMode = 'bulk' | 'delta';

/** One staged file: what the source said about it. Cells of each row line up with `columns`. */
export interface StagedFile {
	entity: StagedEntity;
	fileName: string;
	version: OneRosterVersion;
	mode: FileMode;
	columns: string[];
}

/** One raw row as the source gave it (CSV vocabulary; REST sources flatten into the same columns). */
export interface StagedRow {
	/** Row number in the source file, header = 1 (REST: position in the pull, starting at 2). */
	rowNumber: number;
	sourcedId: string;
	cells: string[];
}

/** Canonical roles of people in the store (Minga's). Parents and guardians are contacts, not people. */
export const PERSON_ROLES = ['student', 'teacher', 'staff', 'admin'] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export const CONTACT_RELATIONSHIPS = ['parent', 'guardian', 'relative'] as const;
export type ContactRelationship = (typeof CONTACT_RELATIONSHIPS)[number];

/** OneRoster 1.1 and 1.2 role vocabulary mapped to Minga's roles or to a contact relationship. */
export const ONEROSTER_ROLE_MAP: Record<string, PersonRole | ContactRelationship> = {
	student: 'student',
	teacher: 'teacher',
	aide: 'staff',
	proctor: 'staff',
	counselor: 'staff',
	administrator: 'admin',
	districtAdministrator: 'admin',
	siteAdministrator: 'admin',
	systemAdministrator: 'admin',
	principal: 'admin',
	parent: 'parent',
	guardian: 'guardian',
	relative: 'relative',
};

/** Grade levels (CEDS vocabulary used by OneRoster 1.1 and 1.2). */
export const GRADE_LEVELS = [
	'IT',
	'PR',
	'PK',
	'TK',
	'KG',
	'01',
	'02',
	'03',
	'04',
	'05',
	'06',
	'07',
	'08',
	'09',
	'10',
	'11',
	'12',
	'13',
	'PS',
	'UG',
	'Other',
] as const;

export interface CanonicalOrg {
	sourcedId: string;
	name: string;
	type: string;
	identifier: string | null;
	parentId: string | null;
}

export interface CanonicalTerm {
	sourcedId: string;
	title: string;
	type: string;
	startDate: string | null;
	endDate: string | null;
	parentId: string | null;
	schoolYear: string | null;
}

export interface CanonicalCourse {
	sourcedId: string;
	title: string;
	courseCode: string | null;
	grades: string[];
	subjects: string[];
	orgId: string | null;
}

export interface CanonicalClass {
	sourcedId: string;
	title: string;
	classCode: string | null;
	classType: string | null;
	courseId: string | null;
	schoolId: string;
	termIds: string[];
	grades: string[];
	subjects: string[];
	periods: string | null;
}

export interface CanonicalPerson {
	sourcedId: string;
	role: PersonRole;
	/** The role word the SIS used (e.g. `aide`, `principal`). */
	sisRole: string;
	givenName: string;
	familyName: string;
	middleName: string | null;
	preferredGivenName: string | null;
	preferredFamilyName: string | null;
	email: string | null;
	username: string | null;
	/** The SIS's own identifier (OneRoster `identifier`): student number for students, staff id otherwise. */
	sisId: string | null;
	grade: string | null;
	schoolIds: string[];
	primarySchoolId: string | null;
	enabled: boolean;
	phone: string | null;
	sms: string | null;
	primaryContactId: string | null;
}

export interface CanonicalContact {
	sourcedId: string;
	relationship: ContactRelationship;
	givenName: string;
	familyName: string;
	email: string | null;
	phone: string | null;
	sms: string | null;
}

export interface CanonicalEnrollment {
	sourcedId: string;
	classId: string;
	personId: string;
	/** Canonical role of the enrolled person in the class: student, teacher, staff, admin. */
	role: PersonRole;
	primary: boolean;
	beginDate: string | null;
	endDate: string | null;
}
