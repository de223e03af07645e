/**
 * SQLite engine through Node's built-in `node:sqlite` (Node 22.5+; no native module to install).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync as DatabaseSyncType, StatementSync } from 'node:sqlite';
import { isMainThread } from 'node:worker_threads';

import { BackgroundCheckpoints, SQLITE_AUTOCHECKPOINT_PAGES, walBytes } from './sqlite-checkpoints';
import type { SqlDb, SqlRow, SqlValue } from './sql';
import { placeholders } from './sql';

function loadSqlite(): typeof import('node:sqlite') {
	try {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		return require('node:sqlite');
	} catch {
		throw new Error(
			`The embedded SQLite store needs Node.js 22.5 or newer (this is ${process.version}). ` +
				'Use a PostgreSQL Roster Store credential, or run n8n on a newer Node.js.',
		);
	}
}

/** Rows per multi-row INSERT of insertMany. */
const ROWS_PER_STATEMENT = 64;
/** SQLite's default limit of bound parameters per statement (3.32+). */
const MAX_VARIABLES = 32_766;

/**
 * Page cache per connection, in KiB (PRAGMA cache_size takes negative KiB). 16 MiB: 64 → 32 MiB was the same
 * time within noise at 100,000 students (full 15.6–15.8 s against 13.6–16.4 s) and at 300,000 (47.4 against
 * 47.1 s) with 40–60 MiB less peak memory (first night 537–556 against 587–618 MiB); 32 → 16 MiB, eight
 * interleaved pairs at 100,000 students: first night median 9.64 against 9.43 s, bulk day two 5.93 against
 * 6.00 s, and the first night's peak RSS median 567 against 642 MiB (547–643 against 547–689).
 */
export const SQLITE_CACHE_KIB = 16 * 1024;

/**
 * Page size of a new store, in bytes (SQLite's default is 4,096). A night writes big rows (staged and
 * snapshot chunks of ~0.5–1 MB each) and ~800,000 list memberships; larger pages mean fewer overflow
 * pages, page splits and WAL frames. The whole first night at 100,000 students (ingest to Build Lists,
 * four alternating runs each): 13.6–14.7 s against 15.4–16.7 s with 4,096 (Build Lists and Reconcile gain
 * most); the page cache stays SQLITE_CACHE_KIB. 32,768 was no faster than 16,384.
 */
export const SQLITE_PAGE_SIZE = 16_384;

/** The WAL size past which a commit starts the checkpoint thread (sqlite-checkpoints.ts): where SQLite itself would checkpoint. */
export const CHECKPOINT_THREAD_AFTER_BYTES = SQLITE_AUTOCHECKPOINT_PAGES * SQLITE_PAGE_SIZE;

export class SqliteDb implements SqlDb {
	readonly engine = 'sqlite' as const;
	private readonly db: DatabaseSyncType;
	private inTransaction = false;

	constructor(readonly path: string) {
		if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
		const { DatabaseSync } = loadSqlite();
		this.db = new DatabaseSync(path);
		// First, so that setting the journal mode waits too while another connection holds the store (e.g. the
		// checkpoint thread of a connection just closed, copying what is left: sqlite-checkpoints.ts).
		this.db.exec('PRAGMA busy_timeout = 10000;');
		// A new store gets pages of SQLITE_PAGE_SIZE bytes (an existing one keeps the size it was made with).
		this.db.exec(`PRAGMA page_size = ${SQLITE_PAGE_SIZE};`);
		this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
		// SQLite's default page cache is 2 MB: a night's bulk writes (snapshot rows, people, list members)
		// then evict and re-read index pages on every insert, which doubles their cost at district size.
		// The cache only grows as pages are used; a small store never takes this much.
		this.db.exec(`PRAGMA cache_size = -${SQLITE_CACHE_KIB}; PRAGMA temp_store = MEMORY;`);
		// Checkpoints run on a thread of their own (sqlite-checkpoints.ts), started by the first big commit.
		if (path !== ':memory:') this.db.exec('PRAGMA wal_autocheckpoint = 0');
	}

	/** The thread that checkpoints this store's WAL, once a commit (or close) started it (sqlite-checkpoints.ts). */
	private checkpoints: BackgroundCheckpoints | undefined;
	/** The thread failed: this connection checkpoints as SQLite does by default. */
	private checkpointsFailed = false;

	/**
	 * Starts the checkpoint thread when none runs and the WAL is past CHECKPOINT_THREAD_AFTER_BYTES: after a commit,
	 * and at close. Only on the main thread: a thread's threads end with it, and a connection on a worker thread (a
	 * step's: threads/step-thread.ts) closes while its caller's connection is open, whose close takes over its WAL.
	 */
	private startCheckpointsIfDue(): void {
		if (this.checkpoints || this.checkpointsFailed || this.path === ':memory:' || !isMainThread || walBytes(this.path) <= CHECKPOINT_THREAD_AFTER_BYTES) return;
		const checkpointHere = () => {
			this.checkpointsFailed = true;
			if (this.db.isOpen) this.db.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
		};
		try {
			this.checkpoints = new BackgroundCheckpoints(this.path, checkpointHere);
		} catch {
			checkpointHere(); // no thread to be had (e.g. too many): the commit stands, this connection checkpoints
		}
	}

	async query<T extends SqlRow = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
		return this.db.prepare(sql).all(...params) as T[];
	}

	async queryArrays(sql: string, params: SqlValue[] = []): Promise<SqlValue[][]> {
		const statement = this.db.prepare(sql);
		statement.setReturnArrays(true);
		return statement.all(...params) as unknown as SqlValue[][];
	}

	async execute(sql: string, params: SqlValue[] = []): Promise<number> {
		return Number(this.db.prepare(sql).run(...params).changes);
	}

	async executeScript(sql: string): Promise<void> {
		this.db.exec(sql);
	}

	/**
	 * Rows go in `ROWS_PER_STATEMENT` at a time (one multi-row INSERT), the rest one by one: each
	 * statement run crosses from JavaScript into SQLite once, so fewer runs cost less (~15 % of a
	 * 100,000-student snapshot's inserts).
	 */
	async insertMany(table: string, columns: readonly string[], rows: SqlValue[][], onConflict = ''): Promise<void> {
		if (rows.length === 0) return;
		const width = columns.length;
		const per = Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_VARIABLES / width)));
		const one = `(${placeholders(columns)})`;
		const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
		const insertAll = () => {
			let i = 0;
			if (per > 1 && rows.length >= per) {
				const multi = this.prepared(`${head}${new Array(per).fill(one).join(', ')} ${onConflict}`);
				const params = new Array<SqlValue>(per * width);
				for (; i + per <= rows.length; i += per) {
					let k = 0;
					for (let r = i; r < i + per; r++) {
						const row = rows[r];
						for (let c = 0; c < width; c++) params[k++] = row[c];
					}
					multi.run(...params);
				}
			}
			if (i < rows.length) {
				const single = this.prepared(`${head}${one} ${onConflict}`);
				for (; i < rows.length; i++) single.run(...rows[i]);
			}
		};
		if (this.inTransaction) insertAll();
		else await this.transaction(async () => insertAll());
	}

	/** Bulk-insert statements, prepared once per connection. */
	private readonly statements = new Map<string, StatementSync>();

	private prepared(sql: string): StatementSync {
		let statement = this.statements.get(sql);
		if (!statement) {
			statement = this.db.prepare(sql);
			if (this.statements.size >= 64) this.statements.clear();
			this.statements.set(sql, statement);
		}
		return statement;
	}

	async transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
		if (this.inTransaction) return work(this);
		this.db.exec('BEGIN IMMEDIATE');
		this.inTransaction = true;
		try {
			const result = await work(this);
			this.db.exec('COMMIT');
			this.startCheckpointsIfDue();
			return result;
		} catch (error) {
			this.db.exec('ROLLBACK');
			throw error;
		} finally {
			this.inTransaction = false;
		}
	}

	/** The close under way or done (close() may be called more than once). */
	private closed: Promise<void> | undefined;

	async close(): Promise<void> {
		this.closed ??= this.closeOnce();
		return this.closed;
	}

	private async closeOnce(): Promise<void> {
		// Closed after the checkpoint thread's connection is open, this one is not the store's last: the thread copies
		// what the WAL still holds while the caller goes on, then closes and deletes it (sqlite-checkpoints.ts, on n8n).
		// A WAL this connection did not write (a step thread's) is handed to a thread the same way.
		if (this.db.isOpen) {
			this.startCheckpointsIfDue();
			if (this.checkpoints) await this.checkpoints.open;
			this.db.close();
		}
		const checkpoints = this.checkpoints;
		this.checkpoints = undefined;
		if (checkpoints) this.lastCopy = checkpoints.finish().ended;
	}

	/** The checkpoint thread's last copy, once close() asked for it. */
	private lastCopy: Promise<void> = Promise.resolve();

	/**
	 * Resolves once the store file holds all this connection wrote: after close(), when its checkpoint thread
	 * has copied what was left and ended. What no one need wait for in n8n (the next node opens the store
	 * meanwhile), and what a benchmark's night includes.
	 */
	async checkpointed(): Promise<void> {
		await this.lastCopy;
	}
}
