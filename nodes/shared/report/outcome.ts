/**
 * What happened to a run, said plainly for the report: a headline, why (the thresholds a held
 * run passed, what the drift check found, …) and what to do next. Pure: the run in, text out.
 */
import type { DriftCheck, DriftReport } from '../normalize/drift';
import { DECISION_LABELS } from '../reconcile/approve';
import type { HoldRecord } from '../reconcile/thresholds';
import type { RunRecord } from '../store/runs';

export interface RunOutcome {
	headline: string;
	reasons: string[];
	nextSteps: string[];
}

const DRIFT_CHECK_NAMES: Record<DriftCheck, string> = {
	headers: 'Headers',
	encoding: 'Encoding',
	schools: 'Schools',
	rowCounts: 'Row Counts',
	emails: 'Empty Emails',
};

const APPROVE = 'Roster Reconcile Users → Approve Held Run';

export function describeOutcome(run: RunRecord): RunOutcome {
	const reconciled = (run.counts.reconciled ?? {}) as { hold?: HoldRecord; archiveHeld?: number; rollbackOf?: string; conflicts?: number };
	const drift = (run.counts.normalized as { drift?: DriftReport } | undefined)?.drift;
	const hold = reconciled.hold;
	const holdReasons = (hold?.reasons ?? []).map((reason) => `Held because it ${reason}`);

	if (run.kind === 'rollback') {
		const target = reconciled.rollbackOf ?? String(run.settings.rollbackOf ?? '');
		const conflicts = reconciled.conflicts ?? 0;
		const keptSteps = conflicts > 0 ? [`${conflicts} changes of run ${target} were changed again since and were kept; they are listed as problems (and in the attached CSV).`] : [];
		if (run.dryRun) {
			return {
				headline: `Preview of rolling back run ${target}: these are the changes a rollback would make. Nothing in the people store was changed.`,
				reasons: [],
				nextSteps: [...keptSteps, `To roll back, run Roster History → Roll Back a Run on run ${target} with Dry Run off.`],
			};
		}
		return {
			headline: `This run rolled back run ${target}: its changes to people, parent contacts, lists and memberships were reverted.`,
			reasons: [],
			nextSteps: [...keptSteps, 'Fix what made the rolled-back run wrong (usually the export) before the next run, or it makes the same changes again.'],
		};
	}

	switch (run.status) {
		case 'failed':
			return { headline: `The sync stopped and nothing in the people store was changed: ${run.error ?? 'no reason recorded'}`, reasons: [], nextSteps: [] };
		case 'stopped': {
			const checks = [...new Set((drift?.findings ?? []).map((finding) => DRIFT_CHECK_NAMES[finding.check]))];
			return {
				headline: `The pre-flight drift check stopped the run before Reconcile Users: the export differs from the last good run${drift?.baselineRunId ? ` (${drift.baselineRunId})` : ''}. Nothing in the people store was changed.`,
				reasons: (drift?.findings ?? []).map((finding) => finding.message),
				nextSteps: [
					'Check the export with whoever runs it in the SIS: a renamed or dropped column, a school whose sharing was switched off, a file missing from the drop, a changed character encoding.',
					'When the export is right again, run the workflow again (or wait for the next night).',
					`If the change is intended (for example a school closed), turn off ${checks.map((check) => `"${check}"`).join(' and ') || 'that check'} in Pre-Flight Drift Checks on Roster Normalize for one run; once a run is applied it is the new baseline.`,
				],
			};
		}
		case 'held':
			return {
				headline: 'The run is HELD: it would change more people than the mass-change thresholds allow. Nothing was applied; the plan is kept for approval.',
				reasons: holdReasons,
				nextSteps: [
					'Review the planned changes: the attached CSV lists every one.',
					`If they are right, approve the run: answer the approval email, or run ${APPROVE} with Run ID ${run.id} and "${DECISION_LABELS.addsAndUpdates}" or "${DECISION_LABELS.all}".`,
					`If they are wrong (a broken export), choose "${DECISION_LABELS.discard}", fix the export, and the next run plans again.`,
					'The thresholds are on Roster Reconcile Users (Hold Mass Changes).',
				],
			};
		case 'discarded':
			return {
				headline: 'The run was held for mass changes and then discarded: nothing was applied.',
				reasons: holdReasons,
				nextSteps: ['Fix the export if it was wrong; the next run plans again from a fresh export.'],
			};
		case 'rolled_back':
			return {
				headline: `This run's changes were rolled back (${run.error ?? 'by a rollback run'}).`,
				reasons: holdReasons,
				nextSteps: [],
			};
	}
	if (run.dryRun) {
		const wouldHold = hold?.state === 'wouldHold';
		return {
			headline: 'Dry run: these are the changes the sync would make. Nothing in the people store was changed.',
			reasons: wouldHold ? hold!.reasons.map((reason) => `A real run would be held for approval: it ${reason}`) : [],
			nextSteps: wouldHold ? ['Turn Dry run off only if these changes are right: the real run will be held until someone approves it (or raise the thresholds on Roster Reconcile Users).'] : [],
		};
	}
	const archivesHeld = reconciled.archiveHeld ?? 0;
	if (hold?.state === 'approvedInPart' && archivesHeld > 0) {
		return {
			headline: `Approved in part: the adds and updates were applied; ${archivesHeld} archives are still held.`,
			reasons: holdReasons,
			nextSteps: [
				`To archive them, run ${APPROVE} with Run ID ${run.id} and "${DECISION_LABELS.all}" before the next run; "${DECISION_LABELS.discard}" drops them. Otherwise the next run plans them again.`,
			],
		};
	}
	const decided = hold && hold.state !== 'held' && hold.state !== 'wouldHold' ? [`${hold.state === 'archivesDiscarded' ? 'Its held archives were discarded' : 'Approved'} on ${hold.decidedAt ?? 'an unknown date'}.`] : [];
	return { headline: 'The sync applied these changes to the people store.', reasons: [...holdReasons, ...decided], nextSteps: [] };
}
