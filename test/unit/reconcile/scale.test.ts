/**
 * Reconcile Users and Build Lists at district scale (100k students, ~110k people, ~700k
 * enrollments). Slow to set up, so it runs only with ROSTERSYNC_SCALE=1 (optionally
 * ROSTERSYNC_SCALE_STUDENTS=…); it prints the timings.
 */
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { syntheticRoster, writeRoster } from '../../support/roster-fixtures';

const enabled = process.env.ROSTERSYNC_SCALE === '1';
const STUDENTS = Number(process.env.ROSTERSYNC_SCALE_STUDENTS ?? 100_000);
const describeScale = enabled ? describe.each(ENGINES) : describe.skip.each(ENGINES);

jest.setTimeout(15 * 60_000);

describeScale('scale: %s', (engine) => {
	let store: RosterStore;
	beforeAll(async () => {
		store = await openTestStore(engine);
	});
	afterAll(async () => {
		await store.close();
	});

	const time = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
		const started = Date.now();
		const result = await work();
		process.stdout.write(`[scale ${engine} ${STUDENTS}] ${label}: ${Date.now() - started} ms\n`);
		return result;
	};

	test('night 1 (everyone created) and night 2 (1% left, 1% new, 2% renamed)', async () => {
		const lists = { syncClassRosters: true, terms: ['y2027'], autoListsByRole: true, autoListsByGrade: true };
		const night1 = await time('write snapshot night 1', () => writeRoster(store.db, syntheticRoster(STUDENTS, 1)));
		const r1 = await time('reconcile night 1', () => reconcileRun(store.db, night1, { includePrimaryParentContact: true, autoUpdate: true, archive: true }));
		expect(r1.counts.byRole.student.created).toBe(STUDENTS);
		const l1 = await time('lists night 1', () => buildListsRun(store.db, night1, lists));
		expect(l1.counts.membersAdded).toBeGreaterThan(STUDENTS * 7);

		const night2 = await time('write snapshot night 2', () => writeRoster(store.db, syntheticRoster(STUDENTS, 2)));
		const r2 = await time('reconcile night 2', () => reconcileRun(store.db, night2, { includePrimaryParentContact: true, autoUpdate: true, archive: true }));
		expect(r2.counts.byRole.student).toMatchObject({ archived: STUDENTS / 100, created: STUDENTS / 100, updated: STUDENTS / 50 });
		const l2 = await time('lists night 2', () => buildListsRun(store.db, night2, lists));
		expect(l2.counts.membersRemoved).toBeGreaterThan(0);

		const night3 = await time('write snapshot night 3', () => writeRoster(store.db, syntheticRoster(STUDENTS, 2)));
		const r3 = await time('reconcile night 3 (nothing changed)', () => reconcileRun(store.db, night3, { includePrimaryParentContact: true, autoUpdate: true, archive: true }));
		expect(r3.counts.created + r3.counts.updated + r3.counts.archived).toBe(0);
		const l3 = await time('lists night 3 (nothing changed)', () => buildListsRun(store.db, night3, lists));
		expect(l3.counts.membersAdded + l3.counts.membersRemoved).toBe(0);
	});
});
