/** Jest global teardown: stops the PostgreSQL server global setup started. */
import { PG_ENV } from './global-setup';

export default async function globalTeardown(): Promise<void> {
	const server = globalThis.__ROSTERSYNC_TEST_PG__;
	globalThis.__ROSTERSYNC_TEST_PG__ = undefined;
	for (const name of Object.values(PG_ENV)) delete process.env[name];
	if (server) await server.stop();
}
