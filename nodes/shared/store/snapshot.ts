/**
 * Per-run canonical snapshots: what the SIS said at each run, in the canonical model.
 * Normalize writes them; Reconcile, Build Lists, drift checks and "roster as of" read them.
 */
import type {
	CanonicalClass,
	CanonicalContact,
	CanonicalCourse,
	CanonicalEnrollment,
	CanonicalOrg,
	CanonicalPerson,
	CanonicalTerm,
	ContactRelationship,
	PersonRole,
} from '../model/roster';
import type { SqlDb, SqlRow, SqlValue } from './sql';
import { fromJson, nowIso, toBooleanInt, toJson } from './sql';

/** How each canonical entity maps to its snapshot table: columns, to-row and from-row. */
interface SnapshotTable<T> {
	table: string;
	columns: readonly string[];
	toRow(record: T): SqlValue[];
	fromRow(row: SqlRow): T;
	/** The same from the row's values in `columns` order (large reads: no object per row). */
	fromValues(values: SqlValue[]): T;
}

const text = (value: SqlValue): string | null => (value === null ? null : String(value));

export const ORG_TABLE: SnapshotTable<CanonicalOrg> = {
	table: 'snapshot_orgs',
	columns: ['sourced_id', 'name', 'type', 'identifier', 'parent_id'],
	toRow: (o) => [o.sourcedId, o.name, o.type, o.identifier, o.parentId],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		name: String(r.name),
		type: String(r.type),
		identifier: text(r.identifier),
		parentId: text(r.parent_id),
	}),
	fromValues: (v) => ({ sourcedId: String(v[0]), name: String(v[1]), type: String(v[2]), identifier: text(v[3]), parentId: text(v[4]) }),
};

export const TERM_TABLE: SnapshotTable<CanonicalTerm> = {
	table: 'snapshot_terms',
	columns: ['sourced_id', 'title', 'type', 'start_date', 'end_date', 'parent_id', 'school_year'],
	toRow: (t) => [t.sourcedId, t.title, t.type, t.startDate, t.endDate, t.parentId, t.schoolYear],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		title: String(r.title),
		type: String(r.type),
		startDate: text(r.start_date),
		endDate: text(r.end_date),
		parentId: text(r.parent_id),
		schoolYear: text(r.school_year),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		type: String(v[2]),
		startDate: text(v[3]),
		endDate: text(v[4]),
		parentId: text(v[5]),
		schoolYear: text(v[6]),
	}),
};

export const COURSE_TABLE: SnapshotTable<CanonicalCourse> = {
	table: 'snapshot_courses',
	columns: ['sourced_id', 'title', 'course_code', 'grades', 'subjects', 'org_id'],
	toRow: (c) => [c.sourcedId, c.title, c.courseCode, toJson(c.grades), toJson(c.subjects), c.orgId],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		title: String(r.title),
		courseCode: text(r.course_code),
		grades: fromJson(r.grades, []),
		subjects: fromJson(r.subjects, []),
		orgId: text(r.org_id),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		courseCode: text(v[2]),
		grades: fromJson(v[3], []),
		subjects: fromJson(v[4], []),
		orgId: text(v[5]),
	}),
};

export const CLASS_TABLE: SnapshotTable<CanonicalClass> = {
	table: 'snapshot_classes',
	columns: [
		'sourced_id',
		'title',
		'class_code',
		'class_type',
		'course_id',
		'school_id',
		'term_ids',
		'grades',
		'subjects',
		'periods',
	],
	toRow: (c) => [
		c.sourcedId,
		c.title,
		c.classCode,
		c.classType,
		c.courseId,
		c.schoolId,
		toJson(c.termIds),
		toJson(c.grades),
		toJson(c.subjects),
		c.periods,
	],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		title: String(r.title),
		classCode: text(r.class_code),
		classType: text(r.class_type),
		courseId: text(r.course_id),
		schoolId: String(r.school_id),
		termIds: fromJson(r.term_ids, []),
		grades: fromJson(r.grades, []),
		subjects: fromJson(r.subjects, []),
		periods: text(r.periods),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		classCode: text(v[2]),
		classType: text(v[3]),
		courseId: text(v[4]),
		schoolId: String(v[5]),
		termIds: fromJson(v[6], []),
		grades: fromJson(v[7], []),
		subjects: fromJson(v[8], []),
		periods: text(v[9]),
	}),
};

export const PERSON_TABLE: SnapshotTable<CanonicalPerson> = {
	table: 'snapshot_people',
	columns: [
		'sourced_id',
		'role',
		'sis_role',
		'given_name',
		'family_name',
		'middle_name',
		'preferred_given_name',
		'preferred_family_name',
		'email',
		'username',
		'sis_id',
		'grade',
		'school_ids',
		'primary_school_id',
		'enabled',
		'phone',
		'sms',
		'primary_contact_id',
	],
	toRow: (p) => [
		p.sourcedId,
		p.role,
		p.sisRole,
		p.givenName,
		p.familyName,
		p.middleName,
		p.preferredGivenName,
		p.preferredFamilyName,
		p.email,
		p.username,
		p.sisId,
		p.grade,
		toJson(p.schoolIds),
		p.primarySchoolId,
		toBooleanInt(p.enabled),
		p.phone,
		p.sms,
		p.primaryContactId,
	],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		role: String(r.role) as PersonRole,
		sisRole: String(r.sis_role),
		givenName: String(r.given_name),
		familyName: String(r.family_name),
		middleName: text(r.middle_name),
		preferredGivenName: text(r.preferred_given_name),
		preferredFamilyName: text(r.preferred_family_name),
		email: text(r.email),
		username: text(r.username),
		sisId: text(r.sis_id),
		grade: text(r.grade),
		schoolIds: fromJson(r.school_ids, []),
		primarySchoolId: text(r.primary_school_id),
		enabled: Number(r.enabled) === 1,
		phone: text(r.phone),
		sms: text(r.sms),
		primaryContactId: text(r.primary_contact_id),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		role: String(v[1]) as PersonRole,
		sisRole: String(v[2]),
		givenName: String(v[3]),
		familyName: String(v[4]),
		middleName: text(v[5]),
		preferredGivenName: text(v[6]),
		preferredFamilyName: text(v[7]),
		email: text(v[8]),
		username: text(v[9]),
		sisId: text(v[10]),
		grade: text(v[11]),
		schoolIds: fromJson(v[12], []),
		primarySchoolId: text(v[13]),
		enabled: Number(v[14]) === 1,
		phone: text(v[15]),
		sms: text(v[16]),
		primaryContactId: text(v[17]),
	}),
};

export const CONTACT_TABLE: SnapshotTable<CanonicalContact> = {
	table: 'snapshot_contacts',
	columns: ['sourced_id', 'relationship', 'given_name', 'family_name', 'email', 'phone', 'sms'],
	toRow: (c) => [c.sourcedId, c.relationship, c.givenName, c.familyName, c.email, c.phone, c.sms],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		relationship: String(r.relationship) as ContactRelationship,
		givenName: String(r.given_name),
		familyName: String(r.family_name),
		email: text(r.email),
		phone: text(r.phone),
		sms: text(r.sms),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		relationship: String(v[1]) as ContactRelationship,
		givenName: String(v[2]),
		familyName: String(v[3]),
		email: text(v[4]),
		phone: text(v[5]),
		sms: text(v[6]),
	}),
};

export const ENROLLMENT_TABLE: SnapshotTable<CanonicalEnrollment> = {
	table: 'snapshot_enrollments',
	columns: ['sourced_id', 'class_id', 'person_id', 'role', 'is_primary', 'begin_date', 'end_date'],
	toRow: (e) => [e.sourcedId, e.classId, e.personId, e.role, toBooleanInt(e.primary), e.beginDate, e.endDate],
	fromRow: (r) => ({
		sourcedId: String(r.sourced_id),
		classId: String(r.class_id),
		personId: String(r.person_id),
		role: String(r.role) as PersonRole,
		primary: Number(r.is_primary) === 1,
		beginDate: text(r.begin_date),
		endDate: text(r.end_date),
	}),
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		classId: String(v[1]),
		personId: String(v[2]),
		role: String(v[3]) as PersonRole,
		primary: Number(v[4]) === 1,
		beginDate: text(v[5]),
		endDate: text(v[6]),
	}),
};

/** Rows handed to insertMany at once: short-lived, so they die young instead of growing the heap. */
const WRITE_SLICE = 5000;

export async function writeSnapshotRecords<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, records: Iterable<T>): Promise<void> {
	const columns = ['run_id', ...spec.columns];
	let rows: SqlValue[][] = [];
	for (const record of records) {
		const values = spec.toRow(record);
		values.unshift(runId);
		rows.push(values);
		if (rows.length >= WRITE_SLICE) {
			await db.insertMany(spec.table, columns, rows);
			rows = [];
		}
	}
	await db.insertMany(spec.table, columns, rows);
}

export async function readSnapshotRecords<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>): Promise<T[]> {
	const rows = await db.queryArrays(`SELECT ${spec.columns.join(', ')} FROM ${spec.table} WHERE run_id = ? ORDER BY sourced_id`, [runId]);
	return rows.map(spec.fromValues);
}

/** Snapshot rows of a large table in batches, ordered by sourcedId. */
export async function* readSnapshotBatches<T>(
	db: SqlDb,
	runId: string,
	spec: SnapshotTable<T>,
	batchSize = 10_000,
): AsyncGenerator<T[]> {
	let after = '';
	for (;;) {
		const rows = await db.queryArrays(
			`SELECT ${spec.columns.join(', ')} FROM ${spec.table} WHERE run_id = ? AND sourced_id > ? ORDER BY sourced_id LIMIT ?`,
			[runId, after, batchSize],
		);
		if (rows.length === 0) return;
		yield rows.map(spec.fromValues);
		after = String(rows[rows.length - 1][0]);
		if (rows.length < batchSize) return;
	}
}

export interface SnapshotHeader {
	runId: string;
	createdAt: string;
	schoolIds: string[];
	counts: Record<string, unknown>;
}

/**
 * `fingerprint`: what the snapshot was made from (Normalize's rules, its options and the staged
 * files' content hashes), when that is known; a later run made from the same can copy it.
 */
export async function writeSnapshotHeader(
	db: SqlDb,
	runId: string,
	schoolIds: string[],
	counts: Record<string, unknown>,
	fingerprint: string | null = null,
): Promise<void> {
	await db.execute('INSERT INTO snapshots (run_id, created_at, school_ids, counts, fingerprint) VALUES (?, ?, ?, ?, ?)', [
		runId,
		nowIso(),
		toJson(schoolIds),
		toJson(counts),
		fingerprint,
	]);
}

/** The newest snapshot made from `fingerprint` other than `exceptRunId`'s. */
export async function findSnapshotByFingerprint(db: SqlDb, fingerprint: string, exceptRunId: string): Promise<SnapshotHeader | undefined> {
	const rows = await db.query('SELECT run_id FROM snapshots WHERE fingerprint = ? AND run_id <> ? ORDER BY run_id DESC LIMIT 1', [
		fingerprint,
		exceptRunId,
	]);
	return rows[0] ? readSnapshotHeader(db, String(rows[0].run_id)) : undefined;
}

/**
 * Copies every row of `fromRunId`'s snapshot to `toRunId` inside the database (no row passes through
 * JavaScript); the header is the caller's to write.
 */
export async function copySnapshotRows(db: SqlDb, fromRunId: string, toRunId: string): Promise<void> {
	for (const spec of SNAPSHOT_TABLES) {
		const columns = spec.columns.join(', ');
		await db.execute(`INSERT INTO ${spec.table} (run_id, ${columns}) SELECT ?, ${columns} FROM ${spec.table} WHERE run_id = ? ORDER BY sourced_id`, [
			toRunId,
			fromRunId,
		]);
	}
}

export async function readSnapshotHeader(db: SqlDb, runId: string): Promise<SnapshotHeader | undefined> {
	const rows = await db.query('SELECT * FROM snapshots WHERE run_id = ?', [runId]);
	if (!rows[0]) return undefined;
	return {
		runId,
		createdAt: String(rows[0].created_at),
		schoolIds: fromJson(rows[0].school_ids, []),
		counts: fromJson(rows[0].counts, {}),
	};
}

export const SNAPSHOT_TABLES = [ORG_TABLE, TERM_TABLE, COURSE_TABLE, CLASS_TABLE, PERSON_TABLE, CONTACT_TABLE, ENROLLMENT_TABLE] as const;

export async function deleteSnapshot(db: SqlDb, runId: string): Promise<void> {
	for (const spec of SNAPSHOT_TABLES) await db.execute(`DELETE FROM ${spec.table} WHERE run_id = ?`, [runId]);
	await db.execute('DELETE FROM snapshots WHERE run_id = ?', [runId]);
}

/** The newest run that has a snapshot (run ids sort by time), for pickers such as "terms to sync". */
export async function latestSnapshotRunId(db: SqlDb): Promise<string | undefined> {
	const rows = await db.query('SELECT run_id FROM snapshots ORDER BY run_id DESC LIMIT 1');
	return rows[0] ? String(rows[0].run_id) : undefined;
}

/**
 * PostgreSQL plans the batched reads above well only with statistics, and a snapshot written a
 * moment ago has none yet (autovacuum has not analyzed it): without them each batch is sorted
 * on disk instead of read in index order (~10× slower). SQLite reads in index order anyway.
 */
export async function refreshSnapshotStatistics(db: SqlDb, specs: ReadonlyArray<{ table: string }>): Promise<void> {
	if (db.engine !== 'postgres') return;
	for (const spec of specs) await db.execute(`ANALYZE ${spec.table}`);
}
