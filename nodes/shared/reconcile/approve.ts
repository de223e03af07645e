/**
 * Approve Held Run: the decision on a run Reconcile Users held for passing the mass-change
 * thresholds.
 *
 * - Apply adds and updates: the run is planned again (same snapshot, same settings) against the
 *   store as it is now and applied, except its archives, which stay held (recorded, not applied).
 *   The run goes on (Build Lists, Publish Report). Its held archives can be applied later with
 *   "Apply all", or discarded; the next run plans them again anyway.
 * - Apply all: planned again and applied whole (or, after an approval in part, its held archives).
 * - Discard: nothing is applied; the run ends as discarded (its plan stays for the record).
 *
 * A run can only be approved while no later run has been applied: a later run planned from a
 * newer export, so the held plan is out of date (it can still be discarded).
 */
import { RosterRunError } from '../model/errors';
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import { listChanges, markChangesApplied } from '../store/changes';
import { archivePeople, loadPeople } from '../store/people';
import type { RunRecord } from '../store/runs';
import { addStageCounts, appliedRunAfter, getRun, setRunStatus } from '../store/runs';
import type { SqlDb } from '../store/sql';
import { nowIso } from '../store/sql';
import type { ReconcileStageCounts } from './apply';
import { reconcileWith } from './apply';
import { REASONS } from './plan';
import { reconcileSettings } from './settings';
import type { HoldRecord } from './thresholds';

export type HeldRunDecision = 'addsAndUpdates' | 'all' | 'discard';

/** The decisions as an operator reads them (node options, the approval email's form). */
export const DECISION_LABELS: Record<HeldRunDecision, string> = {
	addsAndUpdates: 'Apply adds and updates (archives stay held)',
	all: 'Apply all',
	discard: 'Discard',
};

const squash = (text: string) => text.toLowerCase().replace(/[^a-z]/g, '');

/** A decision given by its code or its label (as the approval form returns it), in any case. */
export function parseDecision(value: unknown): HeldRunDecision {
	const given = squash(String(value ?? ''));
	for (const [code, label] of Object.entries(DECISION_LABELS) as Array<[HeldRunDecision, string]>) {
		if (given === squash(code) || given === squash(label)) return code;
	}
	throw new RosterRunError(
		`"${String(value ?? '')}" is not a decision on a held run`,
		`Use one of: ${Object.values(DECISION_LABELS).join('; ')}.`,
	);
}

export interface ApproveResult {
	run: RunRecord;
	decision: HeldRunDecision;
	/** The held run was approved (in full or in part): it goes on to Build Lists. */
	continues: boolean;
	warnings: string[];
}

const STEP = 'Approve Held Run';

function reconciledCounts(run: RunRecord): Partial<ReconcileStageCounts> {
	return (run.counts.reconciled ?? {}) as Partial<ReconcileStageCounts>;
}

export async function approveHeldRun(db: SqlDb, runId: string, decision: HeldRunDecision): Promise<ApproveResult> {
	const run = await getRun(db, runId);
	const counts = reconciledCounts(run);
	const archivesHeld = run.status !== 'held' && (counts.archiveHeld ?? 0) > 0;
	if (run.status !== 'held' && !archivesHeld) {
		throw new RosterRunError(
			`Run ${runId} is not held (it is ${run.status}${run.dryRun ? ', a dry run' : ''}): there is nothing to approve`,
			'Approve Held Run works on runs Reconcile Users sent to its Held output.',
		);
	}
	const decided = (state: HoldRecord['state']): HoldRecord => ({
		...(counts.hold ?? { massChanges: [], reasons: [] }),
		state,
		decidedAt: nowIso(),
	});

	if (decision === 'discard') {
		if (run.status === 'held') {
			await addStageCounts(db, runId, 'reconciled', { hold: decided('discarded') }, ['discarded on Approve Held Run: nothing was applied']);
			const discarded = await setRunStatus(db, runId, 'discarded', 'held for mass changes and discarded on Approve Held Run');
			return { run: discarded, decision, continues: false, warnings: [] };
		}
		const warning = `${counts.archiveHeld} held archives discarded on Approve Held Run`;
		const after = await addStageCounts(db, runId, 'reconciled', { archiveHeld: 0, hold: decided('archivesDiscarded') }, [warning]);
		return { run: after, decision, continues: false, warnings: [warning] };
	}

	const later = await appliedRunAfter(db, runId);
	if (later) {
		throw new RosterRunError(
			`${STEP}: run ${later.id} was applied after run ${runId}, so ${runId}'s plan is out of date`,
			`Discard run ${runId}; run ${later.id} planned the same people again from a newer export.`,
		);
	}
	if (archivesHeld) {
		if (decision === 'addsAndUpdates') {
			throw new RosterRunError(
				`Run ${runId}'s adds and updates were applied already; only its ${counts.archiveHeld} archives are held`,
				'Choose Apply all to archive them, or Discard to drop them.',
			);
		}
		return applyHeldArchives(db, runId, decided('approved'));
	}
	const settings = reconcileSettings(run.settings.reconciled as Parameters<typeof reconcileSettings>[0]);
	const result = await reconcileWith(db, runId, settings, {
		enforceThresholds: false,
		holdArchives: decision === 'addsAndUpdates',
		hold: decided(decision === 'all' ? 'approved' : 'approvedInPart'),
	});
	return { run: result.run, decision, continues: true, warnings: result.warnings };
}

/** After an approval in part: archives the people whose archive was held, if they are still active. */
async function applyHeldArchives(db: SqlDb, runId: string, hold: HoldRecord): Promise<ApproveResult> {
	return db.transaction(async (tx) => {
		const now = nowIso();
		const held = (await listChanges(tx, runId, { entities: ['person'], actions: ['archive'] })).filter(
			(change) => !change.applied && change.reason === REASONS.archiveHeld,
		);
		const active = new Set((await loadPeople(tx)).filter((person) => person.archived_at === null).map((person) => person.id));
		const toArchive = held.filter((change) => active.has(change.entityId));
		await archivePeople(tx, toArchive.map((change) => change.entityId), now);
		await markChangesApplied(tx, runId, toArchive.map((change) => change.seq), { archived_at: now });

		const run = await getRun(tx, runId);
		const counts = reconciledCounts(run);
		const byRole = counts.byRole!;
		for (const change of toArchive) {
			const role = byRole[change.role as PersonRole];
			if (role) role.archived++;
		}
		for (const role of PERSON_ROLES) byRole[role].archiveHeld = 0;
		const warnings = [`${toArchive.length} held archives applied on Approve Held Run; lists follow on the next run`];
		if (toArchive.length < held.length) warnings.push(`${held.length - toArchive.length} of the held archives were archived meanwhile`);
		const after = await addStageCounts(
			tx,
			runId,
			'reconciled',
			{ archived: (counts.archived ?? 0) + toArchive.length, archiveHeld: 0, byRole, hold },
			warnings,
		);
		return { run: after, decision: 'all', continues: false, warnings };
	});
}
