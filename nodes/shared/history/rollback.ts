/**
 * Rollback: reverts a whole applied run — people (with the parent contact fields on them), user
 * lists and memberships — from its run_changes. The rollback is itself a run (kind 'rollback')
 * whose changes are the inverses, so it shows in the history and can be rolled back in turn.
 *
 * A change is reverted only where the store still holds what the run wrote: a field that a later
 * run or a person changed since is kept and listed as a conflict (a problem of the rollback run).
 * People and lists the run created are deleted (they did not exist before it), unless they were
 * changed since or are in use (on a list, with members) — then they are kept as conflicts.
 * Changes are undone newest first. A dry run works everything out and changes nothing.
 */
import type { RecordProblem } from '../model/errors';
import { RosterRunError } from '../model/errors';
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import type { ReconcileCounts } from '../reconcile/plan';
import { emptyCounts } from '../reconcile/plan';
import type { RunChange, StoredChange } from '../store/changes';
import { addChanges, listChanges } from '../store/changes';
import type { Membership, UserListRow } from '../store/lists';
import { countMembershipsOf, deleteLists, insertLists, insertMembers, loadAllLists, loadListMembers, removeMembers, replaceLists } from '../store/lists';
import type { PersonRow } from '../store/people';
import { PEOPLE_COLUMNS, deletePeople, emailKey, insertPeople, loadPeople, replacePeople } from '../store/people';
import type { RunRecord } from '../store/runs';
import { addProblems, completeStage, createRun, failRun, getRun, recordStageSettings, setRunStatus } from '../store/runs';
import type { SqlDb, SqlValue } from '../store/sql';
import { forIdChunks, nowIso, placeholders } from '../store/sql';

const INVERSE: Record<string, string> = {
	create: 'delete',
	delete: 'create',
	archive: 'restore',
	restore: 'archive',
	update: 'update',
	relink: 'relink',
	add: 'remove',
	remove: 'add',
};

export interface RollbackCounts {
	rollbackOf: string;
	dryRun: boolean;
	people: ReconcileCounts & { deleted: number };
	byRole: Record<PersonRole, ReconcileCounts & { deleted: number }>;
	lists: Record<'listsCreated' | 'listsDeleted' | 'listsUpdated' | 'listsArchived' | 'listsRestored' | 'membersAdded' | 'membersRemoved' | 'managersAdded' | 'managersRemoved', number>;
	conflicts: number;
}

export interface RollbackResult {
	/** The rollback run. */
	run: RunRecord;
	/** The run rolled back (status 'rolled_back' unless this was a dry run). */
	target: RunRecord;
	counts: RollbackCounts;
	conflicts: RecordProblem[];
}

interface Reverted {
	changes: RunChange[];
	conflicts: RecordProblem[];
}

/** Thrown inside the transaction of a dry run so nothing it did is kept. */
class Preview extends Error {
	constructor(readonly reverted: Reverted) {
		super('preview');
	}
}

const same = (a: unknown, b: unknown) => (a ?? null) === (b ?? null);
const pick = (values: Record<string, unknown> | null, fields: string[]) => Object.fromEntries(fields.map((f) => [f, values?.[f] ?? null]));

export async function rollbackRun(db: SqlDb, targetRunId: string, options: { dryRun?: boolean } = {}): Promise<RollbackResult> {
	const target = await getRun(db, targetRunId);
	if (target.status === 'rolled_back') {
		throw new RosterRunError(`Run ${targetRunId} was rolled back already (${target.error ?? ''})`.replace(/ \(\)$/, ''));
	}
	if (target.dryRun) throw new RosterRunError(`Run ${targetRunId} is a dry run: it changed nothing, so there is nothing to roll back`);
	const applied = (await listChanges(db, targetRunId)).filter((change) => change.applied);
	if (applied.length === 0) {
		throw new RosterRunError(`Run ${targetRunId} applied no changes (it is ${target.status}): there is nothing to roll back`);
	}
	const dryRun = options.dryRun ?? false;
	const rollback = await createRun(db, { kind: 'rollback', source: `rollback of run ${targetRunId}`, dryRun, settings: { rollbackOf: targetRunId } });
	try {
		return await db.transaction(async (tx) => {
			const reverted = await revert(tx, targetRunId, rollback.id, applied.reverse());
			if (dryRun) throw new Preview(reverted);
			const result = await record(tx, rollback.id, target, reverted, false);
			await setRunStatus(tx, targetRunId, 'rolled_back', `rolled back by run ${rollback.id}`);
			return { ...result, target: await getRun(tx, targetRunId) };
		});
	} catch (error) {
		if (error instanceof Preview) return db.transaction((tx) => record(tx, rollback.id, target, error.reverted, true));
		await failRun(db, rollback.id, `Rollback: ${(error as Error).message}`);
		throw Object.assign(error as Error, { runId: rollback.id });
	}
}

/**
 * Undoes `changes` (newest first) in four steps, so nothing is undone before what it depends on:
 * members the run added leave first (a list or person the run created is then unused), then lists,
 * then people are reverted (re-created ones exist again), then members the run removed come back.
 */
async function revert(db: SqlDb, targetRunId: string, rollbackRunId: string, changes: StoredChange[]): Promise<Reverted> {
	const now = nowIso();
	const of = (entity: string, action?: string) => changes.filter((c) => c.entity === entity && (action === undefined || c.action === action));
	const steps = [
		() => revertMembers(db, targetRunId, rollbackRunId, of('list_member', 'add')),
		() => revertLists(db, targetRunId, of('list'), now),
		() => revertPeople(db, targetRunId, of('person'), now),
		() => revertMembers(db, targetRunId, rollbackRunId, of('list_member', 'remove')),
	];
	const reverted: Reverted = { changes: [], conflicts: [] };
	for (const step of steps) {
		const done = await step();
		reverted.changes.push(...done.changes);
		reverted.conflicts.push(...done.conflicts);
	}
	return reverted;
}

/** Ids (of `ids`) that `sql` (… WHERE column IN (…)) returns, in chunks. */
async function idsIn(db: SqlDb, sql: string, ids: string[]): Promise<Map<string, number>> {
	const found = new Map<string, number>();
	await forIdChunks(ids, async (chunk) => {
		for (const row of await db.query(sql.replace('(…)', `(${placeholders(chunk)})`), chunk)) found.set(String(row.id), Number(row.n));
	});
	return found;
}

function conflict(change: StoredChange, message: string): RecordProblem {
	return { sourcedId: change.sourcedId ?? undefined, message: `${change.label || change.entityId}: ${message}` };
}

async function revertPeople(db: SqlDb, runId: string, changes: StoredChange[], now: string): Promise<Reverted> {
	const out: Reverted = { changes: [], conflicts: [] };
	if (changes.length === 0) return out;
	const people = new Map((await loadPeople(db)).map((person) => [person.id, person]));
	const created = changes.filter((change) => change.action === 'create').map((change) => change.entityId);
	const onLists = await countMembershipsOf(db, created);
	const rewrites = new Map<string, PersonRow>();
	const deletes: string[] = [];
	const inserts: PersonRow[] = [];
	for (const change of changes) {
		const base = { entity: 'person' as const, entityId: change.entityId, role: change.role, label: change.label, sourcedId: change.sourcedId, reason: null, applied: true };
		const person = rewrites.get(change.entityId) ?? people.get(change.entityId);
		if (change.action === 'delete') {
			if (person) out.conflicts.push(conflict(change, 'is in the store again; not re-created'));
			else {
				const row = change.before as unknown as PersonRow;
				inserts.push(row);
				out.changes.push({ ...base, action: 'create', fields: [...PEOPLE_COLUMNS], before: null, after: { ...row } });
			}
			continue;
		}
		if (!person) {
			out.conflicts.push(conflict(change, 'is no longer in the store'));
			continue;
		}
		const record = person as unknown as Record<string, SqlValue>;
		const fields = change.fields ?? [];
		const changedSince = fields.filter((field) => !same(record[field], change.after?.[field]));
		if (change.action === 'create') {
			if (changedSince.length > 0) out.conflicts.push(conflict(change, `created by run ${runId} and changed since (${changedSince.join(', ')}); kept`));
			else if (onLists.has(person.id)) out.conflicts.push(conflict(change, `created by run ${runId} and on user lists now; kept`));
			else {
				deletes.push(person.id);
				out.changes.push({ ...base, action: 'delete', fields: [...PEOPLE_COLUMNS], before: { ...person }, after: null });
			}
			continue;
		}
		if (changedSince.length > 0) out.conflicts.push(conflict(change, `${changedSince.join(', ')} changed after run ${runId}; kept`));
		const revertible = fields.filter((field) => !changedSince.includes(field));
		if (revertible.length === 0) continue;
		const next = { ...person, ...pick(change.before, revertible), updated_at: now } as PersonRow;
		next.email_key = emailKey(next.email);
		if (revertible.includes('archived_at') && next.archived_at === null) next.missing_runs = 0;
		rewrites.set(person.id, next);
		out.changes.push({ ...base, action: INVERSE[change.action] ?? change.action, fields: revertible, before: pick(change.after, revertible), after: pick(change.before, revertible) });
	}
	await deletePeople(db, deletes);
	await replacePeople(db, [...rewrites.values()]);
	await insertPeople(db, inserts);
	return out;
}

const LIST_FIELDS_CREATED = ['title', 'is_public'] as const;

async function revertLists(db: SqlDb, runId: string, changes: StoredChange[], now: string): Promise<Reverted> {
	const out: Reverted = { changes: [], conflicts: [] };
	if (changes.length === 0) return out;
	const lists = new Map((await loadAllLists(db)).map((list) => [list.id, list]));
	const created = changes.filter((change) => change.action === 'create').map((change) => change.entityId);
	const memberCounts = await idsIn(db, 'SELECT list_id AS id, COUNT(*) AS n FROM list_members WHERE list_id IN (…) GROUP BY list_id', created);
	const rewrites = new Map<string, UserListRow>();
	const deletes: string[] = [];
	const inserts: UserListRow[] = [];
	for (const change of changes) {
		const base = { entity: 'list' as const, entityId: change.entityId, role: change.role, label: change.label, sourcedId: change.sourcedId, reason: null, applied: true };
		const list = rewrites.get(change.entityId) ?? lists.get(change.entityId);
		if (change.action === 'delete') {
			if (list) out.conflicts.push(conflict(change, 'is in the store again; not re-created'));
			else {
				const row = change.before as unknown as UserListRow;
				inserts.push(row);
				out.changes.push({ ...base, action: 'create', fields: null, before: null, after: { ...row } });
			}
			continue;
		}
		if (!list) {
			out.conflicts.push(conflict(change, 'is no longer in the store'));
			continue;
		}
		const record = list as unknown as Record<string, SqlValue>;
		if (change.action === 'create') {
			const members = memberCounts.get(list.id) ?? 0;
			const changedSince = LIST_FIELDS_CREATED.filter((field) => !same(record[field], change.after?.[field]));
			if (changedSince.length > 0 || list.visibility_set_by_hand === 1) out.conflicts.push(conflict(change, `created by run ${runId} and changed since; kept`));
			else if (members > 0) out.conflicts.push(conflict(change, `created by run ${runId} and has ${members} members added since; kept`));
			else {
				deletes.push(list.id);
				out.changes.push({ ...base, action: 'delete', fields: null, before: { ...list }, after: null });
			}
			continue;
		}
		const fields = change.fields ?? [];
		const changedSince = fields.filter((field) => !same(record[field], change.after?.[field]));
		if (changedSince.length > 0) out.conflicts.push(conflict(change, `${changedSince.join(', ')} changed after run ${runId}; kept`));
		const revertible = fields.filter((field) => !changedSince.includes(field));
		if (revertible.length === 0) continue;
		rewrites.set(list.id, { ...list, ...pick(change.before, revertible), updated_at: now } as UserListRow);
		out.changes.push({ ...base, action: INVERSE[change.action] ?? change.action, fields: revertible, before: pick(change.after, revertible), after: pick(change.before, revertible) });
	}
	await deleteLists(db, deletes);
	await replaceLists(db, [...rewrites.values()]);
	await insertLists(db, inserts);
	return out;
}

interface MemberPeople {
	person_ids: string[];
	sourced_ids: Array<string | null>;
}

async function revertMembers(db: SqlDb, runId: string, rollbackRunId: string, changes: StoredChange[]): Promise<Reverted> {
	const out: Reverted = { changes: [], conflicts: [] };
	if (changes.length === 0) return out;
	const lists = new Set((await loadAllLists(db)).map((list) => list.id));
	const people = new Set((await db.query('SELECT id FROM people')).map((row) => String(row.id)));
	const current = new Map<string, Set<string>>();
	const membersOf = async (listId: string, membership: Membership) => {
		const key = `${listId}\u0000${membership}`;
		let set = current.get(key);
		if (!set) {
			set = new Set((await loadListMembers(db, listId)).filter((m) => m.membership === membership).map((m) => m.person_id));
			current.set(key, set);
		}
		return set;
	};
	for (const change of changes) {
		if (!lists.has(change.entityId)) {
			out.conflicts.push(conflict(change, 'the list is no longer in the store'));
			continue;
		}
		const membership = (change.role === 'manager' ? 'manager' : 'member') as Membership;
		const given = ((change.action === 'add' ? change.after : change.before) ?? { person_ids: [], sourced_ids: [] }) as unknown as MemberPeople;
		const sourcedOf = new Map(given.person_ids.map((id, i) => [id, given.sourced_ids[i] ?? null]));
		const members = await membersOf(change.entityId, membership);
		const undo = change.action === 'add' ? given.person_ids.filter((id) => members.has(id)) : given.person_ids.filter((id) => !members.has(id) && people.has(id));
		const left = given.person_ids.length - undo.length;
		if (left > 0) {
			const what = change.action === 'add' ? `are no longer ${membership}s` : `are ${membership}s again or no longer in the store`;
			out.conflicts.push(conflict(change, `${left} of the ${given.person_ids.length} ${membership}s run ${runId} ${change.action === 'add' ? 'added' : 'removed'} ${what}; kept`));
		}
		if (undo.length === 0) continue;
		if (change.action === 'add') {
			await removeMembers(db, [{ listId: change.entityId, membership, personIds: undo }]);
			undo.forEach((id) => members.delete(id));
		} else {
			await insertMembers(db, undo.map((id) => ({ list_id: change.entityId, person_id: id, membership, added_run_id: rollbackRunId })));
			undo.forEach((id) => members.add(id));
		}
		const moved = { person_ids: undo, sourced_ids: undo.map((id) => sourcedOf.get(id) ?? null) };
		out.changes.push({
			entity: 'list_member',
			entityId: change.entityId,
			action: INVERSE[change.action],
			role: membership,
			label: change.label,
			sourcedId: change.sourcedId,
			reason: null,
			fields: null,
			before: change.action === 'add' ? moved : null,
			after: change.action === 'add' ? null : moved,
			applied: true,
		});
	}
	return out;
}

function countReverted(targetRunId: string, dryRun: boolean, reverted: Reverted): RollbackCounts {
	const blank = () => ({ ...emptyCounts(), deleted: 0 });
	const counts: RollbackCounts = {
		rollbackOf: targetRunId,
		dryRun,
		people: blank(),
		byRole: Object.fromEntries(PERSON_ROLES.map((role) => [role, blank()])) as RollbackCounts['byRole'],
		lists: { listsCreated: 0, listsDeleted: 0, listsUpdated: 0, listsArchived: 0, listsRestored: 0, membersAdded: 0, membersRemoved: 0, managersAdded: 0, managersRemoved: 0 },
		conflicts: reverted.conflicts.length,
	};
	const PERSON_COUNT: Record<string, keyof ReturnType<typeof blank>> = { create: 'created', delete: 'deleted', update: 'updated', relink: 'updated', archive: 'archived', restore: 'restored' };
	const LIST_COUNT: Record<string, keyof RollbackCounts['lists']> = { create: 'listsCreated', delete: 'listsDeleted', update: 'listsUpdated', archive: 'listsArchived', restore: 'listsRestored' };
	for (const change of reverted.changes) {
		if (change.entity === 'person') {
			const key = PERSON_COUNT[change.action];
			counts.people[key]++;
			const role = counts.byRole[change.role as PersonRole];
			if (role) role[key]++;
		} else if (change.entity === 'list') {
			counts.lists[LIST_COUNT[change.action]]++;
		} else {
			const people = ((change.after ?? change.before) as unknown as MemberPeople).person_ids.length;
			const manager = change.role === 'manager';
			counts.lists[change.action === 'add' ? (manager ? 'managersAdded' : 'membersAdded') : manager ? 'managersRemoved' : 'membersRemoved'] += people;
		}
	}
	return counts;
}

/** Writes the rollback run's changes, conflicts and counts; the run ends completed. */
async function record(db: SqlDb, rollbackRunId: string, target: RunRecord, reverted: Reverted, dryRun: boolean): Promise<RollbackResult> {
	await addChanges(db, rollbackRunId, dryRun ? reverted.changes.map((change) => ({ ...change, applied: false })) : reverted.changes);
	await addProblems(db, rollbackRunId, 'reconciled', reverted.conflicts);
	const counts = countReverted(target.id, dryRun, reverted);
	await recordStageSettings(db, rollbackRunId, 'reconciled', { rollbackOf: target.id, dryRun });
	const warnings = reverted.conflicts.length > 0 ? [`${reverted.conflicts.length} changes of run ${target.id} were changed since and kept (listed as problems)`] : [];
	await completeStage(db, rollbackRunId, 'reconciled', { ...counts.people, byRole: counts.byRole, rollbackOf: target.id, dryRun, conflicts: counts.conflicts }, warnings);
	const run = await completeStage(db, rollbackRunId, 'lists', { ...counts.lists, dryRun }, [], 'completed');
	return { run, target, counts, conflicts: reverted.conflicts };
}
