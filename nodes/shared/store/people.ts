/**
 * The people table (Minga's People): rows as the store holds them, and the set-based writes
 * Reconcile Users makes. Reading is one full load; writing is batched, so a 100k-student
 * district costs a few statements, not one per person.
 */
import type { SqlDb, SqlValue } from './sql';
import { insertEach } from './sql';

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

/** How many ids go into one `IN (…)` list. */
const ID_CHUNK = 1000;

export function emailKey(email: string | null | undefined): string | null {
	const key = (email ?? '').trim().toLowerCase();
	return key === '' ? null : key;
}

/** Both engines return TEXT columns as strings and INTEGER columns as numbers: rows need no conversion. */
const toPersonRow = (row: Record<string, SqlValue>) => row as unknown as PersonRow;

/** Every person in the store (archived ones too). */
export async function loadPeople(db: SqlDb): Promise<PersonRow[]> {
	const rows = await db.query(`SELECT ${PEOPLE_COLUMNS.join(', ')} FROM people`);
	return rows.map(toPersonRow);
}

function toValues(person: PersonRow): SqlValue[] {
	return PEOPLE_COLUMNS.map((column) => person[column]);
}

export async function insertPeople(db: SqlDb, people: PersonRow[]): Promise<void> {
	await insertEach(db, 'people', PEOPLE_COLUMNS, people, toValues);
}

async function forChunks(ids: string[], work: (chunk: string[]) => Promise<unknown>): Promise<void> {
	for (let start = 0; start < ids.length; start += ID_CHUNK) await work(ids.slice(start, start + ID_CHUNK));
}

const placeholders = (chunk: string[]) => chunk.map(() => '?').join(', ');

/** Writes whole rows over the stored ones (delete + bulk insert: one statement per thousand, on both engines). */
export async function replacePeople(db: SqlDb, people: PersonRow[]): Promise<void> {
	await forChunks(
		people.map((person) => person.id),
		(chunk) => db.execute(`DELETE FROM people WHERE id IN (${placeholders(chunk)})`, chunk),
	);
	await insertPeople(db, people);
}

/** Archives people (never deletes them); they were missing once more. */
export async function archivePeople(db: SqlDb, ids: string[], archivedAt: string): Promise<void> {
	await forChunks(ids, (chunk) =>
		db.execute(
			`UPDATE people SET archived_at = ?, updated_at = ?, missing_runs = missing_runs + 1 WHERE id IN (${placeholders(chunk)})`,
			[archivedAt, archivedAt, ...chunk],
		),
	);
}

/** People the SIS lists again in `runId` after missing runs: no longer missing. */
export async function markPeopleFoundAgain(db: SqlDb, ids: string[], runId: string): Promise<void> {
	await forChunks(ids, (chunk) =>
		db.execute(`UPDATE people SET missing_runs = 0, last_seen_run_id = ? WHERE id IN (${placeholders(chunk)})`, [
			runId,
			...chunk,
		]),
	);
}

/** People the SIS did not list in this run (kept): missing one run more. */
export async function markPeopleMissing(db: SqlDb, ids: string[]): Promise<void> {
	await forChunks(ids, (chunk) =>
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
	const rows = await db.query(
		'SELECT id, sourced_id, archived_at, include_in_sis_sync FROM people WHERE sourced_id IS NOT NULL',
	);
	return rows.map((row) => ({
		id: String(row.id),
		sourcedId: String(row.sourced_id),
		archived: row.archived_at !== null,
		includeInSync: Number(row.include_in_sis_sync) === 1,
	}));
}

/** Deletes people (only a rollback does: people its run created) and their list memberships. */
export async function deletePeople(db: SqlDb, ids: string[]): Promise<void> {
	await forChunks(ids, async (chunk) => {
		await db.execute(`DELETE FROM list_members WHERE person_id IN (${placeholders(chunk)})`, chunk);
		await db.execute(`DELETE FROM people WHERE id IN (${placeholders(chunk)})`, chunk);
	});
}
