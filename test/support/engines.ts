/**
 * Store engines for tests: every store-behaviour test runs on both, with describe.each(ENGINES).
 * SQLite gets a fresh temp file, PostgreSQL a fresh database on the server Jest's global setup started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PostgresDb } from '../../nodes/shared/store/postgres';
import { MIGRATIONS } from '../../nodes/shared/store/schema';
import type { SqlDb } from '../../nodes/shared/store/sql';
import { SqliteDb } from '../../nodes/shared/store/sqlite';
import type { RosterStore } from '../../nodes/shared/store/store';
import { openStore } from '../../nodes/shared/store/store';
import { testPostgresConfig } from './pg-config';

export const ENGINES = ['sqlite', 'postgres'] as const;
export type TestEngine = (typeof ENGINES)[number];

/** list_members' indexes besides its key (and unique ones), by name, as `db` sees them (inside a transaction, its view). */
export async function listMembersSecondaryIndexes(db: SqlDb): Promise<string[]> {
	const rows = await db.queryArrays(
		db.engine === 'sqlite'
			? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'list_members' AND sql IS NOT NULL"
			: "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'list_members' AND indexdef NOT LIKE 'CREATE UNIQUE %'",
	);
	return rows.map(([name]) => String(name));
}

/** A fresh, migrated, empty store; close() also removes the SQLite temp dir. */
export async function openTestStore(engine: TestEngine): Promise<RosterStore> {
	if (engine === 'postgres') return openStore({ engine: 'postgres', ...(await testPostgresConfig()) });
	const dir = mkdtempSync(join(tmpdir(), 'rostersync-test-'));
	const store = await openStore({ engine: 'sqlite', path: join(dir, 'roster.sqlite') });
	return {
		...store,
		close: async () => {
			await store.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/**
 * A fresh database as the migrations before `version` left it, for migration tests: nothing newer
 * applied yet. close() also removes the SQLite temp dir.
 */
export async function openStoreBeforeMigration(engine: TestEngine, version: number): Promise<{ db: SqlDb; close(): Promise<void> }> {
	let dir: string | undefined;
	let db: SqlDb;
	if (engine === 'sqlite') {
		dir = mkdtempSync(join(tmpdir(), 'rostersync-migrate-'));
		db = new SqliteDb(join(dir, 'roster.sqlite'));
	} else {
		db = new PostgresDb(await testPostgresConfig());
	}
	await db.executeScript('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
	for (const migration of MIGRATIONS.filter((m) => m.version < version)) {
		await db.executeScript(typeof migration.sql === 'string' ? migration.sql : migration.sql[db.engine]);
		await db.execute('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [migration.version, migration.name, '2026-01-01T00:00:00.000Z']);
	}
	return {
		db,
		close: async () => {
			await db.close();
			if (dir) rmSync(dir, { recursive: true, force: true });
		},
	};
}
