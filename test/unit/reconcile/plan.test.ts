/** The pure planner, without a store. */
import { ReconcilePlanner, matchPeople, planReconcile, sisValues } from '../../../nodes/shared/reconcile/plan';
import { reconcileSettings } from '../../../nodes/shared/reconcile/settings';
import { newRecordId } from '../../../nodes/shared/store/ids';
import { manualPerson, person, student } from '../../support/roster-fixtures';

const stored = (id: string, extra: Parameters<typeof manualPerson>[4] = {}) =>
	manualPerson(id, 'student', 'Kim', 'Lee', { source: 'sis', include_in_sis_sync: 1, ...extra });

test('match chain: sourcedId, then SIS id, then email; student numbers and staff ids are matched apart', () => {
	const people = [
		stored('by-sourced', { sourced_id: 's1', email: 'a@x.org', email_key: 'a@x.org' }),
		stored('by-number', { student_number: '1002', email: null, email_key: null }),
		stored('staff-1002', { role: 'teacher', sis_id: '1003', email: null, email_key: null }),
		stored('by-email', { email: 'C@X.org', email_key: 'c@x.org' }),
	];
	const records = [
		student('s1', 'Kim', 'Lee', '09', '9999', { email: 'c@x.org' }),
		student('s2', 'Kim', 'Lee', '09', '1002'),
		student('s3', 'Kim', 'Lee', '09', '1003', { email: null }),
		student('s4', 'Kim', 'Lee', '09', '', { sisId: null, email: ' c@X.ORG ' }),
	];
	const { matches } = matchPeople(records, people);
	expect(matches.map((m) => (m?.kind === 'matched' ? `${m.person.id} by ${m.by}` : m?.kind))).toEqual([
		'by-sourced by sourcedId',
		'by-number by SIS id',
		// A staff id is not a student number.
		undefined,
		'by-email by email',
	]);
});

test('an SIS value that is empty never erases a stored one', () => {
	const values = sisValues(student('s1', 'Kim', 'Lee', '09', '1001', { email: null, phone: '  ' }), undefined, false);
	expect(values).not.toHaveProperty('email');
	expect(values).not.toHaveProperty('phone');
	expect(values).toMatchObject({ given_name: 'Kim', student_number: '1001', sis_id: '1001', school_ids: '["sch-gbhs"]' });
	expect(sisValues(person('t1', 'teacher', 'Tess', 'T', { sisId: 'T1' }), undefined, false)).not.toHaveProperty('student_number');
});

test('the plan is deterministic and says nothing of people who are unchanged', () => {
	const settings = reconcileSettings({ autoUpdate: true });
	const people = [stored('p1', { sourced_id: 's1', given_name: 'Old' })];
	const input = {
		runId: 'run-1',
		now: '2026-11-22T02:00:00.000Z',
		settings,
		snapshotPeople: [student('s2', 'Ann', 'Bee', '10', '2002'), student('s1', 'Kim', 'Lee', '09', '1001')],
		contacts: new Map(),
		people,
		problemSourcedIds: new Set<string>(),
		unidentifiedUserProblems: 0,
		newId: () => 'new-id',
	};
	const plan = planReconcile(input);
	expect(plan.changes.map((c) => [c.action, c.sourcedId])).toEqual([
		['update', 's1'],
		['create', 's2'],
	]);
	expect(plan.writes.inserts[0]).toMatchObject({ id: 'new-id', source: 'sis', include_in_sis_sync: 1, last_seen_run_id: 'run-1', email_key: 'ann.bee@gbhs.example.org' });
	expect(plan.writes.rewrites[0]).toMatchObject({ id: 'p1', given_name: 'Kim', updated_at: input.now, created_at: people[0].created_at });
	expect(planReconcile(input)).toEqual(plan);
});

test('record ids are time-ordered UUIDs (version 7 layout), unique and increasing', () => {
	const ids = Array.from({ length: 5000 }, () => newRecordId());
	expect(new Set(ids).size).toBe(ids.length);
	expect([...ids].sort()).toEqual(ids);
	for (const id of ids.slice(0, 10)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
	expect(parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16)).toBeLessThanOrEqual(Date.now());
});

test('a roster planned batch by batch (as Reconcile Users streams a snapshot) gives the plan of the whole roster at once', () => {
	const settings = reconcileSettings({ autoUpdate: true, archive: true, graceRuns: 1 });
	const people = [
		stored('p1', { sourced_id: 's1', given_name: 'Old' }),
		// s0's SIS id finds p2, whom s9 (a later batch) matches by sourcedId: s0 is ambiguous, p2 is s9's.
		stored('p2', { sourced_id: 's9', student_number: '1000', email: null, email_key: null }),
		stored('p3', { sourced_id: 'gone', email: null, email_key: null }),
		stored('p4', { sourced_id: null, email: 'dee@x.org', email_key: 'dee@x.org' }),
	];
	const records = [
		student('s0', 'Ann', 'Bee', '10', '1000'),
		student('s1', 'Kim', 'Lee', '09', '1001'),
		student('s5', 'Dee', 'Eff', '11', '', { sisId: null, email: 'DEE@x.org' }),
		student('s7', 'New', 'Kid', '09', '1007'),
		student('s9', 'Kim', 'Lee', '09', '1000', { email: null }),
	];
	let next = 0;
	const input = {
		runId: 'run-1',
		now: '2026-11-22T02:00:00.000Z',
		settings,
		people,
		problemSourcedIds: new Set<string>(),
		unidentifiedUserProblems: 0,
	};
	const whole = planReconcile({ ...input, snapshotPeople: records, contacts: new Map(), newId: () => `new-${next++}` });
	next = 0;
	const planner = new ReconcilePlanner({ ...input, contacts: new Map(), newId: () => `new-${next++}` });
	const batches = [records.slice(0, 2), records.slice(2, 3), records.slice(3)];
	for (const batch of batches) expect(planner.match(batch)).toBe(true);
	planner.finishMatching();
	const changes = [];
	const inserts = [];
	for (const batch of batches) {
		planner.plan(batch);
		const taken = planner.take();
		changes.push(...taken.changes);
		inserts.push(...taken.writes.inserts);
	}
	planner.planMissing();
	changes.push(...planner.take().changes);
	expect(changes).toEqual(whole.changes);
	expect(inserts).toEqual(whole.writes.inserts);
	expect(planner.summary).toEqual(whole.summary);
	expect(whole.changes.map((c) => [c.action, c.sourcedId])).toEqual([
		['ambiguous', 's0'],
		['update', 's1'],
		['update', 's5'],
		['create', 's7'],
		['update', 's9'],
		['archive', 'gone'],
	]);
	expect(whole.changes[0].reason).toMatch(/already matches SIS record s9/);
	// A batch before the last one in sourcedId order is refused: the caller reads the roster sorted instead.
	expect(new ReconcilePlanner({ ...input, contacts: new Map() }).match([records[1], records[0]])).toBe(false);
});

test('a record left for the fallbacks finds everybody under its SIS id or email, in table order, whoever else the table holds', () => {
	const people = [
		stored('first', { family_name: 'First', student_number: '2001', email: null, email_key: null }),
		stored('other', { student_number: '2002', email: 'dee@x.org', email_key: 'dee@x.org' }),
		stored('second', { family_name: 'Second', sis_id: '2001', email: null, email_key: null }),
		stored('staff', { role: 'teacher', sis_id: '2001', email: 'e@x.org', email_key: 'e@x.org' }),
		stored('email-twin', { email: 'E@X.org', email_key: 'e@x.org' }),
	];
	const records = [
		student('s1', 'Kim', 'Lee', '09', '2001', { email: null }),
		student('s2', 'Kim', 'Lee', '09', '', { sisId: null, email: 'e@x.org' }),
		person('t1', 'teacher', 'Tess', 'T', { sisId: '2001', email: null }),
	];
	const { matches } = matchPeople(records, people);
	expect(matches.map((m) => (m?.kind === 'ambiguous' ? m.reason : m && `${m.person.id} by ${m.by}`))).toEqual([
		'2 people in the store match by SIS id: Kim First (sis, student); Kim Second (sis, student)',
		'2 people in the store match by email: Kim Lee (sis, teacher); Kim Lee (sis, student)',
		'staff by SIS id',
	]);
});
