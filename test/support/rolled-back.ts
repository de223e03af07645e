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

/**
 * `value` as the two plans of a night are compared: ids the night made (random) named by what they
 * stand for (`renamed`), and the night's own timestamps (at or after `nightStart`) as TONIGHT.
 */
export function comparable(value: unknown, renamed: ReadonlyMap<string, string>, nightStart: string): unknown {
	const text = JSON.stringify(value)
		.replace(/"([0-9A-Za-z_-]{8,})"/g, (whole, id: string) => (renamed.has(id) ? JSON.stringify(renamed.get(id)) : whole))
		.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, (stamp) => (stamp >= nightStart ? 'TONIGHT' : stamp));
	return JSON.parse(text) as unknown;
}
