/**
 * Reconcile Users, the planner: the run's canonical people against the people store, under the
 * sync settings → a plan (what to create, update, restore, archive, skip) and its counts.
 * Pure: plain data in, plain data out. `apply.ts` loads the input and writes the plan.
 *
 * Matching: each SIS record is matched to a stored person by sourcedId, else by SIS id
 * (people.sis_id / student_number against the SIS `identifier`), else by email
 * (case-insensitive). The first key that finds anybody decides: two or more people there, or a
 * person another SIS record already matched, make the record ambiguous (reported, not applied).
 * All records are matched by sourcedId first, then the rest by SIS id, then by email, so an exact
 * sourcedId match always wins over a fallback.
 */
import type { CanonicalContact, CanonicalPerson, PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import type { RunChange } from '../store/changes';
import { newRecordId } from '../store/ids';
import type { PeopleTable, PersonRow } from '../store/people';
import { emailKey } from '../store/people';
import type { SqlValue } from '../store/sql';
import { toJson } from '../store/sql';
import type { ReconcileSettings } from './settings';
import { rosteredRoles } from './settings';

export type PersonAction = 'create' | 'update' | 'restore' | 'relink' | 'archive' | 'skip' | 'ambiguous' | 'keep' | 'pending';

/** Fields the SIS owns. A field the SIS leaves empty never erases what the store has. */
export const SIS_FIELDS = [
	'role',
	'given_name',
	'family_name',
	'middle_name',
	'preferred_name',
	'email',
	'username',
	'student_number',
	'sis_id',
	'sourced_id',
	'grade',
	'school_id',
	'school_ids',
	'phone',
] as const;

/** A student's primary parent contact: synced only with "Include primary parent contact". */
export const PARENT_FIELDS = ['parent_name', 'parent_email', 'parent_phone'] as const;

type ManagedField = (typeof SIS_FIELDS)[number] | (typeof PARENT_FIELDS)[number];
type ManagedValues = Partial<Record<ManagedField, string>>;

/** Why a record was not applied or a missing person was kept (run_changes.reason). */
export const REASONS = {
	autoUpdateOff: 'Auto update is off: the SIS changed this person, the store was not updated',
	relinked: "the SIS gave this person a new sourcedId; the store's link to the SIS follows it (Auto update off: nothing else changed)",
	manualNotIncluded: 'matches a manual user not included in sync',
	notIncluded: 'matches a user whose "Include user in SIS sync" is off',
	archivedAutoUpdateOff: 'archived in the store and back in the SIS; Auto update is off, so not restored',
	archiveOff: 'no longer in the SIS; Archive is off, so not archived',
	rowProblem: 'their row in the SIS export had a problem in this run; not archived',
	ambiguousCandidate: 'an SIS record that may be this person is ambiguous; not archived',
	archiveHeld: 'approved in part: archives stay held until the run is approved in full',
} as const;

/** Why a missing person is not archived yet: the grace period (action 'pending'). */
export function pendingReason(missingRuns: number, graceRuns: number): string {
	return `missing from ${missingRuns} of the ${graceRuns} consecutive runs after which they are archived`;
}

export interface ReconcileCounts {
	created: number;
	updated: number;
	unchanged: number;
	/** SIS records not applied: role off, Auto update off, excluded from sync, archived and not restored. */
	skipped: number;
	archived: number;
	restored: number;
	ambiguous: number;
	/** People no longer in the SIS, kept because Archive is off. */
	wouldArchive: number;
	/** People no longer in the SIS, kept because their row had a problem, a match was ambiguous, or a guard held archiving. */
	archiveBlocked: number;
	/** People no longer in the SIS, not archived yet: missing from fewer runs than the grace period. */
	pendingArchive: number;
	/** Archives planned but held: the run was approved in part (adds and updates only). */
	archiveHeld: number;
}

export interface ReconcileSummary extends ReconcileCounts {
	byRole: Record<PersonRole, ReconcileCounts>;
}

export interface ReconcileInput {
	runId: string;
	/** ISO timestamp written as created_at / updated_at / archived_at. */
	now: string;
	settings: ReconcileSettings;
	/** The run's canonical people. */
	snapshotPeople: CanonicalPerson[];
	/** The run's parent contacts by sourcedId (needed with includePrimaryParentContact). */
	contacts: Map<string, CanonicalContact>;
	/** The whole people table: its rows, or read person by person (Reconcile Users: packed outside the heap). */
	people: PersonRow[] | PeopleTable;
	/** sourcedIds of rows skipped with a problem in this run (stages staged and normalized). */
	problemSourcedIds: Set<string>;
	/** Users rows with a problem and no readable sourcedId: nobody can be archived safely. */
	unidentifiedUserProblems: number;
	/** Users rows skipped with a problem beyond the listed problems (Max Row Problems Listed): nobody can be archived safely. */
	unlistedUserRows?: number;
	/** Approve in part: plan archives as usual but apply none of them (they stay held). */
	holdArchives?: boolean;
	newId?: () => string;
}

export interface PeopleWrites {
	/** New people. */
	inserts: PersonRow[];
	/** Updated and restored people, whole rows. */
	rewrites: PersonRow[];
	archiveIds: string[];
	/**
	 * People the SIS lists again after missing runs (and not rewritten): missing_runs back to 0,
	 * last_seen_run_id this run. People seen every night are not written at all: a 100k-student
	 * night must not rewrite 100k rows; the run's snapshot says who was seen.
	 */
	foundAgainIds: string[];
	/** People the SIS did not list and who were kept: missing_runs + 1. */
	missingIds: string[];
}

export interface ReconcilePlan {
	/** Rows for run_changes (entity 'person'). */
	changes: RunChange[];
	writes: PeopleWrites;
	summary: ReconcileSummary;
	warnings: string[];
}

type MatchKey = 'sourcedId' | 'SIS id' | 'email';

/** A record's match: a stored person (`P`: a person's number in the table while planning), or the several it could be. */
type Match<P = number> =
	| { kind: 'matched'; person: P; by: MatchKey }
	| { kind: 'ambiguous'; candidates: P[]; by: MatchKey; reason: string };

export const ROLE_PLURALS: Record<PersonRole, string> = {
	student: 'students',
	teacher: 'teachers',
	staff: 'staff',
	admin: 'admins',
};

export function emptyCounts(): ReconcileCounts {
	return {
		created: 0,
		updated: 0,
		unchanged: 0,
		skipped: 0,
		archived: 0,
		restored: 0,
		ambiguous: 0,
		wouldArchive: 0,
		archiveBlocked: 0,
		pendingArchive: 0,
		archiveHeld: 0,
	};
}

/** "Given Family", leaving out an empty part (called for every person of a roster: no arrays). */
export function personName(givenName: string | null, familyName: string | null): string {
	const given = givenName && givenName.trim() !== '' ? givenName : '';
	const family = familyName && familyName.trim() !== '' ? familyName : '';
	return given && family ? `${given} ${family}` : given || family;
}

/** One person, or several when the key is shared (an ambiguous key): their numbers in the table. */
type Bucket = number | number[];

function addTo(index: Map<string, Bucket>, key: string | null, person: number): void {
	if (key === null || key === '') return;
	const found = index.get(key);
	if (found === undefined) index.set(key, person);
	else if (Array.isArray(found)) {
		if (!found.includes(person)) found.push(person);
	} else if (found !== person) index.set(key, [found, person]);
}

/**
 * The people table, indexed by each match key (a key → the numbers of the people under it). SIS ids
 * of students (student numbers) and of staff come from different numbering systems, so they are
 * indexed and matched apart.
 *
 * The sourcedId index holds every person and is built when first looked up. The SIS id and email
 * indexes are built for the records left after sourcedId (`indexFallbacks`), under their values only:
 * on a usual night a few hundred new people, not three maps of the whole table.
 */
class PeopleIndex {
	private bySourcedId: Map<string, Bucket> | undefined;
	private bySisId = { student: new Map<string, Bucket>(), staff: new Map<string, Bucket>() };
	private byEmail = new Map<string, Bucket>();

	constructor(private readonly people: PeopleTable) {}

	lookup(key: MatchKey, record: MatchFields): Bucket | undefined {
		if (key === 'sourcedId') return this.sourcedIdIndex().get(record.sourcedId);
		if (key === 'SIS id') return record.sisId ? this.bySisId[sisIdKind(record)].get(record.sisId) : undefined;
		const email = emailKey(record.email);
		return email ? this.byEmail.get(email) : undefined;
	}

	/**
	 * Indexes the people by SIS id and by email under the values `records` have for them (what `lookup`
	 * then finds for them), in one pass over the table: each row is unpacked once for both keys.
	 */
	indexFallbacks(records: readonly MatchFields[]): void {
		const wantedSisIds = { student: new Set<string>(), staff: new Set<string>() };
		const wantedEmails = new Set<string>();
		for (const record of records) {
			if (record.sisId) wantedSisIds[sisIdKind(record)].add(record.sisId);
			const email = emailKey(record.email);
			if (email) wantedEmails.add(email);
		}
		const { student, staff } = (this.bySisId = { student: new Map(), staff: new Map() });
		const byEmail = (this.byEmail = new Map());
		const add = (index: Map<string, Bucket>, wanted: Set<string>, value: string | null, number: number) => {
			if (value !== null && wanted.has(value)) addTo(index, value, number);
		};
		for (let number = 0; number < this.people.size; number++) {
			const person = this.people.row(number);
			// Per person: student number first, then SIS id (the order decides a bucket's order).
			add(student, wantedSisIds.student, person.student_number, number);
			if (person.role === 'student') add(student, wantedSisIds.student, person.sis_id, number);
			else add(staff, wantedSisIds.staff, person.sis_id, number);
			add(byEmail, wantedEmails, person.email_key ?? emailKey(person.email), number);
		}
	}

	private sourcedIdIndex(): Map<string, Bucket> {
		if (!this.bySourcedId) {
			const bySourcedId = new Map<string, Bucket>();
			for (let number = 0; number < this.people.size; number++) addTo(bySourcedId, this.people.sourcedIdOf(number), number);
			this.bySourcedId = bySourcedId;
		}
		return this.bySourcedId;
	}
}

/** Which SIS ids a record's is matched against: student numbers for a student, staff ids for anyone else. */
const sisIdKind = (record: Pick<MatchFields, 'role'>) => (record.role === 'student' ? 'student' : 'staff');

/** The keys a record not found by sourcedId is matched by, in this order. */
const FALLBACK_KEYS = ['SIS id', 'email'] as const;

/** What matching by SIS id and email needs of a record not matched by sourcedId (the record itself is not kept). */
type MatchFields = Pick<CanonicalPerson, 'sourcedId' | 'role' | 'sisId' | 'email'>;

/**
 * Matches SIS records to stored people, a stored person at most once, fed the records in batches
 * (`bySourcedId`, in the order they are planned) and then finished (`finish`): every record is
 * matched by sourcedId first, and only after all of them the rest by SIS id, then by email, so an
 * exact sourcedId match always wins over a fallback. Only records left for the fallbacks are kept
 * (as their match fields): a roster streams through in batches. Stored people are known by their
 * number in the table; a row is read only to describe a person in a reason.
 */
class PeopleMatcher {
	private readonly index: PeopleIndex;
	/** Lines up with the records (undefined: no match, a new person). */
	readonly matches: Array<Match | undefined> = [];
	/** Per stored person: 1 once an SIS record matched them. */
	private readonly matched: Uint8Array;
	/** The sourcedId of the SIS record that matched a person by a fallback key (by sourcedId it is the person's own). */
	private readonly matchedByFallback = new Map<number, string>();
	private pending: Array<{ ordinal: number; record: MatchFields }> = [];
	/** An empty store (a first night) matches nobody by any key: no record is kept for the fallbacks. */
	private readonly storeIsEmpty: boolean;

	constructor(private readonly people: PeopleTable) {
		this.index = new PeopleIndex(people);
		this.matched = new Uint8Array(people.size);
		this.storeIsEmpty = people.size === 0;
	}

	bySourcedId(records: readonly CanonicalPerson[]): void {
		for (const record of records) {
			const ordinal = this.matches.length;
			this.matches.push(undefined);
			if (!this.storeIsEmpty && !this.tryKey('sourcedId', ordinal, record)) {
				const { sourcedId, role, sisId, email } = record;
				this.pending.push({ ordinal, record: { sourcedId, role, sisId, email } });
			}
		}
	}

	finish(): void {
		if (this.pending.length > 0) this.index.indexFallbacks(this.pending.map(({ record }) => record));
		for (const key of FALLBACK_KEYS) this.pending = this.pending.filter(({ ordinal, record }) => !this.tryKey(key, ordinal, record));
		this.pending = [];
	}

	/** Marks a stored person as matched by an SIS record that is not planned here (by sourcedId: see ReconcilePlanner.countUnchanged). */
	markMatched(person: number): void {
		this.matched[person] = 1;
	}

	/** Whether an SIS record matched the stored person. */
	isMatched(person: number): boolean {
		return this.matched[person] === 1;
	}

	/** Whether `key` found anybody for the record (matched, or ambiguous). */
	private tryKey(key: MatchKey, ordinal: number, record: MatchFields): boolean {
		const found = this.index.lookup(key, record);
		if (found === undefined) return false;
		if (Array.isArray(found)) {
			this.matches[ordinal] = {
				kind: 'ambiguous',
				candidates: found,
				by: key,
				reason: `${found.length} people in the store match by ${key}: ${found.map((person) => describeStored(this.people.row(person))).join('; ')}`,
			};
		} else if (this.isMatched(found)) {
			const matchedBy = this.matchedByFallback.get(found) ?? this.people.sourcedIdOf(found);
			this.matches[ordinal] = {
				kind: 'ambiguous',
				candidates: [found],
				by: key,
				reason: `matches ${describeStored(this.people.row(found))} by ${key}, who already matches SIS record ${matchedBy}`,
			};
		} else {
			this.matched[found] = 1;
			if (key !== 'sourcedId') this.matchedByFallback.set(found, record.sourcedId);
			this.matches[ordinal] = { kind: 'matched', person: found, by: key };
		}
		return true;
	}
}

/** Matches every SIS record to at most one stored person (a stored person is matched at most once): the matches, lined up with the records. */
export function matchPeople(records: CanonicalPerson[], people: PersonRow[]): { matches: Array<Match<PersonRow> | undefined> } {
	const matcher = new PeopleMatcher(tableOf(people));
	matcher.bySourcedId(records);
	matcher.finish();
	return {
		matches: matcher.matches.map((match) =>
			match?.kind === 'matched'
				? { ...match, person: people[match.person] }
				: match && { ...match, candidates: match.candidates.map((person) => people[person]) },
		),
	};
}

/** Rows given as an array, read person by person. */
function tableOf(people: PersonRow[] | PeopleTable): PeopleTable {
	return Array.isArray(people) ? { size: people.length, row: (person) => people[person], sourcedIdOf: (person) => people[person].sourced_id } : people;
}

function describeStored(person: PersonRow): string {
	const name = personName(person.given_name, person.family_name) || person.id;
	const tags = [person.source === 'manual' ? 'manual' : 'sis', person.role, person.archived_at ? 'archived' : null];
	return `${name} (${tags.filter(Boolean).join(', ')})`;
}

/** What a student's primary contact gives the store (parent_name, parent_email, parent_phone): three values, not the whole record. */
export interface ParentContact {
	name: string;
	email: string | null;
	phone: string | null;
}

export function parentContact(contact: CanonicalContact): ParentContact {
	return { name: personName(contact.givenName, contact.familyName), email: contact.email, phone: contact.phone ?? contact.sms };
}

/**
 * Hands each value the SIS gives for a person to `visit`, as store columns in SIS_FIELDS order
 * (empty values left out), until `visit` returns true; returns whether it did.
 */
function someSisValue(
	record: CanonicalPerson,
	contact: ParentContact | undefined,
	includeParentContact: boolean,
	visit: (field: ManagedField, value: string) => boolean,
): boolean {
	const given = (field: ManagedField, value: string | null | undefined) => !!value && value.trim() !== '' && visit(field, value);
	return (
		given('role', record.role) ||
		given('given_name', record.givenName) ||
		given('family_name', record.familyName) ||
		given('middle_name', record.middleName) ||
		given('preferred_name', record.preferredGivenName) ||
		given('email', record.email) ||
		given('username', record.username) ||
		given('student_number', record.role === 'student' ? record.sisId : null) ||
		given('sis_id', record.sisId) ||
		given('sourced_id', record.sourcedId) ||
		given('grade', record.grade) ||
		given('school_id', record.primarySchoolId) ||
		(record.schoolIds.length > 0 && given('school_ids', toJson(record.schoolIds))) ||
		given('phone', record.phone) ||
		(includeParentContact &&
			record.role === 'student' &&
			contact !== undefined &&
			(given('parent_name', contact.name) || given('parent_email', contact.email) || given('parent_phone', contact.phone)))
	);
}

/** What the SIS says about a person, as store columns (empty values left out). */
export function sisValues(
	record: CanonicalPerson,
	contact: ParentContact | undefined,
	includeParentContact: boolean,
): ManagedValues {
	const values: ManagedValues = {};
	someSisValue(record, contact, includeParentContact, (field, value) => {
		values[field] = value;
		return false;
	});
	return values;
}

/** Whether the SIS gives a value that differs from the stored one (without building the values: most people are unchanged). */
function hasChanges(
	person: PersonRow,
	record: CanonicalPerson,
	contact: ParentContact | undefined,
	includeParentContact: boolean,
): boolean {
	return someSisValue(record, contact, includeParentContact, (field, value) => person[field] !== value);
}

/** The fields whose SIS value differs from the stored one. */
function changedFields(person: PersonRow, values: ManagedValues): ManagedField[] {
	return (Object.keys(values) as ManagedField[]).filter((field) => person[field] !== values[field]);
}

function pick(source: ManagedValues | PersonRow, fields: readonly string[]): Record<string, SqlValue> {
	const values = source as Record<string, SqlValue | undefined>;
	const picked: Record<string, SqlValue> = {};
	for (const field of fields) picked[field] = values[field] ?? null;
	return picked;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

/** Records in sourcedId order (UTF-16 code units, the snapshot's order). */
export const bySourcedId = (a: CanonicalPerson, b: CanonicalPerson) => (a.sourcedId < b.sourcedId ? -1 : a.sourcedId > b.sourcedId ? 1 : 0);

/** The records in sourcedId order (the order of the plan's changes); as given when they already are (a snapshot is read in that order). */
function inSourcedIdOrder(records: CanonicalPerson[]): CanonicalPerson[] {
	for (let i = 1; i < records.length; i++) {
		if (bySourcedId(records[i - 1], records[i]) > 0) return [...records].sort(bySourcedId);
	}
	return records;
}

/** The whole roster at once: the planner fed one batch (tests, and small rosters). */
export function planReconcile(input: ReconcileInput): ReconcilePlan {
	const records = inSourcedIdOrder(input.snapshotPeople);
	const contacts = new Map<string, ParentContact>();
	if (input.settings.includePrimaryParentContact) for (const [id, contact] of input.contacts) contacts.set(id, parentContact(contact));
	const planner = new ReconcilePlanner({ ...input, contacts });
	if (!planner.match(records)) throw new Error('planReconcile: the records are not in sourcedId order');
	planner.finishMatching();
	planner.plan(records);
	planner.planMissing();
	return { ...planner.take(), summary: planner.summary, warnings: planner.warnings };
}

export interface PlannerInput extends Omit<ReconcileInput, 'snapshotPeople' | 'contacts'> {
	/** Parent contacts by sourcedId (only with includePrimaryParentContact). */
	contacts: Map<string, ParentContact>;
}

/**
 * The plan of a roster that streams through in batches, in sourcedId order, twice: `match` every
 * batch (the matching needs the whole roster before a record can be planned), `finishMatching`,
 * then `plan` the same batches in the same order, then `planMissing` (people the SIS no longer
 * lists). After each step the changes and writes planned so far can be taken (`take`), so a caller
 * writes them as it goes instead of holding a night's ~100k creates. `summary` and `warnings`
 * are complete after `planMissing`.
 */
export class ReconcilePlanner {
	readonly summary: ReconcileSummary = {
		...emptyCounts(),
		byRole: Object.fromEntries(PERSON_ROLES.map((role) => [role, emptyCounts()])) as Record<PersonRole, ReconcileCounts>,
	};
	readonly warnings: string[] = [];
	private changes: RunChange[] = [];
	private writes: PeopleWrites = emptyWrites();
	private readonly people: PeopleTable;
	private readonly matcher: PeopleMatcher;
	/** Records planned so far: the ordinal of the next record in its match. */
	private planned = 0;
	private lastMatched: string | null = null;
	private readonly rosterCount = new Map<string, number>();
	/** Stored people an ambiguous record may be (their numbers): not archived. */
	private readonly protectedPeople = new Set<number>();
	private lastCreateFields: string[] = [];
	/** A person the plan does not name in a change, besides the unchanged (see `isBasisForNextPlan`). */
	private unnamed = false;
	private readonly roles: Set<PersonRole>;
	private readonly newId: () => string;

	constructor(private readonly input: PlannerInput) {
		this.people = tableOf(input.people);
		this.matcher = new PeopleMatcher(this.people);
		this.roles = rosteredRoles(input.settings);
		this.newId = input.newId ?? newRecordId;
	}

	/**
	 * Whether a plan of the next run may start from this one (Reconcile Users' plan from changes,
	 * reconcile/apply.ts): every SIS record and stored person it leaves out of its changes is either
	 * unchanged (the person's SIS values are the record's, linked by sourcedId) or a record of a role
	 * not synced matched by sourcedId. Not so when people the SIS no longer lists were kept without a
	 * change (archiving skipped for the whole run), or a record of a role not synced matched somebody
	 * by SIS id or email.
	 */
	get isBasisForNextPlan(): boolean {
		return !this.unnamed;
	}

	/**
	 * Counts SIS records that are not planned because nothing about them changed since the run the
	 * store is as it left it (each unchanged; its stored person is marked matched by `markMatched`).
	 */
	countUnchanged(role: PersonRole, records: number): void {
		this.rosterCount.set(role, (this.rosterCount.get(role) ?? 0) + records);
		this.summary.unchanged += records;
		this.summary.byRole[role].unchanged += records;
	}

	/** Marks the stored people `isMatched` accepts as matched by SIS records that are not planned (counted by `countUnchanged`). */
	markMatched(isMatched: (sourcedId: string) => boolean): void {
		for (let person = 0; person < this.people.size; person++) {
			const sourcedId = this.people.sourcedIdOf(person);
			if (sourcedId !== null && isMatched(sourcedId)) this.matcher.markMatched(person);
		}
	}

	/** Matches a batch by sourcedId; false (nothing matched) when it is not after the last batch in sourcedId order. */
	match(records: readonly CanonicalPerson[]): boolean {
		let last = this.lastMatched;
		for (const record of records) {
			if (last !== null && record.sourcedId < last) return false;
			last = record.sourcedId;
		}
		this.lastMatched = last;
		this.matcher.bySourcedId(records);
		return true;
	}

	finishMatching(): void {
		this.matcher.finish();
	}

	/** The changes and writes planned since the last `take`. */
	take(): { changes: RunChange[]; writes: PeopleWrites } {
		const taken = { changes: this.changes, writes: this.writes };
		this.changes = [];
		this.writes = emptyWrites();
		return taken;
	}

	private count(role: string, key: keyof ReconcileCounts): void {
		this.summary[key]++;
		const perRole = this.summary.byRole[role as PersonRole];
		if (perRole) perRole[key]++;
	}

	private foundAgain(person: PersonRow): void {
		if (person.missing_runs > 0) this.writes.foundAgainIds.push(person.id);
	}

	// Every change with the same object shape (a first night records one per person).
	private change(c: Omit<RunChange, 'entity' | 'applied'> & { applied?: boolean }): void {
		this.changes.push({
			entity: 'person',
			entityId: c.entityId,
			action: c.action,
			role: c.role,
			label: c.label,
			sourcedId: c.sourcedId,
			reason: c.reason,
			fields: c.fields,
			before: c.before,
			after: c.after,
			applied: c.applied ?? false,
		});
	}

	/** Plans the next batch (the batches `match` was given, in the same order). */
	plan(records: readonly CanonicalPerson[]): void {
		const { settings, now, runId } = this.input;
		const dryRun = settings.dryRun;
		const { matches } = this.matcher;
		const writes = this.writes;

		for (const record of records) {
			// Undefined past the records matched: none are on an empty store, which matches nobody (reconcile/apply.ts).
			const match = matches[this.planned++];
			// The stored person's row, read for this record only.
			const matched = match?.kind === 'matched' ? this.people.row(match.person) : undefined;
			this.rosterCount.set(record.role, (this.rosterCount.get(record.role) ?? 0) + 1);
			if (!this.roles.has(record.role)) {
				if (match !== undefined && match.by !== 'sourcedId') this.unnamed = true;
				if (matched && matched.include_in_sis_sync === 1) this.foundAgain(matched);
				this.count(record.role, 'skipped');
				continue;
			}
			const contact = settings.includePrimaryParentContact ? this.input.contacts.get(record.primaryContactId ?? '') : undefined;
			if (matched && matched.include_in_sis_sync === 1 && matched.archived_at === null && !hasChanges(matched, record, contact, settings.includePrimaryParentContact)) {
				this.foundAgain(matched);
				this.count(record.role, 'unchanged');
				continue;
			}
			const values = sisValues(record, contact, settings.includePrimaryParentContact);
			const label = personName(record.givenName, record.familyName);

			if (match === undefined) {
				const id = this.newId();
				const fields = Object.keys(values);
				// People the SIS gives the same fields share one list (a first night creates ~100k people).
				const sharedFields = sameStrings(fields, this.lastCreateFields) ? this.lastCreateFields : (this.lastCreateFields = fields);
				const row = emptyRow(id, now);
				for (const field in values) (row as unknown as Record<string, string>)[field] = values[field as ManagedField]!;
				row.email_key = emailKey(values.email);
				row.last_seen_run_id = runId;
				writes.inserts.push(row);
				// `values` holds only the fields the SIS gives (no empty ones): they are the new person's values.
				this.change({ entityId: id, role: record.role, label, sourcedId: record.sourcedId, action: 'create', reason: null, fields: sharedFields, before: null, after: values, applied: !dryRun });
				this.count(record.role, 'created');
				continue;
			}
			const base = { role: record.role, label, sourcedId: record.sourcedId };
			if (match.kind === 'ambiguous') {
				for (const candidate of match.candidates) this.protectedPeople.add(candidate);
				this.change({ ...base, entityId: '', action: 'ambiguous', reason: match.reason, fields: null, before: null, after: { ...values } });
				this.count(record.role, 'ambiguous');
				continue;
			}

			const person = matched!;
			const fields = changedFields(person, values);
			const diff = { fields: fields as string[], before: pick(person, fields), after: pick(values, fields) };
			const stored = { ...base, entityId: person.id };
			if (person.include_in_sis_sync !== 1) {
				const reason = person.source === 'manual' ? REASONS.manualNotIncluded : REASONS.notIncluded;
				this.change({ ...stored, action: 'skip', reason, ...diff });
				this.count(record.role, 'skipped');
				continue;
			}
			if (person.archived_at !== null) {
				if (!settings.autoUpdate) {
					this.change({ ...stored, action: 'skip', reason: REASONS.archivedAutoUpdateOff, ...diff });
					this.foundAgain(person);
					this.count(record.role, 'skipped');
					continue;
				}
				writes.rewrites.push(rewrite(person, values, now, runId, { archived_at: null }));
				this.change({
					...stored,
					action: 'restore',
					reason: null,
					fields: ['archived_at', ...diff.fields],
					before: { archived_at: person.archived_at, ...diff.before },
					after: { archived_at: null, ...diff.after },
					applied: !dryRun,
				});
				this.count(record.role, 'restored');
				continue;
			}
			if (!settings.autoUpdate) {
				if (person.sourced_id !== record.sourcedId) {
					// The SIS id changed (matched by SIS id or email): the link to the SIS follows it even with
					// Auto update off, so the person keeps their lists; nothing an operator sees is updated.
					writes.rewrites.push(rewrite(person, {}, now, runId, { sourced_id: record.sourcedId }));
					this.change({
						...stored,
						action: 'relink',
						reason: REASONS.relinked,
						fields: ['sourced_id'],
						before: { sourced_id: person.sourced_id },
						after: { sourced_id: record.sourcedId },
						applied: !dryRun,
					});
				}
				const others = diff.fields.filter((field) => field !== 'sourced_id');
				if (others.length > 0) {
					this.change({ ...stored, action: 'skip', reason: REASONS.autoUpdateOff, fields: others, before: pick(person, others), after: pick(values, others) });
				}
				if (person.sourced_id === record.sourcedId) this.foundAgain(person);
				this.count(record.role, others.length > 0 ? 'skipped' : 'unchanged');
				continue;
			}
			writes.rewrites.push(rewrite(person, values, now, runId, {}));
			this.change({ ...stored, action: 'update', reason: null, ...diff, applied: !dryRun });
			this.count(record.role, 'updated');
		}
	}

	/** Plans the people the SIS no longer lists (after every batch was planned). */
	planMissing(): void {
		const { settings, now } = this.input;
		const dryRun = settings.dryRun;
		const roles = this.roles;
		const writes = this.writes;
		// Rows are read only of the people nobody matched (on a usual night, the few who left).
		const missing: Array<{ person: PersonRow; number: number }> = [];
		for (let number = 0; number < this.people.size; number++) {
			if (this.matcher.isMatched(number)) continue;
			const person = this.people.row(number);
			if (person.archived_at === null && person.include_in_sis_sync === 1 && roles.has(person.role as PersonRole)) missing.push({ person, number });
		}
		missing.sort((a, b) => (a.person.id < b.person.id ? -1 : a.person.id > b.person.id ? 1 : 0));
		const heldRoles = new Set<string>();
		for (const role of roles) {
			if ((this.rosterCount.get(role) ?? 0) === 0 && missing.some(({ person }) => person.role === role)) {
				heldRoles.add(role);
				this.warnings.push(`no ${ROLE_PLURALS[role]} in the roster; archiving skipped`);
			}
		}
		const unidentified = this.input.unidentifiedUserProblems;
		const unlisted = this.input.unlistedUserRows ?? 0;
		if (unidentified > 0 && missing.length > 0) {
			this.warnings.push(`${unidentified} users ${unidentified === 1 ? 'row' : 'rows'} could not be read (no sourcedId); archiving skipped`);
		}
		if (unlisted > 0 && missing.length > 0) {
			this.warnings.push(
				`${unlisted} skipped users ${unlisted === 1 ? 'row is' : 'rows are'} beyond the listed problems (Max Row Problems Listed), so who they are is not known; archiving skipped`,
			);
		}
		for (const { person, number } of missing) {
			const base = { entityId: person.id, role: person.role, label: personName(person.given_name, person.family_name), sourcedId: person.sourced_id, fields: null };
			if (heldRoles.has(person.role) || unidentified > 0 || unlisted > 0) {
				this.unnamed = true;
				this.count(person.role, 'archiveBlocked');
				continue;
			}
			const reason = this.protectedPeople.has(number)
				? REASONS.ambiguousCandidate
				: person.sourced_id !== null && this.input.problemSourcedIds.has(person.sourced_id)
					? REASONS.rowProblem
					: null;
			if (reason) {
				this.change({ ...base, action: 'keep', reason, before: null, after: null });
				this.count(person.role, 'archiveBlocked');
				continue;
			}
			if (!settings.archive) {
				this.change({ ...base, action: 'keep', reason: REASONS.archiveOff, before: null, after: null });
				writes.missingIds.push(person.id);
				this.count(person.role, 'wouldArchive');
				continue;
			}
			const missingRuns = person.missing_runs + 1;
			if (missingRuns < settings.graceRuns) {
				this.change({ ...base, action: 'pending', reason: pendingReason(missingRuns, settings.graceRuns), before: null, after: { missing_runs: missingRuns } });
				writes.missingIds.push(person.id);
				this.count(person.role, 'pendingArchive');
				continue;
			}
			const archive = { ...base, action: 'archive', fields: ['archived_at'], before: { archived_at: null }, after: { archived_at: now } };
			if (this.input.holdArchives) {
				this.change({ ...archive, reason: REASONS.archiveHeld, applied: false });
				this.count(person.role, 'archiveHeld');
				continue;
			}
			writes.archiveIds.push(person.id);
			this.change({ ...archive, reason: null, applied: !dryRun });
			this.count(person.role, 'archived');
		}
	}
}

function emptyWrites(): PeopleWrites {
	return { inserts: [], rewrites: [], archiveIds: [], foundAgainIds: [], missingIds: [] };
}

function emptyRow(id: string, now: string): PersonRow {
	return {
		id,
		role: '',
		given_name: '',
		family_name: '',
		middle_name: null,
		preferred_name: null,
		email: null,
		email_key: null,
		username: null,
		student_number: null,
		sis_id: null,
		sourced_id: null,
		grade: null,
		school_id: null,
		school_ids: null,
		phone: null,
		parent_name: null,
		parent_email: null,
		parent_phone: null,
		include_in_sis_sync: 1,
		source: 'sis',
		archived_at: null,
		missing_runs: 0,
		last_seen_run_id: null,
		created_at: now,
		updated_at: now,
	};
}

function rewrite(person: PersonRow, values: ManagedValues, now: string, runId: string, extra: Partial<PersonRow>): PersonRow {
	const after: PersonRow = { ...person, ...values, ...extra, updated_at: now, missing_runs: 0, last_seen_run_id: runId };
	after.email_key = emailKey(after.email);
	return after;
}
