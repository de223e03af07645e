/**
 * Safeguard 3: the grace period. People missing from the SIS are archived only once they have
 * been missing for N consecutive runs (default 1, as Minga does); until then they are pending,
 * and the report lists them.
 */
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { pendingReason } from '../../../nodes/shared/reconcile/plan';
import { buildReport, summarizeRun } from '../../../nodes/shared/report/report';
import { listChanges } from '../../../nodes/shared/store/changes';
import { loadPeople } from '../../../nodes/shared/store/people';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { day1, day2, writeRoster } from '../../support/roster-fixtures';

const person = async (store: RosterStore, sourcedId: string) => (await loadPeople(store.db)).find((p) => p.sourced_id === sourcedId)!;

describe.each(ENGINES)('grace period (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	test('with Archive After Missing Runs = 3, a leaver is pending for two runs and archived on the third; the report lists who is pending', async () => {
		const settings = { archive: true, graceRuns: 3 };
		await reconcileRun(store.db, await writeRoster(store.db, day1()), settings);

		// Night 2: Cleo (s3) is gone. Missing 1 of 3: pending, not archived.
		const night2 = await reconcileRun(store.db, await writeRoster(store.db, day2()), settings);
		expect(night2.counts).toMatchObject({ archived: 0, pendingArchive: 1 });
		expect(night2.counts.byRole.student.pendingArchive).toBe(1);
		expect(await person(store, 's3')).toMatchObject({ archived_at: null, missing_runs: 1 });
		const [pending] = await listChanges(store.db, night2.run.id, { actions: ['pending'] });
		expect(pending).toMatchObject({ sourcedId: 's3', label: 'Cleo Diaz', role: 'student', reason: pendingReason(1, 3), applied: false });
		expect(pending.reason).toBe('missing from 1 of the 3 consecutive runs after which they are archived');

		const report = await buildReport(store.db, night2.run.id);
		expect(report.summary.pendingArchive).toEqual({ count: 1, first: [{ name: 'Cleo Diaz', role: 'student', sourcedId: 's3', reason: pendingReason(1, 3) }] });
		expect(report.text).toContain('Pending archive: 1 person is no longer in the SIS and will be archived if still missing (grace period):');
		expect(report.text).toContain(`  - Cleo Diaz (student): ${pendingReason(1, 3)}`);
		expect(report.text).toMatch(/People\s+created\s+updated\s+archived\s+restored\s+skipped\s+unchanged\s+ambiguous\s+pending\n/);
		expect(report.html).toContain('<li>Cleo Diaz (student): missing from 1 of the 3');
		expect(report.csv.toString('utf8')).toContain('person,pending,student,s3,Cleo Diaz,,missing from 1 of the 3');
		// The report finds who is pending while writing its CSV; the summary alone reads the same from the store.
		expect((await summarizeRun(store.db, night2.run.id)).pendingArchive).toEqual(report.summary.pendingArchive);

		// Night 3: still gone, 2 of 3.
		const night3 = await reconcileRun(store.db, await writeRoster(store.db, day2()), settings);
		expect(night3.counts.pendingArchive).toBe(1);
		expect(await person(store, 's3')).toMatchObject({ archived_at: null, missing_runs: 2 });

		// Night 4: 3 of 3: archived.
		const night4 = await reconcileRun(store.db, await writeRoster(store.db, day2()), settings);
		expect(night4.counts).toMatchObject({ archived: 1, pendingArchive: 0 });
		expect((await person(store, 's3')).archived_at).not.toBeNull();
		expect((await buildReport(store.db, night4.run.id)).summary.pendingArchive.count).toBe(0);
	});

	test('a person back in the SIS before the grace period ends starts again from zero', async () => {
		const settings = { archive: true, graceRuns: 2 };
		await reconcileRun(store.db, await writeRoster(store.db, day1()), settings);
		await reconcileRun(store.db, await writeRoster(store.db, day2()), settings);
		expect((await person(store, 's3')).missing_runs).toBe(1);
		await reconcileRun(store.db, await writeRoster(store.db, day1()), settings);
		expect(await person(store, 's3')).toMatchObject({ archived_at: null, missing_runs: 0 });
		const again = await reconcileRun(store.db, await writeRoster(store.db, day2()), settings);
		expect(again.counts).toMatchObject({ archived: 0, pendingArchive: 1 });
	});

	test('the default (1) archives on the first run a person is missing, as Minga does', async () => {
		await reconcileRun(store.db, await writeRoster(store.db, day1()), { archive: true });
		const night2 = await reconcileRun(store.db, await writeRoster(store.db, day2()), { archive: true });
		expect(night2.counts).toMatchObject({ archived: 1, pendingArchive: 0 });
	});
});
