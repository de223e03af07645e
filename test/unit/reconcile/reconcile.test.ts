import { RosterRunError } from '../../../nodes/shared/model/errors';
import { previewReconcile, reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { REASONS } from '../../../nodes/shared/reconcile/plan';
import { listChanges } from '../../../nodes/shared/store/changes';
import type { PersonRow } from '../../../nodes/shared/store/people';
import { loadPeople } from '../../../nodes/shared/store/people';
import { completeStage, createRun, getRun } from '../../../nodes/shared/store/runs';
import { PERSON_TABLE, writeSnapshotRecords } from '../../../nodes/shared/store/snapshot';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import {
	MANUAL_MANNY,
	PARENT_EMAIL,
	PARENT_PHONE,
	addManualPeople,
	day1,
	day2,
	manualPerson,
	person,
	student,
	writeRoster,
} from '../../support/roster-fixtures';

const bySourcedId = (people: PersonRow[]) => new Map(people.filter((p) => p.sourced_id).map((p) => [p.sourced_id as string, p]));

describe.each(ENGINES)('Reconcile Users (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => {
		await store.close();
	});

	async function reconcileDay1(settings = {}) {
		await addManualPeople(store.db, [MANUAL_MANNY]);
		const runId = await writeRoster(store.db, day1());
		return reconcileRun(store.db, runId, settings);
	}

	test.each([
		['a store with a manual user', true],
		['an empty store (no matching pass)', false],
	])('a snapshot whose people were written in several calls (not in sourcedId order) is planned in sourcedId order: %s', async (_, manual) => {
		if (manual) await addManualPeople(store.db, [MANUAL_MANNY]);
		const roster = day1();
		const sorted = [...roster.people].sort((a, b) => (a.sourcedId < b.sourcedId ? -1 : 1));
		const half = Math.floor(sorted.length / 2);
		const runId = await writeRoster(store.db, { ...roster, people: sorted.slice(half) });
		await writeSnapshotRecords(store.db, runId, PERSON_TABLE, sorted.slice(0, half));
		const result = await reconcileRun(store.db, runId);
		expect(result.counts).toMatchObject({ created: 8, ambiguous: 0 });
		const created = (await listChanges(store.db, runId, { entities: ['person'] })).filter((c) => c.action === 'create').map((c) => c.sourcedId!);
		expect(created).toEqual([...created].sort());
	});

	test('day 1 creates every rostered person, records the changes and the counts per role', async () => {
		const result = await reconcileDay1();
		expect(result.dryRun).toBe(false);
		expect(result.counts).toMatchObject({ created: 8, updated: 0, unchanged: 0, skipped: 0, archived: 0, ambiguous: 0 });
		expect(result.counts.byRole.student.created).toBe(4);
		expect(result.counts.byRole.teacher.created).toBe(2);
		expect(result.counts.byRole.staff).toMatchObject({ created: 1, wouldArchive: 0 });
		expect(result.run.stage).toBe('reconciled');
		expect(result.run.counts.reconciled).toMatchObject({ created: 8, dryRun: false });
		expect(result.run.settings.reconciled).toMatchObject({ autoUpdate: false, archive: false });

		const people = await loadPeople(store.db);
		expect(people).toHaveLength(9);
		const ada = bySourcedId(people).get('s1')!;
		expect(ada).toMatchObject({
			role: 'student',
			given_name: 'Ada',
			email_key: 'ada.lovelace@gbhs.example.org',
			student_number: '1001',
			sis_id: '1001',
			grade: '09',
			school_id: 'sch-gbhs',
			school_ids: '["sch-gbhs"]',
			source: 'sis',
			include_in_sis_sync: 1,
			parent_email: null,
			missing_runs: 0,
			last_seen_run_id: result.run.id,
		});
		const uma = bySourcedId(people).get('t2')!;
		expect(uma).toMatchObject({ sis_id: 'T200', student_number: null });

		const changes = await listChanges(store.db, result.run.id);
		expect(changes).toHaveLength(8);
		expect(changes.every((c) => c.action === 'create' && c.applied && c.entity === 'person')).toBe(true);
		const create = changes.find((c) => c.sourcedId === 's1')!;
		expect(create.entityId).toBe(ada.id);
		expect(create.before).toBeNull();
		expect(create.after).toMatchObject({ given_name: 'Ada', sourced_id: 's1', grade: '09' });
		expect(create.fields).toContain('given_name');
		// The manual user is not in the SIS on day 1 and not in sync: untouched, never counted as missing.
		expect(people.find((p) => p.id === MANUAL_MANNY.id)).toEqual(MANUAL_MANNY);
	});

	test('role toggles: a role switched off is skipped, and its people are never archived', async () => {
		const first = await reconcileDay1({ rosterStaff: false });
		expect(first.counts.byRole.staff).toMatchObject({ created: 0, skipped: 1 });
		expect((await loadPeople(store.db)).some((p) => p.sourced_id === 'st1')).toBe(false);

		// Admins on day 1, then admins switched off and gone from the SIS: kept although Archive is on.
		const roster = day1();
		roster.people = roster.people.filter((p) => p.role !== 'admin');
		const runId = await writeRoster(store.db, roster);
		const second = await reconcileRun(store.db, runId, { rosterStaff: false, rosterAdmins: false, archive: true });
		expect(second.counts.archived).toBe(0);
		expect(bySourcedId(await loadPeople(store.db)).get('a1')!.archived_at).toBeNull();
	});

	test('day 2 with the defaults (Auto update and Archive off): nothing an operator sees changes, the SIS link follows an id change, the plan says what would', async () => {
		await reconcileDay1();
		const before = await loadPeople(store.db);
		const runId = await writeRoster(store.db, day2());
		const result = await reconcileRun(store.db, runId);

		expect(result.counts).toMatchObject({ created: 0, updated: 0, archived: 0, ambiguous: 0, wouldArchive: 1, archiveBlocked: 1 });
		// s2 renamed, t1 → t1-new (matched by email), st2 matches the manual user: all skipped.
		expect(result.counts.skipped).toBe(3);
		expect(result.counts.unchanged).toBe(4);

		const after = await loadPeople(store.db);
		expect(after).toHaveLength(before.length);
		const tessId = bySourcedId(before).get('t1')!.id;
		// Only Tess's link to the SIS moved (t1 → t1-new), so she keeps her lists; no field an operator sees changed.
		const strip = (p: PersonRow) => ({ ...p, missing_runs: 0, last_seen_run_id: null, updated_at: '', sourced_id: p.id === tessId ? 't1-new' : p.sourced_id });
		expect(after.map(strip).sort((a, b) => a.id.localeCompare(b.id))).toEqual(before.map(strip).sort((a, b) => a.id.localeCompare(b.id)));
		expect(after.find((p) => p.id === tessId)).toMatchObject({ sourced_id: 't1-new', email: 'tess.tanner@gbhs.example.org' });

		const changes = await listChanges(store.db, runId);
		expect(changes.filter((c) => c.applied).map((c) => [c.action, c.sourcedId])).toEqual([['relink', 't1-new']]);
		const ben = changes.find((c) => c.sourcedId === 's2')!;
		expect(ben).toMatchObject({ action: 'skip', reason: REASONS.autoUpdateOff, fields: ['given_name'], before: { given_name: 'Ben' }, after: { given_name: 'Benjamin' } });
		const tess = changes.filter((c) => c.sourcedId === 't1-new');
		expect(tess.map((c) => [c.action, c.entityId, c.fields])).toEqual([
			['relink', tessId, ['sourced_id']],
			['skip', tessId, ['email']],
		]);
		const manny = changes.find((c) => c.sourcedId === 'st2')!;
		expect(manny).toMatchObject({ action: 'skip', reason: REASONS.manualNotIncluded, entityId: MANUAL_MANNY.id });
		expect(changes.find((c) => c.sourcedId === 's3')).toMatchObject({ action: 'keep', reason: REASONS.archiveOff });
		expect(changes.find((c) => c.sourcedId === 's4')).toMatchObject({ action: 'keep', reason: REASONS.rowProblem });

		// The missing counter: +1 for the student who left (kept), not for the one whose row was bad.
		const counters = bySourcedId(after);
		expect(counters.get('s3')!.missing_runs).toBe(1);
		expect(counters.get('s4')!.missing_runs).toBe(0);
		// People seen every night are not rewritten: last_seen_run_id stays the run that last wrote them.
		expect(counters.get('s1')!.last_seen_run_id).toBe(before.find((p) => p.sourced_id === 's1')!.last_seen_run_id);
		expect(counters.get('s1')!.updated_at).toBe(before.find((p) => p.sourced_id === 's1')!.updated_at);
	});

	test('day 2 with Auto update and Archive: renamed updated, leaver archived, id change followed, bad row and manual user untouched', async () => {
		await reconcileDay1();
		const day1People = bySourcedId(await loadPeople(store.db));
		const runId = await writeRoster(store.db, day2());
		const result = await reconcileRun(store.db, runId, { autoUpdate: true, archive: true });

		expect(result.counts).toMatchObject({ created: 0, updated: 2, archived: 1, skipped: 1, archiveBlocked: 1, wouldArchive: 0 });
		expect(result.counts.byRole.student).toMatchObject({ updated: 1, archived: 1, archiveBlocked: 1 });
		expect(result.counts.byRole.teacher).toMatchObject({ updated: 1, created: 0 });

		const people = await loadPeople(store.db);
		expect(people).toHaveLength(9);
		const now = bySourcedId(people);
		expect(now.get('s2')!.given_name).toBe('Benjamin');
		expect(now.get('s3')!.archived_at).not.toBeNull();
		expect(now.get('s3')!.missing_runs).toBe(1);
		expect(now.get('s4')!.archived_at).toBeNull();
		// One Tess, with the new sourcedId and email.
		expect(people.filter((p) => p.given_name === 'Tess')).toHaveLength(1);
		expect(now.get('t1-new')!.id).toBe(day1People.get('t1')!.id);
		expect(now.get('t1-new')!.email_key).toBe('tess.tanner@gbhs.example.org');
		expect(people.find((p) => p.id === MANUAL_MANNY.id)).toEqual(MANUAL_MANNY);

		const changes = await listChanges(store.db, runId);
		const update = changes.find((c) => c.sourcedId === 's2')!;
		expect(update).toMatchObject({ action: 'update', applied: true, fields: ['given_name'], before: { given_name: 'Ben' }, after: { given_name: 'Benjamin' } });
		const archive = changes.find((c) => c.sourcedId === 's3')!;
		expect(archive).toMatchObject({ action: 'archive', applied: true, fields: ['archived_at'], before: { archived_at: null } });
		expect(archive.after!.archived_at).toBe(now.get('s3')!.archived_at);
	});

	test('a person who comes back is restored only with Auto update', async () => {
		await reconcileDay1();
		await reconcileRun(store.db, await writeRoster(store.db, day2()), { archive: true });
		expect(bySourcedId(await loadPeople(store.db)).get('s3')!.archived_at).not.toBeNull();

		const back = await reconcileRun(store.db, await writeRoster(store.db, day1()), {});
		expect(back.counts.restored).toBe(0);
		const skipped = (await previewReconcile(store.db, back.run.id, 50)).find((c) => c.sourcedId === 's3')!;
		expect(skipped).toMatchObject({ action: 'skip', reason: REASONS.archivedAutoUpdateOff });
		expect(bySourcedId(await loadPeople(store.db)).get('s3')!.archived_at).not.toBeNull();

		const restored = await reconcileRun(store.db, await writeRoster(store.db, day1()), { autoUpdate: true });
		expect(restored.counts.restored).toBe(1);
		const cleo = bySourcedId(await loadPeople(store.db)).get('s3')!;
		expect(cleo.archived_at).toBeNull();
		expect(cleo.missing_runs).toBe(0);
		const change = (await previewReconcile(store.db, restored.run.id, 50, ['restore']))[0];
		expect(change).toMatchObject({ action: 'restore', sourcedId: 's3', applied: true });
		expect(change.fields[0]).toBe('archived_at');
	});

	test('a dry run changes nothing and records the same plan the real run then applies', async () => {
		await reconcileDay1();
		const before = await loadPeople(store.db);
		const settings = { autoUpdate: true, archive: true };

		const dryRunId = await writeRoster(store.db, day2());
		const dry = await reconcileRun(store.db, dryRunId, { ...settings, dryRun: true });
		expect(dry.dryRun).toBe(true);
		expect(await loadPeople(store.db)).toEqual(before);
		expect((await getRun(store.db, dryRunId)).dryRun).toBe(true);
		const planned = await listChanges(store.db, dryRunId);
		expect(planned.length).toBeGreaterThan(0);
		expect(planned.every((c) => !c.applied)).toBe(true);

		const realRunId = await writeRoster(store.db, day2());
		const real = await reconcileRun(store.db, realRunId, settings);
		const applied = await listChanges(store.db, realRunId);
		const comparable = (changes: typeof planned) =>
			changes.map(({ applied: _applied, seq: _seq, after, ...rest }) => ({
				...rest,
				after: after && 'archived_at' in after && after.archived_at ? { ...after, archived_at: 'now' } : after,
			}));
		expect(comparable(applied)).toEqual(comparable(planned));
		const { dryRun: _a, ...dryCounts } = dry.counts;
		const { dryRun: _b, ...realCounts } = real.counts;
		expect(realCounts).toEqual(dryCounts);
		expect(applied.filter((c) => ['update', 'archive'].includes(c.action)).every((c) => c.applied)).toBe(true);
	});

	test('a run started as a dry run stays a dry run', async () => {
		await addManualPeople(store.db, [MANUAL_MANNY]);
		const runId = await writeRoster(store.db, day1(), { dryRun: true });
		const result = await reconcileRun(store.db, runId, { dryRun: false });
		expect(result.dryRun).toBe(true);
		expect(await loadPeople(store.db)).toEqual([MANUAL_MANNY]);
	});

	test('ambiguous matches are reported, not applied, and their candidates are not archived', async () => {
		await addManualPeople(store.db, [
			manualPerson('m-1', 'teacher', 'Pat', 'Jones', { email: 'pat@gbhs.example.org', include_in_sis_sync: 1, sourced_id: 'old-pat-1', source: 'sis' }),
			manualPerson('m-2', 'teacher', 'Patricia', 'Jones', { email: 'PAT@gbhs.example.org', include_in_sis_sync: 1, sourced_id: 'old-pat-2', source: 'sis' }),
			manualPerson('m-3', 'student', 'Kim', 'Lee', { student_number: '5005', sourced_id: 'old-kim', include_in_sis_sync: 1, source: 'sis' }),
		]);
		const roster = day1();
		roster.people.push(
			person('t9', 'teacher', 'Pat', 'Jones', { email: 'pat@gbhs.example.org' }),
			// Two SIS records with one student number: the first takes Kim, the second is ambiguous.
			student('s50', 'Kim', 'Lee', '09', '5005'),
			student('s51', 'Kimberly', 'Lee', '09', '5005'),
		);
		const runId = await writeRoster(store.db, roster);
		const result = await reconcileRun(store.db, runId, { autoUpdate: true, archive: true });
		expect(result.counts.ambiguous).toBe(2);
		expect(result.counts.byRole.teacher.ambiguous).toBe(1);
		expect(result.counts.archived).toBe(0);

		const changes = await listChanges(store.db, runId);
		const pat = changes.find((c) => c.sourcedId === 't9')!;
		expect(pat).toMatchObject({ action: 'ambiguous', entityId: '', applied: false });
		expect(pat.reason).toMatch(/2 people in the store match by email/);
		const second = changes.find((c) => c.sourcedId === 's51')!;
		expect(second.action).toBe('ambiguous');
		expect(second.reason).toMatch(/already matches SIS record s50/);
		expect(changes.find((c) => c.sourcedId === 's50')).toMatchObject({ action: 'update', entityId: 'm-3' });
		expect(changes.filter((c) => c.action === 'keep').map((c) => c.entityId).sort()).toEqual(['m-1', 'm-2']);
		expect(changes.find((c) => c.entityId === 'm-1')!.reason).toBe(REASONS.ambiguousCandidate);

		const people = await loadPeople(store.db);
		expect(people.filter((p) => p.given_name.startsWith('Pat'))).toHaveLength(2);
		expect(people.every((p) => p.archived_at === null)).toBe(true);
		expect(people.some((p) => p.sourced_id === 's51')).toBe(false);
	});

	test('an exact sourcedId match wins over another record matching the same person by email', async () => {
		await reconcileDay1();
		const roster = day1();
		// "a0" sorts before "s2" and has s2's email: s2 still matches by sourcedId; a0 is ambiguous.
		roster.people.push(person('a0', 'admin', 'Ben', 'Carter', { email: 'ben.carter@gbhs.example.org' }));
		const result = await reconcileRun(store.db, await writeRoster(store.db, roster), { autoUpdate: true });
		expect(result.counts.ambiguous).toBe(1);
		expect(result.counts.unchanged).toBe(8);
		const a0 = (await previewReconcile(store.db, result.run.id, 10)).find((c) => c.sourcedId === 'a0')!;
		expect(a0.action).toBe('ambiguous');
	});

	test('manual users in SIS sync are matched, updated and archived like SIS users', async () => {
		const included = manualPerson('manual-inez', 'teacher', 'Inez', 'Ingram', { include_in_sis_sync: 1 });
		const leaver = manualPerson('manual-lou', 'teacher', 'Lou', 'Left', { include_in_sis_sync: 1 });
		await addManualPeople(store.db, [included, leaver, MANUAL_MANNY]);
		const roster = day1();
		roster.people.push(person('t7', 'teacher', 'Inez', 'Ingram-Smith', { email: included.email }));
		const result = await reconcileRun(store.db, await writeRoster(store.db, roster), { autoUpdate: true, archive: true });
		expect(result.counts.byRole.teacher).toMatchObject({ updated: 1, archived: 1, created: 2 });
		const people = await loadPeople(store.db);
		const inez = people.find((p) => p.id === 'manual-inez')!;
		expect(inez).toMatchObject({ family_name: 'Ingram-Smith', sourced_id: 't7', source: 'manual' });
		expect(people.find((p) => p.id === 'manual-lou')!.archived_at).not.toBeNull();
		expect(people.find((p) => p.id === MANUAL_MANNY.id)).toEqual(MANUAL_MANNY);
	});

	test('no people of a role in the roster: archiving that role is held, with a warning', async () => {
		await reconcileDay1();
		const roster = day1();
		roster.people = roster.people.filter((p) => p.role !== 'student');
		const result = await reconcileRun(store.db, await writeRoster(store.db, roster), { archive: true });
		expect(result.warnings).toContain('no students in the roster; archiving skipped');
		expect(result.counts.byRole.student).toMatchObject({ archived: 0, archiveBlocked: 4 });
		expect((await loadPeople(store.db)).filter((p) => p.archived_at !== null)).toHaveLength(0);
		expect((await getRun(store.db, result.run.id)).warnings).toContain('no students in the roster; archiving skipped');
	});

	test('a users row that could not be read (no sourcedId) holds all archiving', async () => {
		await reconcileDay1();
		const roster = day2();
		roster.problems.push({ file: 'users.csv', row: 9, field: 'sourcedId', message: 'required value "sourcedId" is empty' });
		const result = await reconcileRun(store.db, await writeRoster(store.db, roster), { archive: true });
		expect(result.counts.archived).toBe(0);
		expect(result.warnings.join('\n')).toMatch(/1 users row could not be read/);
	});

	test('primary parent contact is copied only when switched on', async () => {
		await reconcileDay1();
		expect(bySourcedId(await loadPeople(store.db)).get('s1')!.parent_email).toBeNull();
		const result = await reconcileRun(store.db, await writeRoster(store.db, day1()), { autoUpdate: true, includePrimaryParentContact: true });
		expect(result.counts.updated).toBe(1);
		expect(bySourcedId(await loadPeople(store.db)).get('s1')!).toMatchObject({
			parent_name: 'Mary Lovelace',
			parent_email: PARENT_EMAIL,
			parent_phone: PARENT_PHONE,
		});
	});

	test('the missing counter grows each run a person is missing and resets when they are back', async () => {
		await reconcileDay1();
		const withoutCleo = () => {
			const roster = day1();
			roster.people = roster.people.filter((p) => p.sourcedId !== 's3');
			return roster;
		};
		await reconcileRun(store.db, await writeRoster(store.db, withoutCleo()));
		await reconcileRun(store.db, await writeRoster(store.db, withoutCleo()));
		expect(bySourcedId(await loadPeople(store.db)).get('s3')!.missing_runs).toBe(2);
		// A dry run does not count.
		await reconcileRun(store.db, await writeRoster(store.db, withoutCleo()), { dryRun: true });
		expect(bySourcedId(await loadPeople(store.db)).get('s3')!.missing_runs).toBe(2);
		const back = await reconcileRun(store.db, await writeRoster(store.db, day1()));
		const cleo = bySourcedId(await loadPeople(store.db)).get('s3')!;
		expect(cleo.missing_runs).toBe(0);
		expect(cleo.last_seen_run_id).toBe(back.run.id);
	});

	test('a stored person matched by SIS id is updated from their stored row (what the SIS does not own is kept); people nobody lists are archived', async () => {
		const renumbered = manualPerson('p-zoë', 'student', 'Zoë', 'Ærøskøbing', {
			sourced_id: 'old-s9',
			student_number: '1009',
			sis_id: '1009',
			email: null,
			preferred_name: '李小龍',
			parent_name: 'Łukasz Ærøskøbing',
			include_in_sis_sync: 1,
			source: 'sis',
		});
		const gone = manualPerson('p-gone', 'student', 'Gus', 'Gone', { sourced_id: 'gone-1', student_number: '1010', include_in_sis_sync: 1, source: 'sis' });
		await addManualPeople(store.db, [renumbered, gone, MANUAL_MANNY]);
		const roster = day1();
		roster.people.push(student('s9', 'Zoë', 'Ærøskøbing-Ng', '11', '1009', { email: null }));
		const runId = await writeRoster(store.db, roster);
		const result = await reconcileRun(store.db, runId, { autoUpdate: true, archive: true });

		expect(result.counts).toMatchObject({ created: 8, updated: 1, archived: 1, ambiguous: 0 });
		const people = await loadPeople(store.db);
		expect(people.find((p) => p.id === 'p-zoë')).toEqual({
			...renumbered,
			family_name: 'Ærøskøbing-Ng',
			sourced_id: 's9',
			grade: '11',
			username: 'zoëærøskøbing-ng',
			school_ids: '["sch-gbhs"]',
			updated_at: expect.not.stringMatching(renumbered.updated_at),
			last_seen_run_id: runId,
		});
		expect(people.find((p) => p.id === 'p-gone')).toMatchObject({ archived_at: expect.any(String), missing_runs: 1, given_name: 'Gus' });
		expect(people.find((p) => p.id === MANUAL_MANNY.id)).toEqual(MANUAL_MANNY);
		const changes = await listChanges(store.db, runId, { entities: ['person'] });
		expect(changes.find((c) => c.entityId === 'p-zoë')).toMatchObject({
			action: 'update',
			sourcedId: 's9',
			before: { family_name: 'Ærøskøbing', sourced_id: 'old-s9', grade: null },
			after: { family_name: 'Ærøskøbing-Ng', sourced_id: 's9', grade: '11' },
		});
		expect(changes.filter((c) => c.action === 'archive').map((c) => [c.entityId, c.label, c.sourcedId])).toEqual([['p-gone', 'Gus Gone', 'gone-1']]);
	});

	test('a run is reconciled once; a dry run may be planned again (its plan is replaced)', async () => {
		await addManualPeople(store.db, [MANUAL_MANNY]);
		const dryRunId = await writeRoster(store.db, day1());
		await reconcileRun(store.db, dryRunId, { dryRun: true });
		await reconcileRun(store.db, dryRunId, { dryRun: true });
		expect(await listChanges(store.db, dryRunId)).toHaveLength(8);

		const runId = await writeRoster(store.db, day1());
		await reconcileRun(store.db, runId);
		await expect(reconcileRun(store.db, runId)).rejects.toThrow(/already reconciled/);
		// The refusal does not fail the run.
		expect((await getRun(store.db, runId)).status).toBe('running');
	});

	test('needs a normalized run', async () => {
		const run = await createRun(store.db, { source: 'test' });
		await completeStage(store.db, run.id, 'staged', {});
		await expect(reconcileRun(store.db, run.id)).rejects.toThrow(RosterRunError);
		await expect(reconcileRun(store.db, run.id)).rejects.toThrow(/needs run .* to be normalized/);
	});

	test('previewReconcile lists planned changes, capped by the limit', async () => {
		await addManualPeople(store.db, [MANUAL_MANNY]);
		const runId = await writeRoster(store.db, day1());
		await reconcileRun(store.db, runId, { dryRun: true });
		const preview = await previewReconcile(store.db, runId, 3);
		expect(preview).toHaveLength(3);
		expect(preview[0]).toMatchObject({ action: 'create', applied: false });
		expect(preview[0].after).toBeTruthy();
		expect(await previewReconcile(store.db, runId, 100, ['archive'])).toEqual([]);
	});
});
