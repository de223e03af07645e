/**
 * Reconcile Users, the store side: loads the run's snapshot people and the people table,
 * plans (plan.ts), records the plan in run_changes and, unless this is a dry run or the plan
 * passes the mass-change thresholds (thresholds.ts: the run is then held), applies it, all in
 * one transaction. Counts go to the run under stage 'reconciled'.
 */
import { RosterRunError } from '../model/errors';
import type { CanonicalPerson, PersonRole } from '../model/roster';
import type { StoredChange } from '../store/changes';
import { addChanges, deleteChanges, listChanges, listUnsettledPersonChanges } from '../store/changes';
import {
	archivePeople,
	countManagedPeople,
	emailKey,
	insertPeople,
	loadPackedPeople,
	loadPackedPeopleWhere,
	markPeopleMissing,
	markPeopleFoundAgain,
	replacePeople,
} from '../store/people';
import type { RunRecord } from '../store/runs';
import { completeStage, failRun, findRun, getRun, markDryRun, recordStageSettings, requireStage } from '../store/runs';
import {
	CONTACT_TABLE,
	PERSON_TABLE,
	changedSourcedIds,
	personSummaryOf,
	readSnapshotBatches,
	readSnapshotRecords,
	readSnapshotRecordsById,
	readSnapshotValueBatches,
	refreshSnapshotStatistics,
	snapshotBatchesInKeyOrder,
} from '../store/snapshot';
import type { SqlDb, SqlValue } from '../store/sql';
import { nowIso } from '../store/sql';
import { holdAsLeftBy, setAsLeftBy, withoutWriteTriggers } from '../store/sync-state';
import type { ParentContact, PeopleWrites, PlannerInput, ReconcileSummary } from './plan';
import { ReconcilePlanner, bySourcedId, parentContact } from './plan';
import type { ReconcileSettings, ThresholdOverrides } from './settings';
import { reconcileSettings, rosteredRoles, samePlanSettings } from './settings';
import type { HoldRecord, MassChange } from './thresholds';
import { describeMassChange, findMassChanges } from './thresholds';

/** What stage 'reconciled' keeps in the run's counts. */
export interface ReconcileStageCounts extends ReconcileSummary {
	dryRun: boolean;
	/** The run that had left the people table as it was when this plan was made (store/sync-state.ts); absent: unknown. */
	peopleAsLeftBy?: string;
	/** Planned from changes (see matchChangedRecords): since which run, how many records were planned and people read. */
	plannedFromChanges?: PlannedFromChanges;
	/** Why the run was held (or, in a dry run, would be), and the decision on it. */
	hold?: HoldRecord;
}

export interface PlannedFromChanges {
	since: string;
	records: number;
	people: number;
}

export interface ReconcileResult {
	run: RunRecord;
	counts: ReconcileStageCounts;
	warnings: string[];
	dryRun: boolean;
	/** Nothing was applied: the plan passed a mass-change threshold and waits for Approve Held Run. */
	held: boolean;
}

const STEP = 'Reconcile Users';

export async function reconcileRun(
	db: SqlDb,
	runId: string,
	given: Partial<Omit<ReconcileSettings, 'thresholds'>> & { thresholds?: ThresholdOverrides } = {},
): Promise<ReconcileResult> {
	const before = await requireStage(db, runId, 'normalized', STEP);
	if (before.counts.reconciled && !before.dryRun) {
		throw new RosterRunError(
			`Run ${runId} was already reconciled and applied`,
			'Start a new run (CSV Ingest or OneRoster Fetch) to sync again.',
		);
	}
	const requested = reconcileSettings(given);
	// A run that was started as a dry run stays one, whatever this node says.
	const settings: ReconcileSettings = { ...requested, dryRun: requested.dryRun || before.dryRun };
	return reconcileWith(db, runId, settings, { enforceThresholds: true });
}

export interface ReconcileOptions {
	/** Hold the run when the plan passes the thresholds (off when an operator approves a held run). */
	enforceThresholds: boolean;
	/** Approve in part: archives are planned but stay held. */
	holdArchives?: boolean;
	/** The decision on a held run, kept with the new counts. */
	hold?: HoldRecord;
}

/**
 * Plans the run under `settings`, records the plan and applies it (or holds it, or in a dry run
 * only records it). Reconcile Users and Approve Held Run both come here, so one planner makes
 * every write.
 */
export async function reconcileWith(db: SqlDb, runId: string, settings: ReconcileSettings, options: ReconcileOptions): Promise<ReconcileResult> {
	const now = nowIso();
	try {
		try {
			return await db.transaction((tx) => planAndApply(tx, runId, settings, options, now, undefined));
		} catch (error) {
			if (!(error instanceof PlanHeld)) throw error;
			// The plan passed the thresholds after it was written: that is rolled back, and the same plan
			// recorded again, with nothing applied. Planning twice costs only a held run (rare); every
			// other run writes its plan as it goes instead of holding a night's ~100k creates.
			const { massChanges } = error;
			return await db.transaction((tx) => planAndApply(tx, runId, settings, options, now, massChanges));
		}
	} catch (error) {
		await failRun(db, runId, `${STEP}: ${(error as Error).message}`);
		throw Object.assign(error as Error, { runId });
	}
}

/** Thrown inside the transaction when the plan passes the mass-change thresholds: its writes are rolled back. */
class PlanHeld extends Error {
	constructor(readonly massChanges: MassChange[]) {
		super('held for mass changes');
	}
}

/**
 * One attempt in one transaction: the roster streams through the planner (matched, then planned
 * batch by batch) and each batch's changes and writes go to the store as they are planned.
 * `heldFor`: the thresholds the plan passed in a first attempt; the plan is then only recorded.
 */
async function planAndApply(
	tx: SqlDb,
	runId: string,
	settings: ReconcileSettings,
	options: ReconcileOptions,
	now: string,
	heldFor: MassChange[] | undefined,
): Promise<ReconcileResult> {
	// Running again on a dry run (or approving a held run) replaces the earlier plan.
	await deleteChanges(tx, runId, ['person']);
	const peopleAsLeftBy = await holdAsLeftBy(tx, 'people');
	await refreshSnapshotStatistics(tx, [PERSON_TABLE]);
	// Counted before anything is written: the base of the mass-change thresholds.
	const managed = await countManagedPeople(tx);
	const contacts = new Map<string, ParentContact>();
	const input = { runId, now, settings, contacts, holdArchives: options.holdArchives, ...(await readRowProblems(tx, runId)) };
	const roster = (options.holdArchives || !peopleAsLeftBy ? undefined : await matchChangedRecords(tx, input, peopleAsLeftBy)) ?? (await matchWholeRoster(tx, input));
	const { planner } = roster;
	// The parent contacts the records to plan name (all of them for the whole roster), before any is planned.
	if (settings.includePrimaryParentContact) await readParentContacts(tx, runId, contacts, roster.contactIds);

	const held = heldFor !== undefined;
	const writeBatch = async () => {
		const { changes, writes } = planner.take();
		await addChanges(tx, runId, held ? changes.map((change) => ({ ...change, applied: false })) : changes);
		if (!settings.dryRun && !held) await writePeople(tx, runId, writes, now);
	};
	await withoutWriteTriggers(tx, 'people', async () => {
		for await (const batch of roster.batches) {
			planner.plan(batch);
			await writeBatch();
		}
		planner.planMissing();
		await writeBatch();
	});

	const massChanges = heldFor ?? (options.enforceThresholds ? findMassChanges(planner.summary, managed, settings) : []);
	if (massChanges.length > 0 && !settings.dryRun && !held) throw new PlanHeld(massChanges);
	const warnings = [...planner.warnings];
	let hold = options.hold;
	if (massChanges.length > 0) {
		const reasons = massChanges.map(describeMassChange);
		hold = { state: held ? 'held' : 'wouldHold', massChanges, reasons };
		warnings.push(`${held ? 'held for approval' : 'a real run would be held for approval'}: ${reasons.join('; ')}`);
	}
	if (settings.dryRun) await markDryRun(tx, runId);
	else if (!held) await setAsLeftBy(tx, 'people', !options.holdArchives && planner.isBasisForNextPlan ? runId : null);
	await recordStageSettings(tx, runId, 'reconciled', settings as unknown as Record<string, unknown>);
	const counts: ReconcileStageCounts = {
		...planner.summary,
		dryRun: settings.dryRun,
		...(hold ? { hold } : {}),
		...(peopleAsLeftBy ? { peopleAsLeftBy } : {}),
		...(roster.fromChanges ? { plannedFromChanges: roster.fromChanges } : {}),
	};
	const run = await completeStage(tx, runId, 'reconciled', counts as unknown as Record<string, unknown>, warnings, held ? 'held' : 'running');
	return { run, counts, warnings, dryRun: settings.dryRun, held };
}

/** The roster matched to the people table, ready to be planned batch by batch. */
interface MatchedRoster {
	planner: ReconcilePlanner;
	/** The records to plan, in the order they were matched. */
	batches: AsyncIterable<CanonicalPerson[]> | Iterable<CanonicalPerson[]>;
	fromChanges?: PlannedFromChanges;
	/** The parent contacts the records name, when only some records are planned (undefined: every contact may be). */
	contactIds?: string[];
}

/** The whole roster against the whole people table. */
async function matchWholeRoster(tx: SqlDb, input: Omit<PlannerInput, 'people'>): Promise<MatchedRoster> {
	const people = await loadPackedPeople(tx);
	let planner = new ReconcilePlanner({ ...input, people });
	// An empty store (a first night) matches no record by any key: no matching pass reads the roster, and the records are
	// planned as they are read, when they read in sourcedId order (the plan's order). At 100,000 students that pass read
	// and made ~108,000 records for nothing.
	if (people.size === 0 && (await snapshotBatchesInKeyOrder(tx, input.runId, PERSON_TABLE))) {
		planner.finishMatching();
		return { planner, batches: readSnapshotBatches(tx, input.runId, PERSON_TABLE) };
	}
	// A snapshot written in several calls may not read in sourcedId order: then it is read whole and sorted.
	let sorted: CanonicalPerson[] | undefined;
	for await (const batch of readSnapshotBatches(tx, input.runId, PERSON_TABLE)) {
		if (!planner.match(batch)) {
			sorted = await readSnapshotRecords(tx, input.runId, PERSON_TABLE);
			planner = new ReconcilePlanner({ ...input, people });
			planner.match(sorted);
			break;
		}
	}
	planner.finishMatching();
	return { planner, batches: sorted ? [sorted] : readSnapshotBatches(tx, input.runId, PERSON_TABLE) };
}

/** Past this share of the roster planned again, a plan from changes reads the whole people table instead. */
const MAX_CHANGED_SHARE = 0.2;


/**
 * The plan from changes: when the people table is as an earlier run's plan left it (`since`,
 * store/sync-state.ts: nothing else wrote it since) and that plan was made under the same settings, a record whose
 * snapshot record (and primary contact) is the same as in that run, and whom that plan did not name
 * in an unsettled change, is unchanged: its person is the record, linked by sourcedId. Only the rest
 * is matched and planned, against the people they may match and the people that plan kept though
 * missing; the unchanged are counted. The plan is the one the whole roster gives (equivalence tests:
 * test/unit/reconcile/plan-from-changes.test.ts) at a fraction of the reading on a delta night.
 * Undefined when that cannot be known from how the snapshots are stored, or too much changed.
 */
async function matchChangedRecords(tx: SqlDb, input: Omit<PlannerInput, 'people'>, since: string): Promise<MatchedRoster | undefined> {
	const { runId, settings } = input;
	if (since === runId) return undefined;
	const sinceSettings = (await findRun(tx, since))?.settings.reconciled as ReconcileSettings | undefined;
	if (!sinceSettings || !samePlanSettings(sinceSettings, settings)) return undefined;
	const changed = await changedSourcedIds(tx, since, runId, PERSON_TABLE);
	const changedContacts = settings.includePrimaryParentContact ? await changedSourcedIds(tx, since, runId, CONTACT_TABLE) : new Set<string>();
	if (!changed || !changedContacts) return undefined;
	// Actions that leave a person as they were, so this plan must look at them again (the rest make the person the record).
	const unsettled = await listUnsettledPersonChanges(tx, since);
	for (const change of unsettled) if (change.sourcedId !== null) changed.add(change.sourcedId);

	const roles = rosteredRoles(settings);
	const records: CanonicalPerson[] = [];
	const unchanged = new Set<string>();
	const unchangedByRole = new Map<PersonRole, number>();
	// Every record's sourcedId, role and primary contact are looked at; only the records to plan are made whole.
	for await (const rows of readSnapshotValueBatches(tx, runId, PERSON_TABLE)) {
		for (const values of rows) {
			const { sourcedId, role, primaryContactId } = personSummaryOf(values);
			if (changed.has(sourcedId) || !roles.has(role) || (primaryContactId !== null && changedContacts.has(primaryContactId))) {
				records.push(PERSON_TABLE.fromValues(values));
			} else {
				unchanged.add(sourcedId);
				unchangedByRole.set(role, (unchangedByRole.get(role) ?? 0) + 1);
			}
		}
	}
	if (records.length > (records.length + unchanged.size) * MAX_CHANGED_SHARE) return undefined;
	records.sort(bySourcedId);

	const people = await loadPackedPeopleWhere(tx, {
		ids: unsettled.map((change) => change.entityId).filter((id) => id !== ''),
		sourcedIds: [...changed, ...records.map((record) => record.sourcedId)],
		sisIds: records.flatMap((record) => (record.sisId ? [record.sisId] : [])),
		emailKeys: records.flatMap((record) => emailKey(record.email) ?? []),
	});
	const planner = new ReconcilePlanner({ ...input, people });
	planner.markMatched((sourcedId) => unchanged.has(sourcedId));
	for (const [role, count] of unchangedByRole) planner.countUnchanged(role, count);
	planner.match(records);
	planner.finishMatching();
	const contactIds = records.flatMap((record) => record.primaryContactId ?? []);
	return { planner, batches: [records], fromChanges: { since, records: records.length, people: people.size }, contactIds };
}

/** Adds to `contacts` the run's parent contacts by sourcedId (those of `ids`, or all), as the three values the store takes from them (not whole records). */
async function readParentContacts(db: SqlDb, runId: string, contacts: Map<string, ParentContact>, ids?: string[]): Promise<void> {
	if (ids) {
		for (const [id, contact] of await readSnapshotRecordsById(db, runId, CONTACT_TABLE, ids)) contacts.set(id, parentContact(contact));
		return;
	}
	for await (const batch of readSnapshotBatches(db, runId, CONTACT_TABLE)) for (const contact of batch) contacts.set(contact.sourcedId, parentContact(contact));
}

/**
 * Rows skipped with a problem before the snapshot was made: their people must not be archived.
 * Only the first Max Row Problems problems are listed, so users rows skipped beyond the list
 * (`unlistedUserRows`: skipped in staging, per the run's counts, but not listed) are people
 * nobody knows either.
 */
export async function readRowProblems(
	db: SqlDb,
	runId: string,
): Promise<{ problemSourcedIds: Set<string>; unidentifiedUserProblems: number; unlistedUserRows: number }> {
	const rows = await db.query(
		"SELECT sourced_id, file, row_number, stage FROM run_problems WHERE run_id = ? AND stage IN ('staged', 'normalized')",
		[runId],
	);
	const problemSourcedIds = new Set<string>();
	const listedUserRows = new Set<string>();
	let unidentifiedUserProblems = 0;
	for (const row of rows) {
		const usersFile = isUsersFile(row.file);
		if (usersFile && row.stage === 'staged') listedUserRows.add(`${String(row.file)}\0${String(row.row_number)}`);
		if (row.sourced_id !== null && row.sourced_id !== '') problemSourcedIds.add(String(row.sourced_id));
		else if (usersFile) unidentifiedUserProblems++;
	}
	const run = await getRun(db, runId);
	const skippedByFile = ((run?.counts.staged as { skippedRowsByFile?: Record<string, number> } | undefined)?.skippedRowsByFile ?? {});
	const skippedUserRows = (skippedByFile.users ?? 0) + (skippedByFile.roles ?? 0);
	return { problemSourcedIds, unidentifiedUserProblems, unlistedUserRows: Math.max(0, skippedUserRows - listedUserRows.size) };
}

/** users.csv (and 1.2 roles.csv, which gives users their role); a problem with no file may be anywhere. */
function isUsersFile(file: SqlValue): boolean {
	if (file === null || file === '') return true;
	const name = String(file).toLowerCase().split('/').pop() ?? '';
	return name.startsWith('users') || name.startsWith('roles');
}

async function writePeople(db: SqlDb, runId: string, writes: PeopleWrites, now: string): Promise<void> {
	await insertPeople(db, writes.inserts);
	await replacePeople(db, writes.rewrites);
	await archivePeople(db, writes.archiveIds, now);
	await markPeopleFoundAgain(db, writes.foundAgainIds, runId);
	await markPeopleMissing(db, writes.missingIds);
}

export interface PersonChangePreview {
	action: string;
	role: PersonRole | string | null;
	name: string | null;
	sourcedId: string | null;
	personId: string | null;
	fields: string[];
	reason: string | null;
	before: Record<string, unknown> | null;
	after: Record<string, unknown> | null;
	applied: boolean;
}

/** The run's planned (or applied) person changes, for a preview: at most `limit`, optionally only some actions. */
export async function previewReconcile(
	db: SqlDb,
	runId: string,
	limit = 100,
	actions?: string[],
): Promise<PersonChangePreview[]> {
	const changes = await listChanges(db, runId, { entities: ['person'], actions, limit });
	return changes.map(toPreview);
}

function toPreview(change: StoredChange): PersonChangePreview {
	return {
		action: change.action,
		role: change.role,
		name: change.label,
		sourcedId: change.sourcedId,
		personId: change.entityId === '' ? null : change.entityId,
		fields: change.fields ?? [],
		reason: change.reason,
		before: change.before,
		after: change.after,
		applied: change.applied,
	};
}
