/**
 * Snapshots are stored as packed chunks (migration 4): records come back whole, in sourcedId order,
 * across chunk boundaries and with any value; copy, delete, count, lookup by sourcedId, search and
 * tallies work on chunks; and a snapshot written before migration 4 (one row per record in the
 * snapshot_* tables) still reads the same everywhere: readers, drift check, roster as of, copy.
 */
import { rosterAsOf } from '../../../nodes/shared/history/as-of';
import type { CanonicalEnrollment, CanonicalPerson } from '../../../nodes/shared/model/roster';
import { findDrift, driftSettings } from '../../../nodes/shared/normalize/drift';
import { readSnapshot } from '../../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { SnapshotTable } from '../../../nodes/shared/store/snapshot';
import {
	CHUNK_RECORDS,
	CLASS_TABLE,
	CONTACT_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	ENROLLMENT_VALUE_AT,
	ORG_TABLE,
	PERSON_TABLE,
	PERSON_VALUE_AT,
	SNAPSHOT_TABLES,
	SOURCED_ID_AT,
	SnapshotChunkWriter,
	TERM_TABLE,
	changedRecords,
	changedSourcedIds,
	copySnapshotRecordsWhere,
	countSnapshotRecords,
	enrollmentSummaryOf,
	personSummaryOf,
	deleteSnapshot,
	findSnapshotByFingerprint,
	findSnapshotRecords,
	packRecord,
	readSnapshotBatches,
	readSnapshotHeader,
	readSnapshotRecords,
	readSnapshotRecordsById,
	readSnapshotTallies,
	readSnapshotValueBatches,
	shareSnapshot,
	tallyKeys,
	withPrimaryContact,
	writeSnapshotChanges,
	writeSnapshotHeader,
	writeSnapshotRecords,
} from '../../../nodes/shared/store/snapshot';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { moveToLegacyTables } from '../../support/legacy-snapshot';
import { day1, enroll, klass, person, student, writeRoster } from '../../support/roster-fixtures';
import { seededInts } from '../../support/seeded';

const byId = <T extends { sourcedId: string }>(records: T[]) => [...records].sort((a, b) => (a.sourcedId < b.sourcedId ? -1 : a.sourcedId > b.sourcedId ? 1 : 0));

/** A deterministic shuffle (no order of the input survives by chance). */
function shuffled<T>(items: T[]): T[] {
	const out = [...items];
	const next = seededInts(7);
	for (let i = out.length - 1; i > 0; i--) {
		const j = next(i + 1);
		[out[i], out[j]] = [out[j], out[i]];
	}
	return out;
}

const students = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => student(`${prefix}${String(i).padStart(5, '0')}`, `Given${i}`, `Family${i}`, String(9 + (i % 4)), `${1000 + i}`));

async function collect<T>(batches: AsyncGenerator<T[]>): Promise<T[][]> {
	const out: T[][] = [];
	for await (const batch of batches) out.push(batch);
	return out;
}

const chunkRows = async (db: SqlDb, runId: string, entity: string) =>
	db.queryArrays('SELECT seq, row_count, first_key, last_key FROM snapshot_chunks WHERE run_id = ? AND entity = ? ORDER BY seq', [runId, entity]);

test('every row of values begins with the sourcedId, and the positions readers use name the columns they read', () => {
	for (const spec of SNAPSHOT_TABLES) expect(spec.toRow({ sourcedId: 'key' } as never)[SOURCED_ID_AT]).toBe('key');
	const person = student('s1', 'Ann', 'Archer', '9', '1001');
	const values = PERSON_TABLE.toRow({ ...person, primaryContactId: 'g1' });
	expect([values[PERSON_VALUE_AT.sourcedId], values[PERSON_VALUE_AT.role], values[PERSON_VALUE_AT.primaryContactId]]).toEqual(['s1', 'student', 'g1']);
	expect(personSummaryOf(values)).toEqual({ sourcedId: 's1', role: 'student', primaryContactId: 'g1' });
	expect(personSummaryOf(PERSON_TABLE.toRow(person)).primaryContactId).toBeNull();
	const enrollment = enroll('cls-1', 's1', 'student', false, { sourcedId: 'e1' });
	const enrollmentValues = ENROLLMENT_TABLE.toRow(enrollment);
	expect([enrollmentValues[ENROLLMENT_VALUE_AT.sourcedId], enrollmentValues[ENROLLMENT_VALUE_AT.classId], enrollmentValues[ENROLLMENT_VALUE_AT.personId]]).toEqual(['e1', 'cls-1', 's1']);
	expect(enrollmentSummaryOf(enrollmentValues)).toEqual({ sourcedId: 'e1', classId: 'cls-1', personId: 's1' });
});

describe.each(ENGINES)('snapshot chunks (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	test('records come back in sourcedId order across chunk boundaries, in batches of at most a chunk', async () => {
		const people = students(2 * CHUNK_RECORDS + 7);
		await writeSnapshotRecords(store.db, 'run-a', PERSON_TABLE, shuffled(people));
		const sorted = byId(people);
		expect(await chunkRows(store.db, 'run-a', 'people')).toEqual([
			[1, CHUNK_RECORDS, sorted[0].sourcedId, sorted[CHUNK_RECORDS - 1].sourcedId],
			[2, CHUNK_RECORDS, sorted[CHUNK_RECORDS].sourcedId, sorted[2 * CHUNK_RECORDS - 1].sourcedId],
			[3, 7, sorted[2 * CHUNK_RECORDS].sourcedId, sorted[sorted.length - 1].sourcedId],
		]);
		expect(await readSnapshotRecords(store.db, 'run-a', PERSON_TABLE)).toEqual(sorted);
		const batches = await collect(readSnapshotBatches(store.db, 'run-a', PERSON_TABLE));
		expect(batches.map((batch) => batch.length)).toEqual([CHUNK_RECORDS, CHUNK_RECORDS, 7]);
		expect(batches.flat()).toEqual(sorted);
		const small = await collect(readSnapshotBatches(store.db, 'run-a', PERSON_TABLE, 1500));
		expect(small.map((batch) => batch.length)).toEqual([1500, 500, 1500, 500, 7]);
		expect(small.flat()).toEqual(sorted);
		expect(await countSnapshotRecords(store.db, 'run-a', PERSON_TABLE)).toBe(people.length);
		// Other runs and entities are apart.
		expect(await countSnapshotRecords(store.db, 'run-b', PERSON_TABLE)).toBe(0);
		expect(await readSnapshotRecords(store.db, 'run-a', CONTACT_TABLE)).toEqual([]);
	});

	test('records written in sourcedId order through a SnapshotChunkWriter make the chunks one writeSnapshotRecords call makes', async () => {
		const people = students(2 * CHUNK_RECORDS + 7);
		await writeSnapshotRecords(store.db, 'run-a', PERSON_TABLE, shuffled(people));
		const writer = new SnapshotChunkWriter(store.db, 'run-b', PERSON_TABLE);
		for (const record of byId(people)) await writer.add(record);
		await writer.finish();
		const chunks = (runId: string) =>
			store.db.queryArrays('SELECT entity, seq, row_count, first_key, last_key, tallies, data FROM snapshot_chunks WHERE run_id = ? ORDER BY seq', [runId]);
		expect(await chunks('run-b')).toEqual(await chunks('run-a'));
		expect((await chunks('run-b')).length).toBe(3);
		// Out of order or twice: refused.
		const refused = new SnapshotChunkWriter(store.db, 'run-c', PERSON_TABLE);
		await refused.add(people[1]);
		await expect(refused.add(people[0])).rejects.toThrow('records must come in sourcedId order');
		await expect(refused.add(people[1])).rejects.toThrow(`sourcedId "${people[1].sourcedId}" twice`);
	});

	test('records handed packed (addPacked, as Normalize holds people and contacts) make the chunks add() makes: data, tallies and keys; as changes over a base too', async () => {
		const chunks = (runId: string) =>
			store.db.queryArrays('SELECT entity, seq, row_count, first_key, last_key, tallies, data FROM snapshot_chunks WHERE run_id = ? ORDER BY entity, seq', [runId]);
		// Students with a primary contact, as Normalize decides it after packing them without one; staff without.
		const people = byId([
			...students(CHUNK_RECORDS + 3).map((p, i) => ({ ...p, email: i % 3 === 0 ? null : p.email, primaryContactId: i % 2 === 0 ? `g-${i}` : null })),
			{ ...person('t-1', 'teacher', 'Ada', 'Lovelace'), primaryContactId: null },
		]);
		const contacts = [
			{ sourcedId: 'g-0', relationship: 'guardian' as const, givenName: 'Ana', familyName: 'Ö "quoted"', email: null, phone: '555', sms: null },
			{ sourcedId: 'g-2', relationship: 'parent' as const, givenName: 'Bo', familyName: 'Li', email: 'bo@example.org', phone: null, sms: null },
		];
		const write = async (runId: string, packed: boolean, changesOver?: string) => {
			const peopleWriter = new SnapshotChunkWriter(store.db, runId, PERSON_TABLE, changesOver);
			for (const record of people) {
				if (!packed) await peopleWriter.add(record);
				else await peopleWriter.addPacked(record.sourcedId, withPrimaryContact(packRecord(PERSON_TABLE, { ...record, primaryContactId: null }), record.primaryContactId), tallyKeys(PERSON_TABLE, record));
			}
			await peopleWriter.finish();
			const contactWriter = new SnapshotChunkWriter(store.db, runId, CONTACT_TABLE, changesOver);
			for (const contact of contacts) await (packed ? contactWriter.addPacked(contact.sourcedId, packRecord(CONTACT_TABLE, contact), undefined) : contactWriter.add(contact));
			await contactWriter.finish();
		};
		await write('run-a', false);
		await write('run-b', true);
		expect((await chunks('run-a')).length).toBe(3);
		expect(await chunks('run-b')).toEqual(await chunks('run-a'));
		expect(await readSnapshotRecords(store.db, 'run-b', PERSON_TABLE)).toEqual(people);
		expect(await readSnapshotTallies(store.db, 'run-b', PERSON_TABLE)).toEqual(await readSnapshotTallies(store.db, 'run-a', PERSON_TABLE));

		// Over a base (run-a's), with one person changed: both ways store the same changes.
		people[1] = { ...people[1], givenName: 'Changed' };
		await write('run-c', false, 'run-a');
		await write('run-d', true, 'run-a');
		expect((await chunks('run-d')).map((chunk) => chunk.slice(0, 5))).toEqual([['people', 1, 1, people[1].sourcedId, people[1].sourcedId]]);
		expect(await chunks('run-d')).toEqual(await chunks('run-c'));
		expect(await readSnapshotRecords(store.db, 'run-d', PERSON_TABLE)).toEqual(people);
		expect(await readSnapshotRecords(store.db, 'run-d', CONTACT_TABLE)).toEqual(contacts);

		// A person packed with a primary contact already is refused, not given a second one.
		expect(() => withPrimaryContact(packRecord(PERSON_TABLE, people[0]), 'g-9')).toThrow('has a primary contact already');
	});

	test('copySnapshotRecordsWhere: chunks whose records are all kept are copied as they are, the others written with what is kept', async () => {
		const total = 3 * CHUNK_RECORDS;
		const enrollments: CanonicalEnrollment[] = Array.from({ length: total }, (_, i) => enroll(`cls-${i % 7}`, `s${i}`, 'student', false, { sourcedId: `enr-${String(i).padStart(5, '0')}` }));
		await writeSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE, enrollments);
		// run-b already has a chunk of its own: the copies come after it.
		await writeSnapshotRecords(store.db, 'run-b', ENROLLMENT_TABLE, [enroll('cls-0', 'new', 'student', false, { sourcedId: 'enr-new' })]);
		const dropped = new Set(['enr-02000', 'enr-03999']); // the first and last of the second chunk
		const kept = await copySnapshotRecordsWhere(store.db, 'run-a', 'run-b', ENROLLMENT_TABLE, (e) => !dropped.has(e.sourcedId));
		expect(kept).toBe(total - 2);
		expect(await chunkRows(store.db, 'run-b', 'enrollments')).toEqual([
			[1, 1, 'enr-new', 'enr-new'],
			[2, CHUNK_RECORDS, 'enr-00000', 'enr-01999'],
			[3, CHUNK_RECORDS - 2, 'enr-02001', 'enr-03998'],
			[4, CHUNK_RECORDS, 'enr-04000', 'enr-05999'],
		]);
		const data = (runId: string, seq: number) => store.db.queryArrays('SELECT data, tallies FROM snapshot_chunks WHERE run_id = ? AND entity = ? AND seq = ?', [runId, 'enrollments', seq]);
		expect(await data('run-b', 2)).toEqual(await data('run-a', 1));
		expect(await data('run-b', 4)).toEqual(await data('run-a', 3));
		expect(await readSnapshotRecords(store.db, 'run-b', ENROLLMENT_TABLE)).toEqual([
			...enrollments.filter((e) => !dropped.has(e.sourcedId)),
			enroll('cls-0', 'new', 'student', false, { sourcedId: 'enr-new' }),
		]);
		// Nothing kept of a chunk: no chunk. From a snapshot written before migration 4: the same records.
		expect(await copySnapshotRecordsWhere(store.db, 'run-a', 'run-c', ENROLLMENT_TABLE, (e) => e.sourcedId < 'enr-02000')).toBe(CHUNK_RECORDS);
		expect((await chunkRows(store.db, 'run-c', 'enrollments')).length).toBe(1);
		await moveToLegacyTables(store.db, 'run-a');
		expect(await copySnapshotRecordsWhere(store.db, 'run-a', 'run-d', ENROLLMENT_TABLE, (e) => !dropped.has(e.sourcedId))).toBe(total - 2);
		expect(await readSnapshotRecords(store.db, 'run-d', ENROLLMENT_TABLE)).toEqual(enrollments.filter((e) => !dropped.has(e.sourcedId)));
	});

	test('an entity written in several calls (as Normalize streams enrollments) is read whole, in sourcedId order', async () => {
		const total = CHUNK_RECORDS + 1000;
		const enrollments: CanonicalEnrollment[] = Array.from({ length: total }, (_, i) => enroll(`cls-${i % 7}`, `s${i}`, 'student', false, { sourcedId: `enr-${String(i).padStart(5, '0')}` }));
		// The second call's records sort before the first's.
		await writeSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE, shuffled(enrollments.slice(1000)));
		await writeSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE, shuffled(enrollments.slice(0, 1000)));
		expect(await chunkRows(store.db, 'run-a', 'enrollments')).toEqual([
			[1, CHUNK_RECORDS, 'enr-01000', enrollments[total - 1].sourcedId],
			[2, 1000, 'enr-00000', 'enr-00999'],
		]);
		expect(await readSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE)).toEqual(enrollments);
		const batches = (await collect(readSnapshotBatches(store.db, 'run-a', ENROLLMENT_TABLE))).flat();
		expect(byId(batches)).toEqual(enrollments);
		expect(await countSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE)).toBe(total);
		// The key stays unique within a write, as the PRIMARY KEY of the old tables kept it.
		await expect(writeSnapshotRecords(store.db, 'run-b', ENROLLMENT_TABLE, [enrollments[0], enrollments[0]])).rejects.toThrow(
			'snapshot enrollments: sourcedId "enr-00000" twice',
		);
	});

	test('unusual values come back exactly, in every entity', async () => {
		const odd = ['O\'Brien "Jr"', 'back\\slash', 'Zoë 😀 中文 \u00a0', '[1,"2"]', '{"a":1}', 'null', 'true', '', 'NUL\u0000 and \u001e\u001f', '100%_done', 'line\r\nbreak\ttab'];
		const roster = {
			orgs: odd.map((v, i) => ({ sourcedId: `${v}#org${i}`, name: v, type: i % 2 ? 'school' : v, identifier: i % 3 ? v : null, parentId: null })),
			terms: odd.map((v, i) => ({ sourcedId: `${v}#t${i}`, title: v, type: 'term', startDate: null, endDate: v, parentId: null, schoolYear: i % 2 ? null : v })),
			courses: odd.map((v, i) => ({ sourcedId: `${v}#c${i}`, title: v, courseCode: null, grades: [v, ''], subjects: [], orgId: v })),
			classes: odd.map((v, i) => klass(`${v}#k${i}`, v, [v], { classCode: v, classType: null, courseId: null, schoolId: v, grades: [], subjects: [v], periods: v })),
			people: odd.map((v, i) =>
				person(`${v}#p${i}`, i % 2 ? 'teacher' : 'student', v, v, { middleName: v, email: i % 2 ? null : v, grade: v, schoolIds: [v, v], primarySchoolId: null, enabled: i % 2 === 0 }),
			),
			contacts: odd.map((v, i) => ({ sourcedId: `${v}#pc${i}`, relationship: 'guardian' as const, givenName: v, familyName: v, email: null, phone: v, sms: null })),
			enrollments: odd.map((v, i) => enroll(v, v, 'student', i % 2 === 1, { sourcedId: `${v}#e${i}`, beginDate: v, endDate: null })),
		};
		const specs = { orgs: ORG_TABLE, terms: TERM_TABLE, courses: COURSE_TABLE, classes: CLASS_TABLE, people: PERSON_TABLE, contacts: CONTACT_TABLE, enrollments: ENROLLMENT_TABLE };
		for (const [entity, spec] of Object.entries(specs)) {
			await writeSnapshotRecords(store.db, 'run-a', spec as SnapshotTable<unknown>, shuffled(roster[entity as keyof typeof roster] as unknown[]));
		}
		const read = await readSnapshot(store.db, 'run-a');
		for (const entity of Object.keys(specs) as Array<keyof typeof roster>) expect(read[entity]).toEqual(byId(roster[entity] as Array<{ sourcedId: string }>));
		// Lookups and searches find such values too.
		const people = await readSnapshotRecordsById(store.db, 'run-a', PERSON_TABLE, [`${odd[0]}#p0`, `${odd[3]}#p3`, 'nobody']);
		expect([...people.keys()].sort()).toEqual([`${odd[0]}#p0`, `${odd[3]}#p3`].sort());
		for (const v of odd) {
			const found = await findSnapshotRecords(store.db, 'run-a', ENROLLMENT_TABLE, (e) => e.classId === v, [JSON.stringify(v)]);
			expect(found.map((e) => e.classId)).toEqual([v]);
		}
	});

	test('share (no record copied) and delete: the records go with the last snapshot that shares them', async () => {
		const people = students(CHUNK_RECORDS + 10);
		await writeSnapshotRecords(store.db, 'run-a', PERSON_TABLE, people);
		await writeSnapshotRecords(store.db, 'run-a', ORG_TABLE, day1().orgs);
		await writeSnapshotHeader(store.db, 'run-a', ['sch-gbhs'], { people: 1 });
		const allChunks = async () => Number((await store.db.queryArrays('SELECT COUNT(*) FROM snapshot_chunks'))[0][0]);
		const stored = await allChunks();
		await shareSnapshot(store.db, 'run-a', 'run-b', 'fp-1');
		// run-c shares run-b's, which are run-a's.
		await shareSnapshot(store.db, 'run-b', 'run-c', null);
		expect(await allChunks()).toBe(stored);
		expect(await readSnapshotHeader(store.db, 'run-c')).toMatchObject({ schoolIds: ['sch-gbhs'], counts: { people: 1 } });
		expect(await findSnapshotByFingerprint(store.db, 'fp-1', 'run-x')).toMatchObject({ runId: 'run-b' });

		await deleteSnapshot(store.db, 'run-a');
		// Its header goes (what retention, delta nights and "roster as of" look for); its chunks stay for the sharers.
		expect(await readSnapshotHeader(store.db, 'run-a')).toBeUndefined();
		expect(await allChunks()).toBe(stored);
		for (const runId of ['run-b', 'run-c']) {
			expect(await readSnapshotRecords(store.db, runId, PERSON_TABLE)).toEqual(byId(people));
			expect(await readSnapshotRecords(store.db, runId, ORG_TABLE)).toEqual(byId(day1().orgs));
			expect(await countSnapshotRecords(store.db, runId, PERSON_TABLE)).toBe(people.length);
			expect((await readSnapshotRecordsById(store.db, runId, PERSON_TABLE, [people[3].sourcedId])).get(people[3].sourcedId)).toEqual(people[3]);
			expect(await findSnapshotRecords(store.db, runId, PERSON_TABLE, (p) => p.sourcedId === people[5].sourcedId, [people[5].sourcedId])).toEqual([people[5]]);
			expect((await collect(readSnapshotBatches(store.db, runId, PERSON_TABLE, 1000))).flat()).toEqual(byId(people));
			expect(await readSnapshotTallies(store.db, runId, ORG_TABLE)).toEqual(new Map([['type:district', 1], ['type:school', 1]]));
		}
		// A delta night keeps records of a shared snapshot the same way.
		expect(await copySnapshotRecordsWhere(store.db, 'run-c', 'run-d', PERSON_TABLE, (p) => p.sourcedId !== people[0].sourcedId)).toBe(people.length - 1);
		expect(await readSnapshotRecords(store.db, 'run-d', PERSON_TABLE)).toEqual(byId(people).slice(1));

		await deleteSnapshot(store.db, 'run-b');
		expect(await readSnapshotRecords(store.db, 'run-c', PERSON_TABLE)).toEqual(byId(people));
		await deleteSnapshot(store.db, 'run-c');
		expect(Number((await store.db.queryArrays("SELECT COUNT(*) FROM snapshot_chunks WHERE run_id <> 'run-d'"))[0][0])).toBe(0);
	});

	test('lookup by sourcedId, search with hints, and tallies', async () => {
		const people: CanonicalPerson[] = [
			...students(2 * CHUNK_RECORDS + 1),
			person('t1', 'teacher', 'Tess', 'Tanner', { primarySchoolId: 'sch-2' }),
			person('t2', 'teacher', 'Uma', 'Usher', { email: '' }),
			person('a1', 'admin', '100%_done', 'Admin', { email: null, primarySchoolId: null }),
		];
		await writeSnapshotRecords(store.db, 'run-a', PERSON_TABLE, people);
		const wanted = ['s00000', 's02000', 's04000', 't2', 'a1', 'missing', 's01999'];
		const found = await readSnapshotRecordsById(store.db, 'run-a', PERSON_TABLE, wanted);
		expect([...found.keys()].sort()).toEqual(['a1', 's00000', 's01999', 's02000', 's04000', 't2']);
		expect(found.get('t2')).toEqual(people.find((p) => p.sourcedId === 't2'));
		expect(await readSnapshotRecordsById(store.db, 'run-a', PERSON_TABLE, [])).toEqual(new Map());

		// LIKE's own characters in a hint are taken literally: "100xxdone" is no match.
		await writeSnapshotRecords(store.db, 'run-b', PERSON_TABLE, [person('x1', 'staff', '100xxdone', 'X')]);
		expect((await findSnapshotRecords(store.db, 'run-b', PERSON_TABLE, () => true, ['100%_done'])).map((p) => p.sourcedId)).toEqual([]);
		expect((await findSnapshotRecords(store.db, 'run-a', PERSON_TABLE, (p) => p.givenName === '100%_done', ['100%_done'])).map((p) => p.sourcedId)).toEqual(['a1']);
		const grade10 = await findSnapshotRecords(store.db, 'run-a', PERSON_TABLE, (p) => p.grade === '10');
		expect(grade10).toHaveLength(people.filter((p) => p.grade === '10').length);

		const tallies = await readSnapshotTallies(store.db, 'run-a', PERSON_TABLE);
		const n = 2 * CHUNK_RECORDS + 1;
		expect(Object.fromEntries(tallies)).toEqual({
			'role:student': n,
			'email:student': n,
			'role:teacher': 2,
			'email:teacher': 1,
			'role:admin': 1,
			'school:sch-gbhs': n + 1,
			'school:sch-2': 1,
			'school:': 1,
		});
	});

	describe('changes over a base (a delta night)', () => {
		const enrollmentsOf = (ids: string[]) => ids.map((id, i) => enroll(`cls-${i % 5}`, id, 'student', false, { sourcedId: `enr-${id}` }));
		const layerRow = async (runId: string, entity: string) =>
			store.db.queryArrays('SELECT base_run_id, removed_count FROM snapshot_layers WHERE run_id = ? AND entity = ?', [runId, entity]);
		/** Everything a reader can ask of a run's people and enrollments: the layered run must answer as the whole one. */
		const answers = async (runId: string, probeIds: string[]) => ({
			people: await readSnapshotRecords(store.db, runId, PERSON_TABLE),
			peopleBatches: (await collect(readSnapshotBatches(store.db, runId, PERSON_TABLE, 1500))).flat(),
			peopleAsValues: byId((await collect(readSnapshotValueBatches(store.db, runId, PERSON_TABLE))).flat().map(PERSON_TABLE.fromValues)),
			enrollmentsAsValues: byId((await collect(readSnapshotValueBatches(store.db, runId, ENROLLMENT_TABLE))).flat().map(ENROLLMENT_TABLE.fromValues)),
			enrollments: await readSnapshotRecords(store.db, runId, ENROLLMENT_TABLE),
			enrollmentBatches: byId((await collect(readSnapshotBatches(store.db, runId, ENROLLMENT_TABLE))).flat()),
			counts: [await countSnapshotRecords(store.db, runId, PERSON_TABLE), await countSnapshotRecords(store.db, runId, ENROLLMENT_TABLE)],
			tallies: Object.fromEntries(await readSnapshotTallies(store.db, runId, PERSON_TABLE)),
			byId: [...(await readSnapshotRecordsById(store.db, runId, PERSON_TABLE, probeIds))].sort(),
			enrollmentsById: [...(await readSnapshotRecordsById(store.db, runId, ENROLLMENT_TABLE, probeIds.map((id) => `enr-${id}`)))].sort(),
			grade10: await findSnapshotRecords(store.db, runId, PERSON_TABLE, (p) => p.grade === '10'),
			hinted: await findSnapshotRecords(store.db, runId, PERSON_TABLE, (p) => p.givenName.startsWith('Changed'), ['Changed']),
			class3: byId(await findSnapshotRecords(store.db, runId, ENROLLMENT_TABLE, (e) => e.classId === 'cls-3', ['"cls-3"'])),
		});

		/** Night 1 whole (people in one call, enrollments in two as Normalize streams them); night 2 = night 1 with `change` applied. */
		async function twoNights(change: (people: CanonicalPerson[]) => CanonicalPerson[]) {
			const night1 = students(2 * CHUNK_RECORDS + 7, 's1-');
			await writeSnapshotRecords(store.db, 'run-1', PERSON_TABLE, shuffled(night1));
			const enrollments1 = enrollmentsOf(night1.map((p) => p.sourcedId));
			await writeSnapshotRecords(store.db, 'run-1', ENROLLMENT_TABLE, enrollments1.slice(3000));
			await writeSnapshotRecords(store.db, 'run-1', ENROLLMENT_TABLE, enrollments1.slice(0, 3000));
			await writeSnapshotHeader(store.db, 'run-1', [], {});
			return { night1, night2: byId(change(night1)), enrollments1 };
		}

		/** Writes `people` (and one enrollment each, none for the gone) as run `runId` both ways: as changes over `overRunId`, and whole as `runId`-whole. */
		async function writeBothWays(runId: string, overRunId: string, people: CanonicalPerson[]) {
			await writeSnapshotRecords(store.db, runId, PERSON_TABLE, people, overRunId);
			await writeSnapshotRecords(store.db, `${runId}-whole`, PERSON_TABLE, people);
			const ids = new Set(people.map((p) => p.sourcedId));
			// Enrollments as a delta night writes them: the last run's, less the gone people's, and one for each new person, given as `added`.
			const previous = new Set((await readSnapshotRecords(store.db, overRunId, ENROLLMENT_TABLE)).map((e) => e.personId));
			const added = enrollmentsOf(people.filter((p) => !previous.has(p.sourcedId)).map((p) => p.sourcedId));
			for (const [target, asChanges] of [[runId, true], [`${runId}-whole`, false]] as const) {
				const count = await copySnapshotRecordsWhere(store.db, overRunId, target, ENROLLMENT_TABLE, (e) => ids.has(e.personId), { added, asChanges });
				expect(count).toBe(people.length);
			}
			await writeSnapshotHeader(store.db, runId, [], {});
		}

		test('a few changed, gone and new records: only they are written, and every reader answers as from the whole records', async () => {
			const { night1, night2 } = await twoNights((people) => {
				const out = people.filter((_, i) => i % 97 !== 5); // gone, across every chunk
				for (const i of [0, 1, 2000, 2001, out.length - 1]) out[i] = { ...out[i], givenName: `Changed${i}`, grade: '10' }; // at chunk edges
				// New: before the first key, between chunks, after the last.
				out.push(student('s0-first', 'New', 'First', '9', '9'), student('s1-01999a', 'Changed', 'Between', '10', '10'), student('s9-last', 'New', 'Last', '12', '12'));
				// Unchanged but given again as a new object: not written.
				out[10] = { ...out[10] };
				return out;
			});
			await writeBothWays('run-2', 'run-1', night2);
			const gone = night1.length - (night2.length - 3);
			// Only the 5 changed and 3 new people are run-2's own records; the gone and the changed are removed from the base.
			expect((await chunkRows(store.db, 'run-2', 'people')).reduce((n, row) => n + Number(row[1]), 0)).toBe(8);
			expect(await layerRow('run-2', 'people')).toEqual([['run-1', gone + 5]]);
			expect((await layerRow('run-2', 'enrollments'))[0][0]).toBe('run-1');
			const probe = ['s1-00000', 's1-00005', 's1-02000', 's0-first', 's1-01999a', 's9-last', 'nobody', night1[102].sourcedId];
			const expected = await answers('run-2-whole', probe);
			expect(expected.people).toEqual(night2);
			expect(expected.peopleAsValues).toEqual(night2);
			expect(expected.hinted).toEqual(night2.filter((p) => p.givenName.startsWith('Changed')));
			expect(expected.hinted).toHaveLength(6);
			expect(await answers('run-2', probe)).toEqual(expected);

			// Night 3 follows night 2: its changes are over night 1's records (one layer deep), and undo night 2's.
			await writeBothWays('run-3', 'run-2', byId(night1));
			expect(await layerRow('run-3', 'people')).toEqual([['run-1', 0]]);
			expect(await chunkRows(store.db, 'run-3', 'people')).toEqual([]);
			expect(await answers('run-3', probe)).toEqual(await answers('run-3-whole', probe));
			expect(await readSnapshotRecords(store.db, 'run-3', PERSON_TABLE)).toEqual(byId(night1));

			// The base's chunks stay while a snapshot's changes are over them, and go with the last.
			await deleteSnapshot(store.db, 'run-1');
			expect((await chunkRows(store.db, 'run-1', 'people')).length).toBe(3);
			expect(await readSnapshotRecords(store.db, 'run-2', PERSON_TABLE)).toEqual(night2);
			await deleteSnapshot(store.db, 'run-2');
			expect(await readSnapshotRecords(store.db, 'run-3', PERSON_TABLE)).toEqual(byId(night1));
			await deleteSnapshot(store.db, 'run-3');
			const left = await store.db.queryArrays("SELECT DISTINCT run_id FROM snapshot_chunks WHERE run_id NOT LIKE '%-whole'");
			expect(left).toEqual([]);
			expect(await store.db.queryArrays('SELECT run_id FROM snapshot_layers')).toEqual([]);
		});

		test('changedSourcedIds: the records that differ between two snapshots, from their changes alone; undefined when they are not over the same base', async () => {
			/** What differs, found the slow way: both snapshots read whole and compared record by record. */
			const differing = async (from: string, to: string) => {
				const a = new Map((await readSnapshotRecords(store.db, from, PERSON_TABLE)).map((p) => [p.sourcedId, JSON.stringify(p)]));
				const b = new Map((await readSnapshotRecords(store.db, to, PERSON_TABLE)).map((p) => [p.sourcedId, JSON.stringify(p)]));
				return new Set([...a.keys(), ...b.keys()].filter((id) => a.get(id) !== b.get(id)));
			};
			const { night2 } = await twoNights((people) => {
				const out = people.filter((_, i) => i % 301 !== 7);
				for (const i of [3, 2500]) out[i] = { ...out[i], familyName: 'Renamed' };
				out.push(student('s2-new', 'New', 'Person', '9', '9'));
				return out;
			});
			await writeBothWays('run-2', 'run-1', night2);
			// Night 3: night 2 again, one more rename (both stored as changes over night 1's records).
			const night3 = night2.map((p, i) => (i === 40 ? { ...p, familyName: 'Third' } : p));
			await writeBothWays('run-3', 'run-2', night3);
			await shareSnapshot(store.db, 'run-3', 'run-3-shared', null);

			const twoAfterOne = await changedSourcedIds(store.db, 'run-1', 'run-2', PERSON_TABLE);
			expect(twoAfterOne).toEqual(await differing('run-1', 'run-2'));
			expect(twoAfterOne!.size).toBe(Math.ceil((2 * CHUNK_RECORDS + 7) / 301) + 3);
			// The same changes in both layers are no change: only night 3's rename.
			expect(await changedSourcedIds(store.db, 'run-2', 'run-3', PERSON_TABLE)).toEqual(new Set([night2[40].sourcedId]));
			expect(await changedSourcedIds(store.db, 'run-3', 'run-2', PERSON_TABLE)).toEqual(new Set([night2[40].sourcedId]));
			expect(await changedSourcedIds(store.db, 'run-3', 'run-3-shared', PERSON_TABLE)).toEqual(new Set());
			expect(await changedSourcedIds(store.db, 'run-1', 'run-3', PERSON_TABLE)).toEqual(await differing('run-1', 'run-3'));

			// changedRecords: each changed record as each snapshot has it, from the layers alone, or (layers written before
			// migration 11, which do not keep the base records they replace) with the base read.
			const versions = async (from: string, to: string) => {
				const [a, b] = [from, to].map(async (run) => new Map((await readSnapshotRecords(store.db, run, PERSON_TABLE)).map((p) => [p.sourcedId, p])));
				const [fromRecords, toRecords] = [await a, await b];
				return new Map([...(await differing(from, to))].map((id) => [id, { ...(fromRecords.has(id) ? { from: fromRecords.get(id) } : {}), ...(toRecords.has(id) ? { to: toRecords.get(id) } : {}) }]));
			};
			for (const [from, to] of [['run-1', 'run-2'], ['run-2', 'run-3'], ['run-3', 'run-1'], ['run-3', 'run-3-shared']]) {
				const expected = await versions(from, to);
				expect(await changedRecords(store.db, from, to, PERSON_TABLE)).toEqual(expected);
			}
			expect((await changedRecords(store.db, 'run-1', 'run-2', PERSON_TABLE))!.size).toBeGreaterThan(10);
			await store.db.execute('UPDATE snapshot_layers SET removed_records = NULL');
			for (const [from, to] of [['run-1', 'run-2'], ['run-2', 'run-3'], ['run-3', 'run-1']]) expect(await changedRecords(store.db, from, to, PERSON_TABLE)).toEqual(await versions(from, to));
			expect(await changedRecords(store.db, 'run-2-whole', 'run-3', PERSON_TABLE)).toBeUndefined();
			// Whole snapshots of their own, or none: only reading them would tell.
			expect(await changedSourcedIds(store.db, 'run-2-whole', 'run-3', PERSON_TABLE)).toBeUndefined();
			expect(await changedSourcedIds(store.db, 'run-1', 'no-such-run', PERSON_TABLE)).toBeUndefined();
		});

		test('shared, a snapshot stored as changes reads the same; past a quarter of the base, the next night is written whole', async () => {
			const { night2, enrollments1 } = await twoNights((people) => people.map((p, i) => (i % 5 === 0 ? { ...p, familyName: 'Moved' } : p)));
			await writeBothWays('run-2', 'run-1', night2);
			// A fifth changed: 20 %, stored as changes.
			expect(await layerRow('run-2', 'people')).toEqual([['run-1', Math.ceil(night2.length / 5)]]);
			await shareSnapshot(store.db, 'run-2', 'run-2-shared', null);
			expect(await answers('run-2-shared', ['s1-00000'])).toEqual(await answers('run-2-whole', ['s1-00000']));
			// Night 3 changes a further tenth: over night 1's records that is 30 %, past the quarter, so it is written whole.
			const night3 = night2.map((p, i) => (i % 10 === 1 ? { ...p, familyName: 'Moved again' } : p));
			await writeBothWays('run-3', 'run-2', night3);
			expect(await layerRow('run-3', 'people')).toEqual([]);
			expect(await countSnapshotRecords(store.db, 'run-3', PERSON_TABLE)).toBe(night3.length);
			expect(await readSnapshotRecords(store.db, 'run-3', PERSON_TABLE)).toEqual(night3);
			// The cap is per entity: night 2 changed no enrollment, so night 3's stay changes (none) over night 1's.
			expect(await layerRow('run-3', 'enrollments')).toEqual([['run-1', 0]]);
			expect(await readSnapshotRecords(store.db, 'run-3', ENROLLMENT_TABLE)).toEqual(byId(enrollments1));
			// Copied whole out of night 2's changes: the records night 2 reads, in chunks of the copy's own.
			for (const [spec, expected] of [[PERSON_TABLE, night2], [ENROLLMENT_TABLE, byId(enrollments1)]] as const) {
				expect(await copySnapshotRecordsWhere(store.db, 'run-2', 'run-copy', spec as SnapshotTable<unknown>, () => true)).toBe(expected.length);
				expect(await layerRow('run-copy', spec.entity)).toEqual([]);
				expect(await readSnapshotRecords(store.db, 'run-copy', spec as SnapshotTable<unknown>)).toEqual(expected);
			}
			expect(await answers('run-3', ['s1-00001'])).toEqual(await answers('run-3-whole', ['s1-00001']));
		});
		test('writeSnapshotChanges (only the changed records given) stores what writing the whole set over the same snapshot stores', async () => {
			const ownRecords = async (runId: string) => (await chunkRows(store.db, runId, 'people')).reduce((n, row) => n + Number(row[1]), 0);
			/** Night `runId` from `fromRunId` both ways: the changes alone, and the whole set through SnapshotChunkWriter as `runId`-whole. */
			const bothWays = async (runId: string, fromRunId: string, changes: Map<string, CanonicalPerson | null>) => {
				const before = new Map((await readSnapshotRecords(store.db, fromRunId, PERSON_TABLE)).map((p) => [p.sourcedId, p]));
				for (const [id, record] of changes) if (record === null) before.delete(id);
				else before.set(id, record);
				const whole = byId([...before.values()]);
				await writeSnapshotChanges(store.db, fromRunId, runId, PERSON_TABLE, changes);
				await writeSnapshotRecords(store.db, `${runId}-whole`, PERSON_TABLE, whole, fromRunId);
				for (const id of [runId, `${runId}-whole`]) await writeSnapshotHeader(store.db, id, [], {});
				expect(await readSnapshotRecords(store.db, runId, PERSON_TABLE)).toEqual(whole);
				expect(await layerRow(runId, 'people')).toEqual(await layerRow(`${runId}-whole`, 'people'));
				expect(await ownRecords(runId)).toBe(await ownRecords(`${runId}-whole`));
				expect(Object.fromEntries(await readSnapshotTallies(store.db, runId, PERSON_TABLE))).toEqual(Object.fromEntries(await readSnapshotTallies(store.db, `${runId}-whole`, PERSON_TABLE)));
				expect(await changedSourcedIds(store.db, fromRunId, runId, PERSON_TABLE)).toEqual(await changedSourcedIds(store.db, fromRunId, `${runId}-whole`, PERSON_TABLE));
				return whole;
			};
			const { night1 } = await twoNights((people) => people);
			const at = (i: number) => night1[i];
			// Night 2 over night 1 (whole): changed at chunk edges, gone, new, one given again unchanged, one removed that is not there.
			const night2 = await bothWays(
				'run-2',
				'run-1',
				new Map<string, CanonicalPerson | null>([
					[at(0).sourcedId, { ...at(0), givenName: 'Changed0' }],
					[at(1999).sourcedId, { ...at(1999), grade: 'KG' }],
					[at(2000).sourcedId, null],
					[at(7).sourcedId, { ...at(7) }],
					['s0-first', student('s0-first', 'New', 'First', '9', '9')],
					['s9-last', student('s9-last', 'New', 'Last', '12', '12')],
					['nobody', null],
				]),
			);
			expect(await layerRow('run-2', 'people')).toEqual([['run-1', 3]]);
			expect(await ownRecords('run-2')).toBe(4);
			// Night 3 over night 2 (itself changes over night 1): undoes one change, keeps the others, removes a new one, changes another.
			await bothWays(
				'run-3',
				'run-2',
				new Map<string, CanonicalPerson | null>([
					[at(0).sourcedId, at(0)],
					['s9-last', null],
					[at(3000).sourcedId, { ...at(3000), familyName: 'Third' }],
				]),
			);
			expect(await layerRow('run-3', 'people')).toEqual([['run-1', 3]]);
			// Past a quarter of the base, the next night is written whole, in sourcedId order.
			const many = new Map<string, CanonicalPerson | null>(night2.filter((_, i) => i % 3 === 0).map((p) => [p.sourcedId, { ...p, familyName: 'Moved' }]));
			await bothWays('run-4', 'run-2', many);
			await bothWays('run-5', 'run-4', new Map([[at(5).sourcedId, null]]));
			expect(await layerRow('run-5', 'people')).toEqual([]);
			expect((await layerRow('run-6-whole', 'people')).length).toBe(0);
			// From a snapshot written before migration 4: written whole.
			await moveToLegacyTables(store.db, 'run-1');
			await bothWays('run-6', 'run-1', new Map([[at(9).sourcedId, { ...at(9), givenName: 'Legacy' }]]));
			expect(await layerRow('run-6', 'people')).toEqual([]);
		});
	});

	test('a snapshot written before migration 4 reads the same: readers, lookups, tallies, roster as of; copied into chunks; deleted', async () => {
		const runId = await writeRoster(store.db, day1());
		await reconcileRun(store.db, runId, { archive: true });
		const snapshot = await readSnapshot(store.db, runId);
		const answers = async () => ({
			snapshot: await readSnapshot(store.db, runId),
			batches: (await collect(readSnapshotBatches(store.db, runId, ENROLLMENT_TABLE, 4))).map((batch) => batch.length),
			asValues: byId((await collect(readSnapshotValueBatches(store.db, runId, PERSON_TABLE))).flat().map(PERSON_TABLE.fromValues)),
			count: await countSnapshotRecords(store.db, runId, ENROLLMENT_TABLE),
			byId: await readSnapshotRecordsById(store.db, runId, PERSON_TABLE, ['s2', 't1', 'nobody']),
			found: await findSnapshotRecords(store.db, runId, ENROLLMENT_TABLE, (e) => e.classId === 'cls-eng', ['"cls-eng"']),
			tallies: await readSnapshotTallies(store.db, runId, PERSON_TABLE),
			schools: await readSnapshotTallies(store.db, runId, ORG_TABLE),
			klass: await rosterAsOf(store.db, 'class', 'ALG1-01', '2100-01-01'),
			grade: await rosterAsOf(store.db, 'grade', '9', '2100-01-01'),
		});
		const fromChunks = await answers();
		expect(fromChunks.klass.members.map((m) => m.name)).toEqual(['Ada Lovelace', 'Ben Carter', 'Cleo Diaz', 'Tess Tanner', 'Uma Usher']);
		expect(fromChunks.grade.members.map((m) => m.name)).toEqual(['Ada Lovelace', 'Ben Carter', 'Cleo Diaz']);
		expect(fromChunks.tallies.get('role:student')).toBe(4);
		expect(fromChunks.asValues).toEqual(byId(snapshot.people));

		await moveToLegacyTables(store.db, runId);
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM snapshot_people WHERE run_id = ?', [runId]))[0].n)).toBe(snapshot.people.length);
		expect(await answers()).toEqual(fromChunks);

		// Shared, it is packed into chunks of the sharer's own (it has none to share); deleted, its old rows go.
		await shareSnapshot(store.db, runId, 'run-copy', null);
		expect(await readSnapshot(store.db, 'run-copy')).toEqual(snapshot);
		expect(await countSnapshotRecords(store.db, 'run-copy', PERSON_TABLE)).toBe(snapshot.people.length);
		expect((await chunkRows(store.db, 'run-copy', 'people')).length).toBe(1);
		await deleteSnapshot(store.db, runId);
		for (const spec of SNAPSHOT_TABLES) expect(Number((await store.db.query(`SELECT COUNT(*) AS n FROM ${spec.table}`))[0].n)).toBe(0);
		expect(await readSnapshot(store.db, 'run-copy')).toEqual(snapshot);
	});

	test('the drift check finds the same whether either snapshot was written before migration 4', async () => {
		const secondSchool = { sourcedId: 'sch-2', name: 'Second School', type: 'school', identifier: null, parentId: 'dist-1' };
		const baseline = day1();
		baseline.orgs.push(secondSchool);
		baseline.people.push(...students(20, 'x'), ...['y1', 'y2', 'y3'].map((id) => person(id, 'staff', 'Sue', id, { schoolIds: ['sch-2'], primarySchoolId: 'sch-2' })));
		const baselineId = await writeRoster(store.db, baseline);
		await reconcileRun(store.db, baselineId, { archive: true });

		const tonight = day1();
		tonight.people = tonight.people
			.map((p) => (p.role === 'teacher' ? { ...p, email: null } : p.sourcedId === 's1' ? { ...p, givenName: 'JosÃ©' } : p))
			.concat(students(5, 'x'));
		// The second school is still in the orgs, but nobody is in it any more.
		tonight.orgs.push(secondSchool);
		const tonightId = await writeRoster(store.db, tonight);

		const settings = driftSettings();
		const findings = async () => (await findDrift(store.db, tonightId, settings)).findings.map((f) => `${f.check}: ${f.message}`);
		const expected = await findings();
		expect(expected).toEqual([
			'encoding: 1 people\'s names look mis-encoded (e.g. "JosÃ© Lovelace"); the last good run had none: the export\'s character encoding changed',
			'schools: school Second School (sch-2) has nobody in this export (3 people in the last good run): is its sharing switched off?',
			'rowCounts: students fell from 24 to 9 (−62.5 %; the limit is 20 %)',
			'emails: every one of the 2 teachers has an empty email (2 of 2 had one in the last good run)',
		]);
		await moveToLegacyTables(store.db, baselineId);
		expect(await findings()).toEqual(expected);
		await moveToLegacyTables(store.db, tonightId);
		expect(await findings()).toEqual(expected);
	});
});
