/**
 * Safeguards 1 and 2: per-role mass-change thresholds hold a run (nothing applied, the plan
 * kept, status 'held'), and Approve Held Run applies it in part, in full, or discards it.
 */
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { DECISION_LABELS, approveHeldRun, parseDecision } from '../../../nodes/shared/reconcile/approve';
import { REASONS } from '../../../nodes/shared/reconcile/plan';
import { DEFAULT_RECONCILE_SETTINGS, reconcileSettings, thresholds } from '../../../nodes/shared/reconcile/settings';
import { listChanges } from '../../../nodes/shared/store/changes';
import { getRun } from '../../../nodes/shared/store/runs';
import { publishRun } from '../../../nodes/shared/report/report';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { writeRoster } from '../../support/roster-fixtures';
import { STUDENTS, activeCount, renamed, school, withNewStudents, without } from './helpers';

const SYNC = { autoUpdate: true, archive: true };

test('defaults: hold on, archives 10 % and 5 people, updates 25 % and 10 people, for every role; grace 1 run', () => {
	const settings = reconcileSettings();
	expect(settings).toMatchObject({ holdMassChanges: true, graceRuns: 1 });
	for (const role of ['student', 'teacher', 'staff', 'admin'] as const) {
		expect(settings.thresholds[role]).toEqual({ archive: { percent: 10, people: 5 }, update: { percent: 25, people: 10 } });
	}
	// A role's own thresholds override the ones for every role, in part.
	const custom = thresholds({ teacher: { archive: { people: 1 } } }, { archive: { percent: 3 } });
	expect(custom.teacher.archive).toEqual({ percent: 3, people: 1 });
	expect(custom.student.archive).toEqual({ percent: 3, people: 5 });
	expect(custom.student.update).toEqual(DEFAULT_RECONCILE_SETTINGS.thresholds.student.update);
});

test('decisions are read from their codes and from the labels the approval form returns', () => {
	expect(parseDecision('addsAndUpdates')).toBe('addsAndUpdates');
	expect(parseDecision(DECISION_LABELS.addsAndUpdates)).toBe('addsAndUpdates');
	expect(parseDecision(' apply ALL ')).toBe('all');
	expect(parseDecision('Discard')).toBe('discard');
	expect(() => parseDecision('maybe')).toThrow(/not a decision/);
});

describe.each(ENGINES)('mass-change thresholds and Approve Held Run (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function firstNight(): Promise<void> {
		const runId = await writeRoster(store.db, school());
		const result = await reconcileRun(store.db, runId, SYNC);
		expect(result.held).toBe(false);
		expect(await activeCount(store.db, 'student')).toBe(STUDENTS);
	}

	test('a run over a threshold is held: nothing is applied, the plan is stored, and the run waits', async () => {
		await firstNight();
		const before = await store.db.query('SELECT * FROM people ORDER BY id');
		// 30 of 200 students (15 %) gone from the export: more than 10 % and more than 5 people.
		const runId = await writeRoster(store.db, without(school(), 'student', 30));
		const result = await reconcileRun(store.db, runId, SYNC);

		expect(result.held).toBe(true);
		expect(result.run).toMatchObject({ status: 'held', stage: 'reconciled' });
		expect(result.counts.hold).toMatchObject({
			state: 'held',
			massChanges: [{ role: 'student', change: 'archive', count: 30, of: 200, percent: 15, limit: { percent: 10, people: 5 } }],
			reasons: ['would archive 30 of 200 students (15 %); the limit is 10 % and 5 people'],
		});
		expect(result.counts.archived).toBe(30); // the plan's count
		expect(await store.db.query('SELECT * FROM people ORDER BY id')).toEqual(before);
		const archives = await listChanges(store.db, runId, { actions: ['archive'] });
		expect(archives).toHaveLength(30);
		expect(archives.every((change) => !change.applied)).toBe(true);

		// A held run goes nowhere until someone decides.
		await expect(buildListsRun(store.db, runId, { autoListsByRole: true })).rejects.toThrow(/held for approval/);
		await expect(reconcileRun(store.db, runId, SYNC)).rejects.toThrow(/held for approval/);
		expect(await publishRun(store.db, runId)).toMatchObject({ status: 'held' });
	});

	test('archives and updates are counted apart, per role, by percent and by number of people', async () => {
		await firstNight();
		// 8 students leave (4 %: under 10 %) and 60 are renamed (30 %: over 25 % and 10 people): held for the updates only.
		const updates = await reconcileRun(store.db, await writeRoster(store.db, renamed(without(school(), 'student', 8), 60)), SYNC);
		expect(updates.held).toBe(true);
		expect(updates.counts.hold!.massChanges.map((m) => [m.role, m.change, m.count])).toEqual([['student', 'update', 60]]);
		await approveHeldRun(store.db, updates.run.id, 'discard');

		// The same 8 leavers: under the defaults, but over a student-only percent limit of 3 % (people 0 = the percent alone).
		const leavers = () => writeRoster(store.db, without(school(), 'student', 8));
		expect((await reconcileRun(store.db, await leavers(), { ...SYNC, dryRun: true })).counts.hold).toBeUndefined();
		const percentOnly = await reconcileRun(store.db, await leavers(), { ...SYNC, thresholds: { student: { archive: { percent: 3, people: 0 } } } });
		expect(percentOnly.held).toBe(true);
		expect(percentOnly.counts.hold!.massChanges).toEqual([
			{ role: 'student', change: 'archive', count: 8, of: 200, percent: 4, limit: { percent: 3, people: 0 } },
		]);
		await approveHeldRun(store.db, percentOnly.run.id, 'discard');

		// 2 of 12 teachers leave: held by a teacher-only absolute limit (percent 0 = the number alone), not by the defaults.
		const teachers = () => writeRoster(store.db, without(school(), 'teacher', 2));
		const absolute = await reconcileRun(store.db, await teachers(), { ...SYNC, thresholds: { teacher: { archive: { percent: 0, people: 1 } } } });
		expect(absolute.counts.hold!.massChanges.map((m) => [m.role, m.change, m.count, m.of])).toEqual([['teacher', 'archive', 2, 12]]);
		await approveHeldRun(store.db, absolute.run.id, 'discard');
		expect((await reconcileRun(store.db, await teachers(), SYNC)).held).toBe(false);
		expect(await activeCount(store.db, 'teacher')).toBe(10);
	});

	test('Hold Mass Changes off applies the run whatever its size; a dry run over a threshold says it would be held', async () => {
		await firstNight();
		const dry = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), { ...SYNC, dryRun: true });
		expect(dry.held).toBe(false);
		expect(dry.run.status).toBe('running');
		expect(dry.counts.hold).toMatchObject({ state: 'wouldHold' });
		expect(dry.warnings).toContain('a real run would be held for approval: would archive 30 of 200 students (15 %); the limit is 10 % and 5 people');

		const off = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), { ...SYNC, holdMassChanges: false });
		expect(off.held).toBe(false);
		expect(off.counts.hold).toBeUndefined();
		expect(await activeCount(store.db, 'student')).toBe(STUDENTS - 30);
	});

	test('approve in part: adds and updates are applied, archives stay held; Apply all archives them later', async () => {
		await firstNight();
		const roster = withNewStudents(renamed(without(school(), 'student', 30), 5), 3);
		const held = await reconcileRun(store.db, await writeRoster(store.db, roster), SYNC);
		expect(held.held).toBe(true);
		const runId = held.run.id;

		const part = await approveHeldRun(store.db, runId, 'addsAndUpdates');
		expect(part.continues).toBe(true);
		expect(part.run).toMatchObject({ status: 'running', stage: 'reconciled' });
		const counts = part.run.counts.reconciled as Record<string, unknown>;
		expect(counts).toMatchObject({ created: 3, updated: 5, archived: 0, archiveHeld: 30, hold: { state: 'approvedInPart' } });
		expect(await activeCount(store.db, 'student')).toBe(STUDENTS + 3);
		const heldArchives = await listChanges(store.db, runId, { actions: ['archive'] });
		expect(heldArchives).toHaveLength(30);
		expect(heldArchives.every((change) => !change.applied && change.reason === REASONS.archiveHeld)).toBe(true);
		expect((await listChanges(store.db, runId, { actions: ['create', 'update'] })).every((change) => change.applied)).toBe(true);

		// The run goes on: lists, report.
		await buildListsRun(store.db, runId, { autoListsByRole: true });
		expect(await publishRun(store.db, runId)).toMatchObject({ status: 'completed', stage: 'reported' });

		await expect(approveHeldRun(store.db, runId, 'addsAndUpdates')).rejects.toThrow(/only its 30 archives are held/);
		const rest = await approveHeldRun(store.db, runId, 'all');
		expect(rest.continues).toBe(false);
		expect(rest.run.status).toBe('completed');
		expect(rest.run.counts.reconciled).toMatchObject({ archived: 30, archiveHeld: 0, hold: { state: 'approved' } });
		expect((rest.run.counts.reconciled as { byRole: Record<string, { archived: number }> }).byRole.student.archived).toBe(30);
		expect(await activeCount(store.db, 'student')).toBe(STUDENTS + 3 - 30);
		expect((await listChanges(store.db, runId, { actions: ['archive'] })).every((change) => change.applied && change.after?.archived_at)).toBe(true);
		await expect(approveHeldRun(store.db, runId, 'all')).rejects.toThrow(/is not held/);
	});

	test('Apply all applies the whole plan; Discard applies nothing and ends the run', async () => {
		await firstNight();
		const all = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), SYNC);
		const approved = await approveHeldRun(store.db, all.run.id, 'all');
		expect(approved).toMatchObject({ continues: true, run: { status: 'running' } });
		expect(approved.run.counts.reconciled).toMatchObject({ archived: 30, archiveHeld: 0, hold: { state: 'approved', reasons: all.counts.hold!.reasons } });
		expect(await activeCount(store.db, 'student')).toBe(STUDENTS - 30);
		expect((await listChanges(store.db, all.run.id, { actions: ['archive'] })).every((change) => change.applied)).toBe(true);

		const people = await store.db.query('SELECT * FROM people ORDER BY id');
		const bad = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 100)), SYNC);
		expect(bad.held).toBe(true);
		const discarded = await approveHeldRun(store.db, bad.run.id, 'discard');
		expect(discarded).toMatchObject({ continues: false, run: { status: 'discarded' } });
		expect(discarded.run.finishedAt).not.toBeNull();
		expect(await store.db.query('SELECT * FROM people ORDER BY id')).toEqual(people);
		await expect(buildListsRun(store.db, bad.run.id, {})).rejects.toThrow(/discarded/);
		await expect(approveHeldRun(store.db, bad.run.id, 'all')).rejects.toThrow(/is not held \(it is discarded/);
	});

	test('a held run cannot be approved once a later run was applied (its plan is out of date); it can still be discarded', async () => {
		await firstNight();
		const held = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), SYNC);
		const later = await reconcileRun(store.db, await writeRoster(store.db, school()), SYNC);
		expect(later.held).toBe(false);
		await expect(approveHeldRun(store.db, held.run.id, 'all')).rejects.toThrow(new RegExp(`run ${later.run.id} was applied after run ${held.run.id}`));
		expect((await approveHeldRun(store.db, held.run.id, 'discard')).run.status).toBe('discarded');
		expect((await getRun(store.db, held.run.id)).counts.reconciled).toMatchObject({ hold: { state: 'discarded' } });
	});
});
