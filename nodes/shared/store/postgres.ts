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

interface Queryable {
	query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
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

	async execute(sql: string, params: SqlValue[] = []): Promise<number> {
		const result = await this.target.query(toPostgresPlaceholders(sql), params);
		return result.rowCount ?? 0;
	}

	async executeScript(sql: string): Promise<void> {
		await this.target.query(sql);
	}

	async insertMany(table: string, columns: readonly string[], rows: SqlValue[][], onConflict = ''): Promise<void> {
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
