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
import type { StoredMembers } from '../store/lists';
import { PERSON_ID_SEPARATOR, hasMoreMembersThan, insertLists, insertMemberGroups, loadMembershipsOf, loadStoredMembers, loadSyncedLists, removeMembers, replaceLists } from '../store/lists';
import type { PersonLink } from '../store/people';
import { loadPersonLinks, loadPersonLinksOf } from '../store/people';
import type { RunRecord } from '../store/runs';
import { completeStage, failRun, findRun, recordStageSettings, requireStage } from '../store/runs';
import {
	CLASS_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	PERSON_TABLE,
	TERM_TABLE,
	changedRecords,
	changedSourcedIds,
	countSnapshotRecords,
	readSnapshotBatches,
	readSnapshotRecords,
	readSnapshotRecordsById,
	refreshSnapshotStatistics,
} from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import { nowIso, refreshStatistics, withIndexesBuiltAfterFirstFill } from '../store/sql';
import { asLeftBy, holdAsLeftBy, setAsLeftBy, withoutWriteTriggers } from '../store/sync-state';
import type { CanonicalEnrollment, CanonicalPerson, PersonRole } from '../model/roster';
import type { DesiredList, ListsCounts, ListsPlanInput, ListsPlanPart, SyncedKind } from './plan';
import { DesiredLists, ListsPlanner, PersonIndex, classList, emptyListsCounts, gradeList, gradeTitleIsFixed, roleList, selectClasses, sortedUnique } from './plan';
import type { ListSettings } from './settings';
import { listSettings, sameListSettings } from './settings';

export interface ListsStageCounts extends ListsCounts {
	/** Lists the sync wants this run (all kinds built). */
	lists: number;
	dryRun: boolean;
	/** Nothing the lists are built from changed since this run (see unchangedSince): no list was planned. */
	unchangedSince?: string;
	/** Planned from what changed since this run (see changedRunLists): how many lists were planned, and whether the night's enrollments were read. */
	plannedFromChanges?: PlannedListsFromChanges;
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
			const since = !dryRun && listsAsLeftBy ? await planBasis(tx, before, settings, listsAsLeftBy) : undefined;
			const unchanged = since && (await unchangedSince(tx, runId, since));
			if (unchanged) await setAsLeftBy(tx, 'lists', runId);
			const { counts, warnings } = unchanged ? { counts: { ...unchanged, dryRun }, warnings: [] } : await planAndWriteLists(tx, runId, settings, dryRun, since);
			await recordStageSettings(tx, runId, 'lists', settings as unknown as Record<string, unknown>);
			const run = await completeStage(tx, runId, 'lists', counts as unknown as Record<string, unknown>, warnings);
			return { run, counts, warnings, dryRun };
		});
	} catch (error) {
		await failRun(db, runId, `${STEP}: ${(error as Error).message}`);
		throw Object.assign(error as Error, { runId });
	}
}

/**
 * Plans the lists against the stored ones (from what changed since `since` where it can: changedRunLists;
 * else every list the run's roster asks for) and, unless a dry run, applies the plan and notes whether
 * it is a basis for the next night's.
 */
async function planAndWriteLists(tx: SqlDb, runId: string, settings: ListSettings, dryRun: boolean, since: PlanBasis | undefined): Promise<{ counts: ListsStageCounts; warnings: string[] }> {
	const runLists = (since && (await changedRunLists(tx, runId, settings, since))) || (await wholeRunLists(tx, runId, settings, dryRun));
	const planner = new ListsPlanner({ ...runLists.plan, now: nowIso(), dryRun, settings });

	// Planned and written a slice of lists at a time, in plan order (the change log's order, as one
	// plan would write it): only one slice's changes and member groups exist at once. PostgreSQL reads
	// each slice's members by list id well only with statistics: without them (a store filled moments
	// ago, before autovacuum) it scans all ~800,000 memberships per slice (measured: 100–220 ms a slice
	// against 48 ms, 24 slices at 100,000 students; ANALYZE takes ~150 ms). A plan from changes follows a
	// night whose Build Lists analyzed the table, and changes a few of its rows.
	if (!runLists.fromChanges) await refreshStatistics(tx, ['list_members']);
	const writeLists = () =>
		withIndexesBuiltAfterFirstFill(tx, 'list_members', async (tx) => {
			for (let start = 0; start < planner.desired.length; start += LISTS_PER_SLICE) {
				const slice = planner.desired.slice(start, start + LISTS_PER_SLICE);
				const stored = await (runLists.membersOf ?? loadStoredMembers)(tx, slice.map((want) => planner.storedListOf(want)?.id).filter((id): id is string => id !== undefined));
				await writePlanPart(tx, runId, dryRun, planner.planSlice(slice, (listId) => stored.get(listId)));
			}
			await writePlanPart(tx, runId, dryRun, planner.planArchives());
		});
	await withoutWriteTriggers(tx, 'user_lists', () => withoutWriteTriggers(tx, 'list_members', writeLists));
	if (!dryRun) {
		// The lists are as this plan wanted them, from the people as this run's Reconcile Users left them.
		const basis = planner.isBasisForNextPlan && runLists.warnings.length === 0 && (await asLeftBy(tx, 'people')) === runId;
		await setAsLeftBy(tx, 'lists', basis ? runId : null);
	}
	return {
		counts: {
			...planner.counts,
			enrollmentsWithoutPerson: runLists.enrollmentsWithoutPerson,
			lists: runLists.lists,
			dryRun,
			...(runLists.fromChanges ? { plannedFromChanges: runLists.fromChanges } : {}),
		},
		warnings: [...runLists.warnings, ...planner.warnings],
	};
}

/** The run whose lists plan this run's may start from (see sync_state), with that run's record. */
interface PlanBasis {
	runId: string;
	counts: ListsStageCounts;
}

/**
 * The run that left the lists as they are (`listsAsLeftBy`), when this run's lists may be planned from
 * what changed since it: the same settings; the lists and members as its plan left them
 * (store/sync-state.ts); and the people table as that run left it when this run's Reconcile Users
 * began, which wrote last. Its plan then made every synced list what it wanted (isBasisForNextPlan).
 */
async function planBasis(tx: SqlDb, run: RunRecord, settings: ListSettings, listsAsLeftBy: string): Promise<PlanBasis | undefined> {
	const sinceRun = await findRun(tx, listsAsLeftBy);
	const sinceSettings = sinceRun?.settings.lists as ListSettings | undefined;
	if (!sinceRun || !sinceSettings || !sameListSettings(sinceSettings, settings) || listsAsLeftBy === run.id) return undefined;
	const reconciled = run.counts.reconciled as Partial<ReconcileStageCounts> | undefined;
	if (reconciled?.peopleAsLeftBy !== listsAsLeftBy || (await asLeftBy(tx, 'people')) !== run.id) return undefined;
	return { runId: listsAsLeftBy, counts: sinceRun.counts.lists as unknown as ListsStageCounts };
}

/** What Build Lists' lists depend on (it reads these entities of its snapshot). */
const LIST_INPUTS = [TERM_TABLE, CLASS_TABLE, COURSE_TABLE, PERSON_TABLE, ENROLLMENT_TABLE] as const;
/** Reconcile Users' actions that change who is linked to a sourcedId, or whether they can be on lists. */
const LINK_ACTIONS = ['create', 'update', 'restore', 'archive', 'relink'];

/** The person changes this run's Reconcile Users applied that may change who can be on lists. */
async function appliedLinkChanges(tx: SqlDb, runId: string) {
	return (await listChanges(tx, runId, { entities: ['person'], actions: LINK_ACTIONS, withValues: false })).filter((change) => change.applied);
}

/**
 * A night whose lists would be as they are: the basis run's counts, when this run's Reconcile Users
 * linked, restored or archived nobody and this run's terms, classes, courses, people and enrollments
 * are the same records as that run's (an unchanged export shares its snapshot). Undefined otherwise.
 */
async function unchangedSince(tx: SqlDb, runId: string, since: PlanBasis): Promise<Omit<ListsStageCounts, 'dryRun'> | undefined> {
	if ((await appliedLinkChanges(tx, runId)).length > 0) return undefined;
	for (const spec of LIST_INPUTS) {
		const changed = await changedSourcedIds(tx, since.runId, runId, spec);
		if (!changed || changed.size > 0) return undefined;
	}
	const { lists, enrollmentsWithoutPerson } = since.counts;
	return { ...emptyListsCounts(), lists, enrollmentsWithoutPerson, unchangedSince: since.runId };
}

export interface PlannedListsFromChanges {
	since: string;
	lists: number;
	readEnrollments?: true;
}

/** What Build Lists plans from: the planner's input besides the night's own, and what only the roster tells. */
interface RunLists {
	plan: Omit<ListsPlanInput, 'now' | 'dryRun' | 'settings' | 'memberships'>;
	/** The stored members the plan is made against, per list id (default: all of each list's, loadStoredMembers). */
	membersOf?: (tx: SqlDb, listIds: readonly string[]) => Promise<Map<string, StoredMembers>>;
	/** Lists the sync wants this run (all kinds built). */
	lists: number;
	enrollmentsWithoutPerson: number;
	warnings: string[];
	fromChanges?: PlannedListsFromChanges;
}

/** Every list the run's roster asks for, against every synced list. */
async function wholeRunLists(tx: SqlDb, runId: string, settings: ListSettings, dryRun: boolean): Promise<RunLists> {
	const { people, sourcedIds, activeNumbers, protectedPeople } = await numberPeople(tx, runId, dryRun);
	const { wanted, builtKinds, roster, enrollmentsWithoutPerson, warnings } = await readDesiredLists(tx, runId, settings, activeNumbers);
	return {
		plan: { builtKinds, desired: wanted, lists: await loadSyncedLists(tx), people, roster, protectedPeople, sourcedIdOf: (person) => sourcedIds[person] },
		lists: wanted.length,
		enrollmentsWithoutPerson,
		warnings,
	};
}

/** Past this share of the roster's people touched, the lists are planned whole. */
const MAX_TOUCHED_SHARE = 0.2;

/** An enrollment's class list and place on it, when it gives one: `${classId}\0member` (a student) or `\0manager` (a teacher). */
function classPlace(enrollment: CanonicalEnrollment | undefined, classListClasses: Set<string>): string | undefined {
	if (!enrollment || !classListClasses.has(enrollment.classId)) return undefined;
	if (enrollment.role === 'student') return `${enrollment.classId}\0member`;
	if (enrollment.role === 'teacher') return `${enrollment.classId}\0manager`;
	return undefined;
}

/** A class place (classPlace) as its list's source key and the membership. */
function placeOnList(place: string): [key: string, membership: 'member' | 'manager'] {
	const at = place.indexOf('\0');
	return [`class:${place.slice(0, at)}`, place.slice(at + 1) === 'manager' ? 'manager' : 'member'];
}

/**
 * The lists planned from what changed since the basis run (class, role and grade lists; not subject
 * or teacher lists, whose members come from several classes). Its plan left every synced list as it
 * wanted, so a list changes only through the people the night touched, and each touched list is
 * planned over them alone (the others on it stay as the basis plan left them):
 * - role and grade lists: the people whose record changed, and those Reconcile Users created,
 *   restored, archived or linked to another sourcedId ("moved": who can be on lists may differ);
 * - class lists: those, and the people of the changed enrollments (both versions: changedRecords).
 * Where a touched person belongs tonight comes from the changed records and the lists they are on:
 * a person who was in the basis run's roster, with the same person able to be on lists before and
 * after Reconcile Users, is on the class lists their unchanged enrollments gave them (the lists the
 * basis plan left them on) and those of their changed enrollments' new versions; a person new to the
 * roster has only changed enrollments. Otherwise (someone in both rosters whose person changed, or a
 * changed enrollment's class that another unchanged enrollment may still give) one pass over the
 * night's enrollments tells. The enrollments nobody can be on a list for are the basis run's count
 * plus what the changed enrollments and moved people change of it. The plan is the whole one
 * (equivalence tests: test/unit/lists/lists-from-changes.test.ts). Undefined (planned whole) when the
 * terms, classes or courses changed, the snapshots are not comparable from how they are stored, too
 * many people were touched, or a touched grade list's title depends on how a student spells the grade.
 */
async function changedRunLists(tx: SqlDb, runId: string, settings: ListSettings, since: PlanBasis): Promise<RunLists | undefined> {
	if (settings.autoListsBySubject || settings.autoListsByTeacher) return undefined;
	for (const spec of [TERM_TABLE, CLASS_TABLE, COURSE_TABLE]) {
		const changed = await changedSourcedIds(tx, since.runId, runId, spec);
		if (!changed || changed.size > 0) return undefined;
	}
	const changedPeople = await changedRecords(tx, since.runId, runId, PERSON_TABLE);
	const changedEnrollments = await changedRecords(tx, since.runId, runId, ENROLLMENT_TABLE);
	if (!changedPeople || !changedEnrollments) return undefined;
	const roster = {
		classes: await countSnapshotRecords(tx, runId, CLASS_TABLE),
		enrollments: await countSnapshotRecords(tx, runId, ENROLLMENT_TABLE),
		people: await countSnapshotRecords(tx, runId, PERSON_TABLE),
	};
	// An export without classes, enrollments or people leaves kinds of lists as they are: planned whole.
	if (roster.classes === 0 || roster.enrollments === 0 || roster.people === 0) return undefined;
	const { selection, builtKinds, warnings, classes } = await selectRunClasses(tx, runId, settings);
	if (warnings.length > 0) return undefined;

	// The people Reconcile Users wrote so that who can be on lists may differ, and how they were before (the people as the basis run left them).
	const moves = (await listChanges(tx, runId, { entities: ['person'], actions: LINK_ACTIONS })).filter(
		(change) => change.applied && change.entityId !== '' && (change.action !== 'update' || change.fields?.includes('sourced_id')),
	);
	const moved = new Set<string>();
	const before = new Map<string, Record<string, unknown>>();
	for (const change of moves) {
		if (change.sourcedId) moved.add(change.sourcedId);
		const was = { ...change.before, ...before.get(change.entityId) };
		before.set(change.entityId, was);
		if (typeof was.sourced_id === 'string') moved.add(was.sourced_id);
	}
	const created = new Set(moves.filter((change) => change.action === 'create').map((change) => change.entityId));

	const peopleTouched = new Set([...changedPeople.keys(), ...moved]);
	const classTouched = new Set(peopleTouched);
	for (const { from, to } of changedEnrollments.values()) {
		if (from) classTouched.add(from.personId);
		if (to) classTouched.add(to.personId);
	}
	if (classTouched.size > roster.people * MAX_TOUCHED_SHARE) return undefined;

	// Everybody linked to a touched sourcedId, numbered; who of them can be on lists now, and before tonight's writes.
	const links = await loadPersonLinksOf(tx, classTouched, moves.map((change) => change.entityId));
	const linksBefore = links.flatMap((link): PersonLink[] => {
		if (created.has(link.id)) return [];
		const was = before.get(link.id);
		if (!was) return [link];
		const sourcedId = 'sourced_id' in was ? was.sourced_id : link.sourcedId;
		if (typeof sourcedId !== 'string') return [];
		return [{ ...link, sourcedId, archived: 'archived_at' in was ? was.archived_at !== null : link.archived }];
	});
	const { people, sourcedIds, activeNumbers: activeNow, protectedPeople } = await numberLinks(tx, runId, links);
	const activeBefore = activePersonNumbers(linksBefore, people);

	// Tonight's records of the people touched for role and grade lists (changed ones from changedRecords; a moved one's unchanged record looked up).
	const records = new Map<string, CanonicalPerson>();
	for (const [sourcedId, { to }] of changedPeople) if (to) records.set(sourcedId, to);
	const unchangedMoved = [...moved].filter((sourcedId) => !changedPeople.has(sourcedId));
	for (const [sourcedId, record] of await readSnapshotRecordsById(tx, runId, PERSON_TABLE, unchangedMoved)) records.set(sourcedId, record);
	/** Whether the sourcedId is in the basis run's roster and in tonight's (an enrollment's person is in its roster; an unchanged record is in both or neither). */
	const inBoth = (sourcedId: string): boolean => {
		const versions = changedPeople.get(sourcedId);
		if (versions) return versions.from !== undefined && versions.to !== undefined;
		return moved.has(sourcedId) ? records.has(sourcedId) : true;
	};
	const inTonight = (sourcedId: string): boolean => (changedPeople.has(sourcedId) || moved.has(sourcedId) ? records.has(sourcedId) : true);

	// The changed enrollments' class lists, per person: where their old versions put them, and their new versions do.
	const oldPlaces = new Map<string, Set<string>>();
	const newPlaces = new Map<string, Set<string>>();
	const add = (places: Map<string, Set<string>>, sourcedId: string, place: string | undefined) => {
		if (place === undefined) return;
		let set = places.get(sourcedId);
		if (!set) places.set(sourcedId, (set = new Set()));
		set.add(place);
	};
	for (const { from, to } of changedEnrollments.values()) {
		if (from) add(oldPlaces, from.personId, classPlace(from, selection.classListClasses));
		if (to) add(newPlaces, to.personId, classPlace(to, selection.classListClasses));
	}
	// A pass over the night's enrollments is needed for someone in both rosters whose person changed (their unchanged
	// enrollments count or place them differently), or who lost a class place another unchanged enrollment may still give.
	// (Normalize keeps no enrollment whose person is not in the roster; a moved person in neither roster is read for all the same.)
	// So is a basis run that did not count the enrollments nobody can be on a list for (recorded by an earlier version).
	const needsPass = typeof since.counts.enrollmentsWithoutPerson !== 'number' || [...classTouched].some((sourcedId) => {
		if (moved.has(sourcedId) && !changedPeople.has(sourcedId) && !records.has(sourcedId)) return true;
		if (!inBoth(sourcedId)) return false;
		if (activeNow.get(sourcedId) !== activeBefore.get(sourcedId)) return true;
		if (activeNow.get(sourcedId) === undefined) return false;
		return [...(oldPlaces.get(sourcedId) ?? [])].some((place) => !newPlaces.get(sourcedId)?.has(place));
	});

	// The touched people's own memberships (their rows only): for class lists, everybody touched; for role and grade lists, those touched for them.
	const storedForClasses = await loadMembershipsOf(tx, links.map((link) => link.id));
	const sourcedIdBefore = new Map(linksBefore.map((link) => [link.id, link.sourcedId]));
	const touchedForPeopleLists = new Set(links.filter((link) => peopleTouched.has(link.sourcedId) || peopleTouched.has(sourcedIdBefore.get(link.id) ?? '')).map((link) => link.id));
	const stored = await loadSyncedLists(tx);
	const storedByKey = new Map(stored.map((list) => [list.source_key as string, list]));
	const storedById = new Map(stored.map((list) => [list.id, list]));
	const isClassList = (listId: string) => storedById.get(listId)?.kind === 'class';
	const touchedStored = new Map<string, StoredMembers>();
	for (const [listId, members] of storedForClasses) {
		if (isClassList(listId)) {
			touchedStored.set(listId, members);
			continue;
		}
		// Other lists: only the memberships of those touched for role and grade lists.
		const own: StoredMembers = {};
		for (const membership of ['member', 'manager'] as const) {
			const ids = members[membership]?.split(PERSON_ID_SEPARATOR).filter((id) => touchedForPeopleLists.has(id)) ?? [];
			if (ids.length > 0) own[membership] = ids.join(PERSON_ID_SEPARATOR);
		}
		if (own.member !== undefined || own.manager !== undefined) touchedStored.set(listId, own);
	}

	// Where the touched belong tonight, list by list: members and managers (only the one active person of a sourcedId).
	const belonging = new Map<string, Record<'member' | 'manager', number[]>>();
	const belongs = (key: string, membership: 'member' | 'manager', person: number) => {
		let lists = belonging.get(key);
		if (!lists) belonging.set(key, (lists = { member: [], manager: [] }));
		lists[membership].push(person);
	};
	let enrollmentsWithoutPerson = since.counts.enrollmentsWithoutPerson;
	if (needsPass) {
		enrollmentsWithoutPerson = 0;
		const listable = listablePeople(await loadPersonLinks(tx));
		for await (const batch of readSnapshotBatches(tx, runId, ENROLLMENT_TABLE)) {
			for (const enrollment of batch) {
				if (!selection.classListClasses.has(enrollment.classId)) continue;
				if (enrollment.role === 'student' && !listable.has(enrollment.personId)) enrollmentsWithoutPerson++;
				const person = classTouched.has(enrollment.personId) ? activeNow.get(enrollment.personId) : undefined;
				const place = classPlace(enrollment, selection.classListClasses);
				if (person !== undefined && place !== undefined) belongs(...placeOnList(place), person);
			}
		}
	} else {
		const withoutPerson = (enrollment: CanonicalEnrollment | undefined, active: Map<string, number>) =>
			enrollment !== undefined && enrollment.role === 'student' && selection.classListClasses.has(enrollment.classId) && !active.has(enrollment.personId);
		for (const { from, to } of changedEnrollments.values()) enrollmentsWithoutPerson += Number(withoutPerson(to, activeNow)) - Number(withoutPerson(from, activeBefore));
		// The class lists the basis plan left each touched person on.
		const storedPlaces = new Map<string, string[]>();
		for (const [listId, members] of storedForClasses) {
			const classId = storedById.get(listId)?.class_id;
			if (!classId || !isClassList(listId)) continue;
			for (const membership of ['member', 'manager'] as const) {
				for (const personId of members[membership]?.split(PERSON_ID_SEPARATOR) ?? []) {
					let places = storedPlaces.get(personId);
					if (!places) storedPlaces.set(personId, (places = []));
					places.push(`${classId}\0${membership}`);
				}
			}
		}
		for (const sourcedId of classTouched) {
			const person = activeNow.get(sourcedId);
			if (person === undefined || !inTonight(sourcedId)) continue;
			const places = new Set(newPlaces.get(sourcedId));
			// Someone in both rosters with the same person before and after: their unchanged enrollments' lists are those the basis plan left them on.
			if (inBoth(sourcedId)) for (const place of storedPlaces.get(people.idOf(person)) ?? []) places.add(place);
			for (const place of places) belongs(...placeOnList(place), person);
		}
	}
	for (const sourcedId of peopleTouched) {
		const person = activeNow.get(sourcedId);
		const record = records.get(sourcedId);
		if (person === undefined || !record) continue;
		if (settings.autoListsByRole) belongs(roleList(record.role).sourceKey, 'member', person);
		if (settings.autoListsByGrade && record.role === 'student' && record.grade) belongs(gradeList(record.grade).sourceKey, 'member', person);
	}

	// The touched lists: those the touched are stored on, and those they belong to tonight.
	const dirty = new Set<string>(belonging.keys());
	for (const listId of touchedStored.keys()) {
		const key = storedById.get(listId)?.source_key;
		if (key) dirty.add(key);
	}
	// A role or grade list is wanted while it has a member: one the night did not touch, or a touched one who belongs.
	const hasUntouchedMembers = (listId: string) => hasMoreMembersThan(tx, listId, touchedStored.get(listId)?.member?.split(PERSON_ID_SEPARATOR).length ?? 0);

	// Each touched list is planned over the touched people only: their stored memberships against where they belong
	// tonight. An archived list wanted again has only touched members tonight (nobody was on it), and is planned against all it kept.
	const classById = new Map(classes.map((klass) => [klass.sourcedId, klass]));
	const desired: DesiredList[] = [];
	const restored: string[] = [];
	let lists = since.counts.lists;
	for (const key of dirty) {
		const [kind, value] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
		if (!builtKinds.has(kind as SyncedKind)) continue;
		if (kind === 'grade' && !gradeTitleIsFixed(value)) return undefined;
		const storedList = storedByKey.get(key);
		const tonight = belonging.get(key) ?? { member: [], manager: [] };
		const klass = kind === 'class' && selection.classListClasses.has(value) ? classById.get(value) : undefined;
		const shape = klass ? classList(klass, selection) : kind === 'role' ? roleList(value as PersonRole) : kind === 'grade' ? gradeList(value) : undefined;
		const wanted =
			shape !== undefined &&
			(kind === 'class' || tonight.member.length > 0 || (storedList !== undefined && storedList.archived_at === null && (await hasUntouchedMembers(storedList.id))));
		if (wanted) {
			desired.push({ ...shape, members: sortedUnique(tonight.member), managers: sortedUnique(tonight.manager) });
			if (storedList?.archived_at) restored.push(storedList.id);
		}
		lists += (wanted ? 1 : 0) - (storedList && storedList.archived_at === null ? 1 : 0);
	}
	const restoredMembers = await loadStoredMembers(tx, restored);
	const membersOf = async (_tx: SqlDb, listIds: readonly string[]) =>
		new Map(listIds.map((listId) => [listId, restoredMembers.get(listId) ?? touchedStored.get(listId) ?? {}] as const));
	return {
		plan: {
			builtKinds,
			desired,
			lists: stored.filter((list) => dirty.has(list.source_key as string)),
			people,
			roster,
			protectedPeople,
			sourcedIdOf: (person) => sourcedIds[person],
		},
		membersOf,
		lists,
		enrollmentsWithoutPerson,
		warnings: [],
		fromChanges: { since: since.runId, lists: dirty.size, ...(needsPass ? { readEnrollments: true } : {}) },
	};
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
	const { selection, builtKinds, classes, courses } = await selectRunClasses(tx, runId, settings);

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

/** The run's classes, which of them get lists (selectClasses), and the kinds of lists built this run. */
async function selectRunClasses(tx: SqlDb, runId: string, settings: ListSettings) {
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
	return { selection, builtKinds, classes, courses, warnings: selection.warnings };
}

/** Records the part of the plan in run_changes and, unless the run is a dry run, applies it. */
async function writePlanPart(db: SqlDb, runId: string, dryRun: boolean, part: ListsPlanPart): Promise<void> {
	await addChanges(db, runId, part.changes);
	if (dryRun) return;
	await insertLists(db, part.creates);
	await replaceLists(db, part.rewrites);
	await removeMembers(db, part.memberRemoves);
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
	return numberLinks(db, runId, await personLinks(db, runId, dryRun));
}

/** Numbers the people of these links (numberPeople's, or a plan from changes' touched people's). */
async function numberLinks(db: SqlDb, runId: string, links: PersonLink[]): Promise<NumberedPeople> {
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
	const numbers = new Map<string, number>();
	for (const [sourcedId, id] of listablePeople(links)) numbers.set(sourcedId, people.numberOf(id)!);
	return numbers;
}

/** sourcedId → id of the person who can be on lists: active, in SIS sync, and the only one of these links with that sourcedId. */
function listablePeople(links: PersonLink[]): Map<string, string> {
	const ids = new Map<string, string>();
	const duplicated = new Set<string>();
	for (const link of links) {
		if (link.archived || !link.includeInSync) continue;
		if (ids.has(link.sourcedId)) duplicated.add(link.sourcedId);
		ids.set(link.sourcedId, link.id);
	}
	for (const sourcedId of duplicated) ids.delete(sourcedId);
	return ids;
}
