/**
 * Reconcile Users, the store side: loads the run's snapshot people and the people table,
 * plans (plan.ts), records the plan in run_changes and, unless this is a dry run or the plan
 * passes the mass-change thresholds (thresholds.ts: the run is then held), applies it, all in
 * one transaction. Counts go to the run under stage 'reconciled'.
 */
import { RosterRunError } from '../model/errors';
import type { CanonicalPerson, PersonRole } from '../model/roster';
import type { StoredChange } from '../store/changes';
import { addChanges, deleteChanges, listChanges } from '../store/changes';
import {
	archivePeople,
	countManagedPeople,
	insertPeople,
	loadPackedPeople,
	markPeopleMissing,
	markPeopleFoundAgain,
	replacePeople,
} from '../store/people';
import type { RunRecord } from '../store/runs';
import { completeStage, failRun, getRun, markDryRun, recordStageSettings, requireStage } from '../store/runs';
import { CONTACT_TABLE, PERSON_TABLE, readSnapshotBatches, readSnapshotRecords, refreshSnapshotStatistics } from '../store/snapshot';
import type { SqlDb, SqlValue } from '../store/sql';
import { nowIso } from '../store/sql';
import type { ParentContact, PeopleWrites, ReconcileSummary } from './plan';
import { ReconcilePlanner, parentContact } from './plan';
import type { ReconcileSettings, ThresholdOverrides } from './settings';
import { reconcileSettings } from './settings';
import type { HoldRecord, MassChange } from './thresholds';
import { describeMassChange, findMassChanges } from './thresholds';

/** What stage 'reconciled' keeps in the run's counts. */
export interface ReconcileStageCounts extends ReconcileSummary {
	dryRun: boolean;
	/** Why the run was held (or, in a dry run, would be), and the decision on it. */
	hold?: HoldRecord;
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
	await refreshSnapshotStatistics(tx, [PERSON_TABLE]);
	// Counted before anything is written: the base of the mass-change thresholds.
	const managed = await countManagedPeople(tx);
	const people = await loadPackedPeople(tx);
	const contacts = settings.includePrimaryParentContact ? await readParentContacts(tx, runId) : new Map<string, ParentContact>();
	const rowProblems = await readRowProblems(tx, runId);
	const newPlanner = () => new ReconcilePlanner({ runId, now, settings, contacts, people, holdArchives: options.holdArchives, ...rowProblems });

	let planner = newPlanner();
	// A snapshot written in several calls may not read in sourcedId order: then it is read whole and sorted.
	let sorted: CanonicalPerson[] | undefined;
	for await (const batch of readSnapshotBatches(tx, runId, PERSON_TABLE)) {
		if (!planner.match(batch)) {
			sorted = await readSnapshotRecords(tx, runId, PERSON_TABLE);
			planner = newPlanner();
			planner.match(sorted);
			break;
		}
	}
	planner.finishMatching();

	const held = heldFor !== undefined;
	const writeBatch = async () => {
		const { changes, writes } = planner.take();
		await addChanges(tx, runId, held ? changes.map((change) => ({ ...change, applied: false })) : changes);
		if (!settings.dryRun && !held) await writePeople(tx, runId, writes, now);
	};
	for await (const batch of sorted ? [sorted] : readSnapshotBatches(tx, runId, PERSON_TABLE)) {
		planner.plan(batch);
		await writeBatch();
	}
	planner.planMissing();
	await writeBatch();

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
	await recordStageSettings(tx, runId, 'reconciled', settings as unknown as Record<string, unknown>);
	const counts: ReconcileStageCounts = { ...planner.summary, dryRun: settings.dryRun, ...(hold ? { hold } : {}) };
	const run = await completeStage(tx, runId, 'reconciled', counts as unknown as Record<string, unknown>, warnings, held ? 'held' : 'running');
	return { run, counts, warnings, dryRun: settings.dryRun, held };
}

/** The run's parent contacts by sourcedId, as the three values the store takes from them (not whole records). */
async function readParentContacts(db: SqlDb, runId: string): Promise<Map<string, ParentContact>> {
	const contacts = new Map<string, ParentContact>();
	for await (const batch of readSnapshotBatches(db, runId, CONTACT_TABLE)) for (const contact of batch) contacts.set(contact.sourcedId, parentContact(contact));
	return contacts;
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
