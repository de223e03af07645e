/**
 * Proves the PostgreSQL test harness: the server from global setup is reachable over TCP
 * with a password, and each testPostgresConfig() call gives a fresh, empty database.
 */
import { Client } from 'pg';

import { testPostgresConfig } from '../support/pg-config';

async function withClient<T>(config: Awaited<ReturnType<typeof testPostgresConfig>>, fn: (c: Client) => Promise<T>) {
	const client = new Client(config);
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

test('connects to a fresh database with a password and runs SELECT 1', async () => {
	const config = await testPostgresConfig();
	expect(config.host).toBe('127.0.0.1');
	expect(config.ssl).toBe(false);
	const row = await withClient(config, async (client) => (await client.query('SELECT 1 AS one, current_database() AS db')).rows[0]);
	expect(row).toEqual({ one: 1, db: config.database });
});

test('each call gives an isolated database the login role owns', async () => {
	const a = await testPostgresConfig();
	const b = await testPostgresConfig();
	expect(a.database).not.toBe(b.database);
	await withClient(a, (client) => client.query('CREATE TABLE people (id int primary key)'));
	const tables = await withClient(b, async (client) =>
		(await client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0].n,
	);
	expect(tables).toBe(0);
});

test('a wrong password is refused (password authentication over TCP)', async () => {
	const config = await testPostgresConfig();
	const client = new Client({ ...config, password: 'not-the-password' });
	await expect(client.connect()).rejects.toThrow(/password authentication failed/);
	await client.end().catch(() => undefined);
});
