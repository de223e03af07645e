/** Reading people and run changes back from the store, on both engines. */
import type { RunChange } from '../../../nodes/shared/store/changes';
import { UNSETTLED_PERSON_ACTIONS, UNSETTLED_PERSON_CHANGES, addChanges, changeLinePages, listChanges, listUnsettledPersonChanges } from '../../../nodes/shared/store/changes';
import type { PersonRow } from '../../../nodes/shared/store/people';
import { countManagedPeople, loadPackedPeople, loadPackedPeopleWhere, loadPeople } from '../../../nodes/shared/store/people';
import { createRun } from '../../../nodes/shared/store/runs';
import type { SqlDb, SqlValue } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { addManualPeople, manualPerson } from '../../support/roster-fixtures';

/** A student with a value in every column of people (text, nulls and numbers), `changed` on top. */
function personWithEveryColumn(id: string, given: string, family: string, changed: Partial<PersonRow> = {}): PersonRow {
	return manualPerson(id, 'student', given, family, {
		middle_name: 'C',
		preferred_name: 'Annie',
		username: 'abee',
		student_number: '1001',
		sis_id: '1001',
		sourced_id: 's-1',
		grade: '09',
		school_ids: '["sch-1"]',
		phone: '555-0100',
		parent_name: 'Pat Bee',
		parent_email: 'pat@example.org',
		parent_phone: '555-0101',
		include_in_sis_sync: 1,
		source: 'sis',
		archived_at: '2026-09-01T00:00:00.000Z',
		missing_runs: 3,
		last_seen_run_id: 'run-x',
		updated_at: '2026-09-02T00:00:00.000Z',
		...changed,
	});
}

describe.each(ENGINES)('people and run changes read back (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => {
		await store.close();
	});

	test('loadPeople returns every column as written: text, nulls and numbers', async () => {
		const full = personWithEveryColumn('p-full', 'Ann', 'Bee');
		const sparse = manualPerson('p-sparse', 'staff', 'Sam', 'Dee', { email: null, school_id: null });
		await addManualPeople(store.db, [full, sparse]);

		const people = await loadPeople(store.db);
		expect([...people].sort((a, b) => a.id.localeCompare(b.id))).toEqual([full, sparse]);
		expect(typeof people[0].missing_runs).toBe('number');
		expect(typeof people[0].include_in_sis_sync).toBe('number');
	});

	test('loadPackedPeople unpacks every row as loadPeople reads it, in the same order: text outside Latin-1, nulls and numbers', async () => {
		const zoe = personWithEveryColumn('p-zoë', 'Zoë', 'Ærøskøbing', {
			preferred_name: '李小龍',
			middle_name: 'emoji 👩‍🏫 "quoted" \\ back',
			sourced_id: 's-ü',
			student_number: '١٠٠١',
			parent_name: 'Łukasz\nNewline',
			archived_at: null,
		});
		const sparse = manualPerson('p-sparse', 'staff', 'Sam', 'Dee', { email: null, school_id: null });
		const archived = manualPerson('p-archived', 'teacher', 'Tom', 'Old', { archived_at: '2026-09-01T00:00:00.000Z', include_in_sis_sync: 1 });
		await addManualPeople(store.db, [zoe, sparse, archived]);

		const packed = await loadPackedPeople(store.db);
		const unpacked = Array.from({ length: packed.size }, (_, person) => packed.row(person));
		expect(unpacked).toEqual(await loadPeople(store.db));
		expect(unpacked.map((_, person) => packed.sourcedIdOf(person))).toEqual(unpacked.map((person) => person.sourced_id));
		expect(unpacked.map((person) => person.sourced_id)).toContain('s-ü');
		expect([...unpacked].sort((a, b) => a.id.localeCompare(b.id))).toEqual([archived, sparse, zoe]);
		// Unpacked again, a row is the same (it is decoded afresh each time).
		const again = packed.row(unpacked.findIndex((person) => person.id === 'p-zoë'));
		expect(again).toEqual(zoe);
		expect(typeof again.missing_runs).toBe('number');
		expect(() => packed.row(packed.size)).toThrow(RangeError);
	});

	test('loadPackedPeopleWhere finds people by id, sourcedId, SIS id (as sis_id or student_number) and email key, each once, in table order', async () => {
		const people = [
			manualPerson('p-1', 'student', 'Ann', 'One', { sourced_id: 's-1' }),
			manualPerson('p-2', 'student', 'Bo', 'Two', { sis_id: '2002', sourced_id: 's-2' }),
			manualPerson('p-3', 'staff', 'Cy', 'Three', { student_number: '3003' }),
			manualPerson('p-4', 'student', 'Di', 'Four'),
			manualPerson('p-5', 'student', 'Ed', 'Five', { sourced_id: 's-5', sis_id: '5005' }),
			manualPerson('p-6', 'student', 'Flo', 'Six', { sourced_id: 's-6' }),
		];
		await addManualPeople(store.db, people);
		const found = await loadPackedPeopleWhere(store.db, {
			ids: ['p-1', 'p-5', 'p-none'],
			sourcedIds: ['s-2', 's-5', 's-none'],
			sisIds: ['2002', '3003', '9999'],
			emailKeys: [people[3].email_key as string, people[4].email_key as string],
		});
		expect(Array.from({ length: found.size }, (_, person) => found.sourcedIdOf(person) ?? found.row(person).id)).toEqual(['s-1', 's-2', 'p-3', 'p-4', 's-5']);
		const nothing = await loadPackedPeopleWhere(store.db, { ids: [], sourcedIds: [], sisIds: [], emailKeys: [] });
		expect(nothing.size).toBe(0);
	});

	test('countManagedPeople counts per role the active people in SIS sync', async () => {
		await addManualPeople(store.db, [
			manualPerson('s1', 'student', 'A', 'A', { include_in_sis_sync: 1 }),
			manualPerson('s2', 'student', 'B', 'B', { include_in_sis_sync: 1 }),
			manualPerson('s3', 'student', 'C', 'C', { include_in_sis_sync: 1, archived_at: '2026-09-01T00:00:00.000Z' }),
			manualPerson('t1', 'teacher', 'D', 'D', { include_in_sis_sync: 1 }),
			manualPerson('m1', 'staff', 'E', 'E'),
		]);
		expect(await countManagedPeople(store.db)).toEqual(new Map([['student', 2], ['teacher', 1]]));
	});

	test('changeLinePages pages through every change in order, without values; statistics first only for more than a page (PostgreSQL)', async () => {
		const run = await createRun(store.db, { source: 'test' });
		const changes: RunChange[] = Array.from({ length: 7 }, (_, i) => ({
			entity: i === 6 ? 'list' : 'person',
			entityId: `p${i}`,
			action: i === 3 ? 'pending' : 'create',
			role: i === 6 ? null : 'student',
			label: `Person ${i}`,
			sourcedId: i === 5 ? null : `s${i}`,
			reason: i === 3 ? 'missing' : null,
			fields: i === 3 ? null : ['given_name', 'family_name'],
			before: null,
			after: { given_name: `Person ${i}` },
			applied: true,
		}));
		await addChanges(store.db, run.id, changes);

		// The store's own connection, its statements recorded: ANALYZE only for a run of more than a page, on PostgreSQL.
		const executed: string[] = [];
		const recorded: SqlDb = Object.assign(Object.create(store.db) as SqlDb, {
			execute: (sql: string, params?: SqlValue[]) => {
				executed.push(sql);
				return store.db.execute(sql, params);
			},
		});
		const pagesOf = async (pageSize: number) => {
			const read = [];
			for await (const page of changeLinePages(recorded, run.id, pageSize)) read.push(page);
			return read;
		};
		expect((await pagesOf(7)).map((page) => page.length)).toEqual([7]);
		expect(executed).toEqual([]);
		const pages = await pagesOf(3);
		expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
		expect(executed).toEqual(engine === 'postgres' ? ['ANALYZE run_changes (run_id, seq)'] : []);
		const lines = pages.flat();
		expect(lines.map((line) => line.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(lines[3]).toEqual({ seq: 4, entity: 'person', action: 'pending', role: 'student', sourcedId: 's3', label: 'Person 3', fieldsJson: null, reason: 'missing' });
		expect(lines[5]).toMatchObject({ sourcedId: null, fieldsJson: '["given_name","family_name"]' });
		expect(lines[6]).toMatchObject({ entity: 'list', role: null });

		// listChanges reads the same changes back whole, or without their values.
		const stored = await listChanges(store.db, run.id);
		expect(stored.map(({ seq, ...change }) => change)).toEqual(changes);
		expect(stored.map((change) => change.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		const bare = await listChanges(store.db, run.id, { withValues: false, actions: ['create'], afterSeq: 4, limit: 1 });
		expect(bare).toEqual([{ ...changes[4], seq: 5, before: null, after: null }]);
	});

	test("listUnsettledPersonChanges finds a run's unsettled person changes (only those, without values), through their partial index", async () => {
		const [run, other] = [await createRun(store.db, { source: 'test' }), await createRun(store.db, { source: 'test' })];
		const actions = ['create', 'skip', 'update', 'ambiguous', 'keep', 'archive', 'pending', 'relink', 'restore'];
		const changes: RunChange[] = actions.map((action, i) => ({
			entity: 'person',
			entityId: `p${i}`,
			action,
			role: 'student',
			label: null,
			sourcedId: `s${i}`,
			reason: null,
			fields: null,
			before: { given_name: 'Before' },
			after: null,
			applied: false,
		}));
		// A list change with an action of the same name is none of them.
		await addChanges(store.db, run.id, [...changes, { ...changes[1], entity: 'list', entityId: 'l1' }]);
		await addChanges(store.db, other.id, changes.slice(0, 2));
		const unsettled = await listUnsettledPersonChanges(store.db, run.id);
		expect(unsettled.map((change) => change.action)).toEqual([...UNSETTLED_PERSON_ACTIONS]);
		expect(unsettled.map((change) => change.action)).toEqual(['skip', 'ambiguous', 'keep', 'pending', 'relink']);
		expect(unsettled.every((change) => change.entity === 'person' && change.before === null)).toBe(true);
		// Migration 16's index holds exactly these: the query is answered from it.
		const sql = `SELECT seq FROM run_changes WHERE run_id = ? AND ${UNSETTLED_PERSON_CHANGES} ORDER BY seq`;
		if (engine === 'sqlite') {
			const plan = await store.db.queryArrays(`EXPLAIN QUERY PLAN ${sql}`, [run.id]);
			expect(plan.map((row) => String(row[3])).join(' ')).toContain('USING INDEX run_changes_unsettled');
		} else {
			const [[definition]] = await store.db.queryArrays("SELECT indexdef FROM pg_indexes WHERE indexname = 'run_changes_unsettled'");
			expect(String(definition)).toMatch(/WHERE \(\(entity = 'person'::text\) AND \(action = ANY \(ARRAY\['skip'::text, 'ambiguous'::text, 'keep'::text, 'pending'::text, 'relink'::text\]\)\)\)/);
		}
	});
});
