import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MIGRATIONS, migrate } from '../../nodes/shared/store/schema';
import { completeStage, createRun, failRun, getRun, lastGoodRun, listRuns, requireStage } from '../../nodes/shared/store/runs';
import { readStagedFiles, readStagedRows, StoreStagingSink } from '../../nodes/shared/store/staging';
import type { RosterStore, StoreConfig } from '../../nodes/shared/store/store';
import { SQLITE_CACHE_KIB, SQLITE_PAGE_SIZE } from '../../nodes/shared/store/sqlite';
import type { SqlDb } from '../../nodes/shared/store/sql';
import { refreshStatistics, withIndexesBuiltAfterFirstFill } from '../../nodes/shared/store/sql';
import { defaultSqlitePath, describeStore, openStore } from '../../nodes/shared/store/store';
import { testPostgresConfig, testPostgresServer } from '../support/pg-config';
import { listMembersSecondaryIndexes } from '../support/engines';
import { PostgresDb } from '../../nodes/shared/store/postgres';

async function configFor(engine: 'sqlite' | 'postgres'): Promise<StoreConfig> {
	if (engine === 'sqlite') return { engine, path: join(mkdtempSync(join(tmpdir(), 'rs-store-')), 'roster.sqlite') };
	return { engine, ...(await testPostgresConfig()) };
}

describe.each(['sqlite', 'postgres'] as const)('store on %s', (engine) => {
	let config: StoreConfig;
	let store: RosterStore;

	beforeEach(async () => {
		config = await configFor(engine);
		store = await openStore(config);
	});
	afterEach(async () => store.close());

	test('migrations run on first open and not again', async () => {
		const versions = await store.db.query('SELECT version FROM schema_migrations');
		expect(versions.map((row) => Number(row.version)).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((migration) => migration.version));
		expect(await migrate(store.db)).toBe(0);
		for (const table of ['people', 'user_lists', 'list_members', 'sync_runs', 'run_changes', 'snapshots', 'staging_rows', 'staging_chunks']) {
			const rows = await store.db.query(`SELECT COUNT(*) AS n FROM ${table}`);
			expect(Number(rows[0].n)).toBe(0);
		}
	});

	test('a failed transaction leaves nothing behind', async () => {
		const run = await createRun(store.db, { source: 'test' });
		await expect(
			store.db.transaction(async (tx) => {
				await new StoreStagingSink(tx, run.id).beginFile({
					entity: 'users',
					fileName: 'users.csv',
					version: '1.1',
					mode: 'bulk',
					columns: ['sourcedId'],
				});
				throw new Error('boom');
			}),
		).rejects.toThrow('boom');
		expect(await readStagedFiles(store.db, run.id)).toEqual([]);
	});

	test('staged rows come back in order, in batches, with their cells', async () => {
		const run = await createRun(store.db, { source: 'test' });
		const sink = new StoreStagingSink(store.db, run.id);
		await sink.beginFile({ entity: 'users', fileName: 'users.csv', version: '1.1', mode: 'bulk', columns: ['sourcedId', 'givenName'] });
		const rows = Array.from({ length: 2500 }, (_, i) => ({
			rowNumber: i + 2,
			sourcedId: `u${i}`,
			cells: [`u${i}`, i % 7 === 0 ? 'Zoë, "Jr"' : `Name ${i}`],
		}));
		await sink.writeRows('users', rows);
		const read = [];
		let batches = 0;
		for await (const batch of readStagedRows(store.db, run.id, 'users', 1000)) {
			batches++;
			read.push(...batch);
		}
		expect(batches).toBe(3);
		expect(read).toEqual(rows);
	});

	test('run lifecycle: stages, counts, failures and the last good run', async () => {
		const first = await createRun(store.db, { source: 'test' });
		await expect(requireStage(store.db, first.id, 'staged', 'Normalize')).rejects.toThrow(/only created/);
		await completeStage(store.db, first.id, 'staged', { users: 3 }, ['a warning']);
		await completeStage(store.db, first.id, 'normalized', { people: 3 });
		const second = await createRun(store.db, { source: 'test' });
		await failRun(store.db, second.id, 'users.csv: broken');
		const reread = await getRun(store.db, first.id);
		expect(reread.counts).toEqual({ staged: { users: 3 }, normalized: { people: 3 } });
		expect(reread.warnings).toEqual(['a warning']);
		expect((await getRun(store.db, second.id)).status).toBe('failed');
		expect((await lastGoodRun(store.db, 'normalized'))?.id).toBe(first.id);
		expect((await listRuns(store.db, 10)).map((run) => run.id)).toEqual([second.id, first.id]);
		await expect(requireStage(store.db, second.id, 'staged', 'Normalize')).rejects.toThrow(/failed earlier/);
	});

	test('PostgreSQL stores staged and snapshot chunk texts and user links with LZ4 when the server has it (pglz otherwise)', async () => {
		if (engine !== 'postgres') return;
		const [{ lz4 }] = await store.db.query<{ lz4: number }>(
			"SELECT COUNT(*) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)",
		);
		// Debian's PostgreSQL (the tests' server) is built with LZ4: the rest of the test would prove nothing without it.
		expect(Number(lz4)).toBe(1);
		const columns = await store.db.query<{ relname: string; attcompression: string }>(
			"SELECT c.relname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attname = 'data' AND c.relname IN ('staging_chunks', 'snapshot_chunks', 'user_links') AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname",
		);
		expect(columns).toEqual([
			{ relname: 'snapshot_chunks', attcompression: 'l' },
			{ relname: 'staging_chunks', attcompression: 'l' },
			{ relname: 'user_links', attcompression: 'l' },
		]);
		// A chunk as big as a night's (hundreds of KB) is written compressed with LZ4 and read back whole.
		const run = await createRun(store.db, { source: 'test' });
		const sink = new StoreStagingSink(store.db, run.id);
		await sink.beginFile({ entity: 'users', fileName: 'users.csv', version: '1.1', mode: 'bulk', columns: ['sourcedId', 'givenName'] });
		const rows = Array.from({ length: 5000 }, (_, i) => ({ rowNumber: i + 2, sourcedId: `u${i}`, cells: [`u${i}`, `Given name ${i % 50}`] }));
		await sink.writeRows('users', rows);
		const [{ method }] = await store.db.query<{ method: string }>('SELECT pg_column_compression(data) AS method FROM staging_chunks WHERE run_id = ?', [run.id]);
		expect(method).toBe('lz4');
		const read = [];
		for await (const batch of readStagedRows(store.db, run.id, 'users')) read.push(...batch);
		expect(read).toEqual(rows);
	});

	const secondaryIndexes = (db: SqlDb = store.db) => listMembersSecondaryIndexes(db);

	test('a first fill of list_members builds its person index after the rows on PostgreSQL; rows already there and a failure keep it; SQLite has none', async () => {
		const member = (i: number) => [`list-${i % 3}`, `person-${i}`, 'member', 'run-1'];
		const fill = (tx: SqlDb, from: number) => tx.insertMany('list_members', ['list_id', 'person_id', 'membership', 'added_run_id'], Array.from({ length: 100 }, (_, i) => member(from + i)));
		// SQLite's list_members has no person index (migration 13): a lookup by person scans it.
		const personIndex = engine === 'postgres' ? ['list_members_person'] : [];
		expect(await secondaryIndexes()).toEqual(personIndex);

		// A failed first fill: the rows and the dropped index roll back together.
		await expect(
			withIndexesBuiltAfterFirstFill(store.db, 'list_members', async (tx) => {
				await fill(tx, 0);
				throw new Error('boom');
			}),
		).rejects.toThrow('boom');
		expect(await secondaryIndexes()).toEqual(personIndex);
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM list_members'))[0].n)).toBe(0);

		// The first fill: without the index while the rows go in (PostgreSQL), with it afterwards.
		let during: string[] = [];
		await withIndexesBuiltAfterFirstFill(store.db, 'list_members', async (tx) => {
			during = await secondaryIndexes(tx);
			await fill(tx, 0);
		});
		expect(during).toEqual([]);
		expect(await secondaryIndexes()).toEqual(personIndex);
		// PostgreSQL: the index is the one the schema made, and a lookup by person uses it. SQLite: a scan.
		const planText = JSON.stringify(
			await store.db.transaction(async (tx) => {
				if (engine === 'postgres') await tx.execute('SET LOCAL enable_seqscan = off');
				return tx.queryArrays(
					`${engine === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN (COSTS OFF)'} SELECT list_id FROM list_members WHERE person_id = 'person-7'`,
				);
			}),
		);
		expect(planText).toContain(engine === 'postgres' ? 'list_members_person' : 'SCAN list_members');

		// A table that holds rows keeps its indexes while more go in.
		await withIndexesBuiltAfterFirstFill(store.db, 'list_members', async (tx) => {
			during = await secondaryIndexes(tx);
			await fill(tx, 100);
		});
		expect(during).toEqual(personIndex);
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM list_members'))[0].n)).toBe(200);
	});

	test('on PostgreSQL a login that may not drop the index (the tables are owned by another role) fills list_members with the index in place', async () => {
		if (engine !== 'postgres' || config.engine !== 'postgres') return;
		const server = testPostgresServer();
		const admin = new PostgresDb({ host: server.host, port: server.port, database: config.database, user: server.adminUser, password: server.adminPassword, ssl: false });
		const role = `rows_only_${process.pid}_${Date.now()}`;
		const password = 'rows-only-password';
		await admin.executeScript(
			`CREATE ROLE ${role} LOGIN PASSWORD '${password}'; GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA public TO ${role};`,
		);
		const rowsOnly = new PostgresDb({ host: server.host, port: server.port, database: config.database, user: role, password, ssl: false });
		try {
			let during: string[] = [];
			await withIndexesBuiltAfterFirstFill(rowsOnly, 'list_members', async (tx) => {
				during = await secondaryIndexes(tx);
				await tx.insertMany('list_members', ['list_id', 'person_id', 'membership', 'added_run_id'], [['list-1', 'person-1', 'member', 'run-1']]);
			});
			expect(during).toEqual(['list_members_person']);
			expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM list_members'))[0].n)).toBe(1);
		} finally {
			await rowsOnly.close();
			await admin.executeScript(`DROP OWNED BY ${role}; DROP ROLE ${role};`);
			await admin.close();
		}
	});

	test("on PostgreSQL the statistics of run_changes' run and seq alone make the report read its pages in key order", async () => {
		if (engine !== 'postgres') return;
		const rows = [];
		for (const runId of ['run-a', 'run-b', 'run-c']) {
			for (let seq = 1; seq <= 20_000; seq++) rows.push([runId, seq, 'person', `p-${seq}`, 'create', 1, JSON.stringify({ given_name: `Given ${seq}`, note: 'x'.repeat(300) })]);
		}
		await store.db.insertMany('run_changes', ['run_id', 'seq', 'entity', 'entity_id', 'action', 'applied', 'after_values'], rows);
		await refreshStatistics(store.db, ['run_changes (run_id, seq)']);
		const plan = (await store.db.queryArrays("EXPLAIN SELECT seq, entity, action FROM run_changes WHERE run_id = 'run-b' AND seq > 5000 ORDER BY seq LIMIT 10000")).map(([line]) => String(line)).join('\n');
		expect(plan).toContain('Index Scan using run_changes_pkey');
		expect(plan).not.toContain('Sort');
	});

	test('the store description never holds the password', () => {
		expect(describeStore(config)).not.toContain('password');
		if (config.engine === 'postgres') expect(describeStore(config)).not.toContain(config.password);
	});
});

test('the default SQLite file lives under the n8n user folder', () => {
	expect(defaultSqlitePath({ N8N_USER_FOLDER: '/srv/n8n' })).toBe('/srv/n8n/.n8n/rostersync/roster.sqlite');
});

test('a new SQLite store has 16 KiB pages and a 16 MiB page cache; a store made with smaller pages keeps them and works', async () => {
	const { DatabaseSync } = await import('node:sqlite');
	const pageSize = async (store: RosterStore) => Number((await store.db.queryArrays('PRAGMA page_size'))[0][0]);
	const fresh = await openStore(await configFor('sqlite'));
	try {
		expect(await pageSize(fresh)).toBe(SQLITE_PAGE_SIZE);
		// PRAGMA cache_size reads back in negative KiB, as it was set.
		expect(Number((await fresh.db.queryArrays('PRAGMA cache_size'))[0][0])).toBe(-SQLITE_CACHE_KIB);
		expect(SQLITE_CACHE_KIB).toBe(16 * 1024);
	} finally {
		await fresh.close();
	}

	const config = (await configFor('sqlite')) as StoreConfig & { path: string };
	const older = new DatabaseSync(config.path);
	older.exec('PRAGMA page_size = 4096; CREATE TABLE made_before (id INTEGER)');
	older.close();
	const store = await openStore(config);
	try {
		expect(await pageSize(store)).toBe(4096);
		const run = await createRun(store.db, { source: 'test' });
		expect((await getRun(store.db, run.id))?.status).toBe(run.status);
	} finally {
		await store.close();
	}
	// Reopened: still the same size, and the run is there.
	const again = await openStore(config);
	try {
		expect(await pageSize(again)).toBe(4096);
		expect((await listRuns(again.db, 10)).length).toBe(1);
	} finally {
		await again.close();
	}
});
