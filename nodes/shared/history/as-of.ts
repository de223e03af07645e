/**
 * Roster as of a date: who was in a class or a grade — from the newest run snapshot taken on or
 * before that date (what the SIS said then) — or on a user list — the list's members now, with
 * the member changes of every run after that date undone (what the store held then; edits made
 * by hand outside a sync are not in the change log).
 *
 * How far back it reaches depends on the snapshot retention (Normalize's Keep Snapshots).
 */
import { RosterRunError } from '../model/errors';
import { gradeKey } from '../lists/plan';
import { changesSince } from '../store/changes';
import type { UserListRow } from '../store/lists';
import { loadAllLists, loadListMembers } from '../store/lists';
import { CLASS_TABLE, ENROLLMENT_TABLE, PERSON_TABLE, findSnapshotRecords, readSnapshotRecords, readSnapshotRecordsById } from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import { forIdChunks, placeholders } from '../store/sql';

export const AS_OF_KINDS = ['class', 'grade', 'list'] as const;
export type AsOfKind = (typeof AS_OF_KINDS)[number];

export interface AsOfMember {
	/** People store id (lists; classes and grades when the person is in the store). */
	personId: string | null;
	sourcedId: string | null;
	name: string;
	role: string;
	grade: string | null;
	/** Classes: the enrollment role (student, teacher…); lists: member or manager. */
	membership: string;
}

export interface AsOfAnswer {
	kind: AsOfKind;
	/** What was asked for, and what it named (a class or list title, a grade). */
	key: string;
	title: string;
	/** The instant answered for (a date means the end of that day, UTC). */
	asOf: string;
	/** Classes and grades: the run whose snapshot answered, and when it was taken. */
	snapshotRunId: string | null;
	snapshotTakenAt: string | null;
	/** Lists: whether the list was archived at that time. */
	archived: boolean | null;
	members: AsOfMember[];
}

/**
 * "2026-10-01" → the end of that day (UTC). A date at midnight without a time zone (what a date
 * picker gives) means that whole day too; any other date-time is taken as it is.
 */
export function asOfInstant(value: string): string {
	const text = String(value ?? '').trim();
	const day = /^(\d{4}-\d{2}-\d{2})(T00:00(:00(\.0+)?)?)?$/.exec(text);
	const time = Date.parse(day ? `${day[1]}T23:59:59.999Z` : text);
	if (!text || Number.isNaN(time)) throw new RosterRunError(`"${text}" is not a date`, 'Give a date such as 2026-10-01, or a date and time.');
	return new Date(time).toISOString();
}

export async function rosterAsOf(db: SqlDb, kind: AsOfKind, key: string, date: string): Promise<AsOfAnswer> {
	const asOf = asOfInstant(date);
	const wanted = String(key ?? '').trim();
	if (!wanted) throw new RosterRunError(`Name the ${kind} to look up`);
	if (kind === 'list') return listAsOf(db, wanted, asOf);
	const snapshot = await snapshotAsOf(db, asOf);
	const answer = { kind, key: wanted, asOf, snapshotRunId: snapshot.runId, snapshotTakenAt: snapshot.createdAt, archived: null };
	return kind === 'class' ? { ...answer, ...(await classAsOf(db, snapshot.runId, wanted)) } : { ...answer, ...(await gradeAsOf(db, snapshot.runId, wanted)) };
}

/** The newest snapshot taken on or before `asOf`, of a sync run whose export was not rejected. */
async function snapshotAsOf(db: SqlDb, asOf: string): Promise<{ runId: string; createdAt: string }> {
	const rows = await db.query(
		"SELECT s.run_id, s.created_at FROM snapshots s JOIN sync_runs r ON r.id = s.run_id WHERE s.created_at <= ? AND r.kind = 'sync' AND r.status NOT IN ('failed', 'stopped', 'discarded', 'rolled_back') ORDER BY s.created_at DESC LIMIT 1",
		[asOf],
	);
	if (rows[0]) return { runId: String(rows[0].run_id), createdAt: String(rows[0].created_at) };
	const oldest = await db.query('SELECT MIN(created_at) AS first FROM snapshots');
	const first = oldest[0]?.first ? String(oldest[0].first) : null;
	throw new RosterRunError(
		`No roster snapshot was taken on or before ${asOf}`,
		first ? `The oldest snapshot kept is from ${first} (see Keep Snapshots on Roster Normalize).` : 'No run has been normalized yet.',
	);
}

const personName = (given: unknown, family: unknown) => [given, family].filter((part) => part && String(part).trim() !== '').join(' ');
const byRoleThenName = (a: AsOfMember, b: AsOfMember) => a.membership.localeCompare(b.membership) || a.name.localeCompare(b.name) || String(a.sourcedId).localeCompare(String(b.sourcedId));

/** Store ids of the people linked to these SIS sourcedIds (one each; none when ambiguous). */
async function storeIds(db: SqlDb, sourcedIds: string[]): Promise<Map<string, string>> {
	const ids = new Map<string, string>();
	const twice = new Set<string>();
	await forIdChunks(sourcedIds, async (chunk) => {
		for (const row of await db.query(`SELECT id, sourced_id FROM people WHERE sourced_id IN (${placeholders(chunk)})`, chunk)) {
			const sourcedId = String(row.sourced_id);
			if (ids.has(sourcedId)) twice.add(sourcedId);
			ids.set(sourcedId, String(row.id));
		}
	});
	twice.forEach((sourcedId) => ids.delete(sourcedId));
	return ids;
}

async function classAsOf(db: SqlDb, runId: string, wanted: string): Promise<Pick<AsOfAnswer, 'title' | 'members'>> {
	const classes = await readSnapshotRecords(db, runId, CLASS_TABLE);
	const lower = wanted.toLowerCase();
	const tiers = [
		classes.filter((c) => c.sourcedId === wanted),
		classes.filter((c) => (c.classCode ?? '').toLowerCase() === lower),
		classes.filter((c) => c.title.toLowerCase() === lower),
	];
	const found = tiers.find((tier) => tier.length > 0) ?? [];
	if (found.length !== 1) {
		throw new RosterRunError(
			found.length === 0 ? `No class "${wanted}" in the roster of run ${runId}` : `${found.length} classes are called "${wanted}": ${found.map((c) => `${c.title} (${c.sourcedId})`).join('; ')}`,
			'Name the class by its sourcedId, class code or exact title.',
		);
	}
	const classId = found[0].sourcedId;
	// Only enrollment chunks that mention the class id (as it is written in their JSON) are read.
	const enrollments = await findSnapshotRecords(db, runId, ENROLLMENT_TABLE, (e) => e.classId === classId, [JSON.stringify(classId)]);
	const people = await readSnapshotRecordsById(db, runId, PERSON_TABLE, enrollments.map((e) => e.personId));
	const ids = await storeIds(db, enrollments.map((e) => e.personId));
	const members = enrollments.map((enrollment) => {
		const person = people.get(enrollment.personId);
		return {
			personId: ids.get(enrollment.personId) ?? null,
			sourcedId: enrollment.personId,
			name: personName(person?.givenName, person?.familyName),
			role: person?.role ?? enrollment.role,
			grade: person?.grade ?? null,
			membership: enrollment.role,
		};
	});
	return { title: found[0].title, members: members.sort(byRoleThenName) };
}

async function gradeAsOf(db: SqlDb, runId: string, wanted: string): Promise<Pick<AsOfAnswer, 'title' | 'members'>> {
	const key = gradeKey(wanted);
	const students = await findSnapshotRecords(db, runId, PERSON_TABLE, (p) => p.role === 'student' && p.grade !== null && gradeKey(p.grade) === key);
	const ids = await storeIds(db, students.map((p) => p.sourcedId));
	const members = students.map((p) => ({
		personId: ids.get(p.sourcedId) ?? null,
		sourcedId: p.sourcedId,
		name: personName(p.givenName, p.familyName),
		role: 'student',
		grade: String(p.grade),
		membership: 'student',
	}));
	return { title: `Grade ${wanted}`, members: members.sort(byRoleThenName) };
}

async function listAsOf(db: SqlDb, wanted: string, asOf: string): Promise<AsOfAnswer> {
	const lists = await loadAllLists(db);
	const byId = lists.filter((l) => l.id === wanted);
	const found: UserListRow[] = byId.length > 0 ? byId : lists.filter((l) => l.title.toLowerCase() === wanted.toLowerCase());
	if (found.length !== 1) {
		throw new RosterRunError(
			found.length === 0 ? `No user list "${wanted}"` : `${found.length} user lists are called "${wanted}": ${found.map((l) => `${l.title} (${l.id}, ${l.kind})`).join('; ')}`,
			'Name the list by its id or exact title.',
		);
	}
	const list = found[0];
	const listChanges = await changesSince(db, 'list', list.id, asOf);
	const creation = listChanges.find((change) => change.action === 'create');
	if (creation) throw new RosterRunError(`The list "${list.title}" did not exist yet on ${asOf} (run ${creation.runId} created it)`);

	// Today's members, then every later run's changes undone, newest first.
	const members = new Map<string, Set<string>>([
		['member', new Set()],
		['manager', new Set()],
	]);
	for (const row of await loadListMembers(db, list.id)) members.get(row.membership)!.add(row.person_id);
	const sourcedIds = new Map<string, string | null>();
	for (const change of await changesSince(db, 'list_member', list.id, asOf)) {
		const people = (change.after ?? change.before) as { person_ids: string[]; sourced_ids: Array<string | null> } | null;
		const set = members.get(change.role === 'manager' ? 'manager' : 'member')!;
		(people?.person_ids ?? []).forEach((id, i) => {
			sourcedIds.set(id, people!.sourced_ids[i] ?? null);
			if (change.action === 'add') set.delete(id);
			else set.add(id);
		});
	}
	let title = list.title;
	let archived = list.archived_at !== null;
	for (const change of listChanges) {
		const before = change.before ?? {};
		if ((change.fields ?? []).includes('title')) title = String(before.title);
		if ((change.fields ?? []).includes('archived_at')) archived = before.archived_at !== null && before.archived_at !== undefined;
	}

	const ids = [...members.values()].flatMap((set) => [...set]);
	const people = new Map<string, Record<string, unknown>>();
	await forIdChunks(ids, async (chunk) => {
		for (const row of await db.query(`SELECT id, sourced_id, role, given_name, family_name, grade FROM people WHERE id IN (${placeholders(chunk)})`, chunk)) {
			people.set(String(row.id), row);
		}
	});
	const answer: AsOfMember[] = [];
	for (const [membership, set] of members) {
		for (const id of set) {
			const person = people.get(id);
			answer.push({
				personId: id,
				sourcedId: person?.sourced_id ? String(person.sourced_id) : (sourcedIds.get(id) ?? null),
				name: person ? personName(person.given_name, person.family_name) : '(no longer in the store)',
				role: person ? String(person.role) : '',
				grade: person?.grade ? String(person.grade) : null,
				membership,
			});
		}
	}
	return { kind: 'list', key: wanted, title, asOf, snapshotRunId: null, snapshotTakenAt: null, archived, members: answer.sort(byRoleThenName) };
}
