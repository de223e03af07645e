/**
 * OneRoster REST JSON (1.1 and 1.2) → staged rows in the OneRoster CSV column vocabulary
 * (spec.ts), so Normalize reads a pull exactly like a CSV export:
 *
 * - references `{ sourcedId }` → the `…SourcedId` column; lists of them → `…SourcedIds` "a,b";
 * - `userIds: [{ type, identifier }]` → `{type:identifier},…`; `grades`, `subjects`, `periods` → "a,b";
 * - 1.2 users: `preferredFirstName` → `preferredGivenName` (etc.), `primaryOrg` → `primaryOrgSourcedId`,
 *   and each entry of `roles` → a `roles` row (userSourcedId, roleType, role, orgSourcedId, …);
 * - booleans → "true"/"false"; passwords are never staged.
 */
import type { OneRosterVersion, StagedEntity } from '../../model/roster';
import { STAGED_FILES } from '../oneroster-csv/spec';
import type { JsonRecord } from './paging';

type Extract = (record: JsonRecord) => string;

const text = (value: unknown): string => {
	if (value === undefined || value === null) return '';
	if (typeof value === 'string') return value;
	if (typeof value === 'number' || typeof value === 'boolean') return String(value);
	return '';
};
const field = (name: string): Extract => (record) => text(record[name]);
const refId = (value: unknown): string => (value && typeof value === 'object' ? text((value as JsonRecord).sourcedId) : text(value));
const ref = (name: string): Extract => (record) => refId(record[name]);
const refs = (name: string): Extract => (record) => {
	const value = record[name];
	return Array.isArray(value) ? value.map(refId).filter(Boolean).join(',') : refId(value);
};
const list = (name: string): Extract => (record) => {
	const value = record[name];
	return Array.isArray(value) ? value.map(text).filter((v) => v !== '').join(',') : text(value);
};
const bool = (name: string): Extract => (record) => {
	const value = record[name];
	if (typeof value === 'boolean') return String(value);
	const word = text(value);
	return /^(true|false)$/i.test(word) ? word.toLowerCase() : word;
};
const never: Extract = () => '';

/** `[{type:'Local', identifier:'863'}]` → `{Local:863}`. */
const userIds: Extract = (record) => {
	const value = record.userIds;
	if (!Array.isArray(value)) return text(value);
	return value
		.map((entry) => (entry && typeof entry === 'object' ? `{${text((entry as JsonRecord).type)}:${text((entry as JsonRecord).identifier)}}` : text(entry)))
		.filter((entry) => entry !== '' && entry !== '{:}')
		.join(',');
};

/** The primary role of a 1.2-style `roles` list (for a 1.1 user row that has no `role`). */
const primaryRole = (record: JsonRecord): JsonRecord | undefined => {
	const roles = Array.isArray(record.roles) ? (record.roles as JsonRecord[]) : [];
	return roles.find((role) => role?.roleType === 'primary') ?? roles[0];
};

const COMMON: Record<string, Extract> = {
	sourcedId: field('sourcedId'),
	status: field('status'),
	dateLastModified: field('dateLastModified'),
};

const EXTRACTORS: Record<StagedEntity, Record<string, Extract>> = {
	orgs: { name: field('name'), type: field('type'), identifier: field('identifier'), parentSourcedId: ref('parent') },
	academicSessions: {
		title: field('title'),
		type: field('type'),
		startDate: field('startDate'),
		endDate: field('endDate'),
		parentSourcedId: ref('parent'),
		schoolYear: field('schoolYear'),
	},
	courses: {
		schoolYearSourcedId: ref('schoolYear'),
		title: field('title'),
		courseCode: field('courseCode'),
		grades: list('grades'),
		orgSourcedId: ref('org'),
		subjects: list('subjects'),
		subjectCodes: list('subjectCodes'),
	},
	classes: {
		title: field('title'),
		grades: list('grades'),
		courseSourcedId: ref('course'),
		classCode: field('classCode'),
		classType: field('classType'),
		location: field('location'),
		schoolSourcedId: ref('school'),
		termSourcedIds: refs('terms'),
		subjects: list('subjects'),
		subjectCodes: list('subjectCodes'),
		periods: list('periods'),
	},
	users: {
		enabledUser: bool('enabledUser'),
		orgSourcedIds: (record) => refs('orgs')(record) || refs('org')(record) || (primaryRole(record) ? refId(primaryRole(record)?.org) : ''),
		role: (record) => text(record.role) || text(primaryRole(record)?.role),
		username: field('username'),
		userIds,
		givenName: field('givenName'),
		familyName: field('familyName'),
		middleName: field('middleName'),
		identifier: field('identifier'),
		email: field('email'),
		sms: field('sms'),
		phone: field('phone'),
		agentSourcedIds: refs('agents'),
		grades: list('grades'),
		password: never,
		userMasterIdentifier: field('userMasterIdentifier'),
		resourceSourcedIds: refs('resources'),
		preferredGivenName: (record) => text(record.preferredFirstName) || text(record.preferredGivenName),
		preferredMiddleName: field('preferredMiddleName'),
		preferredFamilyName: (record) => text(record.preferredLastName) || text(record.preferredFamilyName),
		primaryOrgSourcedId: ref('primaryOrg'),
		pronouns: field('pronouns'),
	},
	roles: {
		userSourcedId: field('userSourcedId'),
		roleType: field('roleType'),
		role: field('role'),
		beginDate: field('beginDate'),
		endDate: field('endDate'),
		orgSourcedId: ref('org'),
		userProfileSourcedId: ref('userProfile'),
	},
	demographics: {
		birthDate: field('birthDate'),
		sex: field('sex'),
		americanIndianOrAlaskaNative: bool('americanIndianOrAlaskaNative'),
		asian: bool('asian'),
		blackOrAfricanAmerican: bool('blackOrAfricanAmerican'),
		nativeHawaiianOrOtherPacificIslander: bool('nativeHawaiianOrOtherPacificIslander'),
		white: bool('white'),
		demographicRaceTwoOrMoreRaces: bool('demographicRaceTwoOrMoreRaces'),
		hispanicOrLatinoEthnicity: bool('hispanicOrLatinoEthnicity'),
		countryOfBirthCode: field('countryOfBirthCode'),
		stateOfBirthAbbreviation: field('stateOfBirthAbbreviation'),
		cityOfBirth: field('cityOfBirth'),
		publicSchoolResidenceStatus: field('publicSchoolResidenceStatus'),
	},
	enrollments: {
		classSourcedId: ref('class'),
		schoolSourcedId: ref('school'),
		userSourcedId: ref('user'),
		role: field('role'),
		primary: bool('primary'),
		beginDate: field('beginDate'),
		endDate: field('endDate'),
	},
};

/** The CSV columns a staged file of `entity` has for `version` (spec order), plus extension columns. */
export function stagedColumns(entity: StagedEntity, version: OneRosterVersion, extensions: string[] = []): string[] {
	const spec = STAGED_FILES[version].find((file) => file.entity === entity);
	if (!spec) throw new Error(`OneRoster ${version} has no ${entity} file`);
	return [...spec.columns.map((column) => column.name), ...extensions];
}

export function fileNameOf(entity: StagedEntity): string {
	return `${entity}.csv`;
}

/**
 * The cells of JSON records under `columns` (extension columns come from `extra`), with each column's
 * extractor looked up once: a pull flattens every record of the district.
 */
export function rowFlattener(entity: StagedEntity, columns: string[], extra: Record<string, string> = {}): (record: JsonRecord) => string[] {
	const extractors = EXTRACTORS[entity];
	const cellOf = columns.map((column): Extract => {
		if (column in extra) {
			const value = extra[column];
			return () => value;
		}
		const extract = COMMON[column] ?? extractors[column];
		return extract ? (record) => extract(record).trim() : never;
	});
	return (record) => {
		const cells = new Array<string>(cellOf.length);
		for (let i = 0; i < cellOf.length; i++) cells[i] = cellOf[i](record);
		return cells;
	};
}

/** The cells of one JSON record under `columns` (extension columns come from `extra`). */
export function flattenRecord(entity: StagedEntity, record: JsonRecord, columns: string[], extra: Record<string, string> = {}): string[] {
	return rowFlattener(entity, columns, extra)(record);
}

/**
 * The `roles` rows of a 1.2 user: one per entry of `roles`. REST roles have no sourcedId of their own,
 * so it is made from the user, role and org (stable from run to run).
 */
export function rolesOf(user: JsonRecord): JsonRecord[] {
	const roles = Array.isArray(user.roles) ? (user.roles as JsonRecord[]) : [];
	const userId = text(user.sourcedId);
	return roles
		.filter((role) => role && typeof role === 'object')
		.map((role) => ({
			...role,
			sourcedId: `${userId}:${text(role.role)}:${refId(role.org)}`,
			userSourcedId: userId,
			status: user.status,
			dateLastModified: user.dateLastModified,
		}));
}

/** The org sourcedIds a user belongs to (1.1 `orgs`, 1.2 `roles[].org` and `primaryOrg`). */
export function userOrgIds(user: JsonRecord): string[] {
	const ids = new Set<string>();
	for (const org of Array.isArray(user.orgs) ? user.orgs : []) if (refId(org)) ids.add(refId(org));
	for (const role of Array.isArray(user.roles) ? (user.roles as JsonRecord[]) : []) if (refId(role?.org)) ids.add(refId(role.org));
	if (refId(user.primaryOrg)) ids.add(refId(user.primaryOrg));
	return [...ids];
}

/** The role words of a user (1.1 `role`, 1.2 `roles[].role`). */
export function userRoles(user: JsonRecord): string[] {
	const roles = Array.isArray(user.roles) ? (user.roles as JsonRecord[]).map((role) => text(role?.role)) : [];
	return [text(user.role), ...roles].filter(Boolean);
}

export { refId, text };
