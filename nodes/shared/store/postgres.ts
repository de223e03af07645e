/**
 * PostgreSQL engine through `pg`. Same statements as SQLite: `?` placeholders are rewritten to `$n`.
 */
import { Pool, types, type PoolClient, type PoolConfig } from 'pg';

import type { SqlDb, SqlRow, SqlValue } from './sql';

/** PostgreSQL returns bigint (e.g. count(*)) as text; counts here always fit a JS number. */
const typeParsers = {
	getTypeParser(oid: number, format?: 'text' | 'binary') {
		if (oid === types.builtins.INT8) return (value: string) => Number(value);
		if (oid === types.builtins.NUMERIC) return (value: string) => Number(value);
		return types.getTypeParser(oid, format);
	},
};

/** PostgreSQL allows 65,535 parameters per statement. */
const MAX_PARAMETERS = 60_000;

export function toPostgresPlaceholders(sql: string): string {
	let index = 0;
	let out = '';
	let inString = false;
	for (const char of sql) {
		if (char === "'") inString = !inString;
		if (char === '?' && !inString) out += `$${++index}`;
		else out += char;
	}
	return out;
}

/** Rows per COPY statement: a few MB of data each. */
const COPY_ROWS_PER_STATEMENT = 50_000;
/** Characters of COPY data per CopyData message. */
const COPY_CHUNK_CHARS = 1 << 20;

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;

/** One value in COPY's text format: \N for NULL, backslash, tab and line breaks escaped. */
function copyText(value: SqlValue | undefined): string {
	if (value === null || value === undefined) return '\\N';
	if (typeof value === 'number') return String(value);
	const text = String(value);
	return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (char) => COPY_ESCAPES[char]) : text;
}

/** The wire side of COPY … FROM STDIN: what pg calls on the query it runs (pg's "submittable" interface). */
interface CopyConnection {
	query(text: string): void;
	sendCopyFromChunk(chunk: Buffer): void;
	endCopyFrom(): void;
	sendCopyFail(message: string): void;
}

/**
 * Runs one COPY … FROM STDIN with rows[start, end) as its data, through pg's submittable query
 * interface (how pg runs COPY; the same protocol steps pg-copy-streams takes, without a stream).
 */
function copyIn(target: Queryable, sql: string, rows: SqlValue[][], start: number, end: number, width: number): Promise<void> {
	return new Promise((resolve, reject) => {
		let settled = false;
		const settle = (error?: Error | null) => {
			if (settled) return;
			settled = true;
			if (error) reject(error);
			else resolve();
		};
		let called = false;
		const submittable = {
			/** Set by pg (the pool's wrapper, which also releases the client, or ours): called once. */
			callback: undefined as ((error: Error | null) => void) | undefined,
			finish(error: Error | null) {
				if (called) return;
				called = true;
				if (this.callback) this.callback(error);
				else settle(error);
			},
			submit(connection: CopyConnection) {
				connection.query(sql);
			},
			handleCopyInResponse(connection: CopyConnection) {
				try {
					let chunk = '';
					for (let i = start; i < end; i++) {
						const row = rows[i];
						let line = copyText(row[0]);
						for (let c = 1; c < width; c++) line += `\t${copyText(row[c])}`;
						chunk += `${line}\n`;
						if (chunk.length >= COPY_CHUNK_CHARS) {
							connection.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
							chunk = '';
						}
					}
					if (chunk.length > 0) connection.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
					connection.endCopyFrom();
				} catch (error) {
					connection.sendCopyFail(String((error as Error).message ?? error));
				}
			},
			handleError(error: Error) {
				this.finish(error);
			},
			handleReadyForQuery() {
				this.finish(null);
			},
			handleCommandComplete() {},
			handleRowDescription() {},
			handleDataRow() {},
			handleEmptyQuery() {},
			handlePortalSuspended() {},
			handleCopyData() {},
		};
		(target as unknown as { query(query: unknown, callback: (error: Error | null) => void): void }).query(submittable, (error) => settle(error));
	});
}

interface Queryable {
	query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
	query(config: { text: string; values?: unknown[]; rowMode: 'array' }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

class PostgresSession implements SqlDb {
	readonly engine = 'postgres' as const;

	constructor(
		protected readonly target: Queryable,
		private readonly beginTransaction: <T>(work: (tx: SqlDb) => Promise<T>) => Promise<T>,
	) {}

	async query<T extends SqlRow = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
		const result = await this.target.query(toPostgresPlaceholders(sql), params);
		return result.rows as T[];
	}

	async queryArrays(sql: string, params: SqlValue[] = []): Promise<SqlValue[][]> {
		const result = await this.target.query({ text: toPostgresPlaceholders(sql), values: params, rowMode: 'array' });
		return result.rows as SqlValue[][];
	}

	async execute(sql: string, params: SqlValue[] = []): Promise<number> {
		const result = await this.target.query(toPostgresPlaceholders(sql), params);
		return result.rowCount ?? 0;
	}

	async executeScript(sql: string): Promise<void> {
		await this.target.query(sql);
	}

	/**
	 * Rows go in with COPY … FROM STDIN (text format) in statements of COPY_ROWS_PER_STATEMENT rows:
	 * about twice as fast on the server as multi-row INSERTs (and no 65,535-parameter limit). With an
	 * ON CONFLICT clause, which COPY has not, as multi-row INSERTs.
	 */
	async insertMany(table: string, columns: readonly string[], rows: SqlValue[][], onConflict = ''): Promise<void> {
		if (rows.length === 0) return;
		if (onConflict !== '') {
			await this.insertValues(table, columns, rows, onConflict);
			return;
		}
		const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN`;
		for (let start = 0; start < rows.length; start += COPY_ROWS_PER_STATEMENT) {
			await copyIn(this.target, sql, rows, start, Math.min(rows.length, start + COPY_ROWS_PER_STATEMENT), columns.length);
		}
	}

	private async insertValues(table: string, columns: readonly string[], rows: SqlValue[][], onConflict: string): Promise<void> {
		const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
		for (let start = 0; start < rows.length; start += rowsPerStatement) {
			const chunk = rows.slice(start, start + rowsPerStatement);
			const params: SqlValue[] = [];
			const tuples: string[] = [];
			for (const row of chunk) {
				const slots: string[] = [];
				for (const value of row) {
					params.push(value);
					slots.push(`$${params.length}`);
				}
				tuples.push(`(${slots.join(',')})`);
			}
			await this.target.query(
				`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(',')} ${onConflict}`,
				params,
			);
		}
	}

	transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
		return this.beginTransaction(work);
	}

	async close(): Promise<void> {}
}

export interface PostgresConnection {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
	ssl: boolean;
	/** Accept a server certificate that does not verify (self-signed). */
	ignoreSslIssues?: boolean;
}

export class PostgresDb extends PostgresSession {
	private readonly pool: Pool;

	constructor(connection: PostgresConnection) {
		const config: PoolConfig = {
			host: connection.host,
			port: connection.port,
			database: connection.database,
			user: connection.user,
			password: connection.password,
			ssl: connection.ssl ? { rejectUnauthorized: !connection.ignoreSslIssues } : false,
			max: 4,
			types: typeParsers,
			connectionTimeoutMillis: 15_000,
		};
		const pool = new Pool(config);
		// An idle client that loses its connection must not crash the n8n process.
		pool.on('error', () => undefined);
		super(pool as unknown as Queryable, (work) => this.runTransaction(work));
		this.pool = pool;
	}

	private async runTransaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
		const client: PoolClient = await this.pool.connect();
		const nested = <U>(inner: (tx: SqlDb) => Promise<U>) => inner(session);
		const session: SqlDb = new PostgresSession(client as unknown as Queryable, nested);
		try {
			await client.query('BEGIN');
			const result = await work(session);
			await client.query('COMMIT');
			return result;
		} catch (error) {
			await client.query('ROLLBACK').catch(() => undefined);
			throw error;
		} finally {
			client.release();
		}
	}

	async close(): Promise<void> {
		await this.pool.end();
	}
}
