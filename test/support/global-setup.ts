/**
 * Jest global setup: starts ONE throwaway PostgreSQL server for the whole test run and
 * publishes how to reach it in ROSTERSYNC_TEST_PG_* environment variables, which the
 * test workers inherit (test files call testPostgresConfig() from pg-config.ts for a
 * fresh database each). sshd is started per test file with startSshd() (it is cheap).
 *
 * If the server cannot start, this throws and the whole run fails: services are never skipped.
 */
import { startPostgres, type PostgresServer } from './postgres';

export const PG_ENV = {
	host: 'ROSTERSYNC_TEST_PG_HOST',
	port: 'ROSTERSYNC_TEST_PG_PORT',
	user: 'ROSTERSYNC_TEST_PG_USER',
	password: 'ROSTERSYNC_TEST_PG_PASSWORD',
	database: 'ROSTERSYNC_TEST_PG_DATABASE',
	adminUser: 'ROSTERSYNC_TEST_PG_ADMIN_USER',
	adminPassword: 'ROSTERSYNC_TEST_PG_ADMIN_PASSWORD',
} as const;

declare global {
	// eslint-disable-next-line no-var
	var __ROSTERSYNC_TEST_PG__: PostgresServer | undefined;
}

export default async function globalSetup(): Promise<void> {
	const started = Date.now();
	const server = await startPostgres();
	globalThis.__ROSTERSYNC_TEST_PG__ = server;
	process.env[PG_ENV.host] = server.host;
	process.env[PG_ENV.port] = String(server.port);
	process.env[PG_ENV.user] = server.user;
	process.env[PG_ENV.password] = server.password;
	process.env[PG_ENV.database] = server.database;
	process.env[PG_ENV.adminUser] = server.adminUser;
	process.env[PG_ENV.adminPassword] = server.adminPassword;
	if (process.env.ROSTERSYNC_TEST_VERBOSE) {
		process.stderr.write(
			`\n[test services] PostgreSQL ${server.version} on ${server.host}:${server.port} (${Date.now() - started} ms)\n`,
		);
	}
}
