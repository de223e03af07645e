/**
 * Run changes: every create/update/archive a run made (or, in a dry run, would make), with the
 * values before and after, for preview, the report, approval and rollback.
 *
 * One row per change. `applied` says whether the store was changed: dry-run plans and rows that
 * only inform (skipped, ambiguous, kept) are never applied.
 */
import type { SqlDb, SqlValue } from './sql';
import { forIdChunks, fromJson, insertEach, placeholders, refreshStatistics, toBooleanInt, toJson } from './sql';

export type ChangeEntity = 'person' | 'list' | 'list_member';

export interface RunChange {
	entity: ChangeEntity;
	/** Store id of the changed record (people.id, user_lists.id); '' when there is none (an ambiguous SIS record). */
	entityId: string;
	action: string;
	/** Person changes: the person's role. List member changes: the membership (member, manager). */
	role: string | null;
	/** What an operator reads: a person's name, a list's title. */
	label: string | null;
	/** The SIS sourcedId the change came from, when there is one. */
	sourcedId: string | null;
	/** Why a row was skipped, kept or is ambiguous. */
	reason: string | null;
	/** Names of the changed fields (store columns). */
	fields: string[] | null;
	/** Values before and after (only the changed fields); list member rows hold the people added or removed. */
	before: Record<string, unknown> | null;
	after: Record<string, unknown> | null;
	applied: boolean;
}

export interface StoredChange extends RunChange {
	seq: number;
}

const COLUMNS = [
	'run_id',
	'seq',
	'entity',
	'entity_id',
	'action',
	'role',
	'label',
	'sourced_id',
	'reason',
	'fields',
	'before_values',
	'after_values',
	'applied',
] as const;

/** Appends changes to the run, numbered after the ones already there. */
export async function addChanges(db: SqlDb, runId: string, changes: RunChange[]): Promise<void> {
	if (changes.length === 0) return;
	const first = (await lastChangeSeq(db, runId)) + 1;
	// Consecutive changes often share one list of field names (a first night's creates): written once as JSON.
	let lastFields: string[] | null = null;
	let lastFieldsJson: string | null = null;
	const fieldsJson = (fields: string[] | null) => {
		if (fields !== lastFields) {
			lastFields = fields;
			lastFieldsJson = fields ? toJson(fields) : null;
		}
		return lastFieldsJson;
	};
	await insertEach(db, 'run_changes', COLUMNS, changes, (change, i) => [
		runId,
		first + i,
		change.entity,
		change.entityId,
		change.action,
		change.role,
		change.label,
		change.sourcedId,
		change.reason,
		fieldsJson(change.fields),
		change.before ? toJson(change.before) : null,
		change.after ? toJson(change.after) : null,
		toBooleanInt(change.applied),
	]);
}

/** Removes a run's changes of the given entities (a stage that runs again replaces its earlier dry-run plan). */
export async function deleteChanges(db: SqlDb, runId: string, entities: ChangeEntity[]): Promise<number> {
	return db.execute(
		`DELETE FROM run_changes WHERE run_id = ? AND entity IN (${placeholders(entities)})`,
		[runId, ...entities],
	);
}

export interface ChangeFilter {
	entities?: ChangeEntity[];
	actions?: string[];
	limit?: number;
	/**
	 * false: leave `before` and `after` out (null), for listings that show no values (the report's CSV):
	 * a district's first night has ~150k changes whose values are ~100 MB of JSON.
	 */
	withValues?: boolean;
	/** Only changes after this seq (to page through a run's changes with `limit`). */
	afterSeq?: number;
}

function where(runId: string, filter: ChangeFilter): { sql: string; params: SqlValue[] } {
	const clauses = ['run_id = ?'];
	const params: SqlValue[] = [runId];
	if (filter.entities?.length) {
		clauses.push(`entity IN (${placeholders(filter.entities)})`);
		params.push(...filter.entities);
	}
	if (filter.actions?.length) {
		clauses.push(`action IN (${placeholders(filter.actions)})`);
		params.push(...filter.actions);
	}
	if (filter.afterSeq !== undefined) {
		clauses.push('seq > ?');
		params.push(filter.afterSeq);
	}
	return { sql: clauses.join(' AND '), params };
}

/**
 * Person actions that leave the person as they were (skipped, ambiguous, kept, pending an archive, relinked): the
 * next night's plan from changes must look at their records again (reconcile/apply.ts). The condition is written out
 * once, as migration 16's partial index has it, for the query to be answered from that index.
 */
export const UNSETTLED_PERSON_ACTIONS = ['skip', 'ambiguous', 'keep', 'pending', 'relink'] as const;
export const UNSETTLED_PERSON_CHANGES = `entity = 'person' AND action IN (${UNSETTLED_PERSON_ACTIONS.map((action) => `'${action}'`).join(', ')})`;

/**
 * A run's unsettled person changes (UNSETTLED_PERSON_CHANGES), without their values, in the order they were
 * recorded: through the partial index of them, not a read of all the run's changes (a first night's ~180,000 at
 * 100,000 students, with ~100 MB of values: 40-60 ms for none found).
 */
export async function listUnsettledPersonChanges(db: SqlDb, runId: string): Promise<StoredChange[]> {
	const rows = await db.queryArrays(
		`SELECT seq, entity, entity_id, action, role, label, sourced_id, reason, fields, NULL, NULL, applied FROM run_changes WHERE run_id = ? AND ${UNSETTLED_PERSON_CHANGES} ORDER BY seq`,
		[runId],
	);
	return rows.map(arrayToStoredChange);
}

/** A run's changes in the order they were recorded. */
export async function listChanges(db: SqlDb, runId: string, filter: ChangeFilter = {}): Promise<StoredChange[]> {
	const { sql, params } = where(runId, filter);
	// Read as arrays: no row object per change (node:sqlite's are slow hash-table objects).
	const values = filter.withValues === false ? 'NULL, NULL' : 'before_values, after_values';
	const rows = await db.queryArrays(
		`SELECT seq, entity, entity_id, action, role, label, sourced_id, reason, fields, ${values}, applied FROM run_changes WHERE ${sql} ORDER BY seq LIMIT ?`,
		[...params, filter.limit ?? 10_000_000],
	);
	return rows.map(arrayToStoredChange);
}

function arrayToStoredChange(row: SqlValue[]): StoredChange {
	return {
		seq: Number(row[0]),
		entity: row[1] as ChangeEntity,
		entityId: String(row[2]),
		action: String(row[3]),
		role: row[4] === null ? null : String(row[4]),
		label: row[5] === null ? null : String(row[5]),
		sourcedId: row[6] === null ? null : String(row[6]),
		reason: row[7] === null ? null : String(row[7]),
		fields: fromJson<string[] | null>(row[8], null),
		before: fromJson<Record<string, unknown> | null>(row[9], null),
		after: fromJson<Record<string, unknown> | null>(row[10], null),
		applied: Number(row[11]) === 1,
	};
}

/** What the report's CSV shows of a change: no values. */
export interface ChangeLine {
	seq: number;
	entity: string;
	action: string;
	role: string | null;
	sourcedId: string | null;
	label: string | null;
	/** JSON list of the changed fields' names, as stored. */
	fieldsJson: string | null;
	reason: string | null;
}

/** The seq of the run's last change (0: none). A run's changes are numbered 1, 2, … (addChanges): it is also how many there are. */
async function lastChangeSeq(db: SqlDb, runId: string): Promise<number> {
	const rows = await db.queryArrays('SELECT COALESCE(MAX(seq), 0) FROM run_changes WHERE run_id = ?', [runId]);
	return Number(rows[0][0]);
}

/**
 * A run's changes in the order they were recorded, without values, `pageSize` at a time: for the
 * report's CSV, which has a line per change (~150k on a district's first night).
 *
 * A run with more changes than a page gets statistics first (refreshStatistics; PostgreSQL), sampling only the
 * columns the pages are found by: the values' JSON (~100 MB on a first night) is not read (ANALYZE of the whole
 * table: ~0.3 s). A page or less needs none: its rows are read and sorted at once (a 100,000-student delta
 * night's report: no ANALYZE, ~80 ms less on PostgreSQL).
 */
export async function* changeLinePages(db: SqlDb, runId: string, pageSize: number): AsyncGenerator<ChangeLine[]> {
	if ((await lastChangeSeq(db, runId)) > pageSize) await refreshStatistics(db, ['run_changes (run_id, seq)']);
	for (let afterSeq = 0; ; ) {
		const rows = await db.queryArrays(
			'SELECT seq, entity, action, role, sourced_id, label, fields, reason FROM run_changes WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
			[runId, afterSeq, pageSize],
		);
		if (rows.length === 0) return;
		const lines = new Array<ChangeLine>(rows.length);
		for (let i = 0; i < rows.length; i++) {
			const row = rows[i];
			lines[i] = {
				seq: Number(row[0]),
				entity: String(row[1]),
				action: String(row[2]),
				role: row[3] as string | null,
				sourcedId: row[4] as string | null,
				label: row[5] as string | null,
				fieldsJson: row[6] as string | null,
				reason: row[7] as string | null,
			};
		}
		yield lines;
		if (rows.length < pageSize) return;
		afterSeq = lines[lines.length - 1].seq;
	}
}

function toStoredChange(row: Record<string, SqlValue>): StoredChange {
	return {
		seq: Number(row.seq),
		entity: row.entity as ChangeEntity,
		entityId: String(row.entity_id),
		action: String(row.action),
		role: row.role === null ? null : String(row.role),
		label: row.label === null ? null : String(row.label),
		sourcedId: row.sourced_id === null ? null : String(row.sourced_id),
		reason: row.reason === null ? null : String(row.reason),
		fields: fromJson<string[] | null>(row.fields, null),
		before: fromJson<Record<string, unknown> | null>(row.before_values, null),
		after: fromJson<Record<string, unknown> | null>(row.after_values, null),
		applied: Number(row.applied) === 1,
	};
}

/** Applied changes to one record (a list, a person) made by runs started after `after` (ISO time), newest first. */
export async function changesSince(db: SqlDb, entity: ChangeEntity, entityId: string, after: string): Promise<Array<StoredChange & { runId: string }>> {
	const rows = await db.query(
		`SELECT c.run_id, ${COLUMNS.slice(1).map((column) => `c.${column}`).join(', ')} FROM run_changes c JOIN sync_runs r ON r.id = c.run_id WHERE c.entity = ? AND c.entity_id = ? AND c.applied = 1 AND r.started_at > ? ORDER BY c.run_id DESC, c.seq DESC`,
		[entity, entityId, after],
	);
	return rows.map((row) => ({ ...toStoredChange(row), runId: String(row.run_id) }));
}

export async function countChanges(db: SqlDb, runId: string, filter: ChangeFilter = {}): Promise<number> {
	const { sql, params } = where(runId, filter);
	const rows = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM run_changes WHERE ${sql}`, params);
	return Number(rows[0].n);
}

/** Marks some of a run's changes as applied (held archives applied on approval), with the values they applied when given. */
export async function markChangesApplied(db: SqlDb, runId: string, seqs: number[], after: Record<string, unknown> | null = null): Promise<void> {
	await forIdChunks(seqs, (chunk) =>
		db.execute(`UPDATE run_changes SET applied = 1, after_values = COALESCE(?, after_values) WHERE run_id = ? AND seq IN (${placeholders(chunk)})`, [
			after ? toJson(after) : null,
			runId,
			...chunk,
		]),
	);
}
