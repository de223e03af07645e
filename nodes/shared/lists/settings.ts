/**
 * Build Lists settings, named as in Minga ("Sync class rosters as user lists automatically",
 * "Manage class rosters to be synced", the People → Settings list options). All off by default.
 */
export interface ListSettings {
	/** Class rosters → one user list per class of the selected terms. */
	syncClassRosters: boolean;
	/** Terms to bring classes in for: sourcedIds or titles. Class lists will not roster in unless terms are selected. */
	terms: string[];
	/** Only classes of these grades (e.g. 09, KG). Empty = every grade (Minga's advice). */
	grades: string[];
	autoListsByRole: boolean;
	autoListsByGrade: boolean;
	autoListsBySubject: boolean;
	autoListsByTeacher: boolean;
	/** New lists are public (all staff can see them); existing lists keep their visibility. */
	newListsPublic: boolean;
}

export const DEFAULT_LIST_SETTINGS: Readonly<ListSettings> = {
	syncClassRosters: false,
	terms: [],
	grades: [],
	autoListsByRole: false,
	autoListsByGrade: false,
	autoListsBySubject: false,
	autoListsByTeacher: false,
	newListsPublic: false,
};

const FLAGS = [
	'syncClassRosters',
	'autoListsByRole',
	'autoListsByGrade',
	'autoListsBySubject',
	'autoListsByTeacher',
	'newListsPublic',
] as const;

const cleanList = (values: string[] | undefined): string[] =>
	[...new Set((values ?? []).map((value) => String(value).trim()).filter((value) => value !== ''))];

/** Settings with defaults for anything not given. */
export function listSettings(given: Partial<ListSettings> = {}): ListSettings {
	const settings: ListSettings = { ...DEFAULT_LIST_SETTINGS, terms: cleanList(given.terms), grades: cleanList(given.grades) };
	for (const flag of FLAGS) if (given[flag] !== undefined) settings[flag] = Boolean(given[flag]);
	return settings;
}

/** Whether two settings build the same lists the same way. */
export function sameListSettings(a: ListSettings, b: ListSettings): boolean {
	return JSON.stringify(listSettings(a)) === JSON.stringify(listSettings(b));
}
