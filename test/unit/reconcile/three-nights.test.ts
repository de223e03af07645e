/**
 * Reconcile Users and Build Lists over three nights of a district-shaped roster (3,000 students by
 * default; ROSTERSYNC_SCALE_STUDENTS=100000 for a district-size run). Checks behaviour only: speed is
 * measured by `npm run bench`, never by a test.
 */
import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { syntheticRoster, writeRoster } from '../../support/roster-fixtures';

const STUDENTS = Number(process.env.ROSTERSYNC_SCALE_STUDENTS ?? 3_000);

jest.setTimeout(15 * 60_000);

describe.each(ENGINES)('three nights of a district-shaped roster on %s', (engine) => {
	let store: RosterStore;
	beforeAll(async () => {
		store = await openTestStore(engine);
	});
	afterAll(async () => {
		await store.close();
	});

	test('night 1 (everyone created), night 2 (1% left, 1% new, 2% renamed), night 3 (nothing changed)', async () => {
		const lists = { syncClassRosters: true, terms: ['y2027'], autoListsByRole: true, autoListsByGrade: true };
		const night1 = await writeRoster(store.db, syntheticRoster(STUDENTS, 1));
		const r1 = await reconcileRun(store.db, night1, { includePrimaryParentContact: true, autoUpdate: true, archive: true });
		expect(r1.counts.byRole.student.created).toBe(STUDENTS);
		const l1 = await buildListsRun(store.db, night1, lists);
		expect(l1.counts.membersAdded).toBeGreaterThan(STUDENTS * 7);

		const night2 = await writeRoster(store.db, syntheticRoster(STUDENTS, 2));
		const r2 = await reconcileRun(store.db, night2, { includePrimaryParentContact: true, autoUpdate: true, archive: true });
		expect(r2.counts.byRole.student).toMatchObject({ archived: STUDENTS / 100, created: STUDENTS / 100, updated: STUDENTS / 50 });
		const l2 = await buildListsRun(store.db, night2, lists);
		expect(l2.counts.membersRemoved).toBeGreaterThan(0);

		const night3 = await writeRoster(store.db, syntheticRoster(STUDENTS, 2));
		const r3 = await reconcileRun(store.db, night3, { includePrimaryParentContact: true, autoUpdate: true, archive: true });
		expect(r3.counts.created + r3.counts.updated + r3.counts.archived).toBe(0);
		const l3 = await buildListsRun(store.db, night3, lists);
		expect(l3.counts.membersAdded + l3.counts.membersRemoved).toBe(0);
	});
});
