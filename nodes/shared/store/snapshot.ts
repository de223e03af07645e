/**
 * Per-run canonical snapshots: what the SIS said at each run, in the canonical model.
 * Normalize writes them; Reconcile, Build Lists, drift checks and "roster as of" read them.
 *
 * Records are kept packed (migration 4): each `snapshot_chunks` row holds up to CHUNK_RECORDS records
 * of one entity as a JSON array of their row values (the spec's `columns` order, `toRow`), sorted by
 * sourcedId, with the chunk's first and last sourcedId and its tallies (small counts the drift check
 * needs). A 100,000-student snapshot is ~1M records: one store row (and index entry) each cost ~3 s
 * to write and as much to copy a night; a few hundred chunks cost a fraction of that. Nothing
 * outside this file reads the layout: readers use the functions below.
 *
 * Order: one write call's records are in sourcedId order across its chunks; a snapshot written in
 * several calls (Normalize streams enrollments in slices) has chunks in write order, each sorted.
 * readSnapshotRecords always returns sourcedId order; readSnapshotBatches gives chunk order.
 *
 * Snapshots written before migration 4 have one row per record in `snapshot_orgs` … `snapshot_enrollments`
 * (the specs' `table`); every function here reads them the same (an entity without chunks is read there).
 *
 * Sharing: a run whose export is one an earlier run normalized shares that run's records (shareSnapshot):
 * its `snapshots` row names the run whose chunks hold them in `records_from_run_id`, every reader here
 * reads that run's chunks (entityRecords), and the chunks go with the last snapshot that names them.
 *
 * Changes over a base (migration 9): an entity may be stored as the records that changed since a
 * base; see the section of that name below.
 */
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
} from '../model/roster';
import type { SqlDb, SqlValue } from './sql';
import { askedAhead, forIdChunks, fromJson, nowIso, placeholders, refreshStatistics, toBooleanInt, toJson } from './sql';

/** How each canonical entity maps to its snapshot records: columns, to-row and from-row. */
export interface SnapshotTable<T> {
	/** The entity's name in snapshot_chunks. */
	entity: string;
	/** Its table before migration 4 (one store row per record), read for snapshots written then. */
	table: string;
	columns: readonly string[];
	toRow(record: T): SqlValue[];
	/** The record from a row's values in `columns` order (what toRow gives). */
	fromValues(values: SqlValue[]): T;
	/** Counts kept with each chunk (summed by readSnapshotTallies): what checks need without reading every record. */
	tally?(record: T, count: (key: string) => void): void;
}

const text = (value: SqlValue): string | null => (value === null ? null : String(value));

/** Every record's row of values (toRow's) begins with its sourcedId. */
export const SOURCED_ID_AT = 0;

/** Where a record's row of values (toRow's) has `column`. */
function valueIndex(spec: SnapshotTable<unknown>, column: string): number {
	const index = spec.columns.indexOf(column);
	if (index === -1) throw new Error(`the ${spec.entity} snapshot has no column ${column}`);
	return index;
}

export const ORG_TABLE: SnapshotTable<CanonicalOrg> = {
	entity: 'orgs',
	table: 'snapshot_orgs',
	columns: ['sourced_id', 'name', 'type', 'identifier', 'parent_id'],
	toRow: (o) => [o.sourcedId, o.name, o.type, o.identifier, o.parentId],
	fromValues: (v) => ({ sourcedId: String(v[0]), name: String(v[1]), type: String(v[2]), identifier: text(v[3]), parentId: text(v[4]) }),
	tally: (o, count) => count(`type:${o.type}`),
};

export const TERM_TABLE: SnapshotTable<CanonicalTerm> = {
	entity: 'terms',
	table: 'snapshot_terms',
	columns: ['sourced_id', 'title', 'type', 'start_date', 'end_date', 'parent_id', 'school_year'],
	toRow: (t) => [t.sourcedId, t.title, t.type, t.startDate, t.endDate, t.parentId, t.schoolYear],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		type: String(v[2]),
		startDate: text(v[3]),
		endDate: text(v[4]),
		parentId: text(v[5]),
		schoolYear: text(v[6]),
	}),
};

export const COURSE_TABLE: SnapshotTable<CanonicalCourse> = {
	entity: 'courses',
	table: 'snapshot_courses',
	columns: ['sourced_id', 'title', 'course_code', 'grades', 'subjects', 'org_id'],
	toRow: (c) => [c.sourcedId, c.title, c.courseCode, toJson(c.grades), toJson(c.subjects), c.orgId],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		courseCode: text(v[2]),
		grades: fromJson(v[3], []),
		subjects: fromJson(v[4], []),
		orgId: text(v[5]),
	}),
};

export const CLASS_TABLE: SnapshotTable<CanonicalClass> = {
	entity: 'classes',
	table: 'snapshot_classes',
	columns: [
		'sourced_id',
		'title',
		'class_code',
		'class_type',
		'course_id',
		'school_id',
		'term_ids',
		'grades',
		'subjects',
		'periods',
	],
	toRow: (c) => [
		c.sourcedId,
		c.title,
		c.classCode,
		c.classType,
		c.courseId,
		c.schoolId,
		toJson(c.termIds),
		toJson(c.grades),
		toJson(c.subjects),
		c.periods,
	],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		title: String(v[1]),
		classCode: text(v[2]),
		classType: text(v[3]),
		courseId: text(v[4]),
		schoolId: String(v[5]),
		termIds: fromJson(v[6], []),
		grades: fromJson(v[7], []),
		subjects: fromJson(v[8], []),
		periods: text(v[9]),
	}),
};

export const PERSON_TABLE: SnapshotTable<CanonicalPerson> = {
	entity: 'people',
	table: 'snapshot_people',
	columns: [
		'sourced_id',
		'role',
		'sis_role',
		'given_name',
		'family_name',
		'middle_name',
		'preferred_given_name',
		'preferred_family_name',
		'email',
		'username',
		'sis_id',
		'grade',
		'school_ids',
		'primary_school_id',
		'enabled',
		'phone',
		'sms',
		'primary_contact_id',
	],
	toRow: (p) => [
		p.sourcedId,
		p.role,
		p.sisRole,
		p.givenName,
		p.familyName,
		p.middleName,
		p.preferredGivenName,
		p.preferredFamilyName,
		p.email,
		p.username,
		p.sisId,
		p.grade,
		toJson(p.schoolIds),
		p.primarySchoolId,
		toBooleanInt(p.enabled),
		p.phone,
		p.sms,
		p.primaryContactId,
	],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		role: String(v[1]) as PersonRole,
		sisRole: String(v[2]),
		givenName: String(v[3]),
		familyName: String(v[4]),
		middleName: text(v[5]),
		preferredGivenName: text(v[6]),
		preferredFamilyName: text(v[7]),
		email: text(v[8]),
		username: text(v[9]),
		sisId: text(v[10]),
		grade: text(v[11]),
		schoolIds: fromJson(v[12], []),
		primarySchoolId: text(v[13]),
		enabled: Number(v[14]) === 1,
		phone: text(v[15]),
		sms: text(v[16]),
		primaryContactId: text(v[17]),
	}),
	tally: (p, count) => {
		count(`role:${p.role}`);
		if (p.email !== null && p.email !== '') count(`email:${p.role}`);
		count(`school:${p.primarySchoolId ?? ''}`);
	},
};

/** Where a person's row of values (toRow's) has what readers look at without making the record. */
export const PERSON_VALUE_AT = {
	sourcedId: SOURCED_ID_AT,
	role: valueIndex(PERSON_TABLE, 'role'),
	primaryContactId: valueIndex(PERSON_TABLE, 'primary_contact_id'),
};

/** A person's sourcedId, role and primary contact, read from its row of values (toRow's) without making the record. */
export function personSummaryOf(values: SqlValue[]): Pick<CanonicalPerson, 'sourcedId' | 'role' | 'primaryContactId'> {
	return {
		sourcedId: String(values[PERSON_VALUE_AT.sourcedId]),
		role: String(values[PERSON_VALUE_AT.role]) as PersonRole,
		primaryContactId: text(values[PERSON_VALUE_AT.primaryContactId]),
	};
}

/**
 * A person packed (packRecord) without a primary contact, as packed with `primaryContactId`: that is its
 * last value (PERSON_TABLE's columns), so it is put in without parsing the rest.
 */
export function withPrimaryContact(packed: string, primaryContactId: string | null): string {
	if (!packed.endsWith(',null]')) throw new Error('withPrimaryContact: the packed person has a primary contact already');
	return primaryContactId === null ? packed : `${packed.slice(0, -'null]'.length)}${JSON.stringify(primaryContactId)}]`;
}

export const CONTACT_TABLE: SnapshotTable<CanonicalContact> = {
	entity: 'contacts',
	table: 'snapshot_contacts',
	columns: ['sourced_id', 'relationship', 'given_name', 'family_name', 'email', 'phone', 'sms'],
	toRow: (c) => [c.sourcedId, c.relationship, c.givenName, c.familyName, c.email, c.phone, c.sms],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		relationship: String(v[1]) as ContactRelationship,
		givenName: String(v[2]),
		familyName: String(v[3]),
		email: text(v[4]),
		phone: text(v[5]),
		sms: text(v[6]),
	}),
};

export const ENROLLMENT_TABLE: SnapshotTable<CanonicalEnrollment> = {
	entity: 'enrollments',
	table: 'snapshot_enrollments',
	columns: ['sourced_id', 'class_id', 'person_id', 'role', 'is_primary', 'begin_date', 'end_date'],
	toRow: (e) => [e.sourcedId, e.classId, e.personId, e.role, toBooleanInt(e.primary), e.beginDate, e.endDate],
	fromValues: (v) => ({
		sourcedId: String(v[0]),
		classId: String(v[1]),
		personId: String(v[2]),
		role: String(v[3]) as PersonRole,
		primary: Number(v[4]) === 1,
		beginDate: text(v[5]),
		endDate: text(v[6]),
	}),
};

/** Where an enrollment's row of values (toRow's) has what readers look at without making the record. */
export const ENROLLMENT_VALUE_AT = {
	sourcedId: SOURCED_ID_AT,
	classId: valueIndex(ENROLLMENT_TABLE, 'class_id'),
	personId: valueIndex(ENROLLMENT_TABLE, 'person_id'),
};

/** An enrollment's sourcedId, class and person, read from its row of values (toRow's) without making the record. */
export function enrollmentSummaryOf(values: SqlValue[]): Pick<CanonicalEnrollment, 'sourcedId' | 'classId' | 'personId'> {
	return {
		sourcedId: String(values[ENROLLMENT_VALUE_AT.sourcedId]),
		classId: String(values[ENROLLMENT_VALUE_AT.classId]),
		personId: String(values[ENROLLMENT_VALUE_AT.personId]),
	};
}

export const SNAPSHOT_TABLES = [ORG_TABLE, TERM_TABLE, COURSE_TABLE, CLASS_TABLE, PERSON_TABLE, CONTACT_TABLE, ENROLLMENT_TABLE] as const;

/** Records per chunk: a few hundred KB of JSON at most, so a reader holds little at a time. */
export const CHUNK_RECORDS = 2000;

/**
 * An entity is stored as changes over its base while they stay within this share of the base's records
 * (records changed or added, plus records removed); past it, the next run writes the entity whole again,
 * so readers never merge more than a quarter on top of a base.
 */
const MAX_CHANGES_SHARE = 0.25;

const CHUNK_COLUMNS = ['run_id', 'entity', 'seq', 'row_count', 'first_key', 'last_key', 'tallies', 'data'] as const;

/** Every canonical record has a sourcedId: the snapshot's key. */
const sourcedIdOf = (record: unknown): string => (record as { sourcedId: string }).sourcedId;

/** sourcedId order: JavaScript's string order (the same in both engines, unlike their collations). */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const byKey = (a: unknown, b: unknown): number => compareKeys(sourcedIdOf(a), sourcedIdOf(b));

/**
 * Writes records of one entity into `runId`'s snapshot, sorted by sourcedId, in chunks after any the
 * run already has for that entity (a caller may stream a large entity in several calls).
 * `changesOver`: the run whose snapshot this one follows; when given, the records are the entity's
 * whole set and are stored as changes over that snapshot's where they can be (see SnapshotChunkWriter).
 */
export async function writeSnapshotRecords<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, records: Iterable<T>, changesOver?: string): Promise<void> {
	const sorted = Array.from(records).sort(byKey);
	const chunks = new SnapshotChunkWriter(db, runId, spec, changesOver);
	for (const record of sorted) await chunks.add(record);
	await chunks.finish();
}

/** One record as a chunk holds it (its row values as JSON): a compact form to hold records in before they are written. */
export function packRecord<T>(spec: SnapshotTable<T>, record: T): string {
	return JSON.stringify(spec.toRow(record));
}

/** The record packRecord packed. */
export function unpackRecord<T>(spec: SnapshotTable<T>, packed: string): T {
	return spec.fromValues(JSON.parse(packed) as SqlValue[]);
}

/**
 * Writes records that arrive in sourcedId order into `runId`'s snapshot a chunk at a time: the same
 * chunks as writeSnapshotRecords given them all, while the caller holds only one chunk's records as
 * objects (Normalize keeps its people packed until they are written: see normalize.ts).
 *
 * With `changesOver` (the run whose snapshot this one follows), the records added are the entity's
 * whole set, and where that snapshot's entity gives a base in sourcedId order (see changesBase), they
 * are compared with the base's as they come and only the differences are written ("Changes over a
 * base" below); otherwise they are written whole as without it.
 */
export class SnapshotChunkWriter<T> {
	private chunk = new FillingChunk();
	private seq: number | undefined;
	/** The sourcedId of the record added last. */
	private lastKey: string | undefined;
	/** When storing changes: what is written, and the base's records in order (undefined: not decided yet; null: whole). */
	private changes: { layer: SnapshotChanges<T>; base: BaseCursor } | null | undefined;

	constructor(
		private readonly db: SqlDb,
		private readonly runId: string,
		private readonly spec: SnapshotTable<T>,
		private readonly changesOver?: string,
	) {}

	async add(record: T): Promise<void> {
		const key = sourcedIdOf(record);
		const changes = await this.next(key);
		if (changes) return this.addChange(changes, record, key);
		this.chunk.addRecord(this.spec, record);
		if (this.chunk.size >= CHUNK_RECORDS) await this.flush();
	}

	/**
	 * add() for a record held packed (packRecord's text, `key` its sourcedId, `tallies` what tallyKeys gives
	 * for it): written as it is, not parsed and made again, unless the records are stored as changes.
	 */
	async addPacked(key: string, packed: string, tallies: readonly string[] | undefined): Promise<void> {
		const changes = await this.next(key);
		if (changes) return this.addChange(changes, unpackRecord(this.spec, packed), key);
		this.chunk.addPacked(key, packed, tallies);
		if (this.chunk.size >= CHUNK_RECORDS) await this.flush();
	}

	/** Checks that `key` comes next, and whether the records are stored as changes. */
	private async next(key: string): Promise<SnapshotChunkWriter<T>['changes']> {
		if (this.lastKey !== undefined) {
			// The key is unique per snapshot, as the PRIMARY KEY of the tables before migration 4 made it.
			if (key === this.lastKey) throw new Error(`snapshot ${this.spec.entity}: sourcedId "${key}" twice`);
			if (compareKeys(this.lastKey, key) > 0) throw new Error(`snapshot ${this.spec.entity}: sourcedId "${key}" after "${this.lastKey}" (records must come in sourcedId order)`);
		}
		this.lastKey = key;
		return this.changes === undefined ? this.decide() : this.changes;
	}

	/** Writes the last, partial chunk (or, when storing changes, the changes). */
	async finish(): Promise<void> {
		const changes = this.changes === undefined ? await this.decide() : this.changes;
		if (!changes) return this.flush();
		// Base records past the last one added are not in the new set.
		for (let values = await changes.base.peek(); values; values = await changes.base.peek()) {
			changes.layer.remove(values);
			changes.base.skip();
		}
		await changes.layer.finish();
	}

	private async decide(): Promise<SnapshotChunkWriter<T>['changes']> {
		const over = this.changesOver === undefined ? undefined : await changesBase(this.db, this.changesOver, this.runId, this.spec);
		this.changes = over && inKeyOrder(over.base.chunks) ? { layer: new SnapshotChanges(this.db, this.runId, this.spec, over.base), base: new BaseCursor(this.db, over.base, this.spec) } : null;
		return this.changes;
	}

	/** `record` against the base's records in sourcedId order: those before it were removed; one with its key is kept when it is the same. */
	private async addChange({ layer, base }: { layer: SnapshotChanges<T>; base: BaseCursor }, record: T, key: string): Promise<void> {
		const row = this.spec.toRow(record);
		for (let values = await base.peek(); values; values = await base.peek()) {
			const order = compareKeys(String(values[SOURCED_ID_AT]), key);
			if (order > 0) break;
			base.skip();
			if (order === 0) {
				if (sameValues(values, row)) return;
				layer.remove(values);
				break;
			}
			layer.remove(values);
		}
		layer.add(record);
	}

	private async flush(): Promise<void> {
		const { db, runId, spec, chunk } = this;
		if (chunk.size === 0) return;
		this.seq ??= await lastChunkSeq(db, runId, spec);
		this.chunk = new FillingChunk();
		await insertFilledChunk(db, runId, spec, ++this.seq, chunk);
	}
}

/** The keys a record adds to its chunk's tallies (spec.tally), in the order it counts them. */
export function tallyKeys<T>(spec: SnapshotTable<T>, record: T): string[] {
	const keys: string[] = [];
	spec.tally?.(record, (key) => keys.push(key));
	return keys;
}

/**
 * A chunk being filled, in sourcedId order, with its tallies: each record as its row values (toRow), or as
 * the packed text (packRecord) a caller holds it in. Its data is the JSON array of the rows either way (one
 * JSON.stringify of the whole array where no record came packed: ~1.5× faster than a call per record).
 */
class FillingChunk {
	private readonly rows: Array<SqlValue[] | string> = [];
	private packed = false;
	readonly counts: Record<string, number> = {};
	firstKey = '';
	lastKey = '';

	get size(): number {
		return this.rows.length;
	}

	/** Adds a record (its row values, and its tallies when the spec keeps some). */
	addRecord<T>(spec: SnapshotTable<T>, record: T): void {
		this.addRow(sourcedIdOf(record), spec.toRow(record));
		spec.tally?.(record, this.count);
	}

	/** Adds a record held packed, with the tallies tallyKeys gave for it. */
	addPacked(key: string, packed: string, tallies: readonly string[] | undefined): void {
		this.addRow(key, packed);
		this.packed = true;
		if (tallies) for (const tally of tallies) this.count(tally);
	}

	/** Counts one tally key (a spec's tally calls it; made once per chunk, not per record). */
	private readonly count = (key: string): void => {
		this.counts[key] = (this.counts[key] ?? 0) + 1;
	};

	private addRow(key: string, row: SqlValue[] | string): void {
		if (this.rows.length === 0) this.firstKey = key;
		this.lastKey = key;
		this.rows.push(row);
	}

	data(): string {
		if (!this.packed) return JSON.stringify(this.rows);
		return `[${this.rows.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join(',')}]`;
	}
}

/** Whether two rows of values (toRow's, or a chunk's as JSON.parse gives them) are the same. */
function sameValues(a: SqlValue[], b: SqlValue[]): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

/** The highest chunk number `runId` has for the entity (0 for none). */
async function lastChunkSeq(db: SqlDb, runId: string, spec: { entity: string }): Promise<number> {
	const last = await db.query<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) AS seq FROM snapshot_chunks WHERE run_id = ? AND entity = ?', [runId, spec.entity]);
	return Number(last[0]?.seq ?? 0);
}

const INSERT_CHUNK = `INSERT INTO snapshot_chunks (${CHUNK_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

/** Writes records (in sourcedId order) as chunk `seq` of the run's entity, with their tallies. */
async function insertChunk<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, seq: number, records: T[]): Promise<void> {
	const chunk = new FillingChunk();
	for (const record of records) chunk.addRecord(spec, record);
	await insertFilledChunk(db, runId, spec, seq, chunk);
}

async function insertFilledChunk<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, seq: number, chunk: FillingChunk): Promise<void> {
	await db.execute(INSERT_CHUNK, [runId, spec.entity, seq, chunk.size, chunk.firstKey, chunk.lastKey, spec.tally ? toJson(chunk.counts) : null, chunk.data()]);
}

/** Writes records (each array in sourcedId order) as the run's next chunks of the entity, at most CHUNK_RECORDS each; returns the last seq. */
async function insertChunks<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, seq: number, records: T[]): Promise<number> {
	for (let start = 0; start < records.length; start += CHUNK_RECORDS) await insertChunk(db, runId, spec, ++seq, records.slice(start, start + CHUNK_RECORDS));
	return seq;
}

/**
 * Copies the records of `fromRunId`'s snapshot that `keep` accepts into `runId`'s, with `added`
 * replacing or adding records by sourcedId, and returns how many records that makes (kept + added).
 * For a delta night, which keeps nearly every record of the last run.
 *
 * Whole (default): appended after any chunks the run already has for the entity; a chunk whose records
 * are all kept is copied as it is (its JSON is not made again), any other is written with the records
 * kept; `added` come last. (Each chunk stays in sourcedId order; the entity as a whole then is in chunk
 * order, as when written in several calls.)
 * `asChanges`: stored as changes over the base of `fromRunId`'s entity where it has one (changesBase),
 * so only what differs from the base is written; otherwise whole. `keepsValues`: `keep` of a record told from
 * its row of values (toRow's), which then spares making the base's records (writeSnapshotChanges' `asIs`).
 */
export async function copySnapshotRecordsWhere<T>(
	db: SqlDb,
	fromRunId: string,
	runId: string,
	spec: SnapshotTable<T>,
	keep: (record: T) => boolean,
	options: { added?: T[]; asChanges?: boolean; keepsValues?: (values: SqlValue[]) => boolean } = {},
): Promise<number> {
	const added = options.added ?? [];
	if (options.asChanges && (await changesBase(db, fromRunId, runId, spec))) {
		const revise = (record: T) => (keep(record) ? record : null);
		return writeSnapshotChanges(db, fromRunId, runId, spec, new Map(added.map((record) => [sourcedIdOf(record), record])), { revise, asIs: options.keepsValues });
	}
	const addedKeys = new Set(added.map(sourcedIdOf));
	const kept = addedKeys.size === 0 ? keep : (record: T) => !addedKeys.has(sourcedIdOf(record)) && keep(record);
	const count = await copyWhole(db, fromRunId, runId, spec, kept);
	if (added.length > 0) await writeSnapshotRecords(db, runId, spec, added);
	return count + added.length;
}

async function copyWhole<T>(db: SqlDb, fromRunId: string, runId: string, spec: SnapshotTable<T>, keep: (record: T) => boolean): Promise<number> {
	const from = await entityRecords(db, fromRunId, spec);
	let kept = 0;
	if (isLegacy(from)) {
		for await (const batch of readLegacyBatches(db, fromRunId, spec, 10_000)) {
			const records = batch.filter(keep);
			await writeSnapshotRecords(db, runId, spec, records);
			kept += records.length;
		}
		return kept;
	}
	let seq = await lastChunkSeq(db, runId, spec);
	if (from.layer) {
		for await (const records of recordChunks(db, from, spec)) {
			const keptRecords = records.filter(keep);
			seq = await insertChunks(db, runId, spec, seq, keptRecords);
			kept += keptRecords.length;
		}
		return kept;
	}
	let index = 0;
	for await (const records of chunkRecords(db, from.owner, spec, seqsOf(from.chunks))) {
		const chunk = from.chunks[index++];
		const keptRecords = records.filter(keep);
		if (keptRecords.length === records.length) {
			await db.execute(
				`INSERT INTO snapshot_chunks (${CHUNK_COLUMNS.join(', ')}) SELECT ?, entity, ?, row_count, first_key, last_key, tallies, data FROM snapshot_chunks WHERE run_id = ? AND entity = ? AND seq = ?`,
				[runId, ++seq, from.owner, spec.entity, chunk.seq],
			);
		} else if (keptRecords.length > 0) {
			await insertChunk(db, runId, spec, ++seq, keptRecords);
		}
		kept += keptRecords.length;
	}
	return kept;
}

/**
 * Writes `runId`'s snapshot of an entity as `fromRunId`'s with some records changed: `changes` maps a
 * sourcedId to its record in the new snapshot (new, or in place of the old one) or to null (not in it);
 * every other record of `fromRunId`'s is given to `revise` when there is one, which returns the record
 * the new snapshot has (the same object when it is unchanged, another, or null for none), and is kept
 * as it is when there is none. For a delta night, which changes a few records in a hundred thousand:
 * stored as changes over the base of `fromRunId`'s entity (changesBase), a record the same as the
 * base's being no change; without `revise` only the records named are read (that snapshot's own changes,
 * and the base's records with these sourcedIds), with it the base is read once. `knownFrom`: what the
 * caller knows of `fromRunId`'s records, for every sourcedId of `changes` (its record, or null where it
 * has none): the base is then not read at all (baseValuesKnown). `asIs`, with `revise`: whether a base
 * record, told from its row of values, is one `revise` returns as it is; it is then kept without being made
 * (~70 ms of fromValues for a district's ~108,000 people, more for its ~600,000 enrollments), and `revise` is
 * asked only of the others. Without such a base, written whole. Returns how many records the new snapshot has.
 */
export async function writeSnapshotChanges<T>(
	db: SqlDb,
	fromRunId: string,
	runId: string,
	spec: SnapshotTable<T>,
	changes: ReadonlyMap<string, T | null>,
	{ revise, asIs, knownFrom }: { revise?: (record: T) => T | null; asIs?: (values: SqlValue[]) => boolean; knownFrom?: ReadonlyMap<string, T | null> } = {},
): Promise<number> {
	const over = await changesBase(db, fromRunId, runId, spec);
	if (!over) {
		const added = [...changes.values()].filter((record): record is T => record !== null);
		return writeWholeMerged(db, fromRunId, runId, spec, added, (record) => (changes.has(sourcedIdOf(record)) ? null : revise ? revise(record) : record));
	}
	/** The new snapshot's record of each sourcedId that the last snapshot's changes or `changes` name (null: none), to compare with the base's. */
	const named = new Map<string, T | null>();
	/** The sourcedIds of the records that snapshot's layer holds (new or changed over the base). */
	const fromOwn = new Set<string>();
	const { layer: fromLayer } = over.from;
	if (fromLayer) {
		for (const id of fromLayer.removed) named.set(id, null);
		for (const record of await readRecords(db, over.from.owner, over.from.chunks, spec)) {
			const id = sourcedIdOf(record);
			fromOwn.add(id);
			named.set(id, revise && !changes.has(id) ? revise(record) : record);
		}
	}
	for (const [id, record] of changes) named.set(id, record);
	const layer = new SnapshotChanges(db, runId, spec, over.base);
	let count = 0;
	let baseValues: Map<string, SqlValue[]>;
	if (revise) {
		// Every base record not named is the last snapshot's as it is: revised here, in one pass over the base.
		baseValues = new Map();
		for await (const rows of chunkValues(db, over.base.owner, spec, seqsOf(over.base.chunks))) {
			for (const values of rows) {
				const id = String(values[SOURCED_ID_AT]);
				if (named.has(id)) {
					baseValues.set(id, values);
					continue;
				}
				if (asIs?.(values)) {
					count++;
					continue;
				}
				const record = spec.fromValues(values);
				const revised = revise(record);
				if (revised !== null) count++;
				if (revised === record || (revised !== null && sameValues(values, spec.toRow(revised)))) continue;
				layer.remove(values);
				if (revised !== null) layer.add(revised);
			}
		}
	} else {
		baseValues = (knownFrom && (await baseValuesKnown(db, over, fromOwn, spec, named.keys(), knownFrom))) || (await findValuesInChunks(db, over.base, spec, [...named.keys()].sort(compareKeys)));
		count = rowsIn(over.base.chunks) - baseValues.size;
	}
	for (const id of [...named.keys()].sort(compareKeys)) {
		const record = named.get(id) as T | null;
		const base = baseValues.get(id);
		if (record !== null) count++;
		if (record !== null && base !== undefined && sameValues(base, spec.toRow(record))) continue;
		if (base !== undefined) layer.remove(base);
		if (record !== null) layer.add(record);
	}
	await layer.finish();
	return count;
}

/**
 * The base's values of the sourcedIds `ids` (those it has), without reading the base: from `knownFrom`
 * (the records `over.from` has, null for none) where `over.from` has the base's record, and where its
 * layer replaces or removes the base's, from the base records the layer keeps (migration 11); a
 * sourcedId its layer adds (in `fromOwn`, the ids of the layer's records, and not in its `removed`) is
 * not in the base. Undefined when a layer from before migration 11 keeps none, or `knownFrom` lacks a
 * sourcedId it is needed for (then the base is read).
 */
async function baseValuesKnown<T>(
	db: SqlDb,
	over: ChangesBase,
	fromOwn: ReadonlySet<string>,
	spec: SnapshotTable<T>,
	ids: Iterable<string>,
	knownFrom: ReadonlyMap<string, T | null>,
): Promise<Map<string, SqlValue[]> | undefined> {
	const { layer } = over.from;
	const replaced = layer ? await baseRecordsKept(db, over.from.owner, spec) : new Map<string, SqlValue[]>();
	if (!replaced) return undefined;
	const values = new Map<string, SqlValue[]>();
	for (const id of ids) {
		if (layer?.removed.has(id)) {
			const base = replaced.get(id);
			if (base === undefined) return undefined;
			values.set(id, base);
			continue;
		}
		if (fromOwn.has(id)) continue;
		const record = knownFrom.get(id);
		if (record === undefined) return undefined;
		if (record !== null) values.set(id, spec.toRow(record));
	}
	return values;
}

/** writeSnapshotChanges without a base: `fromRunId`'s records as `kept` gives them (null: dropped) and `added`, merged in sourcedId order, written whole. */
async function writeWholeMerged<T>(db: SqlDb, fromRunId: string, runId: string, spec: SnapshotTable<T>, added: T[], kept: (record: T) => T | null): Promise<number> {
	added.sort(byKey);
	const writer = new SnapshotChunkWriter(db, runId, spec);
	let count = 0;
	let next = 0;
	const write = async (record: T) => {
		await writer.add(record);
		count++;
	};
	const stored = await entityRecords(db, fromRunId, spec);
	const ordered = isLegacy(stored) || readsInKeyOrder(stored);
	const batches = ordered ? readSnapshotBatches(db, fromRunId, spec) : [await readSnapshotRecords(db, fromRunId, spec)];
	for await (const batch of batches) {
		for (const record of batch) {
			const id = sourcedIdOf(record);
			while (next < added.length && compareKeys(sourcedIdOf(added[next]), id) < 0) await write(added[next++]);
			const revised = kept(record);
			if (revised !== null) await write(revised);
		}
	}
	while (next < added.length) await write(added[next++]);
	await writer.finish();
	return count;
}

interface ChunkInfo {
	seq: number;
	rowCount: number;
	firstKey: string;
	lastKey: string;
}

/** Stored records of one entity: the chunks of one run (`owner`). */
interface StoredChunks {
	owner: string;
	chunks: ChunkInfo[];
}

/**
 * Where a snapshot's records of one entity are: `owner`'s chunks, which hold either all of them or,
 * with `layer`, the records that are new or changed over the whole records of `layer.base` ("Changes
 * over a base" below). Neither chunks nor a layer: a snapshot written before migration 4 (or none).
 */
interface EntityRecords extends StoredChunks {
	layer?: {
		base: StoredChunks;
		/** The base's sourcedIds that are not the snapshot's records: removed, or changed (the new record is in `owner`'s chunks). */
		removed: Set<string>;
		removedCount: number;
		/** The tallies of the base's records in `removed`. */
		removedTallies: Record<string, number>;
	};
}

const rowsIn = (chunks: ChunkInfo[]): number => chunks.reduce((sum, chunk) => sum + chunk.rowCount, 0);

/** The run whose chunks hold the records of a `snapshots` row: its own, or the run it shares them with. */
const RECORDS_OWNER = 'COALESCE(records_from_run_id, run_id)';

/** The run whose chunks hold `runId`'s records (its own id while its snapshot is written, before the header). */
async function recordsOwner(db: SqlDb, runId: string): Promise<string> {
	const rows = await db.queryArrays(`SELECT ${RECORDS_OWNER} FROM snapshots WHERE run_id = ?`, [runId]);
	return rows[0] ? String(rows[0][0]) : runId;
}

/** One run's chunks of one entity, without their data. */
async function chunkInfos(db: SqlDb, owner: string, spec: { entity: string }): Promise<ChunkInfo[]> {
	const rows = await db.queryArrays('SELECT seq, row_count, first_key, last_key FROM snapshot_chunks WHERE run_id = ? AND entity = ? ORDER BY seq', [owner, spec.entity]);
	return rows.map(([seq, rowCount, firstKey, lastKey]) => ({ seq: Number(seq), rowCount: Number(rowCount), firstKey: String(firstKey), lastKey: String(lastKey) }));
}

/** Where `runId`'s snapshot keeps its records of one entity (see EntityRecords). */
async function entityRecords(db: SqlDb, runId: string, spec: { entity: string }): Promise<EntityRecords> {
	const owner = await recordsOwner(db, runId);
	const chunks = await chunkInfos(db, owner, spec);
	const [layer] = await db.queryArrays('SELECT base_run_id, removed_count, removed_tallies, removed FROM snapshot_layers WHERE run_id = ? AND entity = ?', [owner, spec.entity]);
	if (!layer) return { owner, chunks };
	const [base, removedCount, removedTallies, removed] = layer;
	return {
		owner,
		chunks,
		layer: {
			base: { owner: String(base), chunks: await chunkInfos(db, String(base), spec) },
			removed: new Set(fromJson<string[]>(removed, [])),
			removedCount: Number(removedCount),
			removedTallies: fromJson<Record<string, number>>(removedTallies, {}),
		},
	};
}

/** A snapshot written before migration 4: its records are rows of the spec's table. */
const isLegacy = (records: EntityRecords): boolean => !records.layer && records.chunks.length === 0;

/** Whether the chunks, in seq order, are also in sourcedId order (see "Order" above). */
function inKeyOrder(chunks: ChunkInfo[]): boolean {
	for (let i = 1; i < chunks.length; i++) if (compareKeys(chunks[i - 1].lastKey, chunks[i].firstKey) >= 0) return false;
	return true;
}

/** Whether an entity's records (not from before migration 4) read in sourcedId order chunk by chunk: a layer's do when its base's do (recordChunks). */
const readsInKeyOrder = (stored: EntityRecords): boolean => inKeyOrder(stored.layer ? stored.layer.base.chunks : stored.chunks);

/**
 * Whether readSnapshotBatches gives the entity's records in sourcedId order, told from the chunks' first and last keys
 * (no record is read). False for a snapshot from before migration 4, whose rows come in the store's collation order.
 */
export async function snapshotBatchesInKeyOrder(db: SqlDb, runId: string, spec: SnapshotTable<unknown>): Promise<boolean> {
	const stored = await entityRecords(db, runId, spec);
	return !isLegacy(stored) && readsInKeyOrder(stored);
}

/**
 * Chunks read per query. Readers go through a snapshot's chunks in order, and on PostgreSQL each query
 * waits a round trip: a 100,000-student night reads ~800 chunks. A few MB of JSON text at most.
 */
const CHUNKS_PER_QUERY = 4;

/**
 * The rows of values of chunks `seqs` of one run (`owner` as entityRecords gave it), as toRow made
 * them, chunk by chunk in the order given: CHUNKS_PER_QUERY chunks a query, each chunk's JSON parsed
 * when it is its turn. A chunk that is not there gives no rows.
 */
async function* chunkValues(db: SqlDb, owner: string, spec: { entity: string }, seqs: readonly number[]): AsyncGenerator<SqlValue[][]> {
	const ask = (start: number) => {
		const group = seqs.slice(start, start + CHUNKS_PER_QUERY);
		return { group, rows: askedAhead(db.queryArrays(`SELECT seq, data FROM snapshot_chunks WHERE run_id = ? AND entity = ? AND seq IN (${placeholders(group)})`, [owner, spec.entity, ...group])) };
	};
	let next = seqs.length > 0 ? ask(0) : undefined;
	for (let start = 0; next !== undefined; start += CHUNKS_PER_QUERY) {
		const { group, rows } = next;
		const texts = new Map<number, string>();
		for (const [seq, data] of await rows) texts.set(Number(seq), String(data));
		// The next chunks are asked for before these are parsed.
		next = start + CHUNKS_PER_QUERY < seqs.length ? ask(start + CHUNKS_PER_QUERY) : undefined;
		for (const seq of group) {
			const text = texts.get(seq);
			texts.delete(seq);
			yield text === undefined ? [] : (JSON.parse(text) as SqlValue[][]);
		}
	}
}

/** The records of chunks `seqs` of one run, chunk by chunk (see chunkValues). */
async function* chunkRecords<T>(db: SqlDb, owner: string, spec: SnapshotTable<T>, seqs: readonly number[]): AsyncGenerator<T[]> {
	for await (const values of chunkValues(db, owner, spec, seqs)) {
		const records = new Array<T>(values.length);
		for (let i = 0; i < values.length; i++) records[i] = spec.fromValues(values[i]);
		yield records;
	}
}

const seqsOf = (chunks: readonly ChunkInfo[]): number[] => chunks.map((chunk) => chunk.seq);

/** The records of some chunks of one run, in chunk order. */
async function readRecords<T>(db: SqlDb, owner: string, chunks: ChunkInfo[], spec: SnapshotTable<T>): Promise<T[]> {
	const records: T[] = [];
	for await (const chunk of chunkRecords(db, owner, spec, seqsOf(chunks))) for (const record of chunk) records.push(record);
	return records;
}

/**
 * The entity's records a chunk at a time, in chunk order. Changes over a base: the base's chunks
 * without the records removed, with the changed and added records merged in sourcedId order when the
 * base is in that order (else after the base's).
 */
async function* recordChunks<T>(db: SqlDb, records: EntityRecords, spec: SnapshotTable<T>): AsyncGenerator<T[]> {
	const { layer } = records;
	if (!layer) {
		yield* chunkRecords(db, records.owner, spec, seqsOf(records.chunks));
		return;
	}
	const changed = await readRecords(db, records.owner, records.chunks, spec);
	const ordered = inKeyOrder(layer.base.chunks);
	let next = 0;
	let index = 0;
	for await (const baseRecords of chunkRecords(db, layer.base.owner, spec, seqsOf(layer.base.chunks))) {
		const chunk = layer.base.chunks[index++];
		let kept = baseRecords.filter((record) => !layer.removed.has(sourcedIdOf(record)));
		if (ordered) {
			let end = next;
			while (end < changed.length && compareKeys(sourcedIdOf(changed[end]), chunk.lastKey) <= 0) end++;
			if (end > next) kept = mergeByKey(kept, changed.slice(next, end));
			next = end;
		}
		if (kept.length > 0) yield kept;
	}
	if (next < changed.length) yield next === 0 ? changed : changed.slice(next);
}

/** Two arrays in sourcedId order (no key in both) as one. */
function mergeByKey<T>(a: T[], b: T[]): T[] {
	const out = new Array<T>(a.length + b.length);
	let i = 0;
	let j = 0;
	for (let k = 0; k < out.length; k++) out[k] = j >= b.length || (i < a.length && byKey(a[i], b[j]) < 0) ? a[i++] : b[j++];
	return out;
}

/** All records of one entity, in sourcedId order. */
export async function readSnapshotRecords<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>): Promise<T[]> {
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		const rows = await db.queryArrays(`SELECT ${spec.columns.join(', ')} FROM ${spec.table} WHERE run_id = ? ORDER BY sourced_id`, [runId]);
		return rows.map(spec.fromValues);
	}
	const records: T[] = [];
	for await (const chunk of recordChunks(db, stored, spec)) for (const record of chunk) records.push(record);
	if (!readsInKeyOrder(stored)) records.sort(byKey);
	return records;
}

/**
 * Records of a large entity in batches of at most `batchSize` (never the whole entity at once), in
 * chunk order: sourcedId order when the entity was written in one call (see "Order" above).
 */
export async function* readSnapshotBatches<T>(
	db: SqlDb,
	runId: string,
	spec: SnapshotTable<T>,
	batchSize = 10_000,
): AsyncGenerator<T[]> {
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		yield* readLegacyBatches(db, runId, spec, batchSize);
		return;
	}
	for await (const records of recordChunks(db, stored, spec)) {
		for (let start = 0; start < records.length; start += batchSize) {
			yield start === 0 && records.length <= batchSize ? records : records.slice(start, start + batchSize);
		}
	}
}

/**
 * The entity's records as rows of values (toRow's, as fromValues takes them), a chunk at a time, in no set
 * order: changes over a base give the base's rows without those removed, then their own. For a reader that
 * looks at a few values of every record and makes whole records of a few (reconcile/apply.ts,
 * matchChangedRecords): at 100,000 students, reading the ~108,000 people as values took ~110 ms, as records ~150–210.
 */
export async function* readSnapshotValueBatches(db: SqlDb, runId: string, spec: SnapshotTable<unknown>): AsyncGenerator<SqlValue[][]> {
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		for await (const batch of readLegacyBatches(db, runId, spec, 10_000)) yield batch.map(spec.toRow);
		return;
	}
	const { layer } = stored;
	if (layer) {
		for await (const rows of chunkValues(db, layer.base.owner, spec, seqsOf(layer.base.chunks))) yield rows.filter((values) => !layer.removed.has(String(values[SOURCED_ID_AT])));
	}
	yield* chunkValues(db, stored.owner, spec, seqsOf(stored.chunks));
}

/** Records of a snapshot written before migration 4, in batches, in sourcedId order. */
async function* readLegacyBatches<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, batchSize: number): AsyncGenerator<T[]> {
	let after = '';
	for (;;) {
		const rows = await db.queryArrays(
			`SELECT ${spec.columns.join(', ')} FROM ${spec.table} WHERE run_id = ? AND sourced_id > ? ORDER BY sourced_id LIMIT ?`,
			[runId, after, batchSize],
		);
		if (rows.length === 0) return;
		yield rows.map(spec.fromValues);
		after = String(rows[rows.length - 1][0]);
		if (rows.length < batchSize) return;
	}
}

/** How many records of one entity the snapshot holds (from the chunks' counts: no record is read). */
export async function countSnapshotRecords(db: SqlDb, runId: string, spec: SnapshotTable<unknown>): Promise<number> {
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		const rows = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${spec.table} WHERE run_id = ?`, [runId]);
		return Number(rows[0].n);
	}
	const { layer } = stored;
	return rowsIn(stored.chunks) + (layer ? rowsIn(layer.base.chunks) - layer.removedCount : 0);
}

/** The records with these sourcedIds (those the snapshot has), by sourcedId; only chunks whose key range holds one are read. */
export async function readSnapshotRecordsById<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>, sourcedIds: Iterable<string>): Promise<Map<string, T>> {
	const wanted = [...new Set(sourcedIds)].sort(compareKeys);
	const found = new Map<string, T>();
	if (wanted.length === 0) return found;
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		await forIdChunks(wanted, async (ids) => {
			const rows = await db.queryArrays(
				`SELECT ${spec.columns.join(', ')} FROM ${spec.table} WHERE run_id = ? AND sourced_id IN (${placeholders(ids)})`,
				[runId, ...ids],
			);
			for (const values of rows) found.set(String(values[SOURCED_ID_AT]), spec.fromValues(values));
		});
		return found;
	}
	const { layer } = stored;
	if (layer) await findInChunks(db, layer.base, spec, wanted.filter((id) => !layer.removed.has(id)), found);
	await findInChunks(db, stored, spec, wanted, found);
	return found;
}

/** Adds to `found` the records of `stored`'s chunks with the `wanted` sourcedIds (in sourcedId order); a chunk is read only when its key range holds one. */
async function findInChunks<T>(db: SqlDb, stored: StoredChunks, spec: SnapshotTable<T>, wanted: string[], found: Map<string, T>): Promise<void> {
	for (const [id, values] of await findValuesInChunks(db, stored, spec, wanted)) found.set(id, spec.fromValues(values));
}

/** findInChunks' rows of values, by sourcedId. */
async function findValuesInChunks(db: SqlDb, stored: StoredChunks, spec: { entity: string }, wanted: string[]): Promise<Map<string, SqlValue[]>> {
	const found = new Map<string, SqlValue[]>();
	if (wanted.length === 0) return found;
	const wantedSet = new Set(wanted);
	// A chunk is read when the first wanted id at or after its first key is within its range.
	const holdsWanted = (chunk: ChunkInfo) => {
		let low = 0;
		let high = wanted.length;
		while (low < high) {
			const middle = (low + high) >> 1;
			if (compareKeys(wanted[middle], chunk.firstKey) < 0) low = middle + 1;
			else high = middle;
		}
		return low < wanted.length && compareKeys(wanted[low], chunk.lastKey) <= 0;
	};
	for await (const rows of chunkValues(db, stored.owner, spec, seqsOf(stored.chunks.filter(holdsWanted)))) {
		for (const values of rows) if (wantedSet.has(String(values[SOURCED_ID_AT]))) found.set(String(values[SOURCED_ID_AT]), values);
	}
	return found;
}

/**
 * The records `keep` accepts, in chunk order (sourcedId order for an entity written in one call).
 * `hints`, when given, are texts at least one of which any kept record's JSON row holds (a value as
 * JSON.stringify writes it, or a part of one): only chunks that contain a hint are read (found in SQL,
 * a superset: SQLite's LIKE ignores ASCII case).
 */
export async function findSnapshotRecords<T>(
	db: SqlDb,
	runId: string,
	spec: SnapshotTable<T>,
	keep: (record: T) => boolean,
	hints: string[] = [],
): Promise<T[]> {
	const kept: T[] = [];
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		for await (const batch of readLegacyBatches(db, runId, spec, 10_000)) for (const record of batch) if (keep(record)) kept.push(record);
		return kept;
	}
	const search = async ({ owner, chunks }: StoredChunks, removed?: Set<string>) => {
		let seqs = chunks.map((chunk) => chunk.seq);
		if (hints.length > 0 && seqs.length > 0) {
			const like = hints.map((hint) => `%${hint.replace(/[\\%_]/g, (char) => `\\${char}`)}%`);
			const rows = await db.queryArrays(
				`SELECT seq FROM snapshot_chunks WHERE run_id = ? AND entity = ? AND (${like.map(() => "data LIKE ? ESCAPE '\\'").join(' OR ')}) ORDER BY seq`,
				[owner, spec.entity, ...like],
			);
			seqs = rows.map((row) => Number(row[0]));
		}
		for await (const records of chunkRecords(db, owner, spec, seqs)) for (const record of records) if (!removed?.has(sourcedIdOf(record)) && keep(record)) kept.push(record);
	};
	const { layer } = stored;
	if (layer) await search(layer.base, layer.removed);
	await search(stored);
	if (layer && inKeyOrder(layer.base.chunks)) kept.sort(byKey);
	return kept;
}

/**
 * The sourcedIds whose record differs between two runs' snapshots of one entity (in one and not the
 * other, or changed), found from how they are stored, reading only changes: the same records (a shared
 * snapshot), or changes over the same base (one of them may be that base). Undefined when they are
 * stored otherwise (two whole snapshots, a snapshot before migration 4, none): then only reading both
 * would tell.
 */
export async function changedSourcedIds(db: SqlDb, fromRunId: string, toRunId: string, spec: SnapshotTable<unknown>): Promise<Set<string> | undefined> {
	return (await compareLayers(db, fromRunId, toRunId, spec))?.changed;
}

/**
 * The records that differ between two runs' snapshots of one entity (changedSourcedIds), each as each
 * snapshot has it (`from`, `to`; absent where that snapshot has no record of the sourcedId). Read from
 * the two layers alone: a base record either takes is kept with the layer that replaces it (migration
 * 11); only for layers written before that are base records read from the base. Undefined as
 * changedSourcedIds.
 */
export async function changedRecords<T>(db: SqlDb, fromRunId: string, toRunId: string, spec: SnapshotTable<T>): Promise<Map<string, { from?: T; to?: T }> | undefined> {
	const compared = await compareLayers(db, fromRunId, toRunId, spec);
	if (!compared) return undefined;
	const { changed, sides, base } = compared;
	// The base's records of the changed sourcedIds that a layer removes or replaces: kept with the layer, or else read from the base.
	const baseValues = new Map<string, SqlValue[]>();
	const unkept: string[] = [];
	for (const side of sides) {
		if (!side.layer) continue;
		const kept = await baseRecordsKept(db, side.owner, spec);
		if (!kept) {
			for (const id of side.layer.removed) if (changed.has(id)) unkept.push(id);
			continue;
		}
		for (const [id, values] of kept) if (changed.has(id)) baseValues.set(id, values);
	}
	const missing = unkept.filter((id) => !baseValues.has(id));
	if (missing.length > 0) for (const [id, values] of await findValuesInChunks(db, base, spec, [...new Set(missing)].sort(compareKeys))) baseValues.set(id, values);
	const versions = new Map<string, { from?: T; to?: T }>();
	for (const id of changed) {
		const [from, to] = sides.map((side) => {
			// A side's own record, or none where its layer removes it; else the base's (a sourcedId neither layer removes is not in the base).
			const own = side.own.get(id);
			const values = own === undefined ? baseValues.get(id) : own;
			return values === null || values === undefined ? undefined : spec.fromValues(values);
		});
		versions.set(id, { ...(from ? { from } : {}), ...(to ? { to } : {}) });
	}
	return versions;
}

/** The base records a layer (of run `owner`) removes or replaces, by sourcedId (migration 11); undefined for a layer written before. */
async function baseRecordsKept(db: SqlDb, owner: string, spec: { entity: string }): Promise<Map<string, SqlValue[]> | undefined> {
	const [[kept]] = await db.queryArrays('SELECT removed_records FROM snapshot_layers WHERE run_id = ? AND entity = ?', [owner, spec.entity]);
	if (kept === null || kept === undefined) return undefined;
	return new Map((JSON.parse(String(kept)) as SqlValue[][]).map((values) => [String(values[SOURCED_ID_AT]), values]));
}

/** A snapshot's records of one entity (entityRecords), with those that are not the base's: by sourcedId, the record's values, or null where it is removed. */
type LayerSide = EntityRecords & { own: Map<string, SqlValue[] | null> };

/** Two snapshots of one entity over the same base (or sharing their records): what differs, and each side's records that are not the base's. */
async function compareLayers(db: SqlDb, fromRunId: string, toRunId: string, spec: { entity: string }): Promise<{ changed: Set<string>; base: StoredChunks; sides: [LayerSide, LayerSide] } | undefined> {
	const from = await entityRecords(db, fromRunId, spec);
	const to = await entityRecords(db, toRunId, spec);
	if (isLegacy(from) || isLegacy(to)) return undefined;
	const baseOf = (records: EntityRecords): StoredChunks => (records.layer ? records.layer.base : records);
	if (baseOf(from).owner !== baseOf(to).owner) return undefined;
	const shared = from.owner === to.owner;
	const side = async (records: EntityRecords): Promise<LayerSide> => {
		const own = new Map<string, SqlValue[] | null>();
		if (records.layer && !shared) {
			for (const id of records.layer.removed) own.set(id, null);
			for await (const rows of chunkValues(db, records.owner, spec, seqsOf(records.chunks))) for (const values of rows) own.set(String(values[SOURCED_ID_AT]), values);
		}
		return { ...records, own };
	};
	const sides: [LayerSide, LayerSide] = [await side(from), await side(to)];
	const [fromOwn, toOwn] = [sides[0].own, sides[1].own];
	const same = (a: SqlValue[] | null | undefined, b: SqlValue[] | null | undefined) => (a && b ? sameValues(a, b) : a === b);
	const changed = new Set<string>();
	for (const [id, values] of fromOwn) if (!same(toOwn.get(id), values)) changed.add(id);
	for (const id of toOwn.keys()) if (!fromOwn.has(id)) changed.add(id);
	return { changed, base: baseOf(from), sides };
}

/**
 * The entity's tallies summed over the snapshot (see each spec's `tally`): e.g. people per role
 * (`role:student`), with an email (`email:student`), per primary school (`school:<id>`), orgs per
 * type (`type:school`). Snapshots written before migration 4 are tallied from their records.
 */
export async function readSnapshotTallies<T>(db: SqlDb, runId: string, spec: SnapshotTable<T>): Promise<Map<string, number>> {
	const tallies = new Map<string, number>();
	const count = (key: string, n = 1) => tallies.set(key, (tallies.get(key) ?? 0) + n);
	const stored = await entityRecords(db, runId, spec);
	if (isLegacy(stored)) {
		const tally = spec.tally;
		if (tally) for await (const batch of readLegacyBatches(db, runId, spec, 10_000)) for (const record of batch) tally(record, count);
		return tallies;
	}
	const { layer } = stored;
	for (const { owner } of layer ? [stored, layer.base] : [stored]) {
		const rows = await db.queryArrays('SELECT tallies FROM snapshot_chunks WHERE run_id = ? AND entity = ?', [owner, spec.entity]);
		for (const [text] of rows) for (const [key, n] of Object.entries(fromJson<Record<string, number>>(text, {}))) count(key, n);
	}
	if (layer) {
		for (const [key, n] of Object.entries(layer.removedTallies)) count(key, -n);
		for (const [key, n] of tallies) if (n === 0) tallies.delete(key);
	}
	return tallies;
}

/*
 * Changes over a base (migration 9). A delta night's snapshot differs from the last one by a few
 * records in a million; writing all of them again cost ~100 MB a night. So a snapshot entity may be
 * stored as changes: its run's chunks hold only the records that are new or changed, and its
 * snapshot_layers row names the base (a run whose chunks hold the entity whole) and the base's
 * sourcedIds that are removed or changed, with those records' tallies. Readers merge the two
 * (recordChunks); counts and tallies add up without reading records. A base is always whole, so a
 * read merges at most one layer, and the changes are kept under MAX_CHANGES_SHARE of it: the run
 * after a delta night stores its changes over the same base, and once they pass that share it writes
 * the entity whole (the next base). A base's chunks stay while a snapshot's changes are over them.
 */

/** The base a new snapshot of `runId` stores its entity's changes over, as the last snapshot (`fromRunId`) has it. */
interface ChangesBase {
	base: StoredChunks;
	/** The entity in the snapshot the new one follows: the base itself, or changes over it. */
	from: EntityRecords;
}

/**
 * What `runId`'s entity can be stored as changes over, following `fromRunId`'s snapshot: that
 * snapshot's whole records, or the base its changes are over while they stay small. None (write it
 * whole) when that entity has no chunks (none, or from before migration 4), its changes are past
 * MAX_CHANGES_SHARE, or `runId` already has records of the entity.
 */
async function changesBase(db: SqlDb, fromRunId: string, runId: string, spec: { entity: string }): Promise<ChangesBase | undefined> {
	const from = await entityRecords(db, fromRunId, spec);
	if (isLegacy(from)) return undefined;
	if ((await lastChunkSeq(db, runId, spec)) > 0) return undefined;
	if (!from.layer) return { base: from, from };
	const changes = rowsIn(from.chunks) + from.layer.removedCount;
	if (changes > rowsIn(from.layer.base.chunks) * MAX_CHANGES_SHARE) return undefined;
	return { base: from.layer.base, from };
}

/** A base's rows of values in chunk order, read a chunk at a time. */
class BaseCursor {
	private rows: SqlValue[][] = [];
	private at = 0;
	private readonly chunks: AsyncGenerator<SqlValue[][]>;

	constructor(db: SqlDb, base: StoredChunks, spec: { entity: string }) {
		this.chunks = chunkValues(db, base.owner, spec, seqsOf(base.chunks));
	}

	/** The current row (undefined past the last). */
	async peek(): Promise<SqlValue[] | undefined> {
		while (this.at >= this.rows.length) {
			const next = await this.chunks.next();
			if (next.done) return undefined;
			this.rows = next.value;
			this.at = 0;
		}
		return this.rows[this.at];
	}

	skip(): void {
		this.at++;
	}
}

/** One entity's changes over a base, collected and then written: the records added (new or changed) and the base's rows removed. */
class SnapshotChanges<T> {
	private readonly added: T[] = [];
	private readonly removed: string[] = [];
	/** The base's rows in `removed`, as they were. */
	private readonly removedRows: SqlValue[][] = [];
	private readonly removedTallies: Record<string, number> = {};

	constructor(
		private readonly db: SqlDb,
		private readonly runId: string,
		private readonly spec: SnapshotTable<T>,
		private readonly base: StoredChunks,
	) {}

	add(record: T): void {
		this.added.push(record);
	}

	/** A base row (its values) that is not in the new snapshot as it is. */
	remove(values: SqlValue[]): void {
		this.removed.push(String(values[SOURCED_ID_AT]));
		this.removedRows.push(values);
		this.spec.tally?.(this.spec.fromValues(values), (key) => (this.removedTallies[key] = (this.removedTallies[key] ?? 0) + 1));
	}

	async finish(): Promise<void> {
		const { db, runId, spec } = this;
		const added = this.added.sort(byKey);
		for (let i = 1; i < added.length; i++) if (sourcedIdOf(added[i - 1]) === sourcedIdOf(added[i])) throw new Error(`snapshot ${spec.entity}: sourcedId "${sourcedIdOf(added[i])}" twice`);
		await insertChunks(db, runId, spec, 0, added);
		await db.execute('INSERT INTO snapshot_layers (run_id, entity, base_run_id, removed_count, removed_tallies, removed, removed_records) VALUES (?, ?, ?, ?, ?, ?, ?)', [
			runId,
			spec.entity,
			this.base.owner,
			this.removed.length,
			spec.tally ? toJson(this.removedTallies) : null,
			toJson(this.removed),
			JSON.stringify(this.removedRows),
		]);
	}
}

export interface SnapshotHeader {
	runId: string;
	createdAt: string;
	schoolIds: string[];
	counts: Record<string, unknown>;
	/** The Normalize rules it was made under (normalizeRules(); null before migration 12, or when not written by Normalize). */
	rules: string | null;
}

/**
 * `fingerprint`: what the snapshot was made from (Normalize's rules, its options and the staged
 * files' content hashes), when that is known; a later run made from the same can copy it.
 */
export async function writeSnapshotHeader(
	db: SqlDb,
	runId: string,
	schoolIds: string[],
	counts: Record<string, unknown>,
	{ fingerprint = null, rules = null }: { fingerprint?: string | null; rules?: string | null } = {},
): Promise<void> {
	await db.execute('INSERT INTO snapshots (run_id, created_at, school_ids, counts, fingerprint, rules) VALUES (?, ?, ?, ?, ?, ?)', [
		runId,
		nowIso(),
		toJson(schoolIds),
		toJson(counts),
		fingerprint,
		rules,
	]);
}

/** The newest snapshot made from `fingerprint` other than `exceptRunId`'s. */
export async function findSnapshotByFingerprint(db: SqlDb, fingerprint: string, exceptRunId: string): Promise<SnapshotHeader | undefined> {
	const rows = await db.query('SELECT run_id FROM snapshots WHERE fingerprint = ? AND run_id <> ? ORDER BY run_id DESC LIMIT 1', [
		fingerprint,
		exceptRunId,
	]);
	return rows[0] ? readSnapshotHeader(db, String(rows[0].run_id)) : undefined;
}

/**
 * Gives `toRunId` the snapshot of `fromRunId` (same schools, counts and records), with `fingerprint`.
 * The records are shared, not copied (~100 MB at 100,000 students): the header names the run whose
 * chunks hold them. A snapshot written before migration 4 has no chunks to share: it is packed into
 * chunks of `toRunId`'s own.
 */
export async function shareSnapshot(db: SqlDb, fromRunId: string, toRunId: string, fingerprint: string | null): Promise<void> {
	const from = await readSnapshotHeader(db, fromRunId);
	if (!from) throw new Error(`run ${fromRunId} has no snapshot to share`);
	const owner = await recordsOwner(db, fromRunId);
	const packed =
		(await db.queryArrays('SELECT 1 FROM snapshot_chunks WHERE run_id = ? LIMIT 1', [owner])).length > 0 ||
		(await db.queryArrays('SELECT 1 FROM snapshot_layers WHERE run_id = ? LIMIT 1', [owner])).length > 0;
	if (!packed) {
		for (const spec of SNAPSHOT_TABLES as ReadonlyArray<SnapshotTable<unknown>>) {
			for await (const batch of readLegacyBatches(db, fromRunId, spec, 10_000)) await writeSnapshotRecords(db, toRunId, spec, batch);
		}
	}
	await writeSnapshotHeader(db, toRunId, from.schoolIds, from.counts, { fingerprint, rules: from.rules });
	if (packed) await db.execute('UPDATE snapshots SET records_from_run_id = ? WHERE run_id = ?', [owner, toRunId]);
}

export async function readSnapshotHeader(db: SqlDb, runId: string): Promise<SnapshotHeader | undefined> {
	const rows = await db.query('SELECT * FROM snapshots WHERE run_id = ?', [runId]);
	if (!rows[0]) return undefined;
	return {
		runId,
		createdAt: String(rows[0].created_at),
		schoolIds: fromJson(rows[0].school_ids, []),
		counts: fromJson(rows[0].counts, {}),
		rules: rows[0].rules === null || rows[0].rules === undefined ? null : String(rows[0].rules),
	};
}

/**
 * Deletes a run's snapshot; its records' chunks go unless another run's snapshot shares them, or
 * stores changes over them (they go with the last).
 */
export async function deleteSnapshot(db: SqlDb, runId: string): Promise<void> {
	const owner = await recordsOwner(db, runId);
	for (const spec of SNAPSHOT_TABLES) await db.execute(`DELETE FROM ${spec.table} WHERE run_id = ?`, [runId]);
	await db.execute('DELETE FROM snapshots WHERE run_id = ?', [runId]);
	// Its users rows as numbers (store/user-links.ts) go with it.
	await db.execute('DELETE FROM user_links WHERE run_id = ?', [runId]);
	for (const run of new Set([runId, owner])) await deleteRecordsUnused(db, run);
}

/** Deletes `run`'s chunks and changes when no snapshot reads them any more; then so for the bases its changes were over. */
async function deleteRecordsUnused(db: SqlDb, run: string): Promise<void> {
	const [[sharers]] = await db.queryArrays(`SELECT COUNT(*) FROM snapshots WHERE ${RECORDS_OWNER} = ?`, [run]);
	const [[changesOver]] = await db.queryArrays('SELECT COUNT(*) FROM snapshot_layers WHERE base_run_id = ?', [run]);
	if (Number(sharers) + Number(changesOver) > 0) return;
	const bases = await db.queryArrays('SELECT DISTINCT base_run_id FROM snapshot_layers WHERE run_id = ?', [run]);
	await db.execute('DELETE FROM snapshot_chunks WHERE run_id = ?', [run]);
	await db.execute('DELETE FROM snapshot_layers WHERE run_id = ?', [run]);
	for (const [base] of bases) await deleteRecordsUnused(db, String(base));
}

/** The newest run that has a snapshot (run ids sort by time), for pickers such as "terms to sync". */
export async function latestSnapshotRunId(db: SqlDb): Promise<string | undefined> {
	const rows = await db.query('SELECT run_id FROM snapshots ORDER BY run_id DESC LIMIT 1');
	return rows[0] ? String(rows[0].run_id) : undefined;
}

/**
 * Statistics for the snapshot reads on PostgreSQL (see refreshStatistics): for snapshots written
 * before migration 4, without them each batch of a large table was sorted on disk instead of read in
 * index order (~10× slower); the chunks are few, but analyzed as well.
 */
export async function refreshSnapshotStatistics(db: SqlDb, specs: ReadonlyArray<{ table: string }>): Promise<void> {
	await refreshStatistics(db, ['snapshot_chunks', ...specs.map((spec) => spec.table)]);
}
