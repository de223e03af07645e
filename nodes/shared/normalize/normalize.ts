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
	TERM_TABLE,
	readSnapshotBatches,
	copySnapshotRows,
	findSnapshotByFingerprint,
	readSnapshotHeader,
	readSnapshotRecords,
	writeSnapshotHeader,
	writeSnapshotRecords,
} from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import { readStagedContentHashes, readStagedFiles, readStagedRows } from '../store/staging';
import { DEFAULT_KEEP_SNAPSHOTS_DAYS, pruneSnapshots } from '../store/retention';
import type { DriftReport, DriftSettings } from './drift';
import { checkDrift } from './drift';

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
	/** The export was exactly the one this earlier run normalized: its snapshot was copied. */
	snapshotCopiedFrom?: string;
}

export interface NormalizeResult {
	run: RunRecord;
	counts: NormalizeCounts;
	warnings: string[];
	problemCount: number;
	/** The drift check's result; findings mean the run was stopped (run.status 'stopped'). */
	drift: DriftReport;
}

/** Column lookup for one staged file. */
class Columns {
	private readonly index = new Map<string, number>();
	constructor(readonly file: StagedFile) {
		file.columns.forEach((name, i) => {
			if (!this.index.has(name)) this.index.set(name, i);
		});
	}
	has(name: string): boolean {
		return this.index.has(name);
	}
	/** The cell of `name` (or of `alternative` when the file has no `name` column), trimmed; '' when absent. */
	get(cells: string[], name: string, alternative?: string): string {
		let i = this.index.get(name);
		if (i === undefined && alternative !== undefined) i = this.index.get(alternative);
		if (i === undefined) return '';
		const cell = cells[i];
		return cell === undefined ? '' : cell.trim();
	}
}

const orNull = (value: string): string | null => (value === '' ? null : value);
const splitList = (value: string): string[] =>
	value === '' ? [] : value.split(',').map((part) => part.trim()).filter((part) => part !== '');
const isTrue = (value: string): boolean => value.toLowerCase() === 'true';

/** A delta row marked for deletion (OneRoster: status tobedeleted; 1.1 also inactive). */
const isDeletion = (file: StagedFile, status: string): boolean =>
	file.mode === 'delta' && (status === 'tobedeleted' || status === 'inactive');

interface StagedInput {
	files: Map<StagedEntity, Columns>;
	db: SqlDb;
	runId: string;
	onProgress?: ProgressCallback;
}

/** The staged rows of one entity in batches (a batch at a time: no async step per row). */
async function* stagedBatches(input: StagedInput, entity: StagedEntity): AsyncGenerator<[Columns, StagedRow[]]> {
	const columns = input.files.get(entity);
	if (!columns) return;
	let done = 0;
	for await (const batch of readStagedRows(input.db, input.runId, entity)) {
		yield [columns, batch];
		done += batch.length;
		reportProgress(input.onProgress, { stage: 'normalize', done, unit: 'rows', file: columns.file.fileName });
	}
	reportProgress(input.onProgress, { stage: 'normalize', done, unit: 'rows', file: columns.file.fileName, finished: true });
}

/**
 * Applies one entity's staged rows onto `records`: bulk replaces, delta upserts and deletes.
 * `records` starts as the previous snapshot's rows for a delta file, empty for bulk.
 */
async function applyRows<T>(
	input: StagedInput,
	entity: StagedEntity,
	records: Map<string, T>,
	toRecord: (columns: Columns, row: StagedRow) => T | undefined,
): Promise<void> {
	for await (const [columns, batch] of stagedBatches(input, entity)) for (const row of batch) {
		if (isDeletion(columns.file, columns.get(row.cells, 'status'))) {
			records.delete(row.sourcedId);
			continue;
		}
		const record = toRecord(columns, row);
		if (record !== undefined) records.set(row.sourcedId, record);
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
	const { counts, warnings, problemCount } = await store.transaction((tx) => buildSnapshot(tx, runId, options));
	await completeStage(store, runId, 'normalized', counts as unknown as Record<string, unknown>, warnings);
	const { run, drift } = await checkDrift(store, runId, options.drift);
	await pruneSnapshots(store, options.keepSnapshotsDays ?? DEFAULT_KEEP_SNAPSHOTS_DAYS);
	return { run, counts, warnings, problemCount, drift };
}

/** Writes the canonical snapshot of `runId` from its staged rows (inside the caller's transaction). */
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
		const copied = await copyEarlierSnapshot(db, runId, fingerprint, files);
		if (copied) return copied;
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

	// Orgs and school scoping.
	const orgs = await previousRecords(db, previousId, files.get('orgs'), ORG_TABLE, (o) => o.sourcedId);
	await applyRows(input, 'orgs', orgs, (c, row) => ({
		sourcedId: row.sourcedId,
		name: c.get(row.cells, 'name'),
		type: c.get(row.cells, 'type'),
		identifier: orNull(c.get(row.cells, 'identifier')),
		parentId: orNull(c.get(row.cells, 'parentSourcedId')),
	}));
	const schoolScope = scopeSchools(orgs, options.schoolIds ?? []);
	const scoped = (options.schoolIds ?? []).length > 0;
	/** Orgs a scoped person or class may belong to: the scoped schools and the districts above them. */
	const orgScope = new Set(schoolScope);
	for (const schoolId of schoolScope) {
		let parent = orgs.get(schoolId)?.parentId;
		while (parent && !orgScope.has(parent)) {
			orgScope.add(parent);
			parent = orgs.get(parent)?.parentId;
		}
	}

	// Terms and courses.
	const terms = await previousRecords(db, previousId, files.get('academicSessions'), TERM_TABLE, (t) => t.sourcedId);
	await applyRows(input, 'academicSessions', terms, (c, row) => ({
		sourcedId: row.sourcedId,
		title: c.get(row.cells, 'title'),
		type: c.get(row.cells, 'type'),
		startDate: orNull(c.get(row.cells, 'startDate')),
		endDate: orNull(c.get(row.cells, 'endDate')),
		parentId: orNull(c.get(row.cells, 'parentSourcedId')),
		schoolYear: orNull(c.get(row.cells, 'schoolYear')),
	}));
	const courses = await previousRecords(db, previousId, files.get('courses'), COURSE_TABLE, (c) => c.sourcedId);
	await applyRows(input, 'courses', courses, (c, row) => ({
		sourcedId: row.sourcedId,
		title: c.get(row.cells, 'title'),
		courseCode: orNull(c.get(row.cells, 'courseCode')),
		grades: splitList(c.get(row.cells, 'grades')),
		subjects: splitList(c.get(row.cells, 'subjects')),
		orgId: orNull(c.get(row.cells, 'orgSourcedId')),
	}));

	// Classes, kept when their school is in scope.
	const classesOutOfScope = new Set<string>();
	const classes = await previousRecords(db, previousId, files.get('classes'), CLASS_TABLE, (c) => c.sourcedId);
	await applyRows(input, 'classes', classes, (c, row): CanonicalClass | undefined => {
		const schoolId = c.get(row.cells, 'schoolSourcedId');
		if (!orgs.has(schoolId)) {
			problem(c, row, 'schoolSourcedId', `class ${row.sourcedId} names school "${schoolId}", which is not in orgs.csv`);
			return undefined;
		}
		if (!schoolScope.has(schoolId)) {
			classesOutOfScope.add(row.sourcedId);
			return undefined;
		}
		const termIds = splitList(c.get(row.cells, 'termSourcedIds'));
		const unknownTerm = termIds.find((termId) => !terms.has(termId));
		if (unknownTerm) {
			problem(c, row, 'termSourcedIds', `class ${row.sourcedId} names term "${unknownTerm}", which is not in academicSessions.csv`);
			return undefined;
		}
		return {
			sourcedId: row.sourcedId,
			title: c.get(row.cells, 'title'),
			classCode: orNull(c.get(row.cells, 'classCode')),
			classType: orNull(c.get(row.cells, 'classType')),
			courseId: orNull(c.get(row.cells, 'courseSourcedId')),
			schoolId,
			termIds,
			grades: splitList(c.get(row.cells, 'grades')),
			subjects: splitList(c.get(row.cells, 'subjects')),
			periods: orNull(c.get(row.cells, 'periods')),
		};
	});

	// 1.2: roles.csv gives each user's role(s) and orgs; the primary role wins.
	const rolesByUser = new Map<string, { role: string; orgIds: string[]; primaryOrgId: string | null }>();
	for await (const [c, batch] of stagedBatches(input, 'roles')) for (const row of batch) {
		const userId = c.get(row.cells, 'userSourcedId');
		const role = c.get(row.cells, 'role');
		const orgId = c.get(row.cells, 'orgSourcedId');
		const primary = c.get(row.cells, 'roleType') === 'primary';
		const entry = rolesByUser.get(userId) ?? { role, orgIds: [], primaryOrgId: null };
		if (primary) {
			entry.role = role;
			entry.primaryOrgId = orgId || entry.primaryOrgId;
		}
		if (orgId && !entry.orgIds.includes(orgId)) entry.orgIds.push(orgId);
		rolesByUser.set(userId, entry);
	}

	// Users → people and contacts.
	const usersFile = files.get('users');
	const people = await previousRecords(db, previousId, usersFile, PERSON_TABLE, (p) => p.sourcedId);
	const contacts = await previousRecords(db, previousId, usersFile, CONTACT_TABLE, (p) => p.sourcedId);
	/** agentSourcedIds as listed on each user row, for primary contacts. */
	const agentsOf = new Map<string, string[]>();
	let peopleOutOfScope = 0;
	for await (const [c, batch] of stagedBatches(input, 'users')) for (const row of batch) {
		if (isDeletion(c.file, c.get(row.cells, 'status'))) {
			people.delete(row.sourcedId);
			contacts.delete(row.sourcedId);
			continue;
		}
		const fromRoles = rolesByUser.get(row.sourcedId);
		const sisRole = c.has('role') ? c.get(row.cells, 'role') : (fromRoles?.role ?? '');
		const mapped = ONEROSTER_ROLE_MAP[sisRole];
		if (!mapped) {
			problem(c, row, 'role', sisRole ? `unknown role "${sisRole}"` : 'the user has no role (no row in roles.csv)');
			continue;
		}
		const orgIds = c.has('orgSourcedIds') ? splitList(c.get(row.cells, 'orgSourcedIds')) : (fromRoles?.orgIds ?? []);
		const givenName = c.get(row.cells, 'givenName');
		const familyName = c.get(row.cells, 'familyName');
		const email = orNull(c.get(row.cells, 'email'));
		const phone = orNull(c.get(row.cells, 'phone'));
		const sms = orNull(c.get(row.cells, 'sms'));
		const agents = splitList(c.get(row.cells, 'agentSourcedIds'));
		if (agents.length > 0) agentsOf.set(row.sourcedId, agents);

		if (!(PERSON_ROLES as readonly string[]).includes(mapped)) {
			contacts.set(row.sourcedId, {
				sourcedId: row.sourcedId,
				relationship: mapped as ContactRelationship,
				givenName,
				familyName,
				email,
				phone,
				sms,
			});
			continue;
		}
		const unknownOrg = orgIds.find((orgId) => !orgs.has(orgId));
		if (unknownOrg) {
			problem(c, row, c.has('orgSourcedIds') ? 'orgSourcedIds' : 'orgSourcedId', `user ${row.sourcedId} names org "${unknownOrg}", which is not in orgs.csv`);
			continue;
		}
		if (scoped && !orgIds.some((orgId) => orgScope.has(orgId))) {
			peopleOutOfScope++;
			people.delete(row.sourcedId);
			continue;
		}
		const schoolIds = orgIds.filter((orgId) => orgs.get(orgId)?.type === 'school' && (!scoped || schoolScope.has(orgId)));
		const primaryOrg = c.get(row.cells, 'primaryOrgSourcedId') || fromRoles?.primaryOrgId || '';
		const grades = splitList(c.get(row.cells, 'grades'));
		people.set(row.sourcedId, {
			sourcedId: row.sourcedId,
			role: mapped as PersonRole,
			sisRole,
			givenName,
			familyName,
			middleName: orNull(c.get(row.cells, 'middleName')),
			preferredGivenName: orNull(c.get(row.cells, 'preferredFirstName', 'preferredGivenName')),
			preferredFamilyName: orNull(c.get(row.cells, 'preferredLastName', 'preferredFamilyName')),
			email,
			username: orNull(c.get(row.cells, 'username')),
			sisId: orNull(c.get(row.cells, 'identifier')),
			grade: mapped === 'student' ? (grades[0] ?? null) : null,
			schoolIds,
			primarySchoolId: schoolIds.includes(primaryOrg) ? primaryOrg : (schoolIds[0] ?? null),
			enabled: c.get(row.cells, 'enabledUser') === '' ? true : isTrue(c.get(row.cells, 'enabledUser')),
			phone,
			sms,
			primaryContactId: null,
		});
	}

	// Primary parent contact: the first parent/guardian the student lists; else the first that lists the student.
	const listedBy = new Map<string, string>();
	for (const [userId, agents] of agentsOf) {
		if (!contacts.has(userId)) continue;
		for (const studentId of agents) if (!listedBy.has(studentId)) listedBy.set(studentId, userId);
	}
	let studentsWithPrimaryContact = 0;
	for (const person of people.values()) {
		if (person.role !== 'student') continue;
		const own = (agentsOf.get(person.sourcedId) ?? []).find((agentId) => contacts.has(agentId));
		const contactId = own ?? listedBy.get(person.sourcedId) ?? (contacts.has(person.primaryContactId ?? '') ? person.primaryContactId : null);
		person.primaryContactId = contactId ?? null;
		if (contactId) studentsWithPrimaryContact++;
	}
	// Keep only contacts someone in scope points at.
	const usedContacts = new Set([...people.values()].map((p) => p.primaryContactId).filter((id): id is string => !!id));
	const keptContacts = [...contacts.values()].filter((contact) => usedContacts.has(contact.sourcedId));

	// People and contacts are complete: write them now and keep only what the enrollments are checked
	// against (ids, relationships), so the longest loop below runs with a much smaller heap.
	const peopleCounts = Object.fromEntries(PERSON_ROLES.map((role) => [role, 0])) as Record<PersonRole, number>;
	for (const person of people.values()) peopleCounts[person.role]++;
	await writeSnapshotRecords(db, runId, PERSON_TABLE, people.values());
	await writeSnapshotRecords(db, runId, CONTACT_TABLE, keptContacts);
	const contactCount = keptContacts.length;
	const personIds = new Set(people.keys());
	const contactRelationships = new Map([...contacts.values()].map((contact) => [contact.sourcedId, contact.relationship]));
	people.clear();
	contacts.clear();
	agentsOf.clear();
	listedBy.clear();
	usedContacts.clear();
	keptContacts.length = 0;

	const skippedUsers = new Set(
		(await db.query("SELECT sourced_id FROM run_problems WHERE run_id = ? AND stage = 'staged' AND file = 'users.csv' AND sourced_id IS NOT NULL", [runId])).map(
			(row) => String(row.sourced_id),
		),
	);

	// Enrollments, streamed: checked against classes and people, written in batches.
	const enrollmentsFile = files.get('enrollments');
	const enrollmentDelta = enrollmentsFile?.file.mode === 'delta';
	const enrollments = new Map<string, CanonicalEnrollment>();
	if (enrollmentDelta && previousId) {
		for await (const batch of readSnapshotBatches(db, previousId, ENROLLMENT_TABLE)) {
			for (const enrollment of batch) enrollments.set(enrollment.sourcedId, enrollment);
		}
	}
	let enrollmentsOutOfScope = 0;
	let enrollmentCount = 0;
	const pending: CanonicalEnrollment[] = [];
	const flush = async () => {
		await writeSnapshotRecords(db, runId, ENROLLMENT_TABLE, pending);
		enrollmentCount += pending.length;
		pending.length = 0;
	};
	for await (const [c, batch] of stagedBatches(input, 'enrollments')) for (const row of batch) {
		if (isDeletion(c.file, c.get(row.cells, 'status'))) {
			enrollments.delete(row.sourcedId);
			continue;
		}
		const classId = c.get(row.cells, 'classSourcedId');
		const personId = c.get(row.cells, 'userSourcedId');
		if (!classes.has(classId)) {
			if (classesOutOfScope.has(classId)) enrollmentsOutOfScope++;
			else problem(c, row, 'classSourcedId', `enrollment names class "${classId}", which is not in classes.csv`);
			continue;
		}
		if (!personIds.has(personId)) {
			if (skippedUsers.has(personId)) problem(c, row, 'userSourcedId', `enrollment names user "${personId}", whose row in users.csv was skipped`);
			else if (contactRelationships.has(personId)) problem(c, row, 'userSourcedId', `enrollment names "${personId}", a ${contactRelationships.get(personId)}, not a student or staff member`);
			else problem(c, row, 'userSourcedId', `enrollment names user "${personId}", who is not in users.csv`);
			continue;
		}
		const sisRole = c.get(row.cells, 'role');
		const role = ONEROSTER_ROLE_MAP[sisRole];
		if (!role || !(PERSON_ROLES as readonly string[]).includes(role)) {
			problem(c, row, 'role', `enrollment role "${sisRole}" is not a student or staff role`);
			continue;
		}
		const record: CanonicalEnrollment = {
			sourcedId: row.sourcedId,
			classId,
			personId,
			role: role as PersonRole,
			primary: isTrue(c.get(row.cells, 'primary')),
			beginDate: orNull(c.get(row.cells, 'beginDate')),
			endDate: orNull(c.get(row.cells, 'endDate')),
		};
		if (enrollmentDelta) enrollments.set(record.sourcedId, record);
		else {
			pending.push(record);
			if (pending.length >= 5000) await flush();
		}
	}
	if (enrollmentDelta) pending.push(...[...enrollments.values()].filter((e) => classes.has(e.classId) && personIds.has(e.personId)));
	await flush();
	const counts: NormalizeCounts = {
		schools: schoolScope.size,
		orgs: orgs.size,
		terms: terms.size,
		courses: courses.size,
		classes: classes.size,
		people: peopleCounts,
		contacts: contactCount,
		studentsWithPrimaryContact,
		enrollments: enrollmentCount,
		skippedRows: problems.length,
		outOfScope: { people: peopleOutOfScope, classes: classesOutOfScope.size, enrollments: enrollmentsOutOfScope },
		...(previousId ? { deltaFrom: previousId } : {}),
	};
	warnings.push(...snapshotWarnings(files, counts));

	await writeSnapshotRecords(db, runId, ORG_TABLE, orgs.values());
	await writeSnapshotRecords(db, runId, TERM_TABLE, terms.values());
	await writeSnapshotRecords(db, runId, COURSE_TABLE, courses.values());
	await writeSnapshotRecords(db, runId, CLASS_TABLE, classes.values());
	await writeSnapshotHeader(db, runId, [...schoolScope], counts as unknown as Record<string, unknown>, fingerprint);
	await addProblems(db, runId, 'normalized', problems);
	return { counts, warnings, problemCount: problems.length };
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
				...[buildSnapshot, Columns, stagedBatches, applyRows, previousRecords, scopeSchools, snapshotWarnings, orNull, splitList, isTrue, isDeletion].map(String),
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
 * its rows and its problems are copied inside the database instead of normalizing again.
 */
async function copyEarlierSnapshot(
	db: SqlDb,
	runId: string,
	fingerprint: string,
	files: Map<StagedEntity, Columns>,
): Promise<Omit<NormalizeResult, 'run' | 'drift'> | null> {
	const earlier = await findSnapshotByFingerprint(db, fingerprint, runId);
	if (!earlier) return null;
	await copySnapshotRows(db, earlier.runId, runId);
	const counts = earlier.counts as unknown as NormalizeCounts;
	await writeSnapshotHeader(db, runId, earlier.schoolIds, earlier.counts, fingerprint);
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
