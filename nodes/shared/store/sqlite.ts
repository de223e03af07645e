/**
 * SQLite engine through Node's built-in `node:sqlite` (Node 22.5+; no native module to install).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync as DatabaseSyncType } from 'node:sqlite';

import type { SqlDb, SqlRow, SqlValue } from './sql';

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

export class SqliteDb implements SqlDb {
	readonly engine = 'sqlite' as const;
	private readonly db: DatabaseSyncType;
	private inTransaction = false;

	constructor(readonly path: string) {
		if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
		const { DatabaseSync } = loadSqlite();
		this.db = new DatabaseSync(path);
		this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;');
	}

	async query<T extends SqlRow = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
		return this.db.prepare(sql).all(...params) as T[];
	}

	async execute(sql: string, params: SqlValue[] = []): Promise<number> {
		return Number(this.db.prepare(sql).run(...params).changes);
	}

	async executeScript(sql: string): Promise<void> {
		this.db.exec(sql);
	}

	async insertMany(table: string, columns: readonly string[], rows: SqlValue[][], onConflict = ''): Promise<void> {
		if (rows.length === 0) return;
		const placeholders = columns.map(() => '?').join(', ');
		const statement = this.db.prepare(
			`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders}) ${onConflict}`,
		);
		const insertAll = () => {
			for (const row of rows) statement.run(...row);
		};
		if (this.inTransaction) insertAll();
		else await this.transaction(async () => insertAll());
	}

	async transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
		if (this.inTransaction) return work(this);
		this.db.exec('BEGIN IMMEDIATE');
		this.inTransaction = true;
		try {
			const result = await work(this);
			this.db.exec('COMMIT');
			return result;
		} catch (error) {
			this.db.exec('ROLLBACK');
			throw error;
		} finally {
			this.inTransaction = false;
		}
	}

	async close(): Promise<void> {
		if (this.db.isOpen) this.db.close();
	}
}
