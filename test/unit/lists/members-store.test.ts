/**
 * list_members as Build Lists writes and reads it: members added by groups, read back per list as
 * one id text per membership, migration 5 (SQLite: one WITHOUT ROWID table) keeping every row, and
 * migration 13 (SQLite: no person index) keeping them too.
 */
import { INSERT_SLICE, jsonListByIndex } from '../../../nodes/shared/store/sql';
import {
	PERSON_ID_SEPARATOR,
	countMembershipsOf,
	hasMoreMembersThan,
	insertLists,
	insertMemberGroups,
	insertMembers,
	loadListMembers,
	loadMembershipsOf,
	loadStoredMembers,
	loadSyncedMemberships,
	removeMembers,
} from '../../../nodes/shared/store/lists';
import { deletePeople } from '../../../nodes/shared/store/people';
import { MIGRATIONS, migrate } from '../../../nodes/shared/store/schema';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, listMembersSecondaryIndexes, openStoreBeforeMigration, openTestStore } from '../../support/engines';
import { userList } from '../../support/roster-fixtures';

describe.each(ENGINES)('list members (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
		await insertLists(store.db, [userList('l-class', 'class', 'class:c1'), userList('l-role', 'role', 'role:student'), userList('l-manual', 'manual', null)]);
	});
	afterEach(async () => store.close());

	test('groups go in with the run that added them; synced lists of the kinds asked for come back as id texts in id order', async () => {
		await insertMemberGroups(
			store.db,
			[
				{ listId: 'l-class', membership: 'manager', personIds: ['p-t'] },
				{ listId: 'l-class', membership: 'member', personIds: ['p-a', 'p-c'] },
				{ listId: 'l-role', membership: 'member', personIds: ['p-b'] },
				{ listId: 'l-manual', membership: 'member', personIds: ['p-a'] },
			],
			'run-1',
		);
		// Added later, by hand: sorts first.
		await insertMembers(store.db, [{ list_id: 'l-class', person_id: 'p-0', membership: 'member', added_run_id: null }]);

		const loaded = await loadSyncedMemberships(store.db, ['class']);
		expect([...loaded.keys()]).toEqual(['l-class']);
		expect(loaded.get('l-class')).toEqual({ manager: 'p-t', member: ['p-0', 'p-a', 'p-c'].join(PERSON_ID_SEPARATOR) });
		expect([...(await loadSyncedMemberships(store.db, ['class', 'role'])).keys()].sort()).toEqual(['l-class', 'l-role']);
		expect(await loadSyncedMemberships(store.db, [])).toEqual(new Map());
		// By list id (Build Lists reads a slice of lists at a time): the same texts.
		expect(await loadStoredMembers(store.db, ['l-class', 'l-role', 'l-none'])).toEqual(new Map([['l-class', loaded.get('l-class')], ['l-role', { member: 'p-b' }]]));
		expect(await loadStoredMembers(store.db, [])).toEqual(new Map());
		expect(await loadListMembers(store.db, 'l-class')).toEqual([
			{ list_id: 'l-class', person_id: 'p-t', membership: 'manager', added_run_id: 'run-1' },
			{ list_id: 'l-class', person_id: 'p-0', membership: 'member', added_run_id: null },
			{ list_id: 'l-class', person_id: 'p-a', membership: 'member', added_run_id: 'run-1' },
			{ list_id: 'l-class', person_id: 'p-c', membership: 'member', added_run_id: 'run-1' },
		]);
	});

	test('removals by groups: only the memberships named go, across lists and memberships, more than a statement’s slice at once', async () => {
		const personIds = Array.from({ length: INSERT_SLICE + 700 }, (_, i) => `p-${String(i).padStart(6, '0')}`);
		await insertMemberGroups(
			store.db,
			[
				{ listId: 'l-class', membership: 'manager', personIds: ['p-000001', 'p-000002'] },
				{ listId: 'l-class', membership: 'member', personIds },
				{ listId: 'l-role', membership: 'member', personIds: personIds.slice(0, 10) },
			],
			'run-1',
		);
		const removedFromClass = personIds.filter((_, i) => i % 3 !== 0);
		await removeMembers(store.db, [
			{ listId: 'l-class', membership: 'member', personIds: removedFromClass },
			// A manager removed, the same person stays a member; a membership that is not there changes nothing.
			{ listId: 'l-class', membership: 'manager', personIds: ['p-000001', 'p-999999'] },
			{ listId: 'l-role', membership: 'member', personIds: ['p-000003'] },
		]);
		const stored = await loadStoredMembers(store.db, ['l-class', 'l-role']);
		expect(stored.get('l-class')).toEqual({ manager: 'p-000002', member: personIds.filter((_, i) => i % 3 === 0).join(PERSON_ID_SEPARATOR) });
		expect(stored.get('l-role')).toEqual({ member: personIds.slice(0, 10).filter((id) => id !== 'p-000003').join(PERSON_ID_SEPARATOR) });
		// Members (not managers) counted only as far as asked.
		const classMembers = Math.ceil(personIds.length / 3);
		expect(await hasMoreMembersThan(store.db, 'l-class', classMembers - 1)).toBe(true);
		expect(await hasMoreMembersThan(store.db, 'l-class', classMembers)).toBe(false);
		expect(await hasMoreMembersThan(store.db, 'l-role', 8)).toBe(true);
		expect(await hasMoreMembersThan(store.db, 'l-role', 9)).toBe(false);
		expect(await hasMoreMembersThan(store.db, 'l-manual', 0)).toBe(false);
		// A person's own memberships (SQLite: one scan of the table; PostgreSQL: its person index).
		expect(await loadMembershipsOf(store.db, ['p-000002', 'p-000000'])).toEqual(
			new Map([
				['l-class', { manager: 'p-000002', member: 'p-000000' }],
				['l-role', { member: ['p-000000', 'p-000002'].join(PERSON_ID_SEPARATOR) }],
			]),
		);
	});

	test('many adds in slices all go in; a person’s memberships are found in one statement (SQLite: one scan, no person index; PostgreSQL: its person index), and deleted with the person', async () => {
		const personIds = Array.from({ length: 60_000 }, (_, i) => `p-${String(i).padStart(6, '0')}`);
		await store.db.transaction((tx) =>
			insertMemberGroups(
				tx,
				[
					{ listId: 'l-class', membership: 'member', personIds: personIds.slice(0, 30_000) },
					{ listId: 'l-role', membership: 'member', personIds },
				],
				'run-1',
			),
		);
		const counted = await store.db.queryArrays('SELECT COUNT(*) FROM list_members');
		expect(Number(counted[0][0])).toBe(90_000);
		// The plan of a lookup by a list of people (no statistics on the table yet, as after a first night's Build Lists):
		// SQLite scans (no person index); PostgreSQL uses its person index, not a semi-join over the whole table.
		const planned = await store.db.queryArrays(`${engine === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'} SELECT list_id FROM list_members WHERE ${jsonListByIndex(store.db, 'person_id')}`, [
			JSON.stringify(personIds.slice(0, 2000)),
		]);
		if (engine === 'sqlite') expect(planned.map((row) => String(row[3])).join(' | ')).toMatch(/^SCAN list_members \|/);
		else expect(planned.map((row) => String(row[0])).join('\n')).toMatch(/Index.* Scan on list_members_person|Index.* Scan using list_members_person/);
		// More people than an IN list of placeholders holds (~1,000), in one statement.
		const asked = [...personIds.slice(29_000, 31_000), 'p-nobody'];
		const memberships = await loadMembershipsOf(store.db, asked);
		expect(memberships.get('l-class')?.member?.split(PERSON_ID_SEPARATOR)).toEqual(personIds.slice(29_000, 30_000));
		expect(memberships.get('l-role')?.member?.split(PERSON_ID_SEPARATOR)).toEqual(personIds.slice(29_000, 31_000));
		const onLists = await countMembershipsOf(store.db, asked);
		expect(onLists.size).toBe(2000);
		expect(onLists.get('p-029999')).toBe(2);
		expect(onLists.get('p-030000')).toBe(1);
		expect(onLists.has('p-nobody')).toBe(false);
		expect(await countMembershipsOf(store.db, [])).toEqual(new Map());
		expect(await loadMembershipsOf(store.db, [])).toEqual(new Map());
		await store.db.execute('INSERT INTO people (id, role, given_name, family_name, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', ['p-000007', 'student', 'A', 'B', 'sis', 'x', 'x']);
		await deletePeople(store.db, ['p-000007']);
		const left = await store.db.queryArrays("SELECT COUNT(*) FROM list_members WHERE person_id = 'p-000007'");
		expect(Number(left[0][0])).toBe(0);
		expect(Number((await store.db.queryArrays('SELECT COUNT(*) FROM list_members'))[0][0])).toBe(90_000 - 2);
		expect(Number((await store.db.queryArrays("SELECT COUNT(*) FROM people WHERE id = 'p-000007'"))[0][0])).toBe(0);
	});
});

describe.each(ENGINES)('migration 5 on a store with list members (%s)', (engine) => {
	let db: SqlDb;
	let close: () => Promise<void>;
	beforeEach(async () => {
		({ db, close } = await openStoreBeforeMigration(engine, 5));
	});
	afterEach(async () => close());

	test('keeps every membership and the person index (which migration 13 then drops on SQLite)', async () => {
		const rows = [
			['l2', 'p1', 'member', 'run-1'],
			['l1', 'p2', 'member', null],
			['l1', 'p1', 'manager', 'run-2'],
			['l1', 'p1', 'member', 'run-1'],
		];
		for (const row of rows) await db.execute('INSERT INTO list_members (list_id, person_id, membership, added_run_id) VALUES (?, ?, ?, ?)', row);

		expect(await migrate(db)).toBe(MIGRATIONS.filter((m) => m.version >= 5).length);
		const back = await db.queryArrays('SELECT list_id, person_id, membership, added_run_id FROM list_members ORDER BY list_id, person_id, membership');
		expect(back).toEqual([...rows].sort((a, b) => String(a.slice(0, 3)).localeCompare(String(b.slice(0, 3)))));
		await expect(db.execute('INSERT INTO list_members (list_id, person_id, membership) VALUES (?, ?, ?)', ['l1', 'p1', 'member'])).rejects.toThrow();
		if (engine === 'sqlite') {
			const tables = await db.queryArrays("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'list_members' AND type IN ('table', 'index') ORDER BY name");
			// Migration 13 dropped the person index migration 5 made.
			expect(tables.map((row) => row[0])).toEqual(['list_members']);
			expect(String(tables[0][1])).toMatch(/PRIMARY KEY \(list_id, membership, person_id\)\s*\) WITHOUT ROWID/);
		}
	});
});

describe.each(ENGINES)('migration 13 on a store with list members (%s)', (engine) => {
	let db: SqlDb;
	let close: () => Promise<void>;
	beforeEach(async () => {
		({ db, close } = await openStoreBeforeMigration(engine, 13));
	});
	afterEach(async () => close());

	test('drops the person index on SQLite only, keeping every membership', async () => {
		expect(await listMembersSecondaryIndexes(db)).toEqual(['list_members_person']);
		const rows = [
			['l1', 'p1', 'manager', 'run-2'],
			['l1', 'p1', 'member', 'run-1'],
			['l1', 'p2', 'member', null],
			['l2', 'p1', 'member', 'run-1'],
		];
		for (const row of rows) await db.execute('INSERT INTO list_members (list_id, person_id, membership, added_run_id) VALUES (?, ?, ?, ?)', row);
		expect(await migrate(db)).toBe(MIGRATIONS.filter((m) => m.version >= 13).length);
		expect(await listMembersSecondaryIndexes(db)).toEqual(engine === 'sqlite' ? [] : ['list_members_person']);
		expect(await db.queryArrays('SELECT list_id, person_id, membership, added_run_id FROM list_members ORDER BY list_id, person_id, membership')).toEqual(rows);
		expect(await countMembershipsOf(db, ['p1', 'p2'])).toEqual(new Map([['p1', 3], ['p2', 1]]));
	});
});
