import type { SqlDb } from '../../nodes/shared/store/sql';

class RolledBack extends Error {}

/**
 * What `work` gives inside a transaction that is then rolled back: the store is left as it was. The
 * "from changes" tests run a step's whole plan this way, then the step as it runs, on the same store.
 */
export async function rolledBack<T>(db: SqlDb, work: (tx: SqlDb) => Promise<T>): Promise<T> {
	let result: { value: T } | undefined;
	await db
		.transaction(async (tx) => {
			result = { value: await work(tx) };
			throw new RolledBack();
		})
		.catch((error: unknown) => {
			if (!(error instanceof RolledBack)) throw error;
		});
	return result!.value;
}
