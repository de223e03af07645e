/**
 * User lists and their members (Minga's User Lists): rows as the store holds them, and the
 * batched writes Build Lists makes.
 */
import type { SqlDb, SqlValue } from './sql';
import { INSERT_SLICE, forIdChunks, insertEach, jsonListByIndex, placeholders } from './sql';

export type ListKind = 'class' | 'role' | 'grade' | 'subject' | 'teacher' | 'manual';
export type Membership = 'member' | 'manager';

/** One row of `user_lists`. Lists the sync manages have a `source_key` (`class:<sourcedId>`, `grade:09`, …). */
export interface UserListRow {
	id: string;
	kind: string;
	source_key: string | null;
	title: string;
	term_id: string | null;
	class_id: string | null;
	grade: string | null;
	is_public: number;
	visibility_set_by_hand: number;
	archived_at: string | null;
	created_at: string;
	updated_at: string;
}

export const LIST_COLUMNS = [
	'id',
	'kind',
	'source_key',
	'title',
	'term_id',
	'class_id',
	'grade',
	'is_public',
	'visibility_set_by_hand',
	'archived_at',
	'created_at',
	'updated_at',
] as const satisfies ReadonlyArray<keyof UserListRow>;

export interface ListMemberRow {
	list_id: string;
	person_id: string;
	membership: Membership;
	added_run_id: string | null;
}

const MEMBER_COLUMNS = ['list_id', 'person_id', 'membership', 'added_run_id'] as const;

function toListRow(row: Record<string, SqlValue>): UserListRow {
	const text = (value: SqlValue | undefined) => (value === null || value === undefined ? null : String(value));
	return {
		id: String(row.id),
		kind: String(row.kind),
		source_key: text(row.source_key),
		title: String(row.title),
		term_id: text(row.term_id),
		class_id: text(row.class_id),
		grade: text(row.grade),
		is_public: Number(row.is_public),
		visibility_set_by_hand: Number(row.visibility_set_by_hand),
		archived_at: text(row.archived_at),
		created_at: String(row.created_at),
		updated_at: String(row.updated_at),
	};
}

/** Lists the sync manages (those with a source key), archived ones too. */
export async function loadSyncedLists(db: SqlDb): Promise<UserListRow[]> {
	const rows = await db.query(`SELECT ${LIST_COLUMNS.join(', ')} FROM user_lists WHERE source_key IS NOT NULL`);
	return rows.map(toListRow);
}

export async function loadAllLists(db: SqlDb): Promise<UserListRow[]> {
	const rows = await db.query(`SELECT ${LIST_COLUMNS.join(', ')} FROM user_lists ORDER BY title, id`);
	return rows.map(toListRow);
}

/** Separates the person ids of a list's members (or managers) in one text: a control character no id holds. */
export const PERSON_ID_SEPARATOR = '\x1f';

/** A list's stored members and managers: their person ids in id order, joined by PERSON_ID_SEPARATOR (absent: none). */
export type StoredMembers = Partial<Record<Membership, string>>;

/**
 * Members and managers of the synced lists of some kinds, per list id. One row per list and
 * membership with the person ids joined in SQL (a district's lists hold ~800,000 memberships: no
 * value per membership to build), so Build Lists can tell an unchanged list by comparing one text.
 */
export async function loadSyncedMemberships(db: SqlDb, kinds: readonly string[]): Promise<Map<string, StoredMembers>> {
	if (kinds.length === 0) return new Map();
	return joinedMembers(
		db,
		`list_id IN (SELECT id FROM user_lists WHERE source_key IS NOT NULL AND kind IN (${placeholders(kinds)}))`,
		[...kinds],
	);
}

/**
 * Members and managers of some lists, per list id, as loadSyncedMemberships reads them: Build Lists
 * reads a slice of lists at a time, so a district's ~800,000 memberships are never all in memory.
 */
export async function loadStoredMembers(db: SqlDb, listIds: readonly string[]): Promise<Map<string, StoredMembers>> {
	const byList = new Map<string, StoredMembers>();
	await forIdChunks(listIds, async (chunk) => {
		for (const [listId, stored] of await joinedMembers(db, `list_id IN (${placeholders(chunk)})`, chunk)) byList.set(listId, stored);
	});
	return byList;
}

async function joinedMembers(db: SqlDb, where: string, params: SqlValue[]): Promise<Map<string, StoredMembers>> {
	const byList = new Map<string, StoredMembers>();
	// Ids in byte order, as JavaScript sorts ASCII ids. SQLite reads each list's rows in the key's order
	// (list_id, membership, person_id), so they come sorted without a sort (~40 % of the read); PostgreSQL
	// sorts them (C collation). Ids in another order are still read right: Build Lists then diffs them.
	const joined = db.engine === 'sqlite' ? 'group_concat(person_id, char(31))' : 'string_agg(person_id, chr(31) ORDER BY person_id COLLATE "C")';
	const rows = await db.queryArrays(`SELECT list_id, membership, ${joined} FROM list_members WHERE ${where} GROUP BY list_id, membership`, params);
	for (const [listId, membership, personIds] of rows) {
		let stored = byList.get(String(listId));
		if (!stored) byList.set(String(listId), (stored = {}));
		stored[membership === 'manager' ? 'manager' : 'member'] = String(personIds);
	}
	return byList;
}

/**
 * The memberships of these people only, per list id, as loadStoredMembers gives a list's (ids joined in
 * id order), in one query: on SQLite one scan of list_members, which has no index by person (migration 13;
 * ~0.15 s for 2,000 people among ~800,000 memberships), on PostgreSQL through its person index.
 */
export async function loadMembershipsOf(db: SqlDb, personIds: readonly string[]): Promise<Map<string, StoredMembers>> {
	const byList = new Map<string, Record<Membership, string[]>>();
	const rows = personIds.length === 0 ? [] : await db.queryArrays(`SELECT list_id, membership, person_id FROM list_members WHERE ${jsonListByIndex(db, 'person_id')}`, [JSON.stringify(personIds)]);
	for (const [listId, membership, personId] of rows) {
		let lists = byList.get(String(listId));
		if (!lists) byList.set(String(listId), (lists = { member: [], manager: [] }));
		lists[membership === 'manager' ? 'manager' : 'member'].push(String(personId));
	}
	const joined = new Map<string, StoredMembers>();
	for (const [listId, lists] of byList) {
		const stored: StoredMembers = {};
		for (const membership of ['member', 'manager'] as const) if (lists[membership].length > 0) stored[membership] = lists[membership].sort().join(PERSON_ID_SEPARATOR);
		joined.set(listId, stored);
	}
	return joined;
}

/** On how many lists (as member or manager) each of these people is; people on none are left out. One query, as loadMembershipsOf. */
export async function countMembershipsOf(db: SqlDb, personIds: readonly string[]): Promise<Map<string, number>> {
	if (personIds.length === 0) return new Map();
	const rows = await db.queryArrays(`SELECT person_id, COUNT(*) FROM list_members WHERE ${jsonListByIndex(db, 'person_id')} GROUP BY person_id`, [JSON.stringify(personIds)]);
	return new Map(rows.map(([personId, count]) => [String(personId), Number(count)]));
}

/**
 * Whether a list has more than `count` members. Reads at most `count` + 1 of them: Build Lists asks it of a
 * role list with ~100,000 members, where counting them all took ~80 ms on PostgreSQL.
 */
export async function hasMoreMembersThan(db: SqlDb, listId: string, count: number): Promise<boolean> {
	const rows = await db.queryArrays("SELECT COUNT(*) FROM (SELECT 1 FROM list_members WHERE list_id = ? AND membership = 'member' LIMIT ?) AS counted", [listId, count + 1]);
	return Number(rows[0][0]) > count;
}

export async function loadListMembers(db: SqlDb, listId: string): Promise<ListMemberRow[]> {
	const rows = await db.query(
		'SELECT list_id, person_id, membership, added_run_id FROM list_members WHERE list_id = ? ORDER BY membership, person_id',
		[listId],
	);
	return rows.map((row) => ({
		list_id: String(row.list_id),
		person_id: String(row.person_id),
		membership: String(row.membership) as Membership,
		added_run_id: row.added_run_id === null ? null : String(row.added_run_id),
	}));
}

export async function insertLists(db: SqlDb, lists: UserListRow[]): Promise<void> {
	await insertEach(db, 'user_lists', LIST_COLUMNS, lists, (list) => LIST_COLUMNS.map((column) => list[column]));
}

/** Writes whole list rows over the stored ones. */
export async function replaceLists(db: SqlDb, lists: UserListRow[]): Promise<void> {
	await forIdChunks(
		lists.map((list) => list.id),
		(chunk) => db.execute(`DELETE FROM user_lists WHERE id IN (${placeholders(chunk)})`, chunk),
	);
	await insertLists(db, lists);
}

export async function insertMembers(db: SqlDb, members: ListMemberRow[]): Promise<void> {
	await insertEach(db, 'list_members', MEMBER_COLUMNS, members, (m) => [m.list_id, m.person_id, m.membership, m.added_run_id]);
}

/** People added to one list as members or as managers (Build Lists' adds: no object per membership). */
export interface MemberGroup {
	listId: string;
	membership: Membership;
	personIds: string[];
}

/**
 * Adds the people of `groups` to their lists, added by `runId`, a slice of rows at a time (no row
 * per membership exists all at once). Groups in list, membership and person order go in along
 * list_members' key (SQLite), at its end on a first night (new list ids are time-ordered).
 */
export async function insertMemberGroups(db: SqlDb, groups: readonly MemberGroup[], runId: string): Promise<void> {
	// One slice of row arrays, filled again for every slice (insertMany is done with them when it returns):
	// a new array per membership allocated ~66 MB on a first night at 100,000 students.
	const rows: SqlValue[][] = [];
	let count = 0;
	for (const group of groups) {
		for (const personId of group.personIds) {
			const row = rows[count] ?? (rows[count] = new Array<SqlValue>(MEMBER_COLUMNS.length));
			row[0] = group.listId;
			row[1] = personId;
			row[2] = group.membership;
			row[3] = runId;
			if (++count === INSERT_SLICE) {
				await db.insertMany('list_members', MEMBER_COLUMNS, rows);
				count = 0;
			}
		}
	}
	if (count > 0) await db.insertMany('list_members', MEMBER_COLUMNS, rows.slice(0, count));
}

/**
 * Removes people from their lists (as members or as managers): a statement per INSERT_SLICE memberships,
 * not one per list (a night that touches 5,000 lists removes a person or two from each).
 */
export async function removeMembers(db: SqlDb, groups: readonly MemberGroup[]): Promise<void> {
	// The memberships as one JSON parameter of [list id, membership, person id] rows, matched on list_members' key.
	const rows = db.engine === 'sqlite' ? 'SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)' : 'SELECT r ->> 0, r ->> 1, r ->> 2 FROM json_array_elements(?::json) AS r';
	const remove = (slice: string[][]) => db.execute(`DELETE FROM list_members WHERE (list_id, membership, person_id) IN (${rows})`, [JSON.stringify(slice)]);
	let slice: string[][] = [];
	for (const group of groups) {
		for (const personId of group.personIds) {
			slice.push([group.listId, group.membership, personId]);
			if (slice.length === INSERT_SLICE) {
				await remove(slice);
				slice = [];
			}
		}
	}
	if (slice.length > 0) await remove(slice);
}

/** Deletes lists (only a rollback does: lists its run created) and their members. */
export async function deleteLists(db: SqlDb, ids: string[]): Promise<void> {
	await forIdChunks(ids, async (chunk) => {
		await db.execute(`DELETE FROM list_members WHERE list_id IN (${placeholders(chunk)})`, chunk);
		await db.execute(`DELETE FROM user_lists WHERE id IN (${placeholders(chunk)})`, chunk);
	});
}
