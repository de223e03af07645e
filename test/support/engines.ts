/**
 * Store engines for tests: every store-behaviour test runs on both, with describe.each(ENGINES).
 * SQLite gets a fresh temp file, PostgreSQL a fresh database on the server Jest's global setup started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { RosterStore } from '../../nodes/shared/store/store';
import { openStore } from '../../nodes/shared/store/store';
import { testPostgresConfig } from './pg-config';

export const ENGINES = ['sqlite', 'postgres'] as const;
export type TestEngine = (typeof ENGINES)[number];

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
