/**
 * Opening the people store: one interface, two engines, migrations on first use.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

import { PostgresDb, type PostgresConnection } from './postgres';
import { storeOpenError } from './open-error';
import { migrate } from './schema';
import type { SqlDb } from './sql';
import { SqliteDb } from './sqlite';

export type StoreConfig = { engine: 'sqlite'; path: string } | ({ engine: 'postgres' } & PostgresConnection);

export interface RosterStore {
	readonly db: SqlDb;
	/** Where the store is, without secrets: a file path or postgres://user@host:port/db. */
	readonly description: string;
	/** How it was opened: another connection to it (a step's thread: threads/step-thread.ts) opens it the same way. */
	readonly config: StoreConfig;
	close(): Promise<void>;
}

/** The embedded store's default file: under the n8n user folder, like n8n's own database.sqlite. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env): string {
	const userFolder = env.N8N_USER_FOLDER || homedir();
	return join(userFolder, '.n8n', 'rostersync', 'roster.sqlite');
}

export function describeStore(config: StoreConfig): string {
	if (config.engine === 'sqlite') return `sqlite:${config.path}`;
	return `postgres://${config.user}@${config.host}:${config.port}/${config.database}`;
}

export async function openStore(config: StoreConfig): Promise<RosterStore> {
	const description = describeStore(config);
	let db: SqlDb | undefined;
	try {
		db = config.engine === 'sqlite' ? new SqliteDb(config.path) : new PostgresDb(config);
		await migrate(db);
	} catch (error) {
		await db?.close().catch(() => undefined);
		// "Cannot open the roster store …: why", with a hint and the settings to check.
		throw storeOpenError(config, description, error);
	}
	return { db, description, config, close: () => db.close() };
}

/** Opens the store, runs `work`, and closes the store whatever happens. */
export async function withStore<T>(config: StoreConfig, work: (store: RosterStore) => Promise<T>): Promise<T> {
	const store = await openStore(config);
	try {
		return await work(store);
	} finally {
		await store.close();
	}
}
