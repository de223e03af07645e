/**
 * PostgreSQL connection settings for tests: every call creates a fresh, empty database on
 * the server Jest's global setup started (see global-setup.ts), owned by the login role,
 * reached over TCP with a SCRAM password.
 */
import { PG_ENV } from './global-setup';
import { createDatabase } from './postgres';

export interface TestPostgresConfig {
	host: string;
	port: number;
	user: string;
	password: string;
	database: string;
	ssl: false;
}

function required(name: string): string {
	const value = process.env[name];
	if (!value) {
		throw new Error(
			`${name} is not set: the test PostgreSQL server is not running. Run the tests through jest with ` +
				'jest.config.js (its globalSetup starts the server).',
		);
	}
	return value;
}

/** The global test server (as started by global setup), for tests that need the superuser. */
export function testPostgresServer() {
	return {
		host: required(PG_ENV.host),
		port: Number(required(PG_ENV.port)),
		user: required(PG_ENV.user),
		password: required(PG_ENV.password),
		database: required(PG_ENV.database),
		adminUser: required(PG_ENV.adminUser),
		adminPassword: required(PG_ENV.adminPassword),
	};
}

/** A fresh, empty database on the global test server; `name` defaults to a unique one. */
export async function testPostgresConfig(name?: string): Promise<TestPostgresConfig> {
	const connection = await createDatabase(testPostgresServer(), name);
	return { ...connection, ssl: false };
}
