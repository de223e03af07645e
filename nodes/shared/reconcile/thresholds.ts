/**
 * Mass-change thresholds: a plan that archives or updates more of a role's people than its
 * thresholds allow holds the run (nothing applied, the plan kept for approval). Pure.
 *
 * Archives and updates are counted apart, per role. The base is the role's people the sync
 * manages now (active, in SIS sync). A role is over when its count is above BOTH the percent of
 * the base and the number of people (so one leaver of a 4-student school never holds a run).
 */
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import type { ReconcileSummary } from './plan';
import { ROLE_PLURALS } from './plan';
import type { ChangeKind, ChangeLimit, ReconcileSettings } from './settings';

export interface MassChange {
	role: PersonRole;
	change: ChangeKind;
	/** People the plan archives (archive) or updates and restores (update). */
	count: number;
	/** The role's people the sync manages in the store before the run. */
	of: number;
	percent: number;
	limit: ChangeLimit;
}

/** What a held run records about why it was held (counts.reconciled.hold). */
export interface HoldRecord {
	/** 'held' (waiting for a decision) or, in a dry run, 'wouldHold'; then the decision. */
	state: 'held' | 'wouldHold' | 'approved' | 'approvedInPart' | 'discarded' | 'archivesDiscarded';
	massChanges: MassChange[];
	reasons: string[];
	decidedAt?: string;
}

/** `managed`: per role, the people the sync manages in the store before the run (countManagedPeople). */
export function findMassChanges(summary: ReconcileSummary, managed: ReadonlyMap<string, number>, settings: ReconcileSettings): MassChange[] {
	if (!settings.holdMassChanges) return [];
	const found: MassChange[] = [];
	for (const role of PERSON_ROLES) {
		const counts = summary.byRole[role];
		for (const change of ['archive', 'update'] as const) {
			const count = change === 'archive' ? counts.archived : counts.updated + counts.restored;
			if (count === 0) continue;
			const of = managed.get(role) ?? 0;
			const percent = of === 0 ? 100 : Math.round((count * 1000) / of) / 10;
			const limit = settings.thresholds[role][change];
			if (count > limit.people && percent > limit.percent) found.push({ role, change, count, of, percent, limit });
		}
	}
	return found;
}

/** "would archive 120 of 1000 students (12 %): the limit is 10 % and 5 people" */
export function describeMassChange(massChange: MassChange): string {
	const { role, change, count, of, percent, limit } = massChange;
	const verb = change === 'archive' ? 'archive' : 'update or restore';
	return `would ${verb} ${count} of ${of} ${ROLE_PLURALS[role]} (${percent} %); the limit is ${limit.percent} % and ${limit.people} people`;
}
