/**
 * What the OneRoster 1.1 and 1.2 CSV bindings say about the files this node stages:
 * their columns, which are required, and the vocabularies of enumerated values.
 *
 * A required column must be in the header and filled in every row (rows marked
 * `tobedeleted` in a delta file only need their sourcedId).
 */
import { GRADE_LEVELS, ONEROSTER_ROLE_MAP } from '../../model/roster';
import type { OneRosterVersion, StagedEntity } from '../../model/roster';

export const ONEROSTER_VERSIONS: readonly OneRosterVersion[] = ['1.1', '1.2'];

/** An enumerated vocabulary. `extensible`: the spec also allows `ext:`-prefixed words. */
export interface Vocabulary {
	readonly name: string;
	readonly words: readonly string[];
	readonly extensible: boolean;
}

/**
 * How a value must look, besides being non-empty when required:
 * `date` YYYY-MM-DD; `dateTime` ISO 8601; `year` YYYY; `grades` a comma-separated list of grade levels.
 */
export type ValueFormat = Vocabulary | 'date' | 'dateTime' | 'year' | 'grades';

export interface ColumnSpec {
	readonly name: string;
	readonly required: boolean;
	readonly format?: ValueFormat;
}

export interface FileSpec {
	readonly entity: StagedEntity;
	readonly fileName: string;
	readonly columns: readonly ColumnSpec[];
}

type RoleWord = keyof typeof ONEROSTER_ROLE_MAP;

function vocabulary(name: string, words: readonly string[], extensible = false): Vocabulary {
	return { name, words, extensible };
}

export const BOOLEAN = vocabulary('true/false', ['true', 'false']);
export const ORG_TYPE = vocabulary('org type', ['department', 'school', 'district', 'local', 'state', 'national'], true);
export const SESSION_TYPE = vocabulary('academic session type', ['gradingPeriod', 'semester', 'schoolYear', 'term'], true);
export const CLASS_TYPE = vocabulary('class type', ['homeroom', 'scheduled'], true);
export const ROLE_TYPE = vocabulary('role type', ['primary', 'secondary']);
/** Grade levels: the CEDS list both versions use. */
export const GRADE = vocabulary('grade', GRADE_LEVELS);

const USER_ROLES_1_1: readonly RoleWord[] = [
	'administrator',
	'aide',
	'guardian',
	'parent',
	'proctor',
	'relative',
	'student',
	'teacher',
];
const ROLES_1_2: readonly RoleWord[] = [
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
];
const ENROLLMENT_ROLES: readonly RoleWord[] = ['administrator', 'proctor', 'student', 'teacher'];

/** Role of a user: users.csv `role` in 1.1, roles.csv `role` in 1.2. */
export const USER_ROLE: Record<OneRosterVersion, Vocabulary> = {
	'1.1': vocabulary('role', USER_ROLES_1_1),
	'1.2': vocabulary('role', ROLES_1_2),
};
export const ENROLLMENT_ROLE = vocabulary('enrollment role', ENROLLMENT_ROLES);

/** Status of a row in a delta file (bulk files leave it empty). 1.1 still allows the deprecated `inactive`. */
export const STATUS: Record<OneRosterVersion, Vocabulary> = {
	'1.1': vocabulary('status', ['active', 'tobedeleted', 'inactive']),
	'1.2': vocabulary('status', ['active', 'tobedeleted']),
};

export const SOURCED_ID = 'sourcedId';
export const STATUS_COLUMN = 'status';
export const DATE_LAST_MODIFIED = 'dateLastModified';

/** Columns whose names start with these are extensions: kept as they are, never warned about. */
export const EXTENSION_COLUMN_PREFIXES = ['metadata.', 'ext_'];

const required = (name: string, format?: ValueFormat): ColumnSpec => ({ name, required: true, format });
const optional = (name: string, format?: ValueFormat): ColumnSpec => ({ name, required: false, format });

/** users.csv columns both versions have, in this order (1.1 has orgSourcedIds and role before them). */
const USER_COLUMNS: readonly ColumnSpec[] = [
	required('username'),
	optional('userIds'),
	required('givenName'),
	required('familyName'),
	optional('middleName'),
	optional('identifier'),
	optional('email'),
	optional('sms'),
	optional('phone'),
	optional('agentSourcedIds'),
	optional('grades', 'grades'),
	optional('password'),
];

function recordColumns(version: OneRosterVersion): ColumnSpec[] {
	return [required(SOURCED_ID), optional(STATUS_COLUMN, STATUS[version]), optional(DATE_LAST_MODIFIED, 'dateTime')];
}

function fileSpecs(version: OneRosterVersion): FileSpec[] {
	const head = recordColumns(version);
	const is12 = version === '1.2';
	const specs: Array<FileSpec | null> = [
		{
			entity: 'orgs',
			fileName: 'orgs.csv',
			columns: [...head, required('name'), required('type', ORG_TYPE), optional('identifier'), optional('parentSourcedId')],
		},
		{
			entity: 'academicSessions',
			fileName: 'academicSessions.csv',
			columns: [
				...head,
				required('title'),
				required('type', SESSION_TYPE),
				required('startDate', 'date'),
				required('endDate', 'date'),
				optional('parentSourcedId'),
				required('schoolYear', 'year'),
			],
		},
		{
			entity: 'courses',
			fileName: 'courses.csv',
			columns: [
				...head,
				optional('schoolYearSourcedId'),
				required('title'),
				optional('courseCode'),
				optional('grades', 'grades'),
				required('orgSourcedId'),
				optional('subjects'),
				optional('subjectCodes'),
			],
		},
		{
			entity: 'classes',
			fileName: 'classes.csv',
			columns: [
				...head,
				required('title'),
				optional('grades', 'grades'),
				required('courseSourcedId'),
				optional('classCode'),
				required('classType', CLASS_TYPE),
				optional('location'),
				required('schoolSourcedId'),
				required('termSourcedIds'),
				optional('subjects'),
				optional('subjectCodes'),
				optional('periods'),
			],
		},
		{
			entity: 'users',
			fileName: 'users.csv',
			columns: is12
				? [
						...head,
						required('enabledUser', BOOLEAN),
						...USER_COLUMNS,
						optional('userMasterIdentifier'),
						optional('resourceSourcedIds'),
						optional('preferredGivenName'),
						optional('preferredMiddleName'),
						optional('preferredFamilyName'),
						optional('primaryOrgSourcedId'),
						optional('pronouns'),
					]
				: [
						...head,
						required('enabledUser', BOOLEAN),
						required('orgSourcedIds'),
						required('role', USER_ROLE['1.1']),
						...USER_COLUMNS,
					],
		},
		is12
			? {
					entity: 'roles',
					fileName: 'roles.csv',
					columns: [
						...head,
						required('userSourcedId'),
						required('roleType', ROLE_TYPE),
						required('role', USER_ROLE['1.2']),
						optional('beginDate', 'date'),
						optional('endDate', 'date'),
						required('orgSourcedId'),
						optional('userProfileSourcedId'),
					],
				}
			: null,
		{
			entity: 'demographics',
			fileName: 'demographics.csv',
			columns: [
				...head,
				optional('birthDate', 'date'),
				optional('sex'),
				optional('americanIndianOrAlaskaNative'),
				optional('asian'),
				optional('blackOrAfricanAmerican'),
				optional('nativeHawaiianOrOtherPacificIslander'),
				optional('white'),
				optional('demographicRaceTwoOrMoreRaces'),
				optional('hispanicOrLatinoEthnicity'),
				optional('countryOfBirthCode'),
				optional('stateOfBirthAbbreviation'),
				optional('cityOfBirth'),
				optional('publicSchoolResidenceStatus'),
			],
		},
		{
			entity: 'enrollments',
			fileName: 'enrollments.csv',
			columns: [
				...head,
				required('classSourcedId'),
				required('schoolSourcedId'),
				required('userSourcedId'),
				required('role', ENROLLMENT_ROLE),
				optional('primary', BOOLEAN),
				optional('beginDate', 'date'),
				optional('endDate', 'date'),
			],
		},
	];
	return specs.filter((spec): spec is FileSpec => spec !== null);
}

/** The files this node stages, per version, in staging order (orgs first, enrollments last). */
export const STAGED_FILES: Record<OneRosterVersion, readonly FileSpec[]> = {
	'1.1': fileSpecs('1.1'),
	'1.2': fileSpecs('1.2'),
};

/**
 * Files a set must carry (declared bulk or delta in the manifest).
 * users.csv always: this node syncs people. With a bulk users.csv, the set must also carry
 * the files that give users their schools and roles: orgs.csv, and in 1.2 roles.csv
 * (1.2 moved a user's role and org out of users.csv into roles.csv). A delta set may leave
 * them out when they did not change.
 */
export const REQUIRED_FILES: Record<OneRosterVersion, { always: StagedEntity[]; withBulkUsers: StagedEntity[] }> = {
	'1.1': { always: ['users'], withBulkUsers: ['orgs'] },
	'1.2': { always: ['users'], withBulkUsers: ['orgs', 'roles'] },
};

/** OneRoster files this node does not stage (gradebook, resources, profiles): ignored with a warning. */
export const UNSTAGED_ONEROSTER_FILES = [
	'categories.csv',
	'classResources.csv',
	'courseResources.csv',
	'lineItems.csv',
	'resources.csv',
	'results.csv',
	'userProfiles.csv',
	'scoreScales.csv',
	'lineItemLearningObjectiveIds.csv',
	'lineItemScoreScales.csv',
	'resultLearningObjectiveIds.csv',
	'resultScoreScales.csv',
];

export const MANIFEST_FILE = 'manifest.csv';
export const MANIFEST_COLUMNS = ['propertyName', 'value'];

/**
 * Columns that only the OneRoster 1.0 layout has, per file: a set without a manifest whose
 * headers carry these is 1.0, which this node does not read.
 */
export const ONEROSTER_1_0_COLUMNS: Record<string, string[]> = {
	'users.csv': ['userId', 'agents'],
	'classes.csv': ['grade', 'termSourcedId'],
	'courses.csv': ['grade', 'schoolYearId'],
	'demographics.csv': ['userSourcedId'],
};
