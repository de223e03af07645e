/**
 * The one SQL interface both store engines implement. Statements use `?` placeholders;
 * the PostgreSQL engine rewrites them to `$1, $2, …`. Values are strings, numbers or null
 * (booleans are stored as 0/1, timestamps as ISO-8601 UTC text, lists and records as JSON text),
 * so one schema and one set of statements serve both engines.
 */
export type SqlValue = string | number | null;
export type SqlRow = Record<string, SqlValue>;

export type StoreEngine = 'sqlite' | 'postgres';

export interface SqlDb {
	readonly engine: StoreEngine;
	/** Rows of a query. */
	query<T extends SqlRow = SqlRow>(sql: string, params?: SqlValue[]): Promise<T[]>;
	/** Rows of a query as arrays of values in select-list order (no object per row: for large reads). */
	queryArrays(sql: string, params?: SqlValue[]): Promise<SqlValue[][]>;
	/** Runs a statement; returns the number of rows it changed. */
	execute(sql: string, params?: SqlValue[]): Promise<number>;
	/** Runs a script of statements separated by `;` (no parameters). */
	executeScript(sql: string): Promise<void>;
	/** Inserts many rows fast (prepared statement loop on SQLite, multi-row VALUES on PostgreSQL). */
	insertMany(table: string, columns: readonly string[], rows: SqlValue[][], onConflict?: string): Promise<void>;
	/** Runs `work` in one transaction; inside it, `transaction` runs inline. Rolls back on throw. */
	transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T>;
	close(): Promise<void>;
}

export function toBooleanInt(value: boolean): number {
	return value ? 1 : 0;
}

export function nowIso(): string {
	return new Date().toISOString();
}

/** A typed array's bytes as base64 (the store keeps them as text). */
export function base64Of(array: Uint8Array | Uint32Array | Int32Array): string {
	return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

/** The typed array base64Of wrote. */
export function typedArrayOf<T extends Uint8Array | Uint32Array | Int32Array>(text: string, make: new (buffer: ArrayBuffer) => T): T {
	const bytes = Buffer.from(text, 'base64');
	return new make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

export function toJson(value: unknown): string {
	return JSON.stringify(value);
}

export function fromJson<T>(text: SqlValue | undefined, fallback: T): T {
	if (text === null || text === undefined || text === '') return fallback;
	return JSON.parse(String(text)) as T;
}

/** How many ids go into one `IN (…)` list. */
const ID_CHUNK = 1000;

/** Runs `work` on the ids a thousand at a time (one `IN (…)` list each: see placeholders). */
export async function forIdChunks<T extends SqlValue>(ids: readonly T[], work: (chunk: T[]) => Promise<unknown>): Promise<void> {
	for (let start = 0; start < ids.length; start += ID_CHUNK) await work(ids.slice(start, start + ID_CHUNK));
}

/**
 * SQL for a list of texts given as one parameter, a JSON array: `column IN ${jsonList(db)}`, with
 * `JSON.stringify([...values])` as the parameter. Any number of values in one statement (an `IN (…)` list of
 * placeholders takes ~1,000): where the column has no index (list_members' person_id on SQLite), one scan.
 */
export const jsonList = (db: SqlDb): string => (db.engine === 'sqlite' ? '(SELECT value FROM json_each(?))' : '(SELECT json_array_elements_text(?::json))');

/**
 * `column IN ${jsonList(db)}` for a column to be looked up through its index where it has one: on PostgreSQL as
 * an array (`= ANY(ARRAY(…))`). There the planner takes the list's set-returning function for 100 rows and,
 * without statistics on the table (after a first night's fill), an `IN` semi-join for half of it, so it scanned
 * all of list_members rather than use its person index (100,000 students, 2,000 people: 114 ms against 18 ms).
 * Not for a scan that tests a row against long lists (loadPackedPeopleWhere): `= ANY` reads the array row by row.
 */
export const jsonListByIndex = (db: SqlDb, column: string): string =>
	db.engine === 'sqlite' ? `${column} IN ${jsonList(db)}` : `${column} = ANY(ARRAY${jsonList(db)})`;

/** The `?, ?, …` of an `IN (…)` list of these values. */
export const placeholders = (values: readonly unknown[]): string => values.map(() => '?').join(', ');

/**
 * A query asked before its result is wanted (the next chunks, while these are parsed: PostgreSQL then reads
 * them meanwhile), awaited later. A reader that stops early leaves it unread: that must not count as an
 * unhandled rejection, so one is handled here; awaiting it still throws.
 */
export function askedAhead<T>(query: Promise<T>): Promise<T> {
	query.catch(() => undefined);
	return query;
}

/** Rows handed to insertMany at once by insertEach: short-lived arrays, which die young instead of growing the heap. */
export const INSERT_SLICE = 5000;

/**
 * Inserts `items` through insertMany, turning them into rows a slice at a time (a night's 800,000 list
 * members or 150,000 run changes never exist as rows all at once).
 */
export async function insertEach<T>(
	db: SqlDb,
	table: string,
	columns: readonly string[],
	items: readonly T[],
	toValues: (item: T, index: number) => SqlValue[],
): Promise<void> {
	for (let start = 0; start < items.length; start += INSERT_SLICE) {
		const end = Math.min(items.length, start + INSERT_SLICE);
		const rows = new Array<SqlValue[]>(end - start);
		for (let i = start; i < end; i++) rows[i - start] = toValues(items[i], i);
		await db.insertMany(table, columns, rows);
	}
}

/**
 * PostgreSQL plans reads well only with statistics, and rows written a moment ago have none yet
 * (autovacuum has not analyzed them): a keyset-paged read of a table a run just filled is then
 * sorted whole for every page instead of read in index order. SQLite reads in index order anyway.
 * A table may name the columns to sample, as ANALYZE takes them: `run_changes (run_id, seq)`.
 */
export async function refreshStatistics(db: SqlDb, tables: readonly string[]): Promise<void> {
	if (db.engine !== 'postgres') return;
	for (const table of tables) await db.execute(`ANALYZE ${table}`);
}

/**
 * PostgreSQL: runs `work` with `table`'s secondary indexes (not its key, nor unique ones) dropped when
 * the table is empty at the start, and builds them again when it is done, in the same transaction. A
 * first night fills an empty table in key order but in no order of its other indexes: each row then
 * lands at a random page of such an index, where building it afterwards sorts once. Measured with
 * list_members (796,000 rows by COPY, its person index): 3.2–4.2 s with the index, 2.1–2.4 s with the
 * index built after (1.8–1.9 s + 0.35–0.45 s), on C and ICU en-US databases alike. SQLite keeps its
 * indexes: the same there gained nothing (~0.6 s less inserting, 0.58 s to build the index) and would
 * sort the index in memory (temp_store MEMORY); its list_members has no person index at all (migration
 * 13). A table that already holds rows keeps its indexes (and is not locked: DROP INDEX locks the table
 * against readers until the transaction ends, which on an empty table holds up only readers that would
 * find nothing there yet).
 * `work` runs in one transaction on either engine (the caller's, when it is in one) and must use `tx`.
 * The definitions come from the catalog, so the schema stays the one place that says what they are.
 */
export async function withIndexesBuiltAfterFirstFill<T>(db: SqlDb, table: string, work: (tx: SqlDb) => Promise<T>): Promise<T> {
	return db.transaction(async (tx) => {
		if (tx.engine !== 'postgres') return work(tx);
		const holdsRows = (await tx.queryArrays(`SELECT 1 FROM ${table} LIMIT 1`)).length > 0;
		if (holdsRows) return work(tx);
		// Only indexes this login may drop (it owns the table, or is a member of the role that does): a store
		// whose tables a DBA owns, used through a login with row privileges only, keeps its indexes.
		const indexes = await tx.queryArrays(
			`SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class t ON t.relname = i.tablename AND t.relnamespace = i.schemaname::regnamespace
			 WHERE i.schemaname = current_schema() AND i.tablename = ? AND i.indexdef NOT LIKE 'CREATE UNIQUE %' AND pg_has_role(t.relowner, 'USAGE')`,
			[table],
		);
		for (const [name] of indexes) await tx.execute(`DROP INDEX ${String(name)}`);
		const result = await work(tx);
		for (const [, definition] of indexes) await tx.execute(String(definition));
		return result;
	});
}
