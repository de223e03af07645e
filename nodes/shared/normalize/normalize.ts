/**
 * Normalize: the staged raw rows of a run → the run's canonical snapshot.
 *
 * Maps OneRoster 1.1 and 1.2 vocabularies to Minga's model (people by role, parent contacts,
 * schools, terms, courses, classes, enrollments), applies School ID scoping, merges delta files
 * onto the last good snapshot, and checks references between files.
 */
import { createHash } from 'node:crypto';

import type { RecordProblem } from '../model/errors';
import type { ProgressCallback } from '../model/progress';
import { reportProgress } from '../model/progress';
import { RosterInputError } from '../model/errors';
import type {
	CanonicalClass,
	CanonicalContact,
	CanonicalCourse,
	CanonicalEnrollment,
	CanonicalOrg,
	CanonicalPerson,
	CanonicalTerm,
	ContactRelationship,
	PersonRole,
	StagedEntity,
	StagedFile,
	StagedRow,
} from '../model/roster';
import { ONEROSTER_ROLE_MAP, PERSON_ROLES } from '../model/roster';
import type { RunRecord } from '../store/runs';
import { addProblems, completeStage, lastGoodRun, listProblems, requireStage } from '../store/runs';
import {
	CLASS_TABLE,
	CONTACT_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	ORG_TABLE,
	PERSON_TABLE,
	SNAPSHOT_TABLES,
	SOURCED_ID_AT,
	TERM_TABLE,
	SnapshotChunkWriter,
	copySnapshotRecordsWhere,
	enrollmentSummaryOf,
	personSummaryOf,
	countSnapshotRecords,
	packRecord,
	unpackRecord,
	withPrimaryContact,
	tallyKeys,
	readSnapshotBatches,
	shareSnapshot,
	findSnapshotByFingerprint,
	readSnapshotHeader,
	readSnapshotRecords,
	readSnapshotRecordsById,
	readSnapshotValueBatches,
	writeSnapshotChanges,
	writeSnapshotHeader,
	writeSnapshotRecords,
} from '../store/snapshot';
import type { SqlDb, SqlValue } from '../store/sql';
import { OffHeapStrings, doubled } from '../store/off-heap-strings';
import type { StagedLayout, StagedRowText } from '../store/staging';
import {
	cellAt,
	cellsOf,
	readOwnStagedRows,
	readRowsAgainstEarlier,
	readStagedContentHashes,
	readStagedFiles,
	readStagedRows,
	readStagedRowsAt,
	readStagedRowTexts,
	stagedLayout,
	stagedRowOf,
} from '../store/staging';
import { readUserLinks, writeUserLinks } from '../store/user-links';
import { DEFAULT_KEEP_SNAPSHOTS_DAYS, pruneSnapshots } from '../store/retention';
import type { DriftReport, DriftSettings } from './drift';
import { checkDrift } from './drift';
import type { EarlierMatch } from './earlier-rows';
import { EarlierRows, EarlierRowsApart } from './earlier-rows';
import { UserLinks, UserLinksBuilder } from './user-links';

/**
 * The role and snapshot tallies (PERSON_TABLE.tally) of each person held in an OffHeapStrings, by the
 * number it holds the person's packed row by: each distinct kind kept once (a district's 100,000s of
 * people are of a few hundred kinds: role × primary school × email or not), and each person's kind in a
 * typed array, not in a Map by sourcedId (one entry per person live on the V8 heap until the people are
 * written: ~4 MB at 100,000 students, which V8 lets the heap grow to several times before collecting).
 */
class PersonKinds {
	private readonly kinds: Array<{ role: PersonRole; tallies: string[] }> = [];
	private readonly byKey = new Map<string, number>();
	private kindOf = new Int32Array(1024);

	/** Remembers the kind of `person`, held as `handle`. */
	remember(handle: number, person: CanonicalPerson): void {
		const tallies = tallyKeys(PERSON_TABLE, person);
		const key = `${person.role}\u0000${tallies.join('\u0000')}`;
		let kind = this.byKey.get(key);
		if (kind === undefined) {
			kind = this.kinds.push({ role: person.role, tallies }) - 1;
			this.byKey.set(key, kind);
		}
		while (handle >= this.kindOf.length) this.kindOf = doubled(this.kindOf, Int32Array);
		this.kindOf[handle] = kind;
	}

	/** The kind of the person held as `handle`. */
	of(handle: number): { role: PersonRole; tallies: string[] } {
		return this.kinds[this.kindOf[handle]];
	}
}

export interface NormalizeOptions {
	/** School ID scoping: sourcedIds or identifiers of the schools to keep. Empty = every school. */
	schoolIds?: string[];
	/** The pre-flight drift check against the last good run (drift.ts); all checks by default. */
	drift?: Partial<DriftSettings>;
	/** Snapshots older than this many days are deleted (0 = keep all); see store/retention.ts. */
	keepSnapshotsDays?: number;
	/** Hears about the staged rows read, per file (stage 'normalize', unit 'rows'). */
	onProgress?: ProgressCallback;
}

export interface NormalizeCounts {
	schools: number;
	orgs: number;
	terms: number;
	courses: number;
	classes: number;
	people: Record<PersonRole, number>;
	contacts: number;
	studentsWithPrimaryContact: number;
	enrollments: number;
	skippedRows: number;
	outOfScope: { people: number; classes: number; enrollments: number };
	/** Entities merged from delta files onto the previous snapshot. */
	deltaFrom?: string;
	/** The export was exactly the one this earlier run normalized: its snapshot is this run's too (shared). */
	snapshotCopiedFrom?: string;
}

export interface NormalizeResult {
	run: RunRecord;
	counts: NormalizeCounts;
	warnings: string[];
	problemCount: number;
	/** The drift check's result; findings mean the run was stopped (run.status 'stopped'). */
	drift: DriftReport;
	/** The run whose user links the users rows both nights' files share were carried from (user-links.ts), not read. */
	usersCarriedFrom?: string;
}

/**
 * Column positions of one staged file. Each file's positions are looked up once (`at`) and every
 * row is then read by position (`cell`): no name lookup per cell of a million rows.
 */
class Columns {
	private readonly index = new Map<string, number>();
	/** The file's status column: delta rows marked for deletion (see isDeletion). */
	readonly status: number;
	constructor(readonly file: StagedFile) {
		file.columns.forEach((name, i) => {
			if (!this.index.has(name)) this.index.set(name, i);
		});
		this.status = this.at('status');
	}
	has(name: string): boolean {
		return this.index.has(name);
	}
	/** The position of `name` (or of `alternative` when the file has no `name` column); -1 when absent. */
	at(name: string, alternative?: string): number {
		return this.index.get(name) ?? (alternative === undefined ? undefined : this.index.get(alternative)) ?? -1;
	}
}

/** The cell at position `at` (Columns.at), trimmed; '' when the file has no such column or the row no such cell. */
const cell = (cells: string[], at: number): string => {
	const value = at < 0 ? undefined : cells[at];
	return value === undefined ? '' : value.trim();
};

/** cell() of a row read as text (StagedRowText), without splitting its other cells. */
const textCell = (row: StagedRowText, at: number): string => {
	const value = at < 0 ? undefined : cellAt(row, at);
	return value === undefined ? '' : value.trim();
};

/** Whether a mapped role (ONEROSTER_ROLE_MAP's) is a person's (student or staff), not a contact's. */
const isPersonRole = (role: string): role is PersonRole => (PERSON_ROLES as readonly string[]).includes(role);

/** The role a person with this SIS role has (student or staff); undefined for a contact's or an unknown role. */
const personRoleOf = (sisRole: string): PersonRole | undefined => {
	const role = ONEROSTER_ROLE_MAP[sisRole];
	return role !== undefined && isPersonRole(role) ? role : undefined;
};

const orNull = (value: string): string | null => (value === '' ? null : value);
/**
 * The items of a comma-separated cell, trimmed, without empty ones. split and map make arrays of
 * their exact length; an array grown by push reserves 17 slots (the three lists of 23k classes
 * took 11 MB of heap at 100k students, held all through Normalize).
 */
const splitList = (value: string): string[] => {
	if (value === '') return [];
	const parts = value.split(',').map((part) => part.trim());
	return parts.includes('') ? parts.filter((part) => part !== '') : parts;
};
const isTrue = (value: string): boolean => value.toLowerCase() === 'true';

/**
 * A copy of `text` that shares nothing with the staged chunk it was cut from: V8 keeps a cut (sliced)
 * string's whole parent alive, so one kept cell would keep its chunk's text (~0.8 MB of users.csv).
 * V8 copies cuts shorter than 13 characters anyway (SlicedString::kMinLength): those are kept as they
 * are. A district with GUID sourcedIds kept all of users.csv's staged text alive as the keys of the
 * maps below: Normalize's heap 171 → 293 MiB at 100,000 students.
 */
const detached = (text: string): string => (text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string));

/** A delta row marked for deletion (OneRoster: status tobedeleted; 1.1 also inactive). */
const isDeletion = (columns: Columns, cells: string[]): boolean => {
	if (columns.file.mode !== 'delta') return false;
	const status = cell(cells, columns.status);
	return status === 'tobedeleted' || status === 'inactive';
};

interface StagedInput {
	files: Map<StagedEntity, Columns>;
	db: SqlDb;
	runId: string;
	onProgress?: ProgressCallback;
}

/** The staged rows of one entity in batches (a batch at a time: no async step per row). */
function stagedBatches(input: StagedInput, entity: StagedEntity): AsyncGenerator<[Columns, StagedRow[]]> {
	return stagedBatchesFrom(input, entity, readStagedRows);
}

/** stagedBatches, the rows read by `read` (e.g. with their text). */
async function* stagedBatchesFrom<R>(
	input: StagedInput,
	entity: StagedEntity,
	read: (db: SqlDb, runId: string, entity: StagedEntity) => AsyncGenerator<R[]>,
): AsyncGenerator<[Columns, R[]]> {
	const columns = input.files.get(entity);
	if (!columns) return;
	let done = 0;
	for await (const batch of read(input.db, input.runId, entity)) {
		yield [columns, batch];
		done += batch.length;
		reportProgress(input.onProgress, { stage: 'normalize', done, unit: 'rows', file: columns.file.fileName });
	}
	reportProgress(input.onProgress, { stage: 'normalize', done, unit: 'rows', file: columns.file.fileName, finished: true });
}

/**
 * Applies one entity's staged rows onto `records`: bulk replaces, delta upserts and deletes.
 * `records` starts as the previous snapshot's rows for a delta file, empty for bulk.
 * `reader` is given the file's columns once and returns what makes a record of one row.
 */
async function applyRows<T>(
	input: StagedInput,
	entity: StagedEntity,
	records: Map<string, T>,
	reader: (columns: Columns) => (row: StagedRow) => T | undefined,
): Promise<void> {
	const columns = input.files.get(entity);
	if (!columns) return;
	const toRecord = reader(columns);
	for await (const [, batch] of stagedBatches(input, entity)) for (const row of batch) {
		if (isDeletion(columns, row.cells)) {
			records.delete(row.sourcedId);
			continue;
		}
		const record = toRecord(row);
		// The key outlives the record: the classes' ids are kept for the enrollments.
		if (record !== undefined) records.set(detached(row.sourcedId), record);
	}
}

async function previousRecords<T>(
	db: SqlDb,
	previousRunId: string | undefined,
	file: Columns | undefined,
	spec: Parameters<typeof readSnapshotRecords<T>>[2],
	key: (record: T) => string,
): Promise<Map<string, T>> {
	const records = new Map<string, T>();
	if (!file || file.file.mode !== 'delta' || !previousRunId) return records;
	for await (const batch of readSnapshotBatches(db, previousRunId, spec)) {
		for (const record of batch) records.set(key(record), record);
	}
	return records;
}

/** Which schools to keep: all schools, or those named (by sourcedId or identifier). */
function scopeSchools(orgs: Map<string, CanonicalOrg>, requested: string[]): Set<string> {
	const schools = [...orgs.values()].filter((org) => org.type === 'school');
	if (requested.length === 0) return new Set(schools.map((school) => school.sourcedId));
	const scoped = new Set<string>();
	for (const id of requested) {
		const match = schools.find((school) => school.sourcedId === id || school.identifier === id);
		if (!match) {
			const known = schools.map((s) => `${s.sourcedId}${s.identifier ? ` (${s.identifier})` : ''} ${s.name}`).join('; ');
			throw new RosterInputError(
				`School ID "${id}" is not a school in this roster (schools: ${known || 'none'})`,
				{ file: 'orgs.csv', field: 'sourcedId' },
				'Fix the School ID setting on the Normalize node, or check that the SIS shares this school.',
			);
		}
		scoped.add(match.sourcedId);
	}
	return scoped;
}

export async function normalizeRun(store: SqlDb, runId: string, options: NormalizeOptions = {}): Promise<NormalizeResult> {
	await requireStage(store, runId, 'staged', 'Normalize');
	const { counts, warnings, problemCount, usersCarriedFrom } = await store.transaction((tx) => buildSnapshot(tx, runId, options));
	await completeStage(store, runId, 'normalized', counts as unknown as Record<string, unknown>, warnings);
	const { run, drift } = await checkDrift(store, runId, options.drift);
	await pruneSnapshots(store, options.keepSnapshotsDays ?? DEFAULT_KEEP_SNAPSHOTS_DAYS);
	return { run, counts, warnings, problemCount, drift, ...(usersCarriedFrom ? { usersCarriedFrom } : {}) };
}

/**
 * Writes the canonical snapshot of `runId` from its staged rows (inside the caller's transaction).
 *
 * Its loops over rows or records run in functions of their own (readUsers, matchUsers, matchEnrollments, …), not
 * in its body: V8 optimizes this long async function piece by piece, each next part it reaches without type
 * feedback undoing the last optimization (a bulk day two deoptimized it ~8 times), and a loop in its body ran
 * unoptimized meanwhile (~300-450 ms a night at 100,000 students, a fifth of Normalize's time, in its own samples).
 */
async function buildSnapshot(
	db: SqlDb,
	runId: string,
	options: NormalizeOptions,
): Promise<Omit<NormalizeResult, 'run' | 'drift'>> {
	if (await readSnapshotHeader(db, runId)) {
		throw new RosterInputError(`Run ${runId} is already normalized`, {}, 'Start a new run with CSV Ingest or OneRoster Fetch.');
	}
	const stagedFiles = await readStagedFiles(db, runId);
	const files = new Map(stagedFiles.map((file) => [file.entity, new Columns(file)]));
	const fingerprint = await snapshotFingerprint(db, runId, stagedFiles, options);
	if (fingerprint !== null) {
		const shared = await shareEarlierSnapshot(db, runId, fingerprint, files);
		if (shared) return shared;
	}
	const input: StagedInput = { files, db, runId, onProgress: options.onProgress };
	const warnings: string[] = [];
	const problems: RecordProblem[] = [];
	const problem = (columns: Columns, row: StagedRow, field: string, message: string) =>
		problems.push({ file: columns.file.fileName, row: row.rowNumber, field, sourcedId: row.sourcedId, message });

	const anyDelta = stagedFiles.some((file) => file.mode === 'delta');
	const previous = anyDelta ? await lastGoodRun(db, 'normalized', runId) : undefined;
	if (anyDelta && !previous) {
		const deltaFiles = stagedFiles.filter((file) => file.mode === 'delta').map((file) => file.fileName);
		throw new RosterInputError(
			`${deltaFiles.join(', ')} ${deltaFiles.length === 1 ? 'is a delta file' : 'are delta files'}, but there is no earlier complete run to apply ${deltaFiles.length === 1 ? 'it' : 'them'} to`,
			{ file: 'manifest.csv' },
			'Run one bulk (full) export first; later runs may use delta files.',
		);
	}
	const previousId = previous?.id;
	// Each night's snapshot is stored as its changes over the last one's where that stays small
	// (store/snapshot.ts): a delta night's entities, and a bulk night's too (its enrollments, which stream
	// in file order, by matching them to the last run's rows: see Enrollments below). Reconcile Users and
	// Build Lists then plan from what changed (reconcile/apply.ts, lists/apply.ts) after a bulk export too.
	const changesOver = previousId ?? (await lastGoodRun(db, 'normalized', runId))?.id;

	// Orgs, terms, courses and classes: as the night before's where their files are (schoolYearAsBefore), else read.
	const schoolYear =
		(changesOver !== undefined && !anyDelta ? await schoolYearAsBefore(db, runId, changesOver, stagedFiles, options, problems) : undefined) ??
		(await readSchoolYear(input, previousId, changesOver, options, problem));
	const { orgs, schoolScope, orgScope, scoped, classIds, classesOutOfScope } = schoolYear;

	// 1.2: roles.csv gives each user's role(s) and orgs; the primary role wins.
	const rolesByUser = new Map<string, { role: string; orgIds: string[]; primaryOrgId: string | null }>();
	const rolesFile = files.get('roles');
	if (rolesFile) {
		const [user, roleAt, org, roleType] = ['userSourcedId', 'role', 'orgSourcedId', 'roleType'].map((name) => rolesFile.at(name));
		for await (const [, batch] of stagedBatches(input, 'roles')) for (const { cells } of batch) {
			const userId = cell(cells, user);
			const role = cell(cells, roleAt);
			const orgId = cell(cells, org);
			const primary = cell(cells, roleType) === 'primary';
			let entry = rolesByUser.get(userId);
			if (!entry) rolesByUser.set(detached(userId), (entry = { role: detached(role), orgIds: [], primaryOrgId: null }));
			if (primary) {
				entry.role = detached(role);
				entry.primaryOrgId = detached(orgId) || entry.primaryOrgId;
			}
			if (orgId && !entry.orgIds.includes(orgId)) entry.orgIds.push(detached(orgId));
		}
	}

	// Users → people and contacts. A student's primary contact may be listed anywhere in the file, so
	// every user is held until all are read: each person's and contact's snapshot row packed as JSON
	// (packRecord) and each agentSourcedIds cell, as bytes outside the V8 heap (`held`), found by the
	// number the maps below give. On the heap they were ~90 MB live at 100k students (258k users),
	// and V8 lets the heap grow to ~4× what is live at a full collection (see OffHeapStrings).
	//
	// A delta users file is applied onto the previous snapshot's people and contacts from changes: the
	// maps below then hold only what its rows set, `removedPeople` what they delete, and the previous
	// snapshot's people are read once, after the rows, as the changes are written (writeSnapshotChanges below).
	// Only the contacts' relationships are read before (a contact's existence decides primary contacts).
	//
	// A bulk users file that follows a run which staged the same file is written the same way, as changes
	// over that run's snapshot (earlierUsers): its rows are matched to that run's rows (EarlierRows, as
	// the enrollments below), and a row with the same text as there, which that run took, makes the same
	// person tonight but for the primary contact (decided again, as for a delta's people), or the same
	// contact. Such a row is not mapped: only its role and agentSourcedIds are read, and a contact's row
	// is kept as text, made into its record only when someone points at it tonight and no one did there.
	// Every other row is read as any row is; the earlier rows no row of tonight's took are users no longer
	// in the file. Rows that differ are ~1 % a night: at 100,000 students this Normalize took 2.5-2.7 s
	// instead of 3.2-3.4 s (people and contacts mapped, packed, unpacked and compared with that snapshot's).
	const usersFile = files.get('users');
	const usersDelta = usersFile?.file.mode === 'delta' && previousId !== undefined;
	const earlierPeople =
		usersFile && !usersDelta && !scoped && changesOver !== undefined ? await earlierUsers(db, changesOver, usersFile, { orgs, schoolScope, roles: files.has('roles') }) : undefined;
	/** The people are written as changes over an earlier snapshot's (a delta's previous one, or earlierPeople's). */
	const peopleAsChanges = usersDelta || earlierPeople !== undefined;
	const held = new OffHeapStrings();
	/** sourcedId → the person's packed row in `held` (its primaryContactId is decided below for students). */
	const people = new Map<string, number>();
	/** When peopleAsChanges: the people its rows delete (or turn into contacts, or skip), of those that snapshot may have. */
	const removedPeople = new Set<string>();
	/** The students among `people`, with the primary contact their row has (null). */
	const studentContacts = new Map<string, string | null>();
	/** sourcedId → the contact's packed row in `held`. */
	const contacts = new Map<string, number>();
	/** Every contact there is (for a delta, the previous snapshot's too), and its relationship. */
	const contactRelationships = new Map<string, ContactRelationship>();
	/** Each person's kind (its role and snapshot tallies), by its number in `held`: what writing its packed row as it is needs besides. */
	const kinds = new PersonKinds();
	/**
	 * The maps above start empty for a bulk file, and a file's rows have sourcedIds of their own (every source stages a
	 * repeated one once): a row never finds its sourcedId set by another, so there is nothing to delete (a first night
	 * at 100,000 students made ~700,000 deletes of absent keys). A delta's rows go onto the previous snapshot's.
	 */
	const idsSetOnce = !usersDelta;
	const setPerson = (person: CanonicalPerson) => {
		const handle = held.add(packRecord(PERSON_TABLE, person));
		people.set(person.sourcedId, handle);
		kinds.remember(handle, person);
		if (person.role === 'student') studentContacts.set(person.sourcedId, person.primaryContactId);
		if (idsSetOnce) return;
		removedPeople.delete(person.sourcedId);
		if (person.role !== 'student') studentContacts.delete(person.sourcedId);
	};
	const deletePerson = (sourcedId: string) => {
		if (peopleAsChanges) removedPeople.add(sourcedId);
		if (idsSetOnce) return;
		people.delete(sourcedId);
		studentContacts.delete(sourcedId);
	};
	/** `person` and `contact` have sourcedIds of their own (detached): they are kept as keys. */
	const setContact = (contact: CanonicalContact) => {
		contacts.set(contact.sourcedId, held.add(packRecord(CONTACT_TABLE, contact)));
		contactRelationships.set(contact.sourcedId, contact.relationship);
	};
	const deleteContact = (sourcedId: string) => {
		if (idsSetOnce) return;
		contacts.delete(sourcedId);
		contactRelationships.delete(sourcedId);
	};
	/** The contacts of the snapshot the people are written as changes over (peopleAsChanges). */
	const previousContacts = new Set<string>();
	if (usersDelta) {
		for await (const batch of readSnapshotBatches(db, previousId, CONTACT_TABLE)) {
			for (const contact of batch) {
				previousContacts.add(contact.sourcedId);
				contactRelationships.set(contact.sourcedId, contact.relationship);
			}
		}
	}
	/**
	 * The users rows in file order as numbers: what each made and whom it lists (agentSourcedIds), for primary contacts;
	 * kept for the next night (user-links.ts). Each row's ordinal in its base staging is known when the file was staged
	 * whole (its own base) or is read as a patch against the earlier night's (againstEarlier), or carried (carryUsers).
	 */
	const usersLayout = usersFile && !usersDelta ? await stagedLayout(db, runId, 'users') : undefined;
	/** A bulk file that is a patch over the base the earlier night's file was too, with that night's links (linksToCarry). */
	const carried = earlierPeople && usersLayout ? await linksToCarry(db, earlierPeople.runId, usersLayout, earlierPeople.maxChanges) : undefined;
	let links = new UserLinksBuilder(usersLayout?.baseRunId !== undefined && (usersLayout.whole || carried) ? usersLayout.baseRunId : undefined);
	/**
	 * earlierPeople: sourcedId → the row (its text in `held`) of a contact whose row is as that run's and whom that run's
	 * snapshot lacks (no one pointed at it there), made into its record only if someone points at it now (contactOfRow).
	 */
	const contactRows = new Map<string, number>();
	let peopleOutOfScope = 0;
	const [roleAt, orgsAt, givenAt, familyAt, emailAt, phoneAt, smsAt, agentsAt, primaryOrgAt, gradesAt, middleAt, usernameAt, identifierAt, enabledAt] = [
		'role',
		'orgSourcedIds',
		'givenName',
		'familyName',
		'email',
		'phone',
		'sms',
		'agentSourcedIds',
		'primaryOrgSourcedId',
		'grades',
		'middleName',
		'username',
		'identifier',
		'enabledUser',
	].map((name) => usersFile?.at(name) ?? -1);
	/** The contact a user's row of a contact's role makes. */
	const contactOfRow = (sourcedId: string, relationship: ContactRelationship, cells: string[]): CanonicalContact => ({
		sourcedId,
		relationship,
		givenName: cell(cells, givenAt),
		familyName: cell(cells, familyAt),
		email: orNull(cell(cells, emailAt)),
		phone: orNull(cell(cells, phoneAt)),
		sms: orNull(cell(cells, smsAt)),
	});
	if (usersFile) {
		const c = usersFile;
		const ownRole = c.has('role');
		const ownOrgs = c.has('orgSourcedIds');
		const preferredGivenAt = c.at('preferredFirstName', 'preferredGivenName');
		const preferredFamilyAt = c.at('preferredLastName', 'preferredFamilyName');
		/** Reads one row of the file onto the maps above; `ordinal`: the row's in its base staging (-1: none, or unknown). */
		const readUser = (row: StagedRow, ordinal: number) => {
			const { cells } = row;
			// Kept as the key of the maps above until every user is read.
			const sourcedId = detached(row.sourcedId);
			if (isDeletion(c, cells)) {
				deletePerson(sourcedId);
				deleteContact(sourcedId);
				links.add(sourcedId, undefined, '', ordinal);
				return;
			}
			/** A row skipped as a problem: a delta's leaves the previous snapshot's person as it was; a bulk file's has none. */
			const skip = () => {
				if (!usersDelta) deletePerson(sourcedId);
			};
			const fromRoles = rolesByUser.size === 0 ? undefined : rolesByUser.get(sourcedId);
			const sisRole = ownRole ? cell(cells, roleAt) : (fromRoles?.role ?? '');
			const mapped = ONEROSTER_ROLE_MAP[sisRole];
			if (!mapped) {
				problem(c, row, 'role', sisRole ? `unknown role "${sisRole}"` : 'the user has no role (no row in roles.csv)');
				links.add(sourcedId, undefined, '', ordinal);
				return skip();
			}
			const agents = cell(cells, agentsAt);

			// A delta row may move a sourcedId between people and contacts: it is then only what this row says.
			if (!isPersonRole(mapped)) {
				deletePerson(sourcedId);
				setContact(contactOfRow(sourcedId, mapped as ContactRelationship, cells));
				links.add(sourcedId, mapped, agents, ordinal);
				return;
			}
			const orgIds = ownOrgs ? splitList(cell(cells, orgsAt)) : (fromRoles?.orgIds ?? []);
			const unknownOrg = orgIds.find((orgId) => !orgs.has(orgId));
			if (unknownOrg) {
				problem(c, row, ownOrgs ? 'orgSourcedIds' : 'orgSourcedId', `user ${sourcedId} names org "${unknownOrg}", which is not in orgs.csv`);
				links.add(sourcedId, undefined, agents, ordinal);
				return skip();
			}
			deleteContact(sourcedId);
			if (scoped && !orgIds.some((orgId) => orgScope.has(orgId))) {
				peopleOutOfScope++;
				deletePerson(sourcedId);
				links.add(sourcedId, undefined, agents, ordinal);
				return;
			}
			links.add(sourcedId, mapped, agents, ordinal);
			const schoolIds = orgIds.filter((orgId) => orgs.get(orgId)?.type === 'school' && (!scoped || schoolScope.has(orgId)));
			const primaryOrg = cell(cells, primaryOrgAt) || fromRoles?.primaryOrgId || '';
			const enabled = cell(cells, enabledAt);
			setPerson({
				sourcedId,
				role: mapped as PersonRole,
				sisRole,
				givenName: cell(cells, givenAt),
				familyName: cell(cells, familyAt),
				middleName: orNull(cell(cells, middleAt)),
				preferredGivenName: orNull(cell(cells, preferredGivenAt)),
				preferredFamilyName: orNull(cell(cells, preferredFamilyAt)),
				email: orNull(cell(cells, emailAt)),
				username: orNull(cell(cells, usernameAt)),
				sisId: orNull(cell(cells, identifierAt)),
				grade: mapped === 'student' ? (splitList(cell(cells, gradesAt))[0] ?? null) : null,
				schoolIds,
				primarySchoolId: schoolIds.includes(primaryOrg) ? primaryOrg : (schoolIds[0] ?? null),
				enabled: enabled === '' ? true : isTrue(enabled),
				phone: orNull(cell(cells, phoneAt)),
				sms: orNull(cell(cells, smsAt)),
				primaryContactId: null,
			});
		};
		if (carried) {
			// Every base row the earlier file held too, and that made someone there, is carried from its links; only the
			// patch's own rows and the other base rows are read (in file order: their problems are in row order).
			const { earlier, carriedRow, layout, toRead } = carried;
			const own: StagedRow[] = [];
			for await (const batch of readOwnStagedRows(db, runId, 'users')) for (const row of batch) own.push(row);
			const { segments } = layout;
			const readRows = await readStagedRowsAt(db, layout.baseRunId, 'users', toRead);
			let nextOwn = 0;
			let nextRead = 0;
			/** Reads the segments (a function of its own: see buildSnapshot). */
			const carryUsers = () => {
				for (let s = 0; s < segments.length; s += 3) {
					const [start, count, firstRow] = [segments[s], segments[s + 1], segments[s + 2]];
					while (nextOwn < own.length && own[nextOwn].rowNumber < firstRow) readUser(own[nextOwn++], -1);
					for (let k = 0; k < count; k++) {
						const row = carriedRow(start + k);
						if (row >= 0) {
							links.carry(earlier, row, start + k);
							continue;
						}
						const read = readRows[nextRead++];
						read.rowNumber = firstRow + k;
						readUser(read, start + k);
					}
				}
				while (nextOwn < own.length) readUser(own[nextOwn++], -1);
			};
			carryUsers();
		} else if (!earlierPeople) {
			let ordinal = 0;
			const readUsers = (batch: StagedRow[]) => {
				for (const row of batch) readUser(row, usersLayout?.whole ? ordinal++ : -1);
			};
			for await (const [, batch] of stagedBatches(input, 'users')) readUsers(batch);
		} else {
			// That snapshot's contacts first: a contact's row kept as text is needed only for a contact that snapshot lacks.
			for await (const rows of readSnapshotValueBatches(db, earlierPeople.runId, CONTACT_TABLE)) addSourcedIds(previousContacts, rows);
			// Tonight's rows and the earlier run's, as text (StagedRowText). Matching stops once more rows are passed
			// over than `maxChanges` (a file in another order): the rest are read as any row.
			const tonight = await againstEarlier(db, runId, earlierPeople.runId, 'users');
			// Each row's base ordinal: the patch's (tonight.ordinals), or its place in a file staged whole.
			if (tonight.patchOver !== undefined) links = new UserLinksBuilder(tonight.patchOver);
			let matching = true;
			let rowsRead = 0;
			/** Reads a batch of tonight's rows (a function of its own: see buildSnapshot). */
			const matchUsers = (batch: StagedRowText[], shared: Uint8Array, ordinals: Int32Array | undefined) => {
				for (let i = 0; i < batch.length; i++, rowsRead++) {
					const row = batch[i];
					const ordinal = ordinals ? ordinals[i] : usersLayout?.whole ? rowsRead : -1;
					const last = shared[i] === 1 ? row : matching ? tonight.earlier.take(row.sourcedId) : undefined;
					const same = last !== undefined && last.text === row.text;
					const relationship = same && earlierPeople.madeUser(row.sourcedId) ? ONEROSTER_ROLE_MAP[textCell(row, roleAt)] : undefined;
					if (relationship !== undefined) {
						// That snapshot's person (only the primary contact is decided again: revise below), or contact:
						// its record (that snapshot's, where someone pointed at it) is made only where it is needed.
						const sourcedId = detached(row.sourcedId);
						links.add(sourcedId, relationship, textCell(row, agentsAt), ordinal);
						if (!isPersonRole(relationship)) {
							contactRelationships.set(sourcedId, relationship as ContactRelationship);
							// Its record is that snapshot's where that snapshot has it (someone pointed at it there).
							if (!previousContacts.has(sourcedId)) contactRows.set(sourcedId, held.add(row.text));
						}
						continue;
					}
					readUser(stagedRowOf(row), ordinal);
					// The same row made no person there either (a contact, or a problem): there is none to remove.
					if (same) removedPeople.delete(row.sourcedId);
				}
			};
			for await (const [, batch] of stagedBatchesFrom(input, 'users', tonight.read)) {
				if (matching) await tonight.earlier.readAhead(batch.length);
				matchUsers(batch, tonight.shared(), tonight.ordinals());
				if (tonight.earlier.passedOver > earlierPeople.maxChanges) matching = false;
			}
			// The earlier rows no row of tonight's took: not in tonight's file (or too far from where they were to be matched).
			for await (const last of tonight.earlier.untaken()) if (!people.has(last.sourcedId)) removedPeople.add(detached(last.sourcedId));
		}
	}

	// Primary parent contact (UserLinks.primaryContactOf): the student's own first listed contact; else the first contact
	// that lists the student (in file order); else, for a delta, the one the previous snapshot gives while still a contact.
	// Asked by sourcedId (rowOf) where the people are written as changes; a bulk file's students are decided row by row.
	const usersLinks = links.finish(peopleAsChanges);
	// A delta's contacts are the previous snapshot's too (contactRelationships); a bulk file's, its rows'.
	usersLinks.decideContacts(usersDelta ? (userId) => contactRelationships.has(userId) : undefined);
	const primaryContactOf = (studentId: string, had: string | null): string | null => usersLinks.primaryContactOf(studentId, had);
	const decidePrimaryContacts = () => {
		if (peopleAsChanges) {
			for (const [studentId, had] of studentContacts) studentContacts.set(studentId, primaryContactOf(studentId, had));
			return;
		}
		// Every student is a row of the file, and every row's student is one of them (`had` is null).
		for (let row = 0; row < usersLinks.rows; row++) {
			if (!usersLinks.isStudentAt(row)) continue;
			const contact = usersLinks.primaryContactAt(row);
			studentContacts.set(usersLinks.sourcedIdAt(row), contact < 0 ? null : usersLinks.ids[contact]);
		}
	};
	decidePrimaryContacts();

	// People and contacts are complete: write them now (a chunk of objects at a time, in sourcedId
	// order) and keep only what the enrollments are checked against (ids, relationships).
	const peopleCounts = Object.fromEntries(PERSON_ROLES.map((role) => [role, 0])) as Record<PersonRole, number>;
	let studentsWithPrimaryContact = 0;
	/** Contacts someone in scope points at: only they are kept. */
	const usedContacts = new Set<string>();
	/** The people's sourcedIds: strings of their own (the maps' keys, detached; or as JSON.parse made them), not cut from the staged text. */
	const personIdSet = new Set<string>();
	/** Whether a sourcedId is a person's tonight: from the links where the users were carried (no person is counted one by one then). */
	const personIds: Pick<ReadonlySet<string>, 'has'> = carried ? { has: (id) => usersLinks.isPerson(id) } : personIdSet;
	/** A contact's relationship, by sourcedId (undefined: not a contact). */
	const relationshipOf = (id: string): ContactRelationship | undefined => (carried ? usersLinks.relationshipOf(id) : contactRelationships.get(id));
	/** Counts a person of this run's snapshot. */
	const countPerson = ({ sourcedId, role, primaryContactId }: Pick<CanonicalPerson, 'sourcedId' | 'role' | 'primaryContactId'>) => {
		personIdSet.add(sourcedId);
		peopleCounts[role]++;
		if (primaryContactId) {
			usedContacts.add(primaryContactId);
			if (role === 'student') studentsWithPrimaryContact++;
		}
	};
	/** The person `people` holds as `id`, with the primary contact decided above. */
	const heldPerson = (id: string): CanonicalPerson => {
		const person = unpackRecord(PERSON_TABLE, held.get(people.get(id) as number));
		if (studentContacts.has(id)) person.primaryContactId = studentContacts.get(id) ?? null;
		return person;
	};
	let contactCount = 0;
	/** The snapshot the people and contacts are written as changes over (peopleAsChanges). */
	const usedFrom = usersDelta ? previousId : earlierPeople?.runId;
	if (carried && usedFrom !== undefined) {
		({ contacts: contactCount, studentsWithPrimaryContact } = await writeCarriedUsers(db, usedFrom, runId, carried, usersLinks, {
			removedPeople,
			readPeople: () => [...people.keys()].map(heldPerson),
			readContacts: () => [...contacts.entries()].map(([id, packed]) => [id, unpackRecord(CONTACT_TABLE, held.get(packed))] as const),
			contactOfRow,
			peopleCounts,
			usedContacts,
		}));
	} else if (usedFrom !== undefined) {
		// That snapshot's people stay as they were, but for what the rows set or delete and the students
		// whose primary contact changes: only those are written (writeSnapshotChanges).
		const changedPeople = new Map<string, CanonicalPerson | null>();
		for (const id of removedPeople) changedPeople.set(id, null);
		for (const id of people.keys()) {
			const person = heldPerson(id);
			changedPeople.set(id, person);
			countPerson(person);
		}
		// Every other person of that snapshot, read once as the changes are written. A bulk file's people
		// have the primary contact their rows give (no earlier one to fall back on: `had` is null).
		// Most of them keep their primary contact: told from their row of values, counted, and not made (asIs).
		const contactTonight = ({ sourcedId, role, primaryContactId }: Pick<CanonicalPerson, 'sourcedId' | 'role' | 'primaryContactId'>) =>
			role === 'student' ? primaryContactOf(sourcedId, usersDelta ? primaryContactId : null) : primaryContactId;
		await writeSnapshotChanges(db, usedFrom, runId, PERSON_TABLE, changedPeople, {
			asIs: (values) => {
				const person = personSummaryOf(values);
				if (contactTonight(person) !== person.primaryContactId) return false;
				countPerson(person);
				return true;
			},
			revise: (person) => {
				const primaryContactId = contactTonight(person);
				const kept = primaryContactId === person.primaryContactId ? person : { ...person, primaryContactId };
				countPerson(kept);
				return kept;
			},
		});
	} else {
		const peopleWriter = new SnapshotChunkWriter(db, runId, PERSON_TABLE, changesOver);
		// sort(): UTF-16 code unit order, the snapshot's sourcedId order. Each person's row is written as
		// `held` has it (packed JSON), with the primary contact decided above put in: not parsed and made again.
		for (const id of [...people.keys()].sort()) {
			const handle = people.get(id) as number;
			const { role, tallies } = kinds.of(handle);
			const primaryContactId = studentContacts.get(id) ?? null;
			countPerson({ sourcedId: id, role, primaryContactId });
			await peopleWriter.addPacked(id, withPrimaryContact(held.get(handle), primaryContactId), tallies);
			people.delete(id);
		}
		await peopleWriter.finish();
	}
	if (carried) {
		// Written with the people (writeCarriedUsers).
	} else if (usedFrom !== undefined) {
		// The contacts as changes over the same snapshot: those of its contacts no one points at now, or who are
		// no contacts now, are removed; the contacts the rows set are written (or removed when no one points
		// at them); the contacts kept as rows (contactRows) are written when someone points at them now only.
		const contactChanges = () => {
			const changedContacts = new Map<string, CanonicalContact | null>();
			for (const id of previousContacts) if (!usedContacts.has(id) || !contactRelationships.has(id)) changedContacts.set(id, null);
			for (const [id, packed] of contacts) changedContacts.set(id, usedContacts.has(id) ? unpackRecord(CONTACT_TABLE, held.get(packed)) : null);
			for (const [id, text] of contactRows) {
				if (usedContacts.has(id)) changedContacts.set(id, contactOfRow(id, contactRelationships.get(id) as ContactRelationship, cellsOf({ text: held.get(text) })));
			}
			for (const id of usedContacts) if (contactRelationships.has(id)) contactCount++;
			return changedContacts;
		};
		await writeSnapshotChanges(db, usedFrom, runId, CONTACT_TABLE, contactChanges());
	} else {
		const contactsWriter = new SnapshotChunkWriter(db, runId, CONTACT_TABLE, changesOver);
		for (const id of [...usedContacts].filter((contactId) => contacts.has(contactId)).sort()) {
			await contactsWriter.addPacked(id, held.get(contacts.get(id) as number), undefined);
			contactCount++;
		}
		await contactsWriter.finish();
	}
	/**
	 * The people of snapshot `usedFrom` that are not tonight's (every other person of it is): `removedPeople`, which
	 * holds what tonight's rows deleted, or made contacts or problems, of the people that snapshot may have
	 * (writeSnapshotChanges keeps every other). An enrollment of that snapshot names one of its people, so it keeps
	 * its person tonight exactly when that person is not among these: a look-up in a set of hundreds instead of
	 * the 100,000s of personIds, made for each of the 600,000s enrollments (enrollmentStillHere).
	 */
	const peopleGoneSince = usedFrom === undefined ? undefined : { runId: usedFrom, ids: removedPeople };
	// Kept for the next night (user-links.ts), where it can carry its rows: a bulk file whose rows' base ordinals are known.
	if (usersLayout && usersLinks.baseRunId !== undefined && !scoped && !files.has('roles')) {
		await writeUserLinks(db, runId, { baseRunId: usersLinks.baseRunId, rowsOwner: usersLayout.owner, data: usersLinks.toStored() });
	}
	contactRows.clear();
	people.clear();
	studentContacts.clear();
	contacts.clear();
	held.clear();
	usedContacts.clear();
	previousContacts.clear();

	/** Users whose row the ingest skipped (an enrollment naming one is told apart from one naming someone unknown). */
	const skippedUsers = new Set(
		(await db.query("SELECT sourced_id FROM run_problems WHERE run_id = ? AND stage = 'staged' AND file = 'users.csv' AND sourced_id IS NOT NULL", [runId])).map((row) =>
			String(row.sourced_id),
		),
	);

	// Enrollments, streamed, each row checked against classes and people. Three ways to store them:
	// - a delta file's rows are held (sourcedId → the record, or null when deleted) and the previous
	//   snapshot's enrollments streamed past them, stored as changes over the previous snapshot's;
	// - a bulk file that follows a run which staged the same file in bulk is matched to that run's
	//   rows (EarlierRows): a row with the same cells as there, whose enrollment that snapshot has,
	//   is that enrollment; only the others are held, and stored as changes over that snapshot
	//   (writeSnapshotChanges). Build Lists then plans from what changed (lists/apply.ts) after a
	//   bulk export too. Past MAX_CHANGED_SHARE changed (or a file in another order), the rows
	//   are read again and written whole;
	// - otherwise written whole, in batches, in file order.
	// Every row is checked every night either way: its problems are tonight's, with tonight's row numbers.
	const enrollmentsFile = files.get('enrollments');
	const enrollmentDelta = enrollmentsFile?.file.mode === 'delta' && previousId !== undefined;
	const deltaEnrollments = new Map<string, CanonicalEnrollment | null>();
	let enrollmentsOutOfScope = 0;
	let enrollmentCount = 0;
	const pending: CanonicalEnrollment[] = [];
	const flush = async () => {
		await writeSnapshotRecords(db, runId, ENROLLMENT_TABLE, pending);
		enrollmentCount += pending.length;
		pending.length = 0;
	};
	if (enrollmentsFile) {
		const c = enrollmentsFile;
		const [classAt, userAt, roleAt, primaryAt, beginAt, endAt] = ['classSourcedId', 'userSourcedId', 'role', 'primary', 'beginDate', 'endDate'].map((name) =>
			c.at(name),
		);
		/** The enrollment a row makes, once checked (enrollmentOf). */
		const enrollmentIn = ({ sourcedId, cells }: Pick<StagedRow, 'sourcedId' | 'cells'>): CanonicalEnrollment => ({
			sourcedId,
			classId: cell(cells, classAt),
			personId: cell(cells, userAt),
			role: personRoleOf(cell(cells, roleAt)) as PersonRole,
			primary: isTrue(cell(cells, primaryAt)),
			beginDate: orNull(cell(cells, beginAt)),
			endDate: orNull(cell(cells, endAt)),
		});
		/** The row's enrollment; undefined when the row is skipped (a problem) or its class is out of scope (counted). */
		const enrollmentOf = (row: StagedRow): CanonicalEnrollment | undefined => {
			const { cells } = row;
			const classId = cell(cells, classAt);
			const personId = cell(cells, userAt);
			if (!classIds.has(classId)) {
				if (classesOutOfScope.has(classId)) enrollmentsOutOfScope++;
				else problem(c, row, 'classSourcedId', `enrollment names class "${classId}", which is not in classes.csv`);
				return undefined;
			}
			if (!personIds.has(personId)) {
				if (skippedUsers.has(personId)) problem(c, row, 'userSourcedId', `enrollment names user "${personId}", whose row in users.csv was skipped`);
				else if (relationshipOf(personId) !== undefined) problem(c, row, 'userSourcedId', `enrollment names "${personId}", a ${relationshipOf(personId)}, not a student or staff member`);
				else problem(c, row, 'userSourcedId', `enrollment names user "${personId}", who is not in users.csv`);
				return undefined;
			}
			const sisRole = cell(cells, roleAt);
			if (personRoleOf(sisRole) === undefined) {
				problem(c, row, 'role', `enrollment role "${sisRole}" is not a student or staff role`);
				return undefined;
			}
			return enrollmentIn(row);
		};
		/** An enrollment held until all rows are read: strings of its own, not cut from the staged text (which it would keep whole). */
		const heldEnrollment = (enrollment: CanonicalEnrollment): CanonicalEnrollment =>
			({ ...enrollment, sourcedId: detached(enrollment.sourcedId), classId: detached(enrollment.classId), personId: detached(enrollment.personId) });
		/**
		 * A bulk file's rows against the earlier run's (see above): the enrollments that differ from that
		 * snapshot's (null: not in tonight's), with that snapshot's enrollment of each (null: none), or
		 * undefined after giving up (nothing is written then, and the rows' problems and counts are taken back).
		 */
		const readEnrollmentsAsChanges = async (earlier: EarlierEnrollments) => {
			const changes = new Map<string, CanonicalEnrollment | null>();
			const before = new Map<string, CanonicalEnrollment | null>();
			const classOf = (row: StagedRowText) => textCell(row, classAt);
			/** The earlier snapshot's enrollment of the earlier run's row `last` (null: none). */
			const earlierEnrollment = (last: StagedRowText) =>
				earlier.kept(last.sourcedId, classOf(last)) ? heldEnrollment(enrollmentIn({ sourcedId: last.sourcedId, cells: cellsOf(last) })) : null;
			/**
			 * Whether a row with the same text as the earlier run's makes that snapshot's enrollment tonight: that snapshot
			 * has it (so its role passed enrollmentOf there, under the same rules) and its class and person are still here
			 * (earlier.stillHere), so enrollmentOf would accept it. Read from the row's text, not its cells.
			 */
			const unchanged = (row: StagedRowText) => {
				const classId = earlier.classNeeded ? classOf(row) : '';
				return earlier.kept(row.sourcedId, classId) && earlier.stillHere(classId, textCell(row, userAt));
			};
			/** Tonight's enrollment of a row that is not the same as the earlier run's row `last` (undefined: none). */
			const change = (sourcedId: string, tonight: CanonicalEnrollment | null, last: StagedRowText | undefined) => {
				changes.set(sourcedId, tonight);
				if (last !== undefined) before.set(sourcedId, earlierEnrollment(last));
			};
			const problemsBefore = problems.length;
			// Both nights' rows are read as text (StagedRowText) and compared so; only the rows that differ, or
			// no longer make their enrollment, are split into cells and checked as any row is (enrollmentOf).
			const tonight = await againstEarlier(db, runId, earlier.runId, 'enrollments');
			const rows = tonight.earlier;
			/** Reads a batch of tonight's rows (a function of its own: see buildSnapshot); false when too many changed. */
			const matchEnrollments = (batch: StagedRowText[], shared: Uint8Array): boolean => {
				for (let i = 0; i < batch.length; i++) {
					const row = batch[i];
					const last = shared[i] === 1 ? row : rows.take(row.sourcedId);
					const same = last !== undefined && last.text === row.text;
					if (!same || !unchanged(row)) {
						const enrollment = enrollmentOf(stagedRowOf(row));
						if (enrollment === undefined) {
							if (last !== undefined && earlier.kept(last.sourcedId, classOf(last))) change(detached(row.sourcedId), null, last);
						} else if (!same || !earlier.kept(row.sourcedId, classOf(row))) {
							change(detached(row.sourcedId), heldEnrollment(enrollment), last);
						}
					}
					if (changes.size > earlier.maxChanges || rows.passedOver > earlier.maxChanges) return false;
				}
				return true;
			};
			for await (const [, batch] of stagedBatchesFrom(input, 'enrollments', tonight.read)) {
				await rows.readAhead(batch.length);
				if (!matchEnrollments(batch, tonight.shared())) {
					problems.length = problemsBefore;
					enrollmentsOutOfScope = 0;
					return undefined;
				}
			}
			// The earlier rows no row of tonight's took: not in tonight's file (or too far from where they were to be matched).
			for await (const last of rows.untaken()) {
				if (changes.has(last.sourcedId)) before.set(last.sourcedId, earlierEnrollment(last));
				else if (earlier.kept(last.sourcedId, classOf(last))) change(last.sourcedId, null, last);
			}
			// The rest of the changes have no earlier row: the earlier snapshot has no enrollment of them.
			for (const id of changes.keys()) if (!before.has(id)) before.set(id, null);
			return { changes, before };
		};
		const earlier = enrollmentDelta || changesOver === undefined ? undefined : await earlierEnrollments(db, changesOver, c, { classIds, personIds, peopleGoneSince }, schoolYear.classesAsIn === changesOver ? classIds : undefined);
		const asChanges = earlier && (await readEnrollmentsAsChanges(earlier));
		if (asChanges) {
			enrollmentCount = await writeSnapshotChanges(db, earlier.runId, runId, ENROLLMENT_TABLE, asChanges.changes, { knownFrom: asChanges.before });
		} else {
			/** Reads a batch of rows (a function of its own: see buildSnapshot), queueing the enrollments of a bulk file. */
			const readEnrollments = (batch: StagedRow[]) => {
				for (const row of batch) {
					if (isDeletion(c, row.cells)) {
						if (enrollmentDelta) deltaEnrollments.set(row.sourcedId, null);
						continue;
					}
					const enrollment = enrollmentOf(row);
					if (!enrollment) continue;
					if (enrollmentDelta) deltaEnrollments.set(row.sourcedId, enrollment);
					else pending.push(enrollment);
				}
			};
			for await (const [, batch] of stagedBatches(input, 'enrollments')) {
				readEnrollments(batch);
				if (pending.length >= FLUSH_ENROLLMENTS) await flush();
			}
		}
	}
	if (enrollmentDelta) {
		// The previous snapshot's enrollments the delta leaves alone, while their class and person are still
		// here, and the delta's; stored as changes over the previous snapshot's.
		const added = [...deltaEnrollments.values()].filter((enrollment): enrollment is CanonicalEnrollment => enrollment !== null);
		const { stillHere } = enrollmentStillHere(await snapshotClassIds(db, previousId), { classIds, personIds, peopleGoneSince }, previousId);
		const kept = ({ sourcedId, classId, personId }: Pick<CanonicalEnrollment, 'sourcedId' | 'classId' | 'personId'>) => !deltaEnrollments.has(sourcedId) && stillHere(classId, personId);
		enrollmentCount += await copySnapshotRecordsWhere(db, previousId, runId, ENROLLMENT_TABLE, kept, {
			added,
			asChanges: true,
			keepsValues: (values) => kept(enrollmentSummaryOf(values)),
		});
		deltaEnrollments.clear();
	}
	await flush();
	const counts: NormalizeCounts = {
		schools: schoolScope.size,
		orgs: orgs.size,
		terms: schoolYear.terms,
		courses: schoolYear.courses,
		classes: classIds.size,
		people: peopleCounts,
		contacts: contactCount,
		studentsWithPrimaryContact,
		enrollments: enrollmentCount,
		skippedRows: problems.length,
		outOfScope: { people: peopleOutOfScope, classes: classesOutOfScope.size, enrollments: enrollmentsOutOfScope },
		...(previousId ? { deltaFrom: previousId } : {}),
	};
	warnings.push(...snapshotWarnings(files, counts));

	await writeSnapshotHeader(db, runId, [...schoolScope], counts as unknown as Record<string, unknown>, { fingerprint, rules: normalizeRules() });
	await addProblems(db, runId, 'normalized', problems);
	return { counts, warnings, problemCount: problems.length, ...(carried ? { usersCarriedFrom: earlierPeople?.runId } : {}) };
}

/** Orgs a scoped person or class may belong to: the scoped schools and the districts above them. */
function orgScopeOf(orgs: Map<string, CanonicalOrg>, schoolScope: Set<string>): Set<string> {
	const orgScope = new Set(schoolScope);
	for (const schoolId of schoolScope) {
		let parent = orgs.get(schoolId)?.parentId;
		while (parent && !orgScope.has(parent)) {
			orgScope.add(parent);
			parent = orgs.get(parent)?.parentId;
		}
	}
	return orgScope;
}

/** What Normalize keeps of a run's orgs, terms, courses and classes once they are written (readSchoolYear). */
interface SchoolYear {
	orgs: Map<string, CanonicalOrg>;
	/** The schools kept (School ID scoping), and the orgs a scoped person or class may belong to. */
	schoolScope: Set<string>;
	orgScope: Set<string>;
	scoped: boolean;
	/** How many terms and courses the snapshot has. */
	terms: number;
	courses: number;
	classIds: Set<string>;
	classesOutOfScope: Set<string>;
	/** The run whose snapshot has these very classes too (schoolYearAsBefore's): its class ids need not be read again. */
	classesAsIn?: string;
}

/** Reads the run's orgs, terms, courses and classes from its staged rows, and writes them into its snapshot. */
async function readSchoolYear(
	input: StagedInput,
	previousId: string | undefined,
	changesOver: string | undefined,
	options: NormalizeOptions,
	problem: (columns: Columns, row: StagedRow, field: string, message: string) => void,
): Promise<SchoolYear> {
	const { db, runId, files } = input;
	// Orgs and school scoping.
	const orgs = await previousRecords(db, previousId, files.get('orgs'), ORG_TABLE, (o) => o.sourcedId);
	await applyRows(input, 'orgs', orgs, (c) => {
		const [name, type, identifier, parentId] = [c.at('name'), c.at('type'), c.at('identifier'), c.at('parentSourcedId')];
		return ({ sourcedId, cells }) => ({
			sourcedId,
			name: cell(cells, name),
			type: cell(cells, type),
			identifier: orNull(cell(cells, identifier)),
			parentId: orNull(cell(cells, parentId)),
		});
	});
	const schoolScope = scopeSchools(orgs, options.schoolIds ?? []);
	const scoped = (options.schoolIds ?? []).length > 0;
	const orgScope = orgScopeOf(orgs, schoolScope);

	// Terms and courses.
	const terms = await previousRecords(db, previousId, files.get('academicSessions'), TERM_TABLE, (t) => t.sourcedId);
	await applyRows(input, 'academicSessions', terms, (c) => {
		const [title, type, startDate, endDate, parentId, schoolYear] = ['title', 'type', 'startDate', 'endDate', 'parentSourcedId', 'schoolYear'].map((name) => c.at(name));
		return ({ sourcedId, cells }) => ({
			sourcedId,
			title: cell(cells, title),
			type: cell(cells, type),
			startDate: orNull(cell(cells, startDate)),
			endDate: orNull(cell(cells, endDate)),
			parentId: orNull(cell(cells, parentId)),
			schoolYear: orNull(cell(cells, schoolYear)),
		});
	});
	const courses = await previousRecords(db, previousId, files.get('courses'), COURSE_TABLE, (c) => c.sourcedId);
	await applyRows(input, 'courses', courses, (c) => {
		const [title, courseCode, grades, subjects, orgId] = ['title', 'courseCode', 'grades', 'subjects', 'orgSourcedId'].map((name) => c.at(name));
		return ({ sourcedId, cells }) => ({
			sourcedId,
			title: cell(cells, title),
			courseCode: orNull(cell(cells, courseCode)),
			grades: splitList(cell(cells, grades)),
			subjects: splitList(cell(cells, subjects)),
			orgId: orNull(cell(cells, orgId)),
		});
	});

	// Classes, kept when their school is in scope.
	const classesOutOfScope = new Set<string>();
	const classes = await previousRecords(db, previousId, files.get('classes'), CLASS_TABLE, (c) => c.sourcedId);
	await applyRows(input, 'classes', classes, (c) => {
		const [school, termList, title, classCode, classType, courseId, grades, subjects, periods] = [
			'schoolSourcedId',
			'termSourcedIds',
			'title',
			'classCode',
			'classType',
			'courseSourcedId',
			'grades',
			'subjects',
			'periods',
		].map((name) => c.at(name));
		return (row): CanonicalClass | undefined => {
			const { sourcedId, cells } = row;
			const schoolId = cell(cells, school);
			if (!orgs.has(schoolId)) {
				problem(c, row, 'schoolSourcedId', `class ${sourcedId} names school "${schoolId}", which is not in orgs.csv`);
				return undefined;
			}
			if (!schoolScope.has(schoolId)) {
				classesOutOfScope.add(sourcedId);
				return undefined;
			}
			const termIds = splitList(cell(cells, termList));
			const unknownTerm = termIds.find((termId) => !terms.has(termId));
			if (unknownTerm) {
				problem(c, row, 'termSourcedIds', `class ${sourcedId} names term "${unknownTerm}", which is not in academicSessions.csv`);
				return undefined;
			}
			return {
				sourcedId,
				title: cell(cells, title),
				classCode: orNull(cell(cells, classCode)),
				classType: orNull(cell(cells, classType)),
				courseId: orNull(cell(cells, courseId)),
				schoolId,
				termIds,
				grades: splitList(cell(cells, grades)),
				subjects: splitList(cell(cells, subjects)),
				periods: orNull(cell(cells, periods)),
			};
		};
	});
	// Orgs, terms, courses and classes are complete: written now, so that only the classes' ids are
	// held while the users and enrollments are read (the class objects took 11 MB at 100k students).
	await writeSnapshotRecords(db, runId, ORG_TABLE, orgs.values(), changesOver);
	await writeSnapshotRecords(db, runId, TERM_TABLE, terms.values(), changesOver);
	await writeSnapshotRecords(db, runId, COURSE_TABLE, courses.values(), changesOver);
	await writeSnapshotRecords(db, runId, CLASS_TABLE, classes.values(), changesOver);
	const classIds = new Set(classes.keys());
	classes.clear();
	return { orgs, schoolScope, orgScope, scoped, terms: terms.size, courses: courses.size, classIds, classesOutOfScope };
}

/** The files a school year's records come from (readSchoolYear). */
const SCHOOL_YEAR_ENTITIES: readonly StagedEntity[] = ['orgs', 'academicSessions', 'courses', 'classes'];

/**
 * The run's orgs, terms, courses and classes as the night before's (`earlierRunId`), their staged rows not read:
 * when that run staged the very files tonight's has of them (each present in both or neither, bulk, with the
 * same content hash: bytes, version, mode and ingest rules), its snapshot was made under the same Normalize rules
 * and the same school scope as tonight's, and left no class out of it. Its records are then tonight's (written as
 * no changes over its snapshot), and so are the problems its Normalize found in those files, at the same rows.
 * Undefined otherwise (readSchoolYear). A school's export repeats these files night after night: at 100,000
 * students reading and comparing them took ~150–230 ms of a bulk day two's Normalize.
 */
async function schoolYearAsBefore(
	db: SqlDb,
	runId: string,
	earlierRunId: string,
	stagedFiles: StagedFile[],
	options: NormalizeOptions,
	problems: RecordProblem[],
): Promise<SchoolYear | undefined> {
	const header = await readSnapshotHeader(db, earlierRunId);
	if (!header || header.rules !== normalizeRules()) return undefined;
	const counts = header.counts as unknown as NormalizeCounts;
	if (counts.outOfScope?.classes !== 0) return undefined;
	const earlierFiles = await readStagedFiles(db, earlierRunId);
	const tonightHashes = await readStagedContentHashes(db, runId);
	const earlierHashes = await readStagedContentHashes(db, earlierRunId);
	for (const entity of SCHOOL_YEAR_ENTITIES) {
		const file = stagedFiles.find((staged) => staged.entity === entity);
		const before = earlierFiles.find((staged) => staged.entity === entity);
		if (file === undefined && before === undefined) continue;
		if (file?.mode !== 'bulk' || before?.mode !== 'bulk') return undefined;
		const hash = tonightHashes.get(entity)?.contentHash;
		if (hash === undefined || hash !== earlierHashes.get(entity)?.contentHash) return undefined;
	}
	const orgs = new Map((await readSnapshotRecords(db, earlierRunId, ORG_TABLE)).map((org) => [org.sourcedId, org]));
	const schoolScope = scopeSchools(orgs, options.schoolIds ?? []);
	if (schoolScope.size !== header.schoolIds.length || header.schoolIds.some((id) => !schoolScope.has(id))) return undefined;
	const fileNames = new Set(stagedFiles.filter((staged) => SCHOOL_YEAR_ENTITIES.includes(staged.entity)).map((staged) => staged.fileName));
	for (const { stage, file, row, field, sourcedId, message } of await listProblems(db, earlierRunId)) {
		if (stage === 'normalized' && file !== undefined && fileNames.has(file)) problems.push({ file, row, field, sourcedId, message });
	}
	await writeSnapshotChanges(db, earlierRunId, runId, ORG_TABLE, new Map());
	await writeSnapshotChanges(db, earlierRunId, runId, TERM_TABLE, new Map());
	await writeSnapshotChanges(db, earlierRunId, runId, COURSE_TABLE, new Map());
	await writeSnapshotChanges(db, earlierRunId, runId, CLASS_TABLE, new Map());
	return {
		orgs,
		schoolScope,
		orgScope: orgScopeOf(orgs, schoolScope),
		scoped: (options.schoolIds ?? []).length > 0,
		terms: counts.terms,
		courses: counts.courses,
		classIds: await snapshotClassIds(db, earlierRunId),
		classesOutOfScope: new Set(),
		classesAsIn: earlierRunId,
	};
}

/** Tonight's users file as a patch over the base the earlier night's was (or was a patch over), with that night's links. */
interface CarriedUsers {
	earlier: UserLinks;
	layout: Extract<StagedLayout, { whole: false }>;
	/** The earlier links' row at this base ordinal when tonight's row there is carried from it (that file held the row, and it made someone); else -1. */
	carriedRow: (ordinal: number) => number;
	/** The base ordinals of tonight's rows that are read, not carried. */
	toRead: number[];
}

/**
 * The earlier night's links, when tonight's bulk users file can carry rows from them: it is a patch over the base
 * those links' ordinals are in, and they describe that night's staging of the file as it is (the run whose chunks
 * hold its rows), and at most `maxRead` of tonight's rows are to be read (the patch's own rows and the base rows not
 * carried; they are held until the rest are carried). Undefined otherwise (the rows are matched as text: againstEarlier).
 */
async function linksToCarry(db: SqlDb, earlierRunId: string, tonight: StagedLayout, maxRead: number): Promise<CarriedUsers | undefined> {
	if (tonight.whole) return undefined;
	const stored = await readUserLinks(db, earlierRunId);
	const earlierLayout = await stagedLayout(db, earlierRunId, 'users');
	if (!stored || !earlierLayout || stored.baseRunId !== tonight.baseRunId || stored.rowsOwner !== earlierLayout.owner) return undefined;
	const earlier = UserLinks.fromStored(stored.data, stored.baseRunId);
	if (!earlier) return undefined;
	let end = 0;
	for (let row = 0; row < earlier.rows; row++) end = Math.max(end, earlier.ordinal[row] + 1);
	const rowAt = new Int32Array(end).fill(-1);
	for (let row = 0; row < earlier.rows; row++) if (earlier.ordinal[row] >= 0) rowAt[earlier.ordinal[row]] = row;
	const carriedRow = (ordinal: number) => {
		const row = ordinal < rowAt.length ? rowAt[ordinal] : -1;
		return row >= 0 && earlier.madeAt(row) !== undefined ? row : -1;
	};
	const { segments } = tonight;
	const toRead: number[] = [];
	for (let s = 0; s < segments.length; s += 3) for (let k = 0; k < segments[s + 1]; k++) if (carriedRow(segments[s] + k) < 0) toRead.push(segments[s] + k);
	if (tonight.ownRows + toRead.length > maxRead) return undefined;
	return { earlier, layout: tonight, carriedRow, toRead };
}

/**
 * Tonight's people and contacts written as changes over the earlier night's snapshot (`earlierRunId`) where its users
 * were carried from that night's links: the people and contacts of the rows read tonight, the people gone (an earlier
 * person row not carried whose sourcedId is no person's tonight, filled into `removedPeople`), the carried students
 * whose primary contact is another now (that snapshot's record with the new one), and the contacts someone points at
 * now and no one did there (their rows read) or the other way round. The counts come from the links: no person of
 * that snapshot is read but those revised.
 */
async function writeCarriedUsers(
	db: SqlDb,
	earlierRunId: string,
	runId: string,
	carried: CarriedUsers,
	tonight: UserLinks,
	read: {
		removedPeople: Set<string>;
		/** The people and contacts of the rows read tonight, with their primary contacts decided. */
		readPeople: () => CanonicalPerson[];
		readContacts: () => ReadonlyArray<readonly [string, CanonicalContact]>;
		contactOfRow: (sourcedId: string, relationship: ContactRelationship, cells: string[]) => CanonicalContact;
		/** Filled: people by role, and the contacts someone points at. */
		peopleCounts: Record<PersonRole, number>;
		usedContacts: Set<string>;
	},
): Promise<{ contacts: number; studentsWithPrimaryContact: number }> {
	const { earlier, carriedRow } = carried;
	earlier.decideContacts();
	const contactAt = (links: UserLinks, row: number): string | null => {
		const id = links.primaryContactAt(row);
		return id < 0 ? null : links.ids[id];
	};
	/** Each earlier student row's primary contact there (null for none, and for rows of no student), decided once. */
	const earlierContacts = Array.from({ length: earlier.rows }, (_, row) => (earlier.isStudentAt(row) ? contactAt(earlier, row) : null));
	/** Earlier person rows carried tonight; the carried students whose primary contact is another now (→ the new one). */
	const carriedPeople = new Uint8Array(earlier.rows);
	const revised = new Map<string, string | null>();
	let studentsWithPrimaryContact = 0;
	for (let row = 0; row < tonight.rows; row++) {
		const made = tonight.madeAt(row);
		if (made === undefined || !isPersonRole(made)) continue;
		read.peopleCounts[made]++;
		const from = tonight.ordinal[row] >= 0 ? carriedRow(tonight.ordinal[row]) : -1;
		if (from >= 0) carriedPeople[from] = 1;
		if (made !== 'student') continue;
		const contact = contactAt(tonight, row);
		if (contact !== null) {
			studentsWithPrimaryContact++;
			read.usedContacts.add(contact);
		}
		if (from >= 0 && contact !== earlierContacts[from]) revised.set(tonight.sourcedIdAt(row), contact);
	}
	read.removedPeople.clear();
	for (let row = 0; row < earlier.rows; row++) {
		if (!earlier.isPersonAt(row) || carriedPeople[row] === 1) continue;
		const id = earlier.sourcedIdAt(row);
		if (!tonight.isPerson(id)) read.removedPeople.add(id);
	}
	const changedPeople = new Map<string, CanonicalPerson | null>();
	for (const id of read.removedPeople) changedPeople.set(id, null);
	for (const person of read.readPeople()) changedPeople.set(person.sourcedId, person);
	// That snapshot's records of every person named, read once: the revised students' are made anew from them, and
	// writeSnapshotChanges is told them all (knownFrom), so it need not look them up in the base again.
	const before = await readSnapshotRecordsById(db, earlierRunId, PERSON_TABLE, [...changedPeople.keys(), ...revised.keys()]);
	for (const [id, contact] of revised) {
		const person = before.get(id);
		if (!person) throw new Error(`The snapshot of run ${earlierRunId} has no person ${id}, whose users row tonight carries from it`);
		changedPeople.set(id, { ...person, primaryContactId: contact });
	}
	const knownFrom = new Map<string, CanonicalPerson | null>();
	for (const id of changedPeople.keys()) knownFrom.set(id, before.get(id) ?? null);
	await writeSnapshotChanges(db, earlierRunId, runId, PERSON_TABLE, changedPeople, { knownFrom });

	const earlierUsed = new Set<string>();
	for (const contact of earlierContacts) if (contact !== null) earlierUsed.add(contact);
	const changedContacts = new Map<string, CanonicalContact | null>();
	for (const id of earlierUsed) if (!read.usedContacts.has(id)) changedContacts.set(id, null);
	for (const [id, contact] of read.readContacts()) changedContacts.set(id, read.usedContacts.has(id) ? contact : null);
	// Carried contacts someone points at now and no one did there: their records are made from their rows.
	const newlyUsed = [...read.usedContacts].filter((id) => !earlierUsed.has(id) && !changedContacts.has(id));
	const rows = await readStagedRowsAt(db, carried.layout.baseRunId, 'users', newlyUsed.map((id) => tonight.ordinal[tonight.rowOf(id)]));
	newlyUsed.forEach((id, i) => changedContacts.set(id, read.contactOfRow(id, tonight.relationshipOf(id) as ContactRelationship, rows[i].cells)));
	await writeSnapshotChanges(db, earlierRunId, runId, CONTACT_TABLE, changedContacts);
	return { contacts: read.usedContacts.size, studentsWithPrimaryContact };
}

/** No row of a batch known to be the earlier file's (readRowsAgainstEarlier not used). */
const NONE_SHARED = new Uint8Array(0);

/**
 * Tonight's staged rows of `entity` as text (`read`, for stagedBatchesFrom), matched to the earlier run's rows of the
 * file: where tonight's file is a patch over a base that the earlier file is too, the rows both have are known from
 * the staging (shared(): 1 at such a row of the last batch read; it is the earlier file's row) and only the others
 * are matched (readRowsAgainstEarlier); otherwise every row is matched as both files are read (EarlierRows). With a
 * patch, `ordinals()` gives each row's base ordinal for the last batch read, and `patchOver` the base's run.
 */
async function againstEarlier(db: SqlDb, runId: string, earlierRunId: string, entity: StagedEntity) {
	const patch = await readRowsAgainstEarlier(db, runId, earlierRunId, entity);
	if (patch) {
		return {
			read: () => patch.batches,
			shared: () => patch.shared,
			ordinals: (): Int32Array | undefined => patch.ordinals,
			patchOver: patch.baseRunId as string | undefined,
			earlier: new EarlierRowsApart(patch.earlierOnly) as EarlierMatch<StagedRowText>,
		};
	}
	return {
		read: readStagedRowTexts,
		shared: () => NONE_SHARED,
		ordinals: (): Int32Array | undefined => undefined,
		patchOver: undefined,
		earlier: new EarlierRows(readStagedRowTexts(db, earlierRunId, entity)) as EarlierMatch<StagedRowText>,
	};
}

/** Enrollments written at a time (a bulk file's, in file order). */
const FLUSH_ENROLLMENTS = 5000;

/** Adds the sourcedIds of snapshot rows of values to `ids`. */
function addSourcedIds(ids: Set<string>, rows: SqlValue[][]): void {
	for (const values of rows) ids.add(values[SOURCED_ID_AT] as string);
}

/** What tonight's snapshot holds besides its enrollments, for checking an earlier snapshot's enrollments against (enrollmentStillHere). */
interface TonightsClassesAndPeople {
	classIds: ReadonlySet<string>;
	personIds: Pick<ReadonlySet<string>, 'has'>;
	/** The people of snapshot `runId` that are not tonight's (buildSnapshot); undefined when tonight's people were not written over an earlier snapshot's. */
	peopleGoneSince: { runId: string; ids: ReadonlySet<string> } | undefined;
}

/** The sourcedIds of a snapshot's classes. */
async function snapshotClassIds(db: SqlDb, runId: string): Promise<Set<string>> {
	const ids = new Set<string>();
	for await (const rows of readSnapshotValueBatches(db, runId, CLASS_TABLE)) addSourcedIds(ids, rows);
	return ids;
}

/**
 * Whether an enrollment of snapshot `runId` (whose classes are `earlierClassIds`) still has its class and person
 * tonight. Such an enrollment names one of that snapshot's classes and people (Normalize writes no other), so it
 * loses them only to the classes and people gone since: the sets looked in are those few, not every class and
 * person, for each of a district's 600,000s of enrollments. Where tonight's people were not written over that
 * snapshot's, the person is looked up among them. With how many of that snapshot's classes are gone.
 */
function enrollmentStillHere(
	earlierClassIds: ReadonlySet<string>,
	tonight: TonightsClassesAndPeople,
	runId: string,
): { stillHere: (classId: string, personId: string) => boolean; classesGone: number } {
	const goneClasses = new Set<string>();
	for (const id of earlierClassIds) if (!tonight.classIds.has(id)) goneClasses.add(id);
	const gonePeople = tonight.peopleGoneSince?.runId === runId ? tonight.peopleGoneSince.ids : undefined;
	const classesGone = goneClasses.size;
	if (gonePeople === undefined) return { stillHere: (classId, personId) => !goneClasses.has(classId) && tonight.personIds.has(personId), classesGone };
	return { stillHere: (classId, personId) => !goneClasses.has(classId) && !gonePeople.has(personId), classesGone };
}

/** The last run's enrollments file, when tonight's bulk file can be read as changes over its snapshot (see buildSnapshot). */
interface EarlierEnrollments {
	runId: string;
	/** Whether that run's snapshot has the enrollment of one of its staged rows (its sourcedId and class): its class was kept and the row had no problem. */
	kept: (sourcedId: string, classId: string) => boolean;
	/**
	 * Whether an enrollment that snapshot has keeps its class and person tonight (enrollmentStillHere). A row with the
	 * same text as that run's, whose enrollment that snapshot has, then makes it tonight: its role was checked there,
	 * under the same rules (earlierFile).
	 */
	stillHere: (classId: string, personId: string) => boolean;
	/**
	 * Whether kept and stillHere look at the class: not when that snapshot left no class out of it (a class its rows
	 * name is then one of its classes, or the row was a problem) and none of its classes is gone tonight. The class
	 * cell of an unchanged row is then not read (~600,000 a night).
	 */
	classNeeded: boolean;
	/** Past this many enrollments changed (or rows out of order), tonight's are written whole instead. */
	maxChanges: number;
}

/** Past this share of the last snapshot's enrollments changed (or of its people passed over), a bulk file is read whole (as MAX_CHANGES_SHARE in store/snapshot.ts). */
const MAX_CHANGED_SHARE = 0.25;

/** Past `maxChangesOf(count)` changes (or rows passed over) of an entity whose last snapshot has `count` records, a bulk file is read whole. */
const maxChangesOf = (count: number): number => Math.max(1000, Math.floor(count * MAX_CHANGED_SHARE));

/**
 * The run `runId`, when tonight's bulk `file` can be matched row by row to the file of the same entity it
 * staged: that run staged it in bulk with the same columns, and its snapshot was made under the same rules
 * (normalizeRules). With that snapshot's header, the files that run staged, and the sourcedIds of the rows
 * of that file its Normalize skipped as problems.
 */
async function earlierFile(db: SqlDb, runId: string, file: Columns) {
	if (file.file.mode !== 'bulk') return undefined;
	const header = await readSnapshotHeader(db, runId);
	if (!header || header.rules !== normalizeRules()) return undefined;
	const stagedFiles = await readStagedFiles(db, runId);
	const staged = stagedFiles.find((earlier) => earlier.entity === file.file.entity);
	if (!staged || staged.mode !== 'bulk' || JSON.stringify(staged.columns) !== JSON.stringify(file.file.columns)) return undefined;
	const rows = await db.queryArrays("SELECT sourced_id FROM run_problems WHERE run_id = ? AND stage = 'normalized' AND file = ? AND sourced_id IS NOT NULL", [runId, staged.fileName]);
	return { header, stagedFiles, skipped: new Set(rows.map(([sourcedId]) => String(sourcedId))) };
}

/**
 * The run `runId`'s enrollments file, when tonight's (`file`) can be matched to it (earlierFile): its rows
 * then made the same enrollments as tonight's rows with the same cells make.
 */
async function earlierEnrollments(
	db: SqlDb,
	runId: string,
	file: Columns,
	tonight: TonightsClassesAndPeople,
	/** That snapshot's class ids, where the caller has them. */
	knownClassIds?: ReadonlySet<string>,
): Promise<EarlierEnrollments | undefined> {
	const earlier = await earlierFile(db, runId, file);
	if (!earlier) return undefined;
	const { skipped } = earlier;
	const classIds = knownClassIds ?? (await snapshotClassIds(db, runId));
	const enrollments = await countSnapshotRecords(db, runId, ENROLLMENT_TABLE);
	const { stillHere, classesGone } = enrollmentStillHere(classIds, tonight, runId);
	const classNeeded = (earlier.header.counts as unknown as NormalizeCounts).outOfScope?.classes !== 0 || classesGone > 0;
	return {
		runId,
		kept: (sourcedId, classId) => !skipped.has(sourcedId) && (!classNeeded || classIds.has(classId)),
		stillHere,
		classNeeded,
		maxChanges: maxChangesOf(enrollments),
	};
}

/** The last run's users file, when tonight's bulk file can be read as changes over its snapshot (see buildSnapshot). */
interface EarlierUsers {
	runId: string;
	/** Whether that run's Normalize took the row with this sourcedId (a person, or a contact the snapshot has where someone pointed at it): the row had no problem. */
	madeUser: (sourcedId: string) => boolean;
	/** Past this many rows passed over (a file in another order), tonight's rows are no longer matched to that run's. */
	maxChanges: number;
}

/**
 * The run `runId`'s users file, when a row of tonight's bulk `file` with the same text makes the same
 * person as its row there did, but for the primary contact: tonight's file can be matched to it
 * (earlierFile); each row gives its own role and orgs (no roles file either night); tonight's orgs
 * include that snapshot's; and neither night left anyone out of a school scope: tonight has none, and
 * that run's (all its schools when it had none) is tonight's schools and left no one out.
 */
async function earlierUsers(
	db: SqlDb,
	runId: string,
	file: Columns,
	tonight: { orgs: Map<string, CanonicalOrg>; schoolScope: Set<string>; roles: boolean },
): Promise<EarlierUsers | undefined> {
	if (tonight.roles || !file.has('role') || !file.has('orgSourcedIds')) return undefined;
	const earlier = await earlierFile(db, runId, file);
	if (!earlier || earlier.stagedFiles.some((staged) => staged.entity === 'roles')) return undefined;
	const { header, skipped } = earlier;
	if ((header.counts as unknown as NormalizeCounts).outOfScope?.people !== 0) return undefined;
	if (header.schoolIds.length !== tonight.schoolScope.size || header.schoolIds.some((id) => !tonight.schoolScope.has(id))) return undefined;
	// Every org of that snapshot is here tonight (a row naming one there is none of is a problem; one new
	// tonight is named by no row of the same text). Which of them are schools is the same too: that run's
	// school scope, its schools or some of them, is tonight's schools (checked above).
	for await (const batch of readSnapshotBatches(db, runId, ORG_TABLE)) {
		if (batch.some((org) => !tonight.orgs.has(org.sourcedId))) return undefined;
	}
	return { runId, madeUser: (sourcedId) => !skipped.has(sourcedId), maxChanges: maxChangesOf(await countSnapshotRecords(db, runId, PERSON_TABLE)) };
}

function snapshotWarnings(files: Map<StagedEntity, Columns>, counts: NormalizeCounts): string[] {
	const warnings: string[] = [];
	if (files.size === 0) warnings.push('The run staged no files.');
	if (!files.has('users')) warnings.push('No users file was staged: there are no people in this run.');
	if (counts.people.student === 0 && files.has('users')) warnings.push('No students in this roster.');
	return warnings;
}

/**
 * Bump when what Normalize makes of staged rows changes in a way normalizeRules() does not see:
 * snapshots made under other rules are then never copied (see snapshotFingerprint).
 */
export const NORMALIZE_RULES_VERSION = 'normalize-1';

let rules: string | undefined;

/**
 * What a snapshot depends on besides its input: the version above, the very code that builds it, the
 * role vocabulary and the snapshot tables' columns. A release that changes any of them never copies
 * a snapshot an older one made.
 */
export function normalizeRules(): string {
	rules ??= createHash('sha256')
		.update(
			[
				NORMALIZE_RULES_VERSION,
				...[buildSnapshot, readSchoolYear, orgScopeOf, schoolYearAsBefore, writeCarriedUsers, UserLinks, UserLinksBuilder, Columns, stagedBatches, applyRows, previousRecords, scopeSchools, snapshotWarnings, cell, textCell, isPersonRole, personRoleOf, orNull, splitList, isTrue, detached, isDeletion].map(String),
				JSON.stringify(ONEROSTER_ROLE_MAP),
				JSON.stringify(PERSON_ROLES),
				JSON.stringify(SNAPSHOT_TABLES.map((spec) => [spec.table, spec.columns, String(spec.toRow)])),
			].join('\0'),
		)
		.digest('hex');
	return rules;
}

/**
 * What this run's snapshot is a function of, when that can be told exactly: Normalize's rules, its
 * options, and the content of every staged file (their hashes, kept by the CSV ingest). Only for
 * full (bulk) sets whose files staged without row problems; otherwise null (always normalized).
 */
async function snapshotFingerprint(db: SqlDb, runId: string, stagedFiles: StagedFile[], options: NormalizeOptions): Promise<string | null> {
	if (stagedFiles.length === 0 || stagedFiles.some((file) => file.mode !== 'bulk')) return null;
	const hashes = await readStagedContentHashes(db, runId);
	const parts = [normalizeRules(), `schoolIds ${JSON.stringify(options.schoolIds ?? [])}`];
	for (const file of [...stagedFiles].sort((a, b) => (a.entity < b.entity ? -1 : 1))) {
		const staged = hashes.get(file.entity);
		if (!staged || staged.skipped !== 0) return null;
		parts.push(`${file.entity} ${staged.contentHash}`);
	}
	return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/**
 * An earlier snapshot made from exactly the same input (same fingerprint) is this run's snapshot:
 * its records are shared (shareSnapshot) and its problems copied instead of normalizing again.
 */
async function shareEarlierSnapshot(
	db: SqlDb,
	runId: string,
	fingerprint: string,
	files: Map<StagedEntity, Columns>,
): Promise<Omit<NormalizeResult, 'run' | 'drift'> | null> {
	const earlier = await findSnapshotByFingerprint(db, fingerprint, runId);
	if (!earlier) return null;
	await shareSnapshot(db, earlier.runId, runId, fingerprint);
	const counts = earlier.counts as unknown as NormalizeCounts;
	const problems = (await listProblems(db, earlier.runId)).filter((problem) => problem.stage === 'normalized');
	await addProblems(
		db,
		runId,
		'normalized',
		problems.map((problem) => ({ file: problem.file, row: problem.row, field: problem.field, sourcedId: problem.sourcedId, message: problem.message })),
	);
	return { counts: { ...counts, snapshotCopiedFrom: earlier.runId }, warnings: snapshotWarnings(files, counts), problemCount: problems.length };
}

/** The canonical snapshot of a run, read back whole (small and medium districts, tests, reports). */
export async function readSnapshot(db: SqlDb, runId: string) {
	return {
		orgs: await readSnapshotRecords<CanonicalOrg>(db, runId, ORG_TABLE),
		terms: await readSnapshotRecords<CanonicalTerm>(db, runId, TERM_TABLE),
		courses: await readSnapshotRecords<CanonicalCourse>(db, runId, COURSE_TABLE),
		classes: await readSnapshotRecords<CanonicalClass>(db, runId, CLASS_TABLE),
		people: await readSnapshotRecords<CanonicalPerson>(db, runId, PERSON_TABLE),
		contacts: await readSnapshotRecords<CanonicalContact>(db, runId, CONTACT_TABLE),
		enrollments: await readSnapshotRecords<CanonicalEnrollment>(db, runId, ENROLLMENT_TABLE),
	};
}
