/**
 * Build Lists, the store side: reads the run's snapshot (terms, classes, courses; people and
 * enrollments in batches) and the stored lists, then plans (plan.ts) a slice of lists at a time,
 * reading the slice's stored members, recording its plan in run_changes and, unless the run is a
 * dry run, applying it; all in one transaction.
 * Counts go to the run under stage 'lists'.
 */
import { RosterRunError } from '../model/errors';
import type { ReconcileStageCounts } from '../reconcile/apply';
import { readRowProblems } from '../reconcile/apply';
import { addChanges, deleteChanges, listChanges } from '../store/changes';
import { insertLists, insertMemberGroups, loadStoredMembers, loadSyncedLists, removeMembers, replaceLists } from '../store/lists';
import type { PersonLink } from '../store/people';
import { loadPersonLinks } from '../store/people';
import type { RunRecord } from '../store/runs';
import { completeStage, failRun, findRun, recordStageSettings, requireStage } from '../store/runs';
import {
	CLASS_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	PERSON_TABLE,
	TERM_TABLE,
	changedSourcedIds,
	countSnapshotRecords,
	readSnapshotBatches,
	readSnapshotRecords,
	refreshSnapshotStatistics,
} from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import { nowIso, refreshStatistics, withIndexesBuiltAfterFirstFill } from '../store/sql';
import { asLeftBy, holdAsLeftBy, setAsLeftBy, withoutWriteTriggers } from '../store/sync-state';
import type { DesiredList, ListsCounts, ListsPlanPart, SyncedKind } from './plan';
import { DesiredLists, ListsPlanner, PersonIndex, emptyListsCounts, selectClasses } from './plan';
import type { ListSettings } from './settings';
import { listSettings, sameListSettings } from './settings';

export interface ListsStageCounts extends ListsCounts {
	/** Lists the sync wants this run (all kinds built). */
	lists: number;
	dryRun: boolean;
	/** Nothing the lists are built from changed since this run (see unchangedSince): no list was planned. */
	unchangedSince?: string;
}

export interface BuildListsResult {
	run: RunRecord;
	counts: ListsStageCounts;
	warnings: string[];
	dryRun: boolean;
}

const STEP = 'Build Lists';

/** Lists planned and written at a time: ~35,000 memberships of class lists, a few MB of changes. */
const LISTS_PER_SLICE = 1000;

export async function buildListsRun(db: SqlDb, runId: string, given: Partial<ListSettings> = {}): Promise<BuildListsResult> {
	const before = await requireStage(db, runId, 'reconciled', STEP);
	if (before.counts.lists && !before.dryRun) {
		throw new RosterRunError(`Run ${runId} already built its lists`, 'Start a new run (CSV Ingest or OneRoster Fetch) to sync again.');
	}
	const settings = listSettings(given);
	// Dry run follows the run: Reconcile Users marks it.
	const dryRun = before.dryRun;
	try {
		return await db.transaction(async (tx) => {
			await deleteChanges(tx, runId, ['list', 'list_member']);
			const listsAsLeftBy = await holdAsLeftBy(tx, 'lists');
			const unchanged = !dryRun && listsAsLeftBy ? await unchangedSince(tx, before, settings, listsAsLeftBy) : undefined;
			if (unchanged) await setAsLeftBy(tx, 'lists', runId);
			const { counts, warnings } = unchanged ? { counts: { ...unchanged, dryRun }, warnings: [] } : await planAndWriteLists(tx, runId, settings, dryRun);
			await recordStageSettings(tx, runId, 'lists', settings as unknown as Record<string, unknown>);
			const run = await completeStage(tx, runId, 'lists', counts as unknown as Record<string, unknown>, warnings);
			return { run, counts, warnings, dryRun };
		});
	} catch (error) {
		await failRun(db, runId, `${STEP}: ${(error as Error).message}`);
		throw Object.assign(error as Error, { runId });
	}
}

/** Plans every list the run's roster asks for against the stored ones and, unless a dry run, applies the plan and notes whether it is a basis for the next night's. */
async function planAndWriteLists(tx: SqlDb, runId: string, settings: ListSettings, dryRun: boolean): Promise<{ counts: ListsStageCounts; warnings: string[] }> {
	const { people, sourcedIds, activeNumbers, protectedPeople } = await numberPeople(tx, runId, dryRun);
	const { wanted, builtKinds, roster, enrollmentsWithoutPerson, warnings: selectionWarnings } = await readDesiredLists(tx, runId, settings, activeNumbers);
	const planner = new ListsPlanner({
		now: nowIso(),
		dryRun,
		settings,
		builtKinds,
		desired: wanted,
		lists: await loadSyncedLists(tx),
		people,
		roster,
		protectedPeople,
		sourcedIdOf: (person) => sourcedIds[person],
	});

	// Planned and written a slice of lists at a time, in plan order (the change log's order, as one
	// plan would write it): only one slice's changes and member groups exist at once. PostgreSQL reads
	// each slice's members by list id well only with statistics: without them (a store filled moments
	// ago, before autovacuum) it scans all ~800,000 memberships per slice (measured: 100–220 ms a slice
	// against 48 ms, 24 slices at 100,000 students; ANALYZE takes ~150 ms).
	await refreshStatistics(tx, ['list_members']);
	const writeLists = () =>
		withIndexesBuiltAfterFirstFill(tx, 'list_members', async (tx) => {
			for (let start = 0; start < planner.desired.length; start += LISTS_PER_SLICE) {
				const slice = planner.desired.slice(start, start + LISTS_PER_SLICE);
				const stored = await loadStoredMembers(tx, slice.map((want) => planner.storedListOf(want)?.id).filter((id): id is string => id !== undefined));
				await writePlanPart(tx, runId, dryRun, planner.planSlice(slice, (listId) => stored.get(listId)));
			}
			await writePlanPart(tx, runId, dryRun, planner.planArchives());
		});
	await withoutWriteTriggers(tx, 'user_lists', () => withoutWriteTriggers(tx, 'list_members', writeLists));
	if (!dryRun) {
		// The lists are as this plan wanted them, from the people as this run's Reconcile Users left them.
		const basis = planner.isBasisForNextPlan && selectionWarnings.length === 0 && (await asLeftBy(tx, 'people')) === runId;
		await setAsLeftBy(tx, 'lists', basis ? runId : null);
	}
	return {
		counts: { ...planner.counts, enrollmentsWithoutPerson, lists: wanted.length, dryRun },
		warnings: [...selectionWarnings, ...planner.warnings],
	};
}

/** What a run's lists depend on (Build Lists reads these entities of its snapshot). */
const LIST_INPUTS = [TERM_TABLE, CLASS_TABLE, COURSE_TABLE, PERSON_TABLE, ENROLLMENT_TABLE] as const;
/** Reconcile Users' actions that change who is linked to a sourcedId, or whether they can be on lists. */
const LINK_ACTIONS = ['create', 'update', 'restore', 'archive', 'relink'];

/**
 * A night whose lists would be as they are: the counts of the run that left the lists as they are
 * (`since`), when nothing they are built from changed since it. That is: the same settings; the
 * lists and members as its plan left them (store/sync-state.ts); the people table as that run left it
 * when this run's Reconcile Users began, which then linked, restored or archived nobody and wrote last;
 * and this run's terms, classes, courses, people and enrollments the same records as that run's (an
 * unchanged export shares its snapshot). Undefined otherwise: Build Lists then plans every list.
 */
async function unchangedSince(tx: SqlDb, run: RunRecord, settings: ListSettings, since: string): Promise<Omit<ListsStageCounts, 'dryRun'> | undefined> {
	const runId = run.id;
	const sinceRun = await findRun(tx, since);
	const sinceSettings = sinceRun?.settings.lists as ListSettings | undefined;
	if (!sinceRun || !sinceSettings || !sameListSettings(sinceSettings, settings) || since === runId) return undefined;
	const reconciled = run.counts.reconciled as Partial<ReconcileStageCounts> | undefined;
	if (reconciled?.peopleAsLeftBy !== since || (await asLeftBy(tx, 'people')) !== runId) return undefined;
	const linked = await listChanges(tx, runId, { entities: ['person'], actions: LINK_ACTIONS, withValues: false });
	if (linked.some((change) => change.applied)) return undefined;
	for (const spec of LIST_INPUTS) {
		const changed = await changedSourcedIds(tx, since, runId, spec);
		if (!changed || changed.size > 0) return undefined;
	}
	const counts = sinceRun.counts.lists as unknown as ListsStageCounts;
	return { ...emptyListsCounts(), lists: counts.lists, enrollmentsWithoutPerson: counts.enrollmentsWithoutPerson, unchangedSince: since };
}

interface RunDesiredLists {
	wanted: DesiredList[];
	builtKinds: Set<SyncedKind>;
	/** What the roster holds, for the planner's guards against an empty export. */
	roster: { classes: number; enrollments: number; people: number };
	enrollmentsWithoutPerson: number;
	warnings: string[];
}

/**
 * The lists the run's snapshot asks for. Its terms, classes and courses, and what the lists are
 * gathered in, are let go when this returns: they are not held while the lists are planned and
 * written (~25 MB at 100,000 students).
 */
async function readDesiredLists(tx: SqlDb, runId: string, settings: ListSettings, personNumbers: Map<string, number>): Promise<RunDesiredLists> {
	const terms = await readSnapshotRecords(tx, runId, TERM_TABLE);
	const classes = await readSnapshotRecords(tx, runId, CLASS_TABLE);
	const courses = await readSnapshotRecords(tx, runId, COURSE_TABLE);
	const selection = selectClasses(settings, terms, classes, courses);
	const builtKinds = new Set<SyncedKind>();
	if (selection.classListsOn) builtKinds.add('class');
	if (settings.autoListsByRole) builtKinds.add('role');
	if (settings.autoListsByGrade) builtKinds.add('grade');
	if (settings.autoListsBySubject) builtKinds.add('subject');
	if (settings.autoListsByTeacher) builtKinds.add('teacher');

	const needsEnrollments = builtKinds.has('class') || builtKinds.has('subject') || builtKinds.has('teacher');
	const needsPeople = builtKinds.has('role') || builtKinds.has('grade') || builtKinds.has('teacher');
	const desired = new DesiredLists({ settings, selection, classes, courses, personNumbers });
	if (needsPeople) for await (const batch of readSnapshotBatches(tx, runId, PERSON_TABLE)) desired.addPeople(batch);
	if (needsEnrollments) {
		await refreshSnapshotStatistics(tx, [ENROLLMENT_TABLE]);
		for await (const batch of readSnapshotBatches(tx, runId, ENROLLMENT_TABLE)) desired.addEnrollments(batch);
	}
	return {
		wanted: desired.build(),
		builtKinds,
		roster: {
			classes: classes.length,
			enrollments: needsEnrollments ? desired.enrollmentCount : await countSnapshotRecords(tx, runId, ENROLLMENT_TABLE),
			people: needsPeople ? desired.peopleCount : await countSnapshotRecords(tx, runId, PERSON_TABLE),
		},
		enrollmentsWithoutPerson: desired.enrollmentsWithoutPerson,
		warnings: selection.warnings,
	};
}

/** Records the part of the plan in run_changes and, unless the run is a dry run, applies it. */
async function writePlanPart(db: SqlDb, runId: string, dryRun: boolean, part: ListsPlanPart): Promise<void> {
	await addChanges(db, runId, part.changes);
	if (dryRun) return;
	await insertLists(db, part.creates);
	await replaceLists(db, part.rewrites);
	for (const removal of part.memberRemoves) await removeMembers(db, removal.listId, removal.membership, removal.personIds);
	await insertMemberGroups(db, part.memberAdds, runId);
}

interface NumberedPeople {
	/** People are numbers inside Build Lists: ids and sourcedIds are looked up by number. */
	people: PersonIndex;
	sourcedIds: string[];
	/** sourcedId → person number of people who can be on lists: active, in SIS sync, and the only one with that sourcedId. */
	activeNumbers: Map<string, number>;
	/** People whose SIS row had a problem this run: never removed from a list for it. */
	protectedPeople: Set<number>;
}

/** The store's linked people as numbers (their links, one object per person, are let go before the lists are built). */
async function numberPeople(db: SqlDb, runId: string, dryRun: boolean): Promise<NumberedPeople> {
	const links = await personLinks(db, runId, dryRun);
	const people = new PersonIndex(links.map((link) => link.id));
	const sourcedIds: string[] = [];
	for (const link of links) sourcedIds[people.numberOf(link.id)!] = link.sourcedId;
	const { problemSourcedIds } = await readRowProblems(db, runId);
	const protectedPeople = new Set(links.filter((l) => problemSourcedIds.has(l.sourcedId)).map((l) => people.numberOf(l.id)!));
	return { people, sourcedIds, activeNumbers: activePersonNumbers(links, people), protectedPeople };
}

/**
 * People by the SIS sourcedId they are linked to. In a dry run nothing was created or archived,
 * so the store is seen as Reconcile Users planned it: the lists plan previews the real run's.
 */
async function personLinks(db: SqlDb, runId: string, dryRun: boolean): Promise<PersonLink[]> {
	const links = await loadPersonLinks(db);
	if (!dryRun) return links;
	const byId = new Map(links.map((link) => [link.id, link]));
	const planned = await listChanges(db, runId, { entities: ['person'], actions: ['create', 'update', 'restore', 'archive'] });
	for (const change of planned) {
		if (change.action === 'archive') {
			const link = byId.get(change.entityId);
			if (link) byId.set(change.entityId, { ...link, archived: true });
		} else if (change.sourcedId) {
			byId.set(change.entityId, { id: change.entityId, sourcedId: change.sourcedId, archived: false, includeInSync: true });
		}
	}
	return [...byId.values()];
}

/** sourcedId → person number of people who can be on lists: active, in SIS sync, and the only one with that sourcedId. */
function activePersonNumbers(links: PersonLink[], people: PersonIndex): Map<string, number> {
	const ids = new Map<string, number>();
	const duplicated = new Set<string>();
	for (const link of links) {
		if (link.archived || !link.includeInSync) continue;
		if (ids.has(link.sourcedId)) duplicated.add(link.sourcedId);
		ids.set(link.sourcedId, people.numberOf(link.id)!);
	}
	for (const sourcedId of duplicated) ids.delete(sourcedId);
	return ids;
}
