/**
 * Safeguard 7: the report says plainly when a run was held, stopped (see drift.test.ts), discarded,
 * approved in part or rolled back (see rollback.test.ts), why, and what to do next.
 */
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { approveHeldRun } from '../../../nodes/shared/reconcile/approve';
import { buildReport, publishRun } from '../../../nodes/shared/report/report';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { SCHOOL_NAME, writeRoster } from '../../support/roster-fixtures';
import { school, without } from './helpers';

const SYNC = { autoUpdate: true, archive: true };
const REASON = 'would archive 30 of 200 students (15 %); the limit is 10 % and 5 people';

describe.each(ENGINES)('the report on held runs and decisions (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
		await reconcileRun(store.db, await writeRoster(store.db, school()), SYNC);
	});
	afterEach(async () => store.close());

	const heldRun = async () => (await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), SYNC)).run.id;

	test('a held run: HELD in the subject, why, and the next steps with the run id', async () => {
		const runId = await heldRun();
		await publishRun(store.db, runId);
		const report = await buildReport(store.db, runId);
		expect(report.subject).toBe(`RosterSync HELD — ${SCHOOL_NAME}: approval needed`);
		expect(report.summary.outcome.headline).toBe(
			'The run is HELD: it would change more people than the mass-change thresholds allow. Nothing was applied; the plan is kept for approval.',
		);
		expect(report.text).toContain(`Why:\n  - Held because it ${REASON}\n`);
		expect(report.text).toContain('What to do next:\n  1. Review the planned changes: the attached CSV lists every one.\n');
		expect(report.text).toContain(
			`  2. If they are right, approve the run: answer the approval email, or run Roster Reconcile Users → Approve Held Run with Run ID ${runId} and "Apply adds and updates (archives stay held)" or "Apply all".`,
		);
		expect(report.text).toContain('  3. If they are wrong (a broken export), choose "Discard", fix the export, and the next run plans again.');
		expect(report.html).toContain(`<li>Held because it ${REASON}</li>`);
		expect(report.html).toContain('<ol style="font-family:sans-serif"><li>Review the planned changes');
		// The CSV has the whole plan, not applied.
		expect(report.csv.toString('utf8').split('\r\n').filter((line) => line.startsWith('person,archive,student,'))).toHaveLength(30);
	});

	test('approved in part: the archives still held are counted and the report says how to apply them', async () => {
		const runId = await heldRun();
		await approveHeldRun(store.db, runId, 'addsAndUpdates');
		await publishRun(store.db, runId);
		const report = await buildReport(store.db, runId);
		expect(report.subject).toBe(`RosterSync: 0 created, 0 updated, 0 archived, 30 archives held — ${SCHOOL_NAME}`);
		expect(report.text).toContain('Approved in part: the adds and updates were applied; 30 archives are still held.');
		expect(report.text).toContain(`Approve Held Run with Run ID ${runId} and "Apply all" before the next run`);
		expect(report.text).toMatch(/People\s+created\s+updated\s+archived\s+restored\s+skipped\s+unchanged\s+ambiguous\s+held\nStudents(\s+\d+){7}\s+30\n/);

		await approveHeldRun(store.db, runId, 'all');
		const after = await buildReport(store.db, runId);
		expect(after.subject).toBe(`RosterSync: 0 created, 0 updated, 30 archived — ${SCHOOL_NAME}`);
		expect(after.text).toContain('The sync applied these changes to the people store.');
		expect(after.text).toMatch(new RegExp(`Why:\\n  - Held because it ${REASON.replace(/[()%]/g, '\\$&')}\\n  - Approved on \\d{4}-`));
	});

	test('a discarded run: nothing was applied, and what next', async () => {
		const runId = await heldRun();
		await approveHeldRun(store.db, runId, 'discard');
		await publishRun(store.db, runId);
		const report = await buildReport(store.db, runId);
		expect(report.summary.status).toBe('discarded');
		expect(report.subject).toBe(`RosterSync DISCARDED — ${SCHOOL_NAME}: the held run was not applied`);
		expect(report.text).toContain('The run was held for mass changes and then discarded: nothing was applied.');
		expect(report.text).toContain('Fix the export if it was wrong; the next run plans again from a fresh export.');
	});

	test('a dry run over a threshold says a real run would be held', async () => {
		const { run } = await reconcileRun(store.db, await writeRoster(store.db, without(school(), 'student', 30)), { ...SYNC, dryRun: true });
		const report = await buildReport(store.db, run.id);
		expect(report.subject).toContain('(dry run)');
		expect(report.text).toContain(`Why:\n  - A real run would be held for approval: it ${REASON}\n`);
		expect(report.text).toContain('Turn Dry run off only if these changes are right');
	});
});
