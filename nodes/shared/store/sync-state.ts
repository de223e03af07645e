/**
 * Whether a group of tables (the people; the lists and their members) is as a sync run left it
 * (migration 10). The step that writes them names its run in `sync_state` after applying a whole
 * plan; any other write to those tables (an operator's edit, a rollback, another tool) clears it, by
 * triggers. A step whose tables are as the run before left them may then plan from what changed
 * since that run instead of comparing the whole district with them (reconcile/apply.ts, lists/apply.ts).
 */
import type { SqlDb } from './sql';

export type SyncStateName = 'people' | 'lists';

/** The tables whose writes clear each state. */
export const SYNC_STATE_TABLES: ReadonlyArray<{ table: string; name: SyncStateName }> = [
	{ table: 'people', name: 'people' },
	{ table: 'user_lists', name: 'lists' },
	{ table: 'list_members', name: 'lists' },
];

/** SQLite's triggers for one table (row triggers only: each looks at the state before it writes it). */
export function sqliteWriteTriggers(table: string, name: SyncStateName): string {
	return ['INSERT', 'UPDATE', 'DELETE']
		.map(
			(event) => `CREATE TRIGGER ${table}_written_${event.toLowerCase()} AFTER ${event} ON ${table}
WHEN (SELECT as_left_by_run_id FROM sync_state WHERE name = '${name}') IS NOT NULL
BEGIN UPDATE sync_state SET as_left_by_run_id = NULL WHERE name = '${name}'; END;`,
		)
		.join('\n');
}

/** The run that left the tables as they are; null: unknown (written since by something else). */
export async function asLeftBy(db: SqlDb, name: SyncStateName): Promise<string | null> {
	return readAsLeftBy(db, name, false);
}

async function readAsLeftBy(db: SqlDb, name: SyncStateName, forUpdate: boolean): Promise<string | null> {
	const [row] = await db.queryArrays(`SELECT as_left_by_run_id FROM sync_state WHERE name = ?${forUpdate ? ' FOR UPDATE' : ''}`, [name]);
	return row && row[0] !== null ? String(row[0]) : null;
}

/** Names the run that left the tables as they are (after its own writes, in the same transaction), or null. */
export async function setAsLeftBy(db: SqlDb, name: SyncStateName, runId: string | null): Promise<void> {
	await db.execute('UPDATE sync_state SET as_left_by_run_id = ? WHERE name = ?', [runId, name]);
}

/**
 * Reads the state for the caller's transaction and holds it: on PostgreSQL the row is locked, so a
 * concurrent write to the tables waits in its trigger until the transaction ends and then clears what
 * the step names at its end. SQLite's transactions hold the write lock from their start.
 */
export async function holdAsLeftBy(db: SqlDb, name: SyncStateName): Promise<string | null> {
	return readAsLeftBy(db, name, db.engine === 'postgres');
}

/**
 * Runs a sync step's own writes to `table` without its SQLite triggers, which cost ~1 µs a row (0.1 s for
 * a first night's 108,000 people, ~0.8 s for its 800,000 list members): they are dropped and made again
 * inside the caller's transaction, which holds SQLite's write lock, so no other write can come between.
 * The step then names its run, or null, itself. PostgreSQL's triggers run once per statement: kept.
 */
export async function withoutWriteTriggers<T>(tx: SqlDb, table: string, work: () => Promise<T>): Promise<T> {
	if (tx.engine !== 'sqlite') return work();
	const triggers = await tx.queryArrays("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name LIKE ?", [table, `${table}_written_%`]);
	for (const [name] of triggers) await tx.execute(`DROP TRIGGER ${String(name)}`);
	const result = await work();
	for (const [, sql] of triggers) await tx.execute(String(sql));
	return result;
}
