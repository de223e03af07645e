/**
 * Reconcile Users settings, named as in Minga's Rostering Settings. The defaults follow Minga's
 * advice: every role rostered, but Auto update and Archive off until the first runs look right.
 */
import type { PersonRole } from '../model/roster';

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
};

/** Settings with defaults for anything not given. */
export function reconcileSettings(given: Partial<ReconcileSettings> = {}): ReconcileSettings {
	const settings = { ...DEFAULT_RECONCILE_SETTINGS };
	for (const key of Object.keys(settings) as Array<keyof ReconcileSettings>) {
		if (given[key] !== undefined) settings[key] = Boolean(given[key]);
	}
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
