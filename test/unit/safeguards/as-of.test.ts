/**
 * Safeguard 6: "Roster as of" — who was in a class or grade (from run snapshots) or on a user
 * list (from the change history) on a given date — and the snapshot retention.
 */
import { asOfInstant, rosterAsOf } from '../../../nodes/shared/history/as-of';
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { normalizeRun } from '../../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { createRun, completeStage } from '../../../nodes/shared/store/runs';
import { pruneSnapshots } from '../../../nodes/shared/store/retention';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { day1, day2, writeRoster } from '../../support/roster-fixtures';

/** Moves a run (its start and its snapshot) to another time, as if it ran then. */
async function runAt(db: SqlDb, runId: string, when: string): Promise<void> {
	await db.execute('UPDATE sync_runs SET started_at = ? WHERE id = ?', [when, runId]);
	await db.execute('UPDATE snapshots SET created_at = ? WHERE run_id = ?', [when, runId]);
}

const names = (answer: { members: Array<{ name: string; membership: string }> }) => answer.members.map((m) => `${m.membership}: ${m.name}`);

test('a date means the end of that day (UTC), also as a date picker gives it; a date-time is taken as it is', () => {
	expect(asOfInstant('2026-10-01')).toBe('2026-10-01T23:59:59.999Z');
	expect(asOfInstant('2026-10-01T00:00:00')).toBe('2026-10-01T23:59:59.999Z');
	expect(asOfInstant('2026-10-01T08:30:00Z')).toBe('2026-10-01T08:30:00.000Z');
	expect(() => asOfInstant('last tuesday')).toThrow('"last tuesday" is not a date');
});

describe.each(ENGINES)('roster as of a date, and snapshot retention (%s)', (engine) => {
	let store: RosterStore;
	let night1: string;
	let night2: string;
	beforeEach(async () => {
		store = await openTestStore(engine);
		const lists = { syncClassRosters: true, terms: ['fall'], autoListsByGrade: true };
		night1 = await writeRoster(store.db, day1());
		await reconcileRun(store.db, night1, { archive: true });
		await buildListsRun(store.db, night1, lists);
		await runAt(store.db, night1, '2026-09-01T02:00:00.000Z');
		night2 = await writeRoster(store.db, day2());
		await reconcileRun(store.db, night2, { archive: true });
		await buildListsRun(store.db, night2, lists);
		await runAt(store.db, night2, '2026-10-01T02:00:00.000Z');
	});
	afterEach(async () => store.close());

	test('who was in a class: from the snapshot of that date', async () => {
		const september = await rosterAsOf(store.db, 'class', 'ALG1-01', '2026-09-15');
		expect(september).toMatchObject({ kind: 'class', title: 'Algebra I', snapshotRunId: night1, snapshotTakenAt: '2026-09-01T02:00:00.000Z', asOf: '2026-09-15T23:59:59.999Z' });
		expect(names(september)).toEqual(['student: Ada Lovelace', 'student: Ben Carter', 'student: Cleo Diaz', 'teacher: Tess Tanner', 'teacher: Uma Usher']);
		expect(september.members.find((m) => m.name === 'Cleo Diaz')).toMatchObject({ sourcedId: 's3', role: 'student', grade: '09', personId: expect.any(String) });

		// On the night of day 2 Cleo had left and Ben was Benjamin; by sourcedId or title as well.
		const october = await rosterAsOf(store.db, 'class', 'cls-alg', '2026-10-02');
		expect(october.snapshotRunId).toBe(night2);
		expect(names(october)).toEqual(['student: Ada Lovelace', 'student: Benjamin Carter', 'teacher: Tess Tanner', 'teacher: Uma Usher']);
		expect((await rosterAsOf(store.db, 'class', 'algebra i', '2026-10-02')).members).toEqual(october.members);

		await expect(rosterAsOf(store.db, 'class', 'Latin', '2026-10-02')).rejects.toThrow(`No class "Latin" in the roster of run ${night2}`);
		await expect(rosterAsOf(store.db, 'class', 'ALG1-01', '2026-08-01')).rejects.toThrow('No roster snapshot was taken on or before 2026-08-01T23:59:59.999Z');
	});

	test('who was in a grade: 9 and 09 are one grade', async () => {
		expect(names(await rosterAsOf(store.db, 'grade', '9', '2026-09-02'))).toEqual(['student: Ada Lovelace', 'student: Ben Carter', 'student: Cleo Diaz']);
		expect(names(await rosterAsOf(store.db, 'grade', '09', '2026-10-02'))).toEqual(['student: Ada Lovelace', 'student: Benjamin Carter']);
	});

	test('who was on a user list: the change history of later runs undone', async () => {
		const now = await rosterAsOf(store.db, 'list', 'Algebra I (ALG1-01, Period 1)', '2026-10-02');
		expect(now).toMatchObject({ kind: 'list', snapshotRunId: null, archived: false });
		// Names are the store's (Auto update is off here, so Ben was not renamed).
		expect(names(now)).toEqual(['manager: Tess Tanner', 'manager: Uma Usher', 'member: Ada Lovelace', 'member: Ben Carter']);
		// Before night 2, Cleo was still a member.
		const before = await rosterAsOf(store.db, 'list', 'Algebra I (ALG1-01, Period 1)', '2026-09-15');
		expect(names(before)).toEqual(['manager: Tess Tanner', 'manager: Uma Usher', 'member: Ada Lovelace', 'member: Ben Carter', 'member: Cleo Diaz']);
		expect(names(await rosterAsOf(store.db, 'list', 'Grade 10', '2026-09-15'))).toEqual(['member: Dan Evans']);
		await expect(rosterAsOf(store.db, 'list', 'Chess Club', '2026-09-15')).rejects.toThrow('No user list "Chess Club"');
		await expect(rosterAsOf(store.db, 'list', 'Grade 10', '2026-08-15')).rejects.toThrow(`The list "Grade 10" did not exist yet on 2026-08-15T23:59:59.999Z (run ${night1} created it)`);
	});

	test('retention deletes snapshots older than the setting, but keeps the last good run; Roster As Of then says how far back it reaches', async () => {
		// Both nights staged rows (the raw export) as an ingest does.
		const staged = async (runId: string) => Number((await store.db.query('SELECT COUNT(*) AS n FROM staging_chunks WHERE run_id = ?', [runId]))[0].n);
		for (const runId of [night1, night2]) {
			await store.db.execute("INSERT INTO staging_files (run_id, entity, file_name, oneroster_version, mode, columns) VALUES (?, 'users', 'users.csv', '1.1', 'bulk', '[]')", [runId]);
			await store.db.execute("INSERT INTO staging_chunks (run_id, entity, seq, row_count, encoding, data) VALUES (?, 'users', 1, 1, 'json', '[]')", [runId]);
		}
		expect(await pruneSnapshots(store.db, 0, new Date('2027-01-01T00:00:00Z'))).toEqual([]);
		expect([await staged(night1), await staged(night2)]).toEqual([1, 1]);
		const pruned = await pruneSnapshots(store.db, 30, new Date('2026-10-20T00:00:00Z'));
		expect(pruned).toEqual([night1]);
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM snapshot_chunks WHERE run_id = ?', [night1]))[0].n)).toBe(0);
		// The staged rows go with it; the kept run keeps its own.
		expect([await staged(night1), await staged(night2)]).toEqual([0, 1]);
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM staging_files WHERE run_id = ?', [night1]))[0].n)).toBe(0);
		await expect(rosterAsOf(store.db, 'class', 'ALG1-01', '2026-09-15')).rejects.toThrow('No roster snapshot was taken on or before 2026-09-15T23:59:59.999Z');
		await expect(rosterAsOf(store.db, 'class', 'ALG1-01', '2026-09-15')).rejects.toMatchObject({ hint: 'The oldest snapshot kept is from 2026-10-01T02:00:00.000Z (see Keep Snapshots on Roster Normalize).' });
		// Night 2 is the last good run: kept however old.
		expect(await pruneSnapshots(store.db, 1, new Date('2027-06-01T00:00:00Z'))).toEqual([]);
		expect(await staged(night2)).toBe(1);
		expect((await rosterAsOf(store.db, 'class', 'ALG1-01', '2027-06-01')).snapshotRunId).toBe(night2);
	});

	test('Normalize applies the retention (Keep Snapshots) after each run', async () => {
		await store.db.execute('UPDATE snapshots SET created_at = ? WHERE run_id = ?', ['2020-01-01T00:00:00.000Z', night1]);
		const run = await createRun(store.db, { source: 'test' });
		await completeStage(store.db, run.id, 'staged', {});
		await normalizeRun(store.db, run.id, { keepSnapshotsDays: 90 });
		expect((await store.db.query('SELECT run_id FROM snapshots ORDER BY run_id')).map((row) => row.run_id)).toEqual([night2, run.id]);
	});
});
