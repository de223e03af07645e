/**
 * The people table (Minga's People): rows as the store holds them, and the set-based writes
 * Reconcile Users makes. Reading is one full load (Reconcile Users holds it packed outside the
 * heap: PackedPeople); writing is batched, so a 100k-student district costs a few statements, not
 * one per person.
 */
import { OffHeapStrings } from './off-heap-strings';
import type { SqlDb, SqlValue } from './sql';
import { forIdChunks, insertEach, jsonList, jsonListByIndex, placeholders } from './sql';

/** One row of `people`, column for column. */
export interface PersonRow {
	id: string;
	role: string;
	given_name: string;
	family_name: string;
	middle_name: string | null;
	preferred_name: string | null;
	email: string | null;
	/** lower(trim(email)), for matching by email. */
	email_key: string | null;
	username: string | null;
	student_number: string | null;
	sis_id: string | null;
	sourced_id: string | null;
	grade: string | null;
	school_id: string | null;
	/** JSON list of school sourcedIds. */
	school_ids: string | null;
	phone: string | null;
	parent_name: string | null;
	parent_email: string | null;
	parent_phone: string | null;
	include_in_sis_sync: number;
	/** 'sis' (created by a sync) or 'manual' (created by hand). */
	source: string;
	archived_at: string | null;
	missing_runs: number;
	last_seen_run_id: string | null;
	created_at: string;
	updated_at: string;
}

export const PEOPLE_COLUMNS = [
	'id',
	'role',
	'given_name',
	'family_name',
	'middle_name',
	'preferred_name',
	'email',
	'email_key',
	'username',
	'student_number',
	'sis_id',
	'sourced_id',
	'grade',
	'school_id',
	'school_ids',
	'phone',
	'parent_name',
	'parent_email',
	'parent_phone',
	'include_in_sis_sync',
	'source',
	'archived_at',
	'missing_runs',
	'last_seen_run_id',
	'created_at',
	'updated_at',
] as const satisfies ReadonlyArray<keyof PersonRow>;

export function emailKey(email: string | null | undefined): string | null {
	const key = (email ?? '').trim().toLowerCase();
	return key === '' ? null : key;
}

/**
 * One string for each value a column repeats across many rows (a role, a grade, a school, a run id, a
 * timestamp of a run): the engines return a new string per row, and at 100k people these nine
 * columns are about a third of the table's memory (~40 MB).
 */
class SharedStrings {
	private readonly strings = new Map<string, string>();

	of(value: SqlValue): string | null {
		if (value === null) return null;
		const text = value as string;
		const shared = this.strings.get(text);
		if (shared !== undefined) return shared;
		this.strings.set(text, text);
		return text;
	}
}

/**
 * A row read as an array (PEOPLE_COLUMNS order) as a PersonRow. Both engines return TEXT columns as
 * strings and INTEGER columns as numbers. Read as arrays and built here, with one object literal, every
 * row shares one compact object shape; node:sqlite's row objects have no prototype, which V8 keeps as
 * hash tables: at 100k people about three times the memory, and slower to read and to collect.
 */
function toPersonRow(row: SqlValue[], shared: SharedStrings): PersonRow {
	const email = row[6] as string | null;
	return {
		id: row[0] as string,
		role: shared.of(row[1])!,
		given_name: row[2] as string,
		family_name: row[3] as string,
		middle_name: row[4] as string | null,
		preferred_name: row[5] as string | null,
		email,
		// Mostly the email as given (already lower case): the same string, not a second one.
		email_key: row[7] === email ? email : (row[7] as string | null),
		username: row[8] as string | null,
		student_number: row[9] as string | null,
		sis_id: row[10] as string | null,
		sourced_id: row[11] as string | null,
		grade: shared.of(row[12]),
		school_id: shared.of(row[13]),
		school_ids: shared.of(row[14]),
		phone: row[15] as string | null,
		parent_name: row[16] as string | null,
		parent_email: row[17] as string | null,
		parent_phone: row[18] as string | null,
		include_in_sis_sync: row[19] as number,
		source: shared.of(row[20])!,
		archived_at: shared.of(row[21]),
		missing_runs: row[22] as number,
		last_seen_run_id: shared.of(row[23]),
		created_at: shared.of(row[24])!,
		updated_at: shared.of(row[25])!,
	};
}

/** Rows of `people` read at once on SQLite. */
const LOAD_PAGE = 5000;

/**
 * Hands every person in the store (archived ones too) to `visit` as values in PEOPLE_COLUMNS order,
 * in the table's own order (the order a full scan returns: matching lists candidates in it). SQLite
 * reads a page at a time in rowid order, the same order, so the rows as arrays never all live next to
 * what is made of them (at 100k people the arrays of one query were ~100 MB more at the peak of
 * Reconcile Users). PostgreSQL has no stable row order to page by: one query, each array let go once
 * visited.
 */
async function readPeopleValues(db: SqlDb, visit: (values: SqlValue[]) => void): Promise<void> {
	if (db.engine !== 'sqlite') {
		const rows: Array<SqlValue[] | undefined> = await db.queryArrays(`SELECT ${PEOPLE_COLUMNS.join(', ')} FROM people`);
		for (let i = 0; i < rows.length; i++) {
			visit(rows[i]!);
			rows[i] = undefined;
		}
		return;
	}
	for (let after = 0; ; ) {
		const rows = await db.queryArrays(`SELECT ${PEOPLE_COLUMNS.join(', ')}, rowid FROM people WHERE rowid > ? ORDER BY rowid LIMIT ?`, [after, LOAD_PAGE]);
		if (rows.length > 0) after = rows[rows.length - 1][PEOPLE_COLUMNS.length] as number;
		for (const row of rows) {
			row.length = PEOPLE_COLUMNS.length;
			visit(row);
		}
		if (rows.length < LOAD_PAGE) return;
	}
}

/** Every person in the store (archived ones too), in the table's own order. */
export async function loadPeople(db: SqlDb): Promise<PersonRow[]> {
	const shared = new SharedStrings();
	const people: PersonRow[] = [];
	await readPeopleValues(db, (values) => people.push(toPersonRow(values, shared)));
	return people;
}

/** The people table read person by person: person 0, 1, … size - 1 in the table's order. */
export interface PeopleTable {
	readonly size: number;
	row(person: number): PersonRow;
	/** The person's sourced_id, without reading their row (matching looks every person up by it). */
	sourcedIdOf(person: number): string | null;
}

const SOURCED_ID = PEOPLE_COLUMNS.indexOf('sourced_id');

/**
 * The people table held outside the V8 heap: each row packed as the JSON of its values
 * (OffHeapStrings), unpacked when `row` is asked for it. A district's table as PersonRow objects is
 * ~120 MB of heap at 100k people, live for all of Reconcile Users, and V8 lets the process grow by up
 * to four times what is live before it collects again.
 */
export class PackedPeople implements PeopleTable {
	private readonly packed = new OffHeapStrings();
	private readonly shared = new SharedStrings();
	/** Kept on the heap as well (a few MB): every person is looked up by it each night. */
	private readonly sourcedIds: Array<string | null> = [];

	get size(): number {
		return this.packed.size;
	}

	/** Holds one person: their values in PEOPLE_COLUMNS order. */
	add(values: SqlValue[]): void {
		this.packed.add(JSON.stringify(values));
		this.sourcedIds.push(values[SOURCED_ID] as string | null);
	}

	row(person: number): PersonRow {
		return toPersonRow(JSON.parse(this.packed.get(person)) as SqlValue[], this.shared);
	}

	sourcedIdOf(person: number): string | null {
		return this.sourcedIds[person];
	}
}

/** Every person in the store (archived ones too), in the table's own order, packed. */
export async function loadPackedPeople(db: SqlDb): Promise<PackedPeople> {
	const people = new PackedPeople();
	await readPeopleValues(db, (values) => people.add(values));
	return people;
}

/** What to load of the people table: everybody with one of these ids, sourcedIds, SIS ids or student numbers, or email keys. */
export interface PeopleWanted {
	ids: Iterable<string>;
	sourcedIds: Iterable<string>;
	/** Matched against both sis_id and student_number. */
	sisIds: Iterable<string>;
	emailKeys: Iterable<string>;
}

/**
 * The people `wanted` names, in the table's own order (as loadPackedPeople reads them: SQLite's rowid
 * order, PostgreSQL's physical order), packed: one scan of the table with the values as JSON lists.
 */
export async function loadPackedPeopleWhere(db: SqlDb, wanted: PeopleWanted): Promise<PackedPeople> {
	const list = jsonList(db);
	const sisIds = JSON.stringify([...wanted.sisIds]);
	// SIS ids and email keys have no index (migration 6): each row is tested against their lists. On SQLite the ids and
	// sourcedIds are looked up through their keys instead of tested too (one scan testing three lists, not five: ~75
	// against ~110 ms among 108,000 people for 1,600 records).
	const where =
		db.engine === 'sqlite'
			? `rowid IN (SELECT rowid FROM people WHERE id IN ${list} UNION ALL SELECT rowid FROM people WHERE sourced_id IN ${list}
			   UNION ALL SELECT rowid FROM people WHERE sis_id IN ${list} OR student_number IN ${list} OR email_key IN ${list})`
			: `id IN ${list} OR sourced_id IN ${list} OR sis_id IN ${list} OR student_number IN ${list} OR email_key IN ${list}`;
	const rows = await db.queryArrays(
		`SELECT ${PEOPLE_COLUMNS.join(', ')} FROM people WHERE ${where} ORDER BY ${db.engine === 'sqlite' ? 'rowid' : 'ctid'}`,
		[JSON.stringify([...wanted.ids]), JSON.stringify([...wanted.sourcedIds]), sisIds, sisIds, JSON.stringify([...wanted.emailKeys])],
	);
	const people = new PackedPeople();
	for (const values of rows) people.add(values);
	return people;
}

/** How many people of each role the sync manages now (active, included in SIS sync). */
export async function countManagedPeople(db: SqlDb): Promise<Map<string, number>> {
	const rows = await db.queryArrays('SELECT role, COUNT(*) FROM people WHERE archived_at IS NULL AND include_in_sis_sync = 1 GROUP BY role');
	return new Map(rows.map(([role, count]) => [String(role), Number(count)]));
}

function toValues(person: PersonRow): SqlValue[] {
	return PEOPLE_COLUMNS.map((column) => person[column]);
}

export async function insertPeople(db: SqlDb, people: PersonRow[]): Promise<void> {
	await insertEach(db, 'people', PEOPLE_COLUMNS, people, toValues);
}

/** Writes whole rows over the stored ones (delete + bulk insert: one statement per thousand, on both engines). */
export async function replacePeople(db: SqlDb, people: PersonRow[]): Promise<void> {
	await forIdChunks(
		people.map((person) => person.id),
		(chunk) => db.execute(`DELETE FROM people WHERE id IN (${placeholders(chunk)})`, chunk),
	);
	await insertPeople(db, people);
}

/** Archives people (never deletes them); they were missing once more. */
export async function archivePeople(db: SqlDb, ids: string[], archivedAt: string): Promise<void> {
	await forIdChunks(ids, (chunk) =>
		db.execute(
			`UPDATE people SET archived_at = ?, updated_at = ?, missing_runs = missing_runs + 1 WHERE id IN (${placeholders(chunk)})`,
			[archivedAt, archivedAt, ...chunk],
		),
	);
}

/** People the SIS lists again in `runId` after missing runs: no longer missing. */
export async function markPeopleFoundAgain(db: SqlDb, ids: string[], runId: string): Promise<void> {
	await forIdChunks(ids, (chunk) =>
		db.execute(`UPDATE people SET missing_runs = 0, last_seen_run_id = ? WHERE id IN (${placeholders(chunk)})`, [
			runId,
			...chunk,
		]),
	);
}

/** People the SIS did not list in this run (kept): missing one run more. */
export async function markPeopleMissing(db: SqlDb, ids: string[]): Promise<void> {
	await forIdChunks(ids, (chunk) =>
		db.execute(`UPDATE people SET missing_runs = missing_runs + 1 WHERE id IN (${placeholders(chunk)})`, chunk),
	);
}

/** Who takes part in lists: active people the sync may touch, by the SIS sourcedId they are linked to. */
export interface PersonLink {
	id: string;
	sourcedId: string;
	archived: boolean;
	includeInSync: boolean;
}

export async function loadPersonLinks(db: SqlDb): Promise<PersonLink[]> {
	// Read as arrays: a row object per person allocates ~3× the memory (52 against 18 MB at 108,000 people).
	const rows = await db.queryArrays('SELECT id, sourced_id, archived_at, include_in_sis_sync FROM people WHERE sourced_id IS NOT NULL');
	return rows.map(toPersonLink);
}

function toPersonLink([id, sourcedId, archivedAt, includeInSync]: SqlValue[]): PersonLink {
	return { id: String(id), sourcedId: String(sourcedId), archived: archivedAt !== null, includeInSync: Number(includeInSync) === 1 };
}

/** The links of the people with these sourcedIds, and of everybody sharing a sourcedId with a person of these ids (Build Lists from changes). */
export async function loadPersonLinksOf(db: SqlDb, sourcedIds: Iterable<string>, ids: Iterable<string>): Promise<PersonLink[]> {
	const list = jsonList(db);
	const rows = await db.queryArrays(
		`SELECT id, sourced_id, archived_at, include_in_sis_sync FROM people WHERE sourced_id IN ${list} OR sourced_id IN (SELECT sourced_id FROM people WHERE id IN ${list})`,
		[JSON.stringify([...sourcedIds]), JSON.stringify([...ids])],
	);
	return rows.filter(([, sourcedId]) => sourcedId !== null).map(toPersonLink);
}

/** Deletes people (only a rollback does: people its run created) and their list memberships. */
export async function deletePeople(db: SqlDb, ids: string[]): Promise<void> {
	if (ids.length === 0) return;
	// One statement: on SQLite, list_members has no index by person (one scan of the table for all of them).
	await db.execute(`DELETE FROM list_members WHERE ${jsonListByIndex(db, 'person_id')}`, [JSON.stringify(ids)]);
	await forIdChunks(ids, (chunk) => db.execute(`DELETE FROM people WHERE id IN (${placeholders(chunk)})`, chunk));
}
