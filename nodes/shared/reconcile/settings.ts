/**
 * Reconcile Users settings, named as in Minga's Rostering Settings. The defaults follow Minga's
 * advice: every role rostered, but Auto update and Archive off until the first runs look right.
 * The safeguards beyond Minga's: mass-change thresholds that hold a run, and a grace period.
 */
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';

/**
 * A mass-change limit for one role and one kind of change. A run is held when the changes of
 * the role exceed BOTH the percent (of the role's people in the store) and the number of
 * people: percent 0 holds on the number alone, people 0 on the percent alone.
 */
export interface ChangeLimit {
	percent: number;
	people: number;
}

/** Archives and updates (updates, restores) are counted apart. */
export type ChangeKind = 'archive' | 'update';
export type RoleThresholds = Record<ChangeKind, ChangeLimit>;
export type Thresholds = Record<PersonRole, RoleThresholds>;

export interface ReconcileSettings {
	rosterStudents: boolean;
	rosterTeachers: boolean;
	rosterStaff: boolean;
	rosterAdmins: boolean;
	/** Copy each student's primary parent/guardian (name, email, phone) onto the student. */
	includePrimaryParentContact: boolean;
	/** Update people already in the store when the SIS changed them; off = skip existing people. */
	autoUpdate: boolean;
	/** Archive people the SIS no longer lists; off = keep them (counted as "would archive"). */
	archive: boolean;
	/** Plan and record, change nothing. */
	dryRun: boolean;
	/** Hold the run (apply nothing, keep the plan) when a role's archives or updates pass its thresholds. */
	holdMassChanges: boolean;
	thresholds: Thresholds;
	/** Archive only people missing from this many consecutive runs (1 = the first run they are missing, as Minga does). */
	graceRuns: number;
}

/** The peers' 10 % for archives, with a floor so a small school's one leaver never holds a run. */
export const DEFAULT_ROLE_THRESHOLDS: Readonly<RoleThresholds> = {
	archive: { percent: 10, people: 5 },
	update: { percent: 25, people: 10 },
};

function defaultThresholds(): Thresholds {
	return Object.fromEntries(
		PERSON_ROLES.map((role) => [role, { archive: { ...DEFAULT_ROLE_THRESHOLDS.archive }, update: { ...DEFAULT_ROLE_THRESHOLDS.update } }]),
	) as Thresholds;
}

export const DEFAULT_RECONCILE_SETTINGS: Readonly<ReconcileSettings> = {
	rosterStudents: true,
	rosterTeachers: true,
	rosterStaff: true,
	rosterAdmins: true,
	includePrimaryParentContact: false,
	autoUpdate: false,
	archive: false,
	dryRun: false,
	holdMassChanges: true,
	thresholds: defaultThresholds(),
	graceRuns: 1,
};

/** The switches a plan depends on (see samePlanSettings). */
const PLAN_FLAGS = ['rosterStudents', 'rosterTeachers', 'rosterStaff', 'rosterAdmins', 'includePrimaryParentContact', 'autoUpdate', 'archive'] as const;

const FLAGS = [...PLAN_FLAGS, 'dryRun', 'holdMassChanges'] as const;

/** Per-role thresholds given in part (e.g. only students' archive percent): the rest from `base`. */
export type ThresholdOverrides = Partial<Record<PersonRole, Partial<Record<ChangeKind, Partial<ChangeLimit>>>>>;

const nonNegative = (value: unknown, fallback: number): number => {
	const number = Number(value);
	return value === undefined || value === null || value === '' || !Number.isFinite(number) || number < 0 ? fallback : number;
};

/** Thresholds: `base` for every role, then the overrides of single roles. */
export function thresholds(overrides: ThresholdOverrides = {}, base: Partial<Record<ChangeKind, Partial<ChangeLimit>>> = {}): Thresholds {
	const result = defaultThresholds();
	for (const role of PERSON_ROLES) {
		for (const kind of ['archive', 'update'] as const) {
			const limit = result[role][kind];
			for (const given of [base[kind], overrides[role]?.[kind]]) {
				limit.percent = nonNegative(given?.percent, limit.percent);
				limit.people = nonNegative(given?.people, limit.people);
			}
		}
	}
	return result;
}

/** Settings with defaults for anything not given. */
export function reconcileSettings(given: Partial<Omit<ReconcileSettings, 'thresholds'>> & { thresholds?: ThresholdOverrides } = {}): ReconcileSettings {
	const settings: ReconcileSettings = { ...DEFAULT_RECONCILE_SETTINGS, thresholds: thresholds(given.thresholds) };
	for (const key of FLAGS) {
		if (given[key] !== undefined) settings[key] = Boolean(given[key]);
	}
	settings.graceRuns = Math.max(1, Math.floor(nonNegative(given.graceRuns, 1)));
	return settings;
}

/** The roles switched on. */
export function rosteredRoles(settings: ReconcileSettings): Set<PersonRole> {
	const roles = new Set<PersonRole>();
	if (settings.rosterStudents) roles.add('student');
	if (settings.rosterTeachers) roles.add('teacher');
	if (settings.rosterStaff) roles.add('staff');
	if (settings.rosterAdmins) roles.add('admin');
	return roles;
}

/** The settings a plan depends on; the rest (dry run, holding, thresholds) decide only whether it is applied. */
const PLAN_SETTINGS = [...PLAN_FLAGS, 'graceRuns'] as const satisfies ReadonlyArray<keyof ReconcileSettings>;

/** Whether the same roster and people table give the same plan under both settings. */
export function samePlanSettings(a: ReconcileSettings, b: ReconcileSettings): boolean {
	return PLAN_SETTINGS.every((key) => a[key] === b[key]);
}
