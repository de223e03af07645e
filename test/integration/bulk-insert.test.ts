/**
 * insertMany, the bulk path every big write takes (staging, snapshots, people, list members, run
 * changes): values come back exactly as given whatever they hold, in every batch size, and a failed
 * insert fails cleanly (PostgreSQL: COPY; SQLite: multi-row INSERTs).
 */
import type { SqlValue } from '../../nodes/shared/store/sql';
import type { RosterStore } from '../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../support/engines';

const AWKWARD: SqlValue[] = ['', 'plain', 'back\\slash', 'tab\there', 'new\nline', 'cr\rlf\r\n', '\\N', 'Zoë 李小龍 😀', "O'Brien, \"Jr\"", '\\t\\n', ' lead and trail '];

describe.each(ENGINES)('insertMany on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
		await store.db.executeScript('CREATE TABLE bulk_test (id INTEGER PRIMARY KEY, label TEXT, n INTEGER, maybe TEXT)');
	});
	afterEach(async () => store.close());

	test.each([1, 7, 63, 64, 65, 200, 50_001])('%i rows come back as given', async (count) => {
		const rows: SqlValue[][] = Array.from({ length: count }, (_, i) => [i, AWKWARD[i % AWKWARD.length] as string, i % 3 === 0 ? -i - 1 : i * 1000, i % 5 === 0 ? null : `m${i}`]);
		await store.db.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], rows);
		const back = await store.db.queryArrays('SELECT id, label, n, maybe FROM bulk_test ORDER BY id');
		expect(back.length).toBe(count);
		expect(JSON.stringify(back)).toBe(JSON.stringify(rows));
	});

	test('a failing insert rejects, leaves nothing in its transaction, and the store keeps working', async () => {
		await store.db.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], [[1, 'a', 1, null]]);
		// Outside a transaction, more times than the pool has connections: none may be left checked out.
		for (let i = 0; i < 6; i++) {
			await expect(store.db.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], [[2, 'b', 2, null], [1, 'dup', 1, null]])).rejects.toThrow();
		}
		await expect(
			store.db.transaction(async (tx) => {
				await tx.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], [[3, 'c', 3, null]]);
				await tx.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], [[1, 'dup', 1, null]]);
			}),
		).rejects.toThrow();
		expect(await store.db.queryArrays('SELECT id FROM bulk_test ORDER BY id')).toEqual([[1]]);
		await store.db.insertMany('bulk_test', ['id', 'label', 'n', 'maybe'], [[4, 'd', 4, null]]);
		expect((await store.db.queryArrays('SELECT id FROM bulk_test WHERE id IN (1, 4) ORDER BY id'))).toEqual([[1], [4]]);
	});
});

describe.each(ENGINES)('staging written before migration 3 on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	test('one row per staged row (staging_rows) is still read back, in order, in batches', async () => {
		const { readStagedRows } = await import('../../nodes/shared/store/staging');
		await store.db.execute(
			"INSERT INTO staging_files (run_id, entity, file_name, oneroster_version, mode, columns) VALUES ('old-run', 'users', 'users.csv', '1.1', 'bulk', '[\"sourcedId\",\"givenName\"]')",
		);
		const rows = Array.from({ length: 25 }, (_, i) => ({ rowNumber: i + 2, sourcedId: `u${i}`, cells: [`u${i}`, i === 3 ? 'Zoë, "Jr"' : `Name ${i}`] }));
		await store.db.insertMany(
			'staging_rows',
			['run_id', 'entity', 'row_number', 'sourced_id', 'cells'],
			rows.map((row) => ['old-run', 'users', row.rowNumber, row.sourcedId, JSON.stringify(row.cells)]),
		);
		const read = [];
		for await (const batch of readStagedRows(store.db, 'old-run', 'users', 10)) read.push(batch);
		expect(read.map((batch) => batch.length)).toEqual([10, 10, 5]);
		expect(read.flat()).toEqual(rows);
	});
});
