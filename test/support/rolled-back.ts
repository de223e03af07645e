import type { SqlDb } from '../../nodes/shared/store/sql';
import type { SyncStateName } from '../../nodes/shared/store/sync-state';
import { setAsLeftBy } from '../../nodes/shared/store/sync-state';

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
 * Runs a step as it runs (from changes where it can) after running its whole plan on the same store in a
 * rolled-back transaction, the step's note (`state`, store/sync-state.ts) cleared so that it plans whole,
 * and checks that both leave the store the same (`observe`), with the same counts but for how each
 * planned (`withoutHow`) and the same warnings. Returns the step's result.
 */
export async function expectSameAsWholePlan<R extends { counts: { plannedFromChanges?: unknown }; warnings: string[] }>(
	db: SqlDb,
	state: SyncStateName,
	step: (db: SqlDb) => Promise<R>,
	observe: (db: SqlDb) => Promise<unknown>,
	withoutHow: (result: R) => unknown,
): Promise<R> {
	const whole = await rolledBack(db, async (tx) => {
		await setAsLeftBy(tx, state, null);
		const result = await step(tx);
		return { result, observed: await observe(tx) };
	});
	expect(whole.result.counts.plannedFromChanges).toBeUndefined();
	const result = await step(db);
	expect(await observe(db)).toEqual(whole.observed);
	expect(withoutHow(result)).toEqual(withoutHow(whole.result));
	expect(result.warnings).toEqual(whole.result.warnings);
	return result;
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
