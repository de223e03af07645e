/**
 * Build Lists, the planner. Pure: plain data in, plain data out (`apply.ts` does the I/O).
 *
 * 1. `selectClasses` — which classes get class lists (selected terms, or their parent terms;
 *    optional grade filter) and which feed the subject and teacher lists.
 * 2. `DesiredLists` — fed the run's enrollments batch by batch, it gives every list the sync
 *    wants with its members and managers (people store ids).
 * 3. `planLists` — diffs the desired lists against the stored ones: creates, title updates,
 *    archives and restores, member and manager adds and removes, with the run_changes rows.
 */
import type { CanonicalClass, CanonicalCourse, CanonicalEnrollment, CanonicalPerson, CanonicalTerm, PersonRole } from '../model/roster';
import type { RunChange } from '../store/changes';
import { newRecordId } from '../store/ids';
import type { MemberGroup, Membership, StoredMembers, UserListRow } from '../store/lists';
import { PERSON_ID_SEPARATOR } from '../store/lists';

const SEPARATOR_CODE = PERSON_ID_SEPARATOR.charCodeAt(0);
import type { ListSettings } from './settings';

/** Kinds of lists the sync builds (manual lists are never touched). */
export const SYNCED_KINDS = ['class', 'role', 'grade', 'subject', 'teacher'] as const;
export type SyncedKind = (typeof SYNCED_KINDS)[number];

export interface ListsCounts {
	listsCreated: number;
	/** Existing lists whose title or membership changed. */
	listsUpdated: number;
	listsArchived: number;
	listsRestored: number;
	membersAdded: number;
	membersRemoved: number;
	managersAdded: number;
	managersRemoved: number;
	/** Enrollments whose person is not an active person in the store (not created, excluded or archived). */
	enrollmentsWithoutPerson: number;
}

export function emptyListsCounts(): ListsCounts {
	return {
		listsCreated: 0,
		listsUpdated: 0,
		listsArchived: 0,
		listsRestored: 0,
		membersAdded: 0,
		membersRemoved: 0,
		managersAdded: 0,
		managersRemoved: 0,
		enrollmentsWithoutPerson: 0,
	};
}

/** A CEDS grade as a key: 9 and 09 are one grade; letters compare without case. */
export function gradeKey(grade: string): string {
	const trimmed = grade.trim();
	return /^\d{1,2}$/.test(trimmed) ? trimmed.padStart(2, '0') : trimmed.toUpperCase();
}

const GRADE_NAMES: Record<string, string> = {
	IT: 'Infant/Toddler',
	PR: 'Preschool',
	PK: 'Pre-Kindergarten',
	TK: 'Transitional Kindergarten',
	KG: 'Kindergarten',
	PS: 'Postsecondary',
	UG: 'Ungraded',
	OTHER: 'Other grade',
};

export function gradeTitle(grade: string): string {
	const key = gradeKey(grade);
	return GRADE_NAMES[key] ?? (/^\d+$/.test(key) ? `Grade ${Number(key)}` : `Grade ${grade.trim()}`);
}

export const ROLE_LIST_TITLES: Record<PersonRole, string> = {
	student: 'All Students',
	teacher: 'All Teachers',
	staff: 'All Staff',
	admin: 'All Admins',
};

/** "Algebra I (ALG1-01, Period 1)": sections of one course tell apart by code and period. */
export function classListTitle(klass: CanonicalClass): string {
	const details: string[] = [];
	if (klass.classCode && !klass.title.includes(klass.classCode)) details.push(klass.classCode);
	if (klass.periods) details.push(`Period ${klass.periods}`);
	return details.length > 0 ? `${klass.title} (${details.join(', ')})` : klass.title;
}

export interface ClassSelection {
	/** True when class lists are built this run (Sync class rosters on and some selected term is in the roster). */
	classListsOn: boolean;
	selectedTermIds: Set<string>;
	/** Classes that get a class list. */
	classListClasses: Set<string>;
	/** Classes the subject and teacher lists are built from: the selected terms' classes, or all when no term is selected. */
	currentClasses: Set<string>;
	warnings: string[];
}

export function selectClasses(
	settings: ListSettings,
	terms: CanonicalTerm[],
	classes: CanonicalClass[],
	courses: CanonicalCourse[],
): ClassSelection {
	const warnings: string[] = [];
	const selectedTermIds = new Set<string>();
	for (const wanted of settings.terms) {
		const byId = terms.filter((t) => t.sourcedId === wanted);
		const found = byId.length > 0 ? byId : terms.filter((t) => t.title.trim().toLowerCase() === wanted.toLowerCase());
		if (found.length === 0) warnings.push(`term "${wanted}" is not in the roster`);
		for (const t of found) selectedTermIds.add(t.sourcedId);
	}
	const parentOf = new Map(terms.map((t) => [t.sourcedId, t.parentId]));
	const inSelectedTerm = (klass: CanonicalClass) =>
		klass.termIds.some((termId) => {
			const visited = new Set<string>();
			for (let id: string | null | undefined = termId; id && !visited.has(id); id = parentOf.get(id)) {
				if (selectedTermIds.has(id)) return true;
				visited.add(id);
			}
			return false;
		});
	const courseGrades = new Map(courses.map((c) => [c.sourcedId, c.grades]));
	const gradeFilter = new Set(settings.grades.map(gradeKey));
	const inGrades = (klass: CanonicalClass) => {
		if (gradeFilter.size === 0) return true;
		const grades = klass.grades.length > 0 ? klass.grades : (courseGrades.get(klass.courseId ?? '') ?? []);
		return grades.some((grade) => gradeFilter.has(gradeKey(grade)));
	};

	const classListsOn = settings.syncClassRosters && selectedTermIds.size > 0;
	if (settings.syncClassRosters && settings.terms.length === 0) {
		warnings.push('Sync class rosters is on but no terms are selected: class lists will not roster in until terms are selected');
	} else if (settings.syncClassRosters && selectedTermIds.size === 0) {
		warnings.push('none of the selected terms is in the roster: class lists were left as they are');
	}
	const termClasses = classes.filter(inSelectedTerm);
	const classListClasses = new Set(classListsOn ? termClasses.filter(inGrades).map((c) => c.sourcedId) : []);
	if (classListsOn && gradeFilter.size > 0) {
		const withoutGrade = termClasses.filter((c) => !inGrades(c) && c.grades.length === 0 && (courseGrades.get(c.courseId ?? '') ?? []).length === 0).length;
		if (withoutGrade > 0) warnings.push(`${withoutGrade} ${withoutGrade === 1 ? 'class has' : 'classes have'} no grade and ${withoutGrade === 1 ? 'was' : 'were'} left out by the grade filter`);
	}
	const currentClasses = new Set((selectedTermIds.size > 0 ? termClasses : classes).map((c) => c.sourcedId));
	return { classListsOn, selectedTermIds, classListClasses, currentClasses, warnings };
}

/**
 * People as small integers inside Build Lists: a district's lists hold ~800,000 memberships, and
 * sorted arrays of integers cost a fraction of the memory and time of Sets of id strings. Ids known
 * up front get their numbers in sorted order, so number order is store-id order (the change log's).
 */
export class PersonIndex {
	private readonly ids: string[];
	private readonly numbers = new Map<string, number>();
	/** False once an id came after the sorted start (a stored member no link knows): number order is then not id order. */
	private inIdOrder = true;

	constructor(ids: Iterable<string>) {
		this.ids = [...new Set(ids)].sort();
		for (let n = 0; n < this.ids.length; n++) this.numbers.set(this.ids[n], n);
	}

	numberOf(id: string): number | undefined {
		return this.numbers.get(id);
	}

	/** The number of an id, giving one to an id not seen before. */
	intern(id: string): number {
		let n = this.numbers.get(id);
		if (n === undefined) {
			n = this.ids.length;
			if (n > 0 && id < this.ids[n - 1]) this.inIdOrder = false;
			this.ids.push(id);
			this.numbers.set(id, n);
		}
		return n;
	}

	idOf(n: number): string {
		return this.ids[n];
	}

	/**
	 * Whether `joined` (ids joined as loadStoredMembers joins them) holds exactly the people of these
	 * sorted numbers, when number order is id order (false otherwise: then the caller diffs). Compared
	 * in place: no joined text is built (~45 MB of garbage per night at 100,000 students).
	 */
	holdsJoined(numbers: Int32Array, joined: string): boolean {
		if (!this.inIdOrder) return false;
		let at = 0;
		for (let i = 0; i < numbers.length; i++) {
			const id = this.ids[numbers[i]];
			if (i > 0) {
				if (joined.charCodeAt(at) !== SEPARATOR_CODE) return false;
				at++;
			}
			if (!joined.startsWith(id, at)) return false;
			at += id.length;
		}
		return at === joined.length;
	}

	/** Numbers of ids joined by loadStoredMembers, sorted. */
	numbersOfJoined(joined: string | undefined): Int32Array {
		if (joined === undefined) return new Int32Array(0);
		const ids = joined.split(PERSON_ID_SEPARATOR);
		const numbers = new Int32Array(ids.length);
		for (let i = 0; i < ids.length; i++) numbers[i] = this.intern(ids[i]);
		return numbers.sort();
	}

	/** Sorts person numbers into store-id order (in place). */
	sortByIds(numbers: number[]): number[] {
		if (this.inIdOrder) return numbers.sort((a, b) => a - b);
		return numbers.sort((a, b) => (this.ids[a] < this.ids[b] ? -1 : this.ids[a] > this.ids[b] ? 1 : 0));
	}
}

/** Numbers sorted ascending, each once. */
export function sortedUnique(numbers: ArrayLike<number>): Int32Array {
	const sorted = Int32Array.from(numbers).sort();
	let count = 0;
	for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[count++] = sorted[i];
	return sorted.subarray(0, count);
}

export interface DesiredList {
	sourceKey: string;
	kind: SyncedKind;
	title: string;
	termId: string | null;
	classId: string | null;
	grade: string | null;
	/** Person numbers (PersonIndex), sorted, each once. */
	members: Int32Array;
	managers: Int32Array;
}

/** What Build Lists needs of a snapshot person. */
export type RosterPerson = Pick<CanonicalPerson, 'sourcedId' | 'role' | 'grade' | 'givenName' | 'familyName'>;

export interface DesiredListsContext {
	settings: ListSettings;
	selection: ClassSelection;
	classes: CanonicalClass[];
	courses: CanonicalCourse[];
	/** SIS sourcedId → person number (PersonIndex), for people active in the store and in SIS sync. */
	personNumbers: Map<string, number>;
}

/** What a desired list is, besides its people. */
export type ListShape = Omit<DesiredList, 'members' | 'managers'>;

/** The list of one role (members: its active people). */
export function roleList(role: PersonRole): ListShape {
	return { sourceKey: `role:${role}`, kind: 'role', title: ROLE_LIST_TITLES[role], termId: null, classId: null, grade: null };
}

/** The list of one grade, as the snapshot spells it (members: its active students); titled by the first student's spelling. */
export function gradeList(grade: string): ListShape {
	const key = gradeKey(grade);
	return { sourceKey: `grade:${key}`, kind: 'grade', title: gradeTitle(grade), termId: null, classId: null, grade: key };
}

/** Whether every spelling of a grade gives its list the same title (a number, or a grade Minga names). */
export function gradeTitleIsFixed(grade: string): boolean {
	const key = gradeKey(grade);
	return /^\d+$/.test(key) || key in GRADE_NAMES;
}

/** The list of a class that gets a class list (members: its students; managers: its teachers). */
export function classList(klass: CanonicalClass, selection: ClassSelection): ListShape {
	const grades = klass.grades.map(gradeKey);
	return {
		sourceKey: `class:${klass.sourcedId}`,
		kind: 'class',
		title: classListTitle(klass),
		termId: klass.termIds.find((t) => selection.selectedTermIds.has(t)) ?? klass.termIds[0] ?? null,
		classId: klass.sourcedId,
		grade: grades.length === 1 ? grades[0] : null,
	};
}

/** A desired list while it is built: members and managers gathered, duplicates and all. */
type GatheredList = ListShape & { members: number[]; managers: number[] };

/**
 * The lists the sync wants, built from the run's enrollments fed in batches. Every enrollment in
 * the snapshot counts: the SIS export is the roster (enrollment dates are not interpreted, so an
 * export with past or future term dates does not empty the lists).
 */
export class DesiredLists {
	private readonly classById: Map<string, CanonicalClass>;
	private readonly subjectsOf: Map<string, string[]>;
	/** Per relevant class: students (person numbers) and teachers (SIS sourcedIds). */
	private readonly rosters = new Map<string, { students: number[]; teachers: string[] }>();
	private readonly wantsClassRosters: boolean;
	/**
	 * Role and grade lists, gathered as the run's people are fed in (addPeople): no record per
	 * person is kept, only person numbers, and teachers' names for teacher lists' titles.
	 */
	private readonly peopleLists = new Map<string, GatheredList>();
	/** The role and grade lists by role and by grade as the snapshot spells it: no key or title text per person (~38 MB at 100,000 students). */
	private readonly roleLists = new Map<PersonRole, GatheredList>();
	private readonly gradeLists = new Map<string, GatheredList>();
	private readonly names = new Map<string, string>();
	enrollmentsWithoutPerson = 0;
	enrollmentCount = 0;
	peopleCount = 0;

	constructor(private readonly context: DesiredListsContext) {
		this.classById = new Map(context.classes.map((c) => [c.sourcedId, c]));
		const courseSubjects = new Map(context.courses.map((c) => [c.sourcedId, c.subjects]));
		this.subjectsOf = new Map(
			context.classes.map((c) => [c.sourcedId, c.subjects.length > 0 ? c.subjects : (courseSubjects.get(c.courseId ?? '') ?? [])]),
		);
		const { settings } = context;
		this.wantsClassRosters = context.selection.classListsOn || settings.autoListsBySubject || settings.autoListsByTeacher;
	}

	private relevant(classId: string): boolean {
		const { selection, settings } = this.context;
		return (
			selection.classListClasses.has(classId) ||
			((settings.autoListsBySubject || settings.autoListsByTeacher) && selection.currentClasses.has(classId))
		);
	}

	addEnrollments(batch: CanonicalEnrollment[]): void {
		this.enrollmentCount += batch.length;
		if (!this.wantsClassRosters) return;
		for (const enrollment of batch) {
			let roster = this.rosters.get(enrollment.classId);
			if (!roster) {
				if (!this.relevant(enrollment.classId)) continue;
				this.rosters.set(enrollment.classId, (roster = { students: [], teachers: [] }));
			}
			if (enrollment.role === 'teacher') {
				roster.teachers.push(enrollment.personId);
			} else if (enrollment.role === 'student') {
				const n = this.context.personNumbers.get(enrollment.personId);
				if (n !== undefined) roster.students.push(n);
				else this.enrollmentsWithoutPerson++;
			}
		}
	}

	/** Feeds a batch of the run's people (in snapshot order: a grade list is titled by its first student's grade). */
	addPeople(batch: RosterPerson[]): void {
		const { settings, personNumbers } = this.context;
		this.peopleCount += batch.length;
		for (const p of batch) {
			if (settings.autoListsByTeacher) this.names.set(p.sourcedId, [p.givenName, p.familyName].filter(Boolean).join(' '));
			const n = personNumbers.get(p.sourcedId);
			if (n === undefined) continue;
			if (settings.autoListsByRole) {
				let list = this.roleLists.get(p.role);
				if (!list) this.roleLists.set(p.role, (list = gatheredList(this.peopleLists, roleList(p.role))));
				list.members.push(n);
			}
			if (settings.autoListsByGrade && p.role === 'student' && p.grade) {
				let list = this.gradeLists.get(p.grade);
				if (!list) this.gradeLists.set(p.grade, (list = gatheredList(this.peopleLists, gradeList(p.grade))));
				list.members.push(n);
			}
		}
	}

	/** The lists, once every batch is in. The gathered rosters are let go: call it once. */
	build(): DesiredList[] {
		const { settings, selection, personNumbers } = this.context;
		const lists = new Map<string, GatheredList>();
		const list = (sourceKey: string, kind: SyncedKind, title: string): GatheredList =>
			gatheredList(lists, { sourceKey, kind, title, termId: null, classId: null, grade: null });
		const teacherNumbers = (teachers: string[]) => teachers.map((t) => personNumbers.get(t)).filter((n): n is number => n !== undefined);
		const empty = { students: [] as number[], teachers: [] as string[] };

		for (const classId of [...selection.classListClasses].sort()) {
			const roster = this.rosters.get(classId) ?? empty;
			lists.set(`class:${classId}`, { ...classList(this.classById.get(classId)!, selection), members: roster.students, managers: teacherNumbers(roster.teachers) });
		}

		const current = [...selection.currentClasses].sort();
		if (settings.autoListsBySubject) {
			for (const classId of current) {
				const roster = this.rosters.get(classId);
				if (!roster || roster.students.length === 0) continue;
				for (const subject of this.subjectsOf.get(classId) ?? []) {
					const title = subject.trim();
					if (title === '') continue;
					const l = list(`subject:${title.toLowerCase()}`, 'subject', title);
					for (const n of roster.students) l.members.push(n);
				}
			}
		}
		if (settings.autoListsByTeacher) {
			const names = this.names;
			for (const classId of current) {
				const roster = this.rosters.get(classId);
				if (!roster) continue;
				for (const teacher of roster.teachers) {
					const l = list(`teacher:${teacher}`, 'teacher', `Students of ${names.get(teacher) || teacher}`);
					const manager = personNumbers.get(teacher);
					if (manager !== undefined) l.managers.push(manager);
					for (const n of roster.students) l.members.push(n);
				}
			}
		}
		for (const [sourceKey, gathered] of this.peopleLists) lists.set(sourceKey, gathered);
		this.rosters.clear();
		this.peopleLists.clear();
		this.roleLists.clear();
		this.gradeLists.clear();
		this.names.clear();
		return [...lists.values()].map((l) => ({ ...l, members: sortedUnique(l.members), managers: sortedUnique(l.managers) }));
	}
}

function gatheredList(lists: Map<string, GatheredList>, shape: ListShape): GatheredList {
	let found = lists.get(shape.sourceKey);
	if (!found) {
		found = { ...shape, members: [], managers: [] };
		lists.set(shape.sourceKey, found);
	}
	return found;
}

export interface ListsPlanInput {
	now: string;
	dryRun: boolean;
	settings: ListSettings;
	/** Kinds built this run; stored lists of other kinds are left alone. */
	builtKinds: Set<SyncedKind>;
	desired: DesiredList[];
	/** Stored lists with a source key. */
	lists: UserListRow[];
	/** Stored members and managers per list id. */
	memberships: Map<string, StoredMembers>;
	/** The people `desired` holds the numbers of; stored members no one links to get numbers as they come. */
	people: PersonIndex;
	/** What the roster holds, for the guards against an empty export. */
	roster: { classes: number; enrollments: number; people: number };
	/** People (numbers) whose SIS row had a problem this run: never removed from a list for it. */
	protectedPeople: Set<number>;
	/** Person number → SIS sourcedId, to label member changes. */
	sourcedIdOf: (person: number) => string | undefined;
	newId?: () => string;
}

/** What a plan (or a part of it, see ListsPlanner) writes. */
export interface ListsPlanPart {
	creates: UserListRow[];
	/** Existing lists rewritten whole: title changes, archives, restores. */
	rewrites: UserListRow[];
	/** In list id, membership and person id order (list_members' key on SQLite). */
	memberAdds: MemberGroup[];
	memberRemoves: MemberGroup[];
	changes: RunChange[];
}

export interface ListsPlan extends ListsPlanPart {
	counts: ListsCounts;
	warnings: string[];
}

function emptyPlanPart(): ListsPlanPart {
	return { creates: [], rewrites: [], memberAdds: [], memberRemoves: [], changes: [] };
}

/** People per list_member row in run_changes. */
export const MEMBERS_PER_CHANGE = 1000;

const ENROLLMENT_KINDS: SyncedKind[] = ['class', 'subject', 'teacher'];
const PEOPLE_KINDS: SyncedKind[] = ['role', 'grade'];

/** Merges two sorted number arrays: what `wanted` has that `have` lacks, and the other way round. */
function diffSorted(wanted: Int32Array, have: Int32Array): { added: number[]; removed: number[] } {
	const added: number[] = [];
	const removed: number[] = [];
	let i = 0;
	let j = 0;
	while (i < wanted.length && j < have.length) {
		if (wanted[i] === have[j]) {
			i++;
			j++;
		} else if (wanted[i] < have[j]) added.push(wanted[i++]);
		else removed.push(have[j++]);
	}
	while (i < wanted.length) added.push(wanted[i++]);
	while (j < have.length) removed.push(have[j++]);
	return { added, removed };
}

/**
 * Diffs the desired lists against the stored ones one list at a time, so Build Lists can plan and
 * write a slice of lists at a time (a district's first night adds ~800,000 memberships: their
 * changes never exist all at once). `desired` in plan order (source key order, the order of the
 * change log), planned a slice at a time with planSlice, then the archives with planArchives; the
 * parts, concatenated, are planLists' plan. Counts and warnings are the whole plan's.
 */
export class ListsPlanner {
	readonly counts = emptyListsCounts();
	readonly warnings: string[] = [];
	/** The desired lists in plan order (by source key). */
	readonly desired: DesiredList[];
	private readonly stored: Map<string, UserListRow>;
	private readonly frozen = new Set<SyncedKind>();
	/** A person the plan would have removed from a list but kept (their SIS row had a problem this run). */
	private keptProtected = false;
	private readonly applied: boolean;
	private readonly newId: () => string;

	constructor(private readonly input: Omit<ListsPlanInput, 'memberships'>) {
		this.applied = !input.dryRun;
		this.newId = input.newId ?? newRecordId;
		this.stored = new Map(input.lists.map((l) => [l.source_key as string, l]));
		this.desired = [...input.desired].sort((a, b) => (a.sourceKey < b.sourceKey ? -1 : a.sourceKey > b.sourceKey ? 1 : 0));

		// Guards: an export without classes, enrollments or people must not empty or archive lists.
		const hasActive = (kinds: SyncedKind[]) => input.lists.some((l) => kinds.includes(l.kind as SyncedKind) && l.archived_at === null && input.builtKinds.has(l.kind as SyncedKind));
		if ((input.roster.classes === 0 || input.roster.enrollments === 0) && hasActive(ENROLLMENT_KINDS)) {
			ENROLLMENT_KINDS.forEach((k) => this.frozen.add(k));
			this.warnings.push('no classes or enrollments in the roster; class, subject and teacher lists were left as they are');
		}
		if (input.roster.people === 0 && hasActive(PEOPLE_KINDS)) {
			PEOPLE_KINDS.forEach((k) => this.frozen.add(k));
			this.warnings.push('no people in the roster; role and grade lists were left as they are');
		}
	}

	/**
	 * Whether, once applied, every synced list is the list this plan wanted: no kind was left as it was
	 * (an export without classes or people), nobody was kept on a list for a row problem, and no warning
	 * was given. Build Lists may then skip a night whose inputs are all the same (lists/apply.ts).
	 */
	get isBasisForNextPlan(): boolean {
		return this.frozen.size === 0 && !this.keptProtected && this.warnings.length === 0;
	}

	/** The stored list whose members planList needs (read as StoredMembers), if the desired list has one of a kind built. */
	storedListOf(want: DesiredList): UserListRow | undefined {
		const list = this.stored.get(want.sourceKey);
		return list && this.input.builtKinds.has(list.kind as SyncedKind) ? list : undefined;
	}

	/**
	 * Plans some of `desired` (a slice, in plan order) into one part. `membersOf`: the stored members
	 * and managers of a list storedListOf gave.
	 */
	planSlice(wants: readonly DesiredList[], membersOf: (listId: string) => StoredMembers | undefined): ListsPlanPart {
		const part = emptyPlanPart();
		for (const want of wants) {
			const list = this.storedListOf(want);
			this.planList(want, list ? membersOf(list.id) : undefined, part);
		}
		// Adds in list_members' key order: at the end of the key on a first night (new list ids are time-ordered).
		part.memberAdds.sort((a, b) => (a.listId < b.listId ? -1 : a.listId > b.listId ? 1 : a.membership < b.membership ? -1 : a.membership > b.membership ? 1 : 0));
		return part;
	}

	private planList(want: DesiredList, existing: StoredMembers | undefined, part: ListsPlanPart): void {
		const { input, counts } = this;
		const { now, people } = input;
		if (this.frozen.has(want.kind) && !this.stored.has(want.sourceKey)) return;
		let list = this.stored.get(want.sourceKey);
		/** What happened to the list itself; an existing list whose members change is 'updated'. */
		let outcome: 'created' | 'restored' | 'updated' | 'same' = 'same';
		if (!list) {
			list = {
				id: this.newId(),
				kind: want.kind,
				source_key: want.sourceKey,
				title: want.title,
				term_id: want.termId,
				class_id: want.classId,
				grade: want.grade,
				is_public: input.settings.newListsPublic ? 1 : 0,
				visibility_set_by_hand: 0,
				archived_at: null,
				created_at: now,
				updated_at: now,
			};
			part.creates.push(list);
			this.listChange(part, list, 'create', null, null, { kind: list.kind, source_key: list.source_key, title: list.title, is_public: list.is_public });
			outcome = 'created';
		} else {
			// Visibility (is_public) is the operator's: never part of the rewrite.
			const next: UserListRow = { ...list, title: want.title, term_id: want.termId, class_id: want.classId, grade: want.grade, archived_at: null };
			const fields = (['title', 'term_id', 'class_id', 'grade', 'archived_at'] as const).filter((f) => next[f] !== list![f]);
			if (fields.length > 0) {
				next.updated_at = now;
				part.rewrites.push(next);
				const values = (row: UserListRow) => Object.fromEntries(fields.map((f) => [f, row[f]]));
				outcome = list.archived_at !== null ? 'restored' : 'updated';
				this.listChange(part, next, outcome === 'restored' ? 'restore' : 'update', fields, values(list), values(next));
				list = next;
			}
		}
		for (const membership of ['member', 'manager'] as const) {
			const wanted = membership === 'member' ? want.members : want.managers;
			const stored = existing?.[membership];
			// Most lists are as stored: one text compare instead of a number per stored member.
			if (stored === undefined ? wanted.length === 0 : wanted.length > 0 && people.holdsJoined(wanted, stored)) continue;
			const { added, removed } = diffSorted(wanted, people.numbersOfJoined(stored));
			if (added.length > 0) {
				part.memberAdds.push(this.memberChange(part, list, 'add', membership, added));
				counts[membership === 'member' ? 'membersAdded' : 'managersAdded'] += added.length;
				if (outcome === 'same') outcome = 'updated';
			}
			if (this.frozen.has(want.kind)) continue;
			const removable = removed.filter((n) => !input.protectedPeople.has(n));
			if (removable.length < removed.length) this.keptProtected = true;
			if (removable.length === 0) continue;
			part.memberRemoves.push(this.memberChange(part, list, 'remove', membership, removable));
			counts[membership === 'member' ? 'membersRemoved' : 'managersRemoved'] += removable.length;
			if (outcome === 'same') outcome = 'updated';
		}
		if (outcome === 'created') counts.listsCreated++;
		else if (outcome === 'restored') counts.listsRestored++;
		else if (outcome === 'updated') counts.listsUpdated++;
	}

	/** Stored lists the sync no longer wants: archived (never deleted), members kept for a restore. The plan's last part. */
	planArchives(): ListsPlanPart {
		const { input } = this;
		const part = emptyPlanPart();
		const wantedKeys = new Set(input.desired.map((d) => d.sourceKey));
		for (const list of input.lists) {
			const kind = list.kind as SyncedKind;
			if (!input.builtKinds.has(kind) || this.frozen.has(kind)) continue;
			if (list.archived_at !== null || wantedKeys.has(list.source_key as string)) continue;
			const next = { ...list, archived_at: input.now, updated_at: input.now };
			part.rewrites.push(next);
			this.listChange(part, next, 'archive', ['archived_at'], { archived_at: null }, { archived_at: input.now });
			this.counts.listsArchived++;
		}
		return part;
	}

	private listChange(
		part: ListsPlanPart,
		list: UserListRow,
		action: string,
		fields: string[] | null,
		before: Record<string, string | number | null> | null,
		after: Record<string, string | number | null> | null,
	): void {
		part.changes.push({ entity: 'list', entityId: list.id, action, role: list.kind, label: list.title, sourcedId: list.class_id, reason: null, fields, before, after, applied: this.applied });
	}

	/**
	 * One group of people added to or removed from a list, and its change rows: one per
	 * MEMBERS_PER_CHANGE people, not one per person. People in store-id order, so the change log
	 * reads the same on every engine.
	 */
	private memberChange(part: ListsPlanPart, list: UserListRow, action: 'add' | 'remove', membership: Membership, numbers: number[]): MemberGroup {
		const { people, sourcedIdOf } = this.input;
		people.sortByIds(numbers);
		const personIds = numbers.map((n) => people.idOf(n));
		for (let start = 0; start < numbers.length; start += MEMBERS_PER_CHANGE) {
			const end = Math.min(numbers.length, start + MEMBERS_PER_CHANGE);
			const whole = start === 0 && end === numbers.length;
			const sourcedIds = new Array<string | null>(end - start);
			for (let i = start; i < end; i++) sourcedIds[i - start] = sourcedIdOf(numbers[i]) ?? null;
			const chunk = { person_ids: whole ? personIds : personIds.slice(start, end), sourced_ids: sourcedIds };
			part.changes.push({
				entity: 'list_member',
				entityId: list.id,
				action,
				role: membership,
				label: list.title,
				sourcedId: list.class_id,
				reason: null,
				fields: null,
				before: action === 'remove' ? chunk : null,
				after: action === 'add' ? chunk : null,
				applied: this.applied,
			});
		}
		return { listId: list.id, membership, personIds };
	}
}

/** The whole plan at once (ListsPlanner's parts concatenated). */
export function planLists(input: ListsPlanInput): ListsPlan {
	const planner = new ListsPlanner(input);
	const part = planner.planSlice(planner.desired, (listId) => input.memberships.get(listId));
	const archives = planner.planArchives();
	return {
		creates: part.creates,
		rewrites: [...part.rewrites, ...archives.rewrites],
		memberAdds: part.memberAdds,
		memberRemoves: part.memberRemoves,
		changes: [...part.changes, ...archives.changes],
		counts: planner.counts,
		warnings: planner.warnings,
	};
}
