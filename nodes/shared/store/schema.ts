/**
 * The store's schema ("Minga-compatible"), as versioned migrations that run on first use.
 * Plain SQL that both SQLite and PostgreSQL accept: TEXT, INTEGER, REAL; booleans as 0/1;
 * timestamps as ISO-8601 UTC text; lists and records as JSON text.
 */
import type { SqlDb } from './sql';
import { nowIso } from './sql';
import { SYNC_STATE_TABLES, sqliteWriteTriggers } from './sync-state';

export interface Migration {
	version: number;
	name: string;
	/** One script for both engines, or one per engine where they differ (e.g. SQLite's WITHOUT ROWID). */
	sql: string | { sqlite: string; postgres: string };
}

/** Migration 15's table (normalize/user-links.ts). */
const USER_LINKS_TABLE = `
CREATE TABLE user_links (
	run_id TEXT PRIMARY KEY,
	base_run_id TEXT NOT NULL,
	rows_owner TEXT NOT NULL,
	data TEXT NOT NULL
);
`;

export const MIGRATIONS: Migration[] = [
	{
		version: 1,
		name: 'people, lists, runs, staging and snapshots',
		sql: `
CREATE TABLE sync_runs (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	source TEXT NOT NULL,
	status TEXT NOT NULL,
	stage TEXT NOT NULL,
	dry_run INTEGER NOT NULL DEFAULT 0,
	started_at TEXT NOT NULL,
	finished_at TEXT,
	settings TEXT,
	counts TEXT,
	warnings TEXT,
	error TEXT
);
CREATE INDEX sync_runs_started ON sync_runs (started_at);

CREATE TABLE run_problems (
	run_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	stage TEXT NOT NULL,
	file TEXT,
	row_number INTEGER,
	field TEXT,
	sourced_id TEXT,
	message TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE staging_files (
	run_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	file_name TEXT NOT NULL,
	oneroster_version TEXT NOT NULL,
	mode TEXT NOT NULL,
	columns TEXT NOT NULL,
	PRIMARY KEY (run_id, entity)
);

CREATE TABLE staging_rows (
	run_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	row_number INTEGER NOT NULL,
	sourced_id TEXT NOT NULL,
	cells TEXT NOT NULL,
	PRIMARY KEY (run_id, entity, row_number)
);

CREATE TABLE snapshots (
	run_id TEXT PRIMARY KEY,
	created_at TEXT NOT NULL,
	school_ids TEXT NOT NULL,
	counts TEXT NOT NULL,
	fingerprint TEXT
);

CREATE TABLE snapshot_orgs (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	name TEXT NOT NULL,
	type TEXT NOT NULL,
	identifier TEXT,
	parent_id TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_terms (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	title TEXT NOT NULL,
	type TEXT NOT NULL,
	start_date TEXT,
	end_date TEXT,
	parent_id TEXT,
	school_year TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_courses (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	title TEXT NOT NULL,
	course_code TEXT,
	grades TEXT NOT NULL,
	subjects TEXT NOT NULL,
	org_id TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_classes (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	title TEXT NOT NULL,
	class_code TEXT,
	class_type TEXT,
	course_id TEXT,
	school_id TEXT NOT NULL,
	term_ids TEXT NOT NULL,
	grades TEXT NOT NULL,
	subjects TEXT NOT NULL,
	periods TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_people (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	role TEXT NOT NULL,
	sis_role TEXT NOT NULL,
	given_name TEXT NOT NULL,
	family_name TEXT NOT NULL,
	middle_name TEXT,
	preferred_given_name TEXT,
	preferred_family_name TEXT,
	email TEXT,
	username TEXT,
	sis_id TEXT,
	grade TEXT,
	school_ids TEXT NOT NULL,
	primary_school_id TEXT,
	enabled INTEGER NOT NULL,
	phone TEXT,
	sms TEXT,
	primary_contact_id TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_contacts (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	relationship TEXT NOT NULL,
	given_name TEXT NOT NULL,
	family_name TEXT NOT NULL,
	email TEXT,
	phone TEXT,
	sms TEXT,
	PRIMARY KEY (run_id, sourced_id)
);

CREATE TABLE snapshot_enrollments (
	run_id TEXT NOT NULL,
	sourced_id TEXT NOT NULL,
	class_id TEXT NOT NULL,
	person_id TEXT NOT NULL,
	role TEXT NOT NULL,
	is_primary INTEGER NOT NULL,
	begin_date TEXT,
	end_date TEXT,
	PRIMARY KEY (run_id, sourced_id)
);
CREATE INDEX snapshot_enrollments_class ON snapshot_enrollments (run_id, class_id);

CREATE TABLE people (
	id TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	given_name TEXT NOT NULL,
	family_name TEXT NOT NULL,
	middle_name TEXT,
	preferred_name TEXT,
	email TEXT,
	email_key TEXT,
	username TEXT,
	student_number TEXT,
	sis_id TEXT,
	sourced_id TEXT,
	grade TEXT,
	school_id TEXT,
	school_ids TEXT,
	phone TEXT,
	parent_name TEXT,
	parent_email TEXT,
	parent_phone TEXT,
	include_in_sis_sync INTEGER NOT NULL DEFAULT 1,
	source TEXT NOT NULL,
	archived_at TEXT,
	missing_runs INTEGER NOT NULL DEFAULT 0,
	last_seen_run_id TEXT,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX people_sourced_id ON people (sourced_id);
CREATE INDEX people_sis_id ON people (sis_id);
CREATE INDEX people_student_number ON people (student_number);
CREATE INDEX people_email_key ON people (email_key);

CREATE TABLE user_lists (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	source_key TEXT,
	title TEXT NOT NULL,
	term_id TEXT,
	class_id TEXT,
	grade TEXT,
	is_public INTEGER NOT NULL DEFAULT 0,
	visibility_set_by_hand INTEGER NOT NULL DEFAULT 0,
	archived_at TEXT,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX user_lists_source_key ON user_lists (source_key);

CREATE TABLE list_members (
	list_id TEXT NOT NULL,
	person_id TEXT NOT NULL,
	membership TEXT NOT NULL,
	added_run_id TEXT,
	PRIMARY KEY (list_id, person_id, membership)
);
CREATE INDEX list_members_person ON list_members (person_id);

CREATE TABLE run_changes (
	run_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	entity TEXT NOT NULL,
	entity_id TEXT NOT NULL,
	action TEXT NOT NULL,
	role TEXT,
	label TEXT,
	sourced_id TEXT,
	reason TEXT,
	fields TEXT,
	before_values TEXT,
	after_values TEXT,
	applied INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, seq)
);
`,
	},
	{
		version: 2,
		name: 'safeguards: change history by record, snapshots by date',
		sql: `
CREATE INDEX run_changes_entity ON run_changes (entity, entity_id);
CREATE INDEX snapshots_created ON snapshots (created_at);
`,
	},
	{
		version: 3,
		name: 'performance: packed staging rows, reuse of unchanged files',
		sql: `
ALTER TABLE staging_files ADD COLUMN content_hash TEXT;
ALTER TABLE staging_files ADD COLUMN summary TEXT;
CREATE TABLE staging_chunks (
	run_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	seq INTEGER NOT NULL,
	row_count INTEGER NOT NULL,
	encoding TEXT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (run_id, entity, seq)
);
`,
	},
	{
		version: 4,
		name: 'performance: packed snapshot records',
		// snapshot_orgs … snapshot_enrollments stay: snapshots written before this are still read from them.
		sql: `
CREATE TABLE snapshot_chunks (
	run_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	seq INTEGER NOT NULL,
	row_count INTEGER NOT NULL,
	first_key TEXT NOT NULL,
	last_key TEXT NOT NULL,
	tallies TEXT,
	data TEXT NOT NULL,
	PRIMARY KEY (run_id, entity, seq)
);
`,
	},
	{
		version: 5,
		name: 'performance: list members stored once (SQLite)',
		// SQLite: a WITHOUT ROWID table keyed by (list_id, membership, person_id) holds each membership once,
		// where a rowid table holds it twice (table and primary key index); Build Lists reads a list's members
		// and managers in key order. PostgreSQL keeps its layout (heap and primary key index either way).
		sql: {
			sqlite: `
CREATE TABLE list_members_by_list (
	list_id TEXT NOT NULL,
	person_id TEXT NOT NULL,
	membership TEXT NOT NULL,
	added_run_id TEXT,
	PRIMARY KEY (list_id, membership, person_id)
) WITHOUT ROWID;
INSERT INTO list_members_by_list (list_id, person_id, membership, added_run_id)
	SELECT list_id, person_id, membership, added_run_id FROM list_members ORDER BY list_id, membership, person_id;
DROP TABLE list_members;
ALTER TABLE list_members_by_list RENAME TO list_members;
CREATE INDEX list_members_person ON list_members (person_id);
`,
			postgres: 'SELECT 1',
		},
	},
	{
		version: 6,
		name: 'performance: no indexes nothing reads',
		// Reconcile Users matches by SIS id and email in memory (it reads the whole people table once), so these
		// indexes were only written: ~40 % of the cost of inserting a district's people on its first night.
		// people_sourced_id stays ("Roster As Of" looks people up by sourcedId).
		sql: `
DROP INDEX people_sis_id;
DROP INDEX people_student_number;
DROP INDEX people_email_key;
`,
	},
	{
		version: 7,
		name: 'performance: an unchanged export shares its staged rows and snapshot',
		// A file staged again unchanged (reuseFile) names the run whose staging_chunks hold its rows, and a snapshot
		// made from the same export (shareSnapshot) the run whose snapshot_chunks hold its records, instead of
		// copying them (~100 MB each a night for an unchanged 100,000-student export).
		sql: `
ALTER TABLE staging_files ADD COLUMN rows_from_run_id TEXT;
ALTER TABLE snapshots ADD COLUMN records_from_run_id TEXT;
`,
	},
	{
		version: 8,
		name: 'performance: staged and snapshot chunks compressed with LZ4 (PostgreSQL)',
		// PostgreSQL compresses every value over ~2 KB with pglz by default; a night writes ~180 MB of chunk
		// text at 100,000 students (staging and snapshot), and pglz cost the server about 2.5 times LZ4's
		// time for it. LZ4 needs PostgreSQL 14+ built with it (Debian's is): elsewhere the columns keep pglz.
		// Chunks written before keep their compression; reads are as fast either way.
		sql: {
			sqlite: 'SELECT 1',
			postgres: `
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE staging_chunks ALTER COLUMN data SET COMPRESSION lz4;
		ALTER TABLE snapshot_chunks ALTER COLUMN data SET COMPRESSION lz4;
	END IF;
END $$;
`,
		},
	},
	{
		version: 9,
		name: 'performance: a delta night stores its snapshot as changes',
		// A snapshot entity may be stored as changes over another run's whole records (the base): the run's own
		// snapshot_chunks then hold only the records that are new or changed, and this row the base's sourcedIds
		// they replace or remove, with those records' tallies. A 1 % delta night wrote ~100 MB of records copied
		// from the night before; now it writes what changed. See store/snapshot.ts ("Changes over a base").
		sql: `
CREATE TABLE snapshot_layers (
	run_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	base_run_id TEXT NOT NULL,
	removed_count INTEGER NOT NULL,
	removed_tallies TEXT,
	removed TEXT NOT NULL,
	PRIMARY KEY (run_id, entity)
);
CREATE INDEX snapshot_layers_base ON snapshot_layers (base_run_id);
`,
	},
	{
		version: 10,
		name: 'performance: whether the people and lists are as the last sync left them',
		// Reconcile Users and Build Lists plan a delta night from what changed since the run that last wrote their
		// tables, instead of comparing the whole district with them (reconcile/apply.ts, lists/apply.ts). That holds
		// only while nothing else wrote them since: a row per table group names that run, and any other write (an
		// operator's edit, a rollback, another tool) clears it, by these triggers (store/sync-state.ts). On PostgreSQL
		// the trigger's function runs as its owner: a login that may write people clears the state without rights on it.
		sql: {
			sqlite: `
CREATE TABLE sync_state (name TEXT PRIMARY KEY, as_left_by_run_id TEXT);
INSERT INTO sync_state (name, as_left_by_run_id) VALUES ('people', NULL), ('lists', NULL);
${SYNC_STATE_TABLES.map(({ table, name }) => sqliteWriteTriggers(table, name)).join('\n')}
`,
			postgres: `
CREATE TABLE sync_state (name TEXT PRIMARY KEY, as_left_by_run_id TEXT);
INSERT INTO sync_state (name, as_left_by_run_id) VALUES ('people', NULL), ('lists', NULL);
CREATE FUNCTION sync_state_written() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE sync_state SET as_left_by_run_id = NULL WHERE name = TG_ARGV[0] AND as_left_by_run_id IS NOT NULL;
	RETURN NULL;
END $$;
${SYNC_STATE_TABLES.map(
	({ table, name }) =>
		`CREATE TRIGGER ${table}_written AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION sync_state_written('${name}');`,
).join('\n')}
`,
		},
	},
	{
		version: 11,
		name: 'performance: a snapshot stored as changes keeps the base records it replaces',
		// The base's records a layer removes or replaces, as their rows of values (JSON, in the order of `removed`),
		// so that both versions of every record changed between two snapshots over the same base come from their
		// layers without reading the base (store/snapshot.ts changedRecords; Build Lists plans from them). NULL for
		// layers written before: their base records are then read from the base.
		sql: 'ALTER TABLE snapshot_layers ADD COLUMN removed_records TEXT',
	},
	{
		version: 12,
		name: 'performance: the Normalize rules each snapshot was made under',
		// normalize.ts normalizeRules(): a bulk night matches its enrollments rows to the last run's (and takes
		// that snapshot's records for the rows that are the same) only when that snapshot was made under the same
		// rules. NULL for snapshots written before: the next bulk night writes its enrollments whole.
		sql: 'ALTER TABLE snapshots ADD COLUMN rules TEXT',
	},
	{
		version: 13,
		name: 'performance: no person index on list_members (SQLite)',
		// A first night adds ~800,000 memberships in list order; each also went into this index at a random place,
		// ~1 s of Build Lists' ~3.2–3.6 s at 100,000 students (and 74 MiB of the store). What reads memberships by
		// person (a delta night's Build Lists, a rollback) does it in one statement for all its people (jsonListByIndex):
		// one scan of the table, ~0.15 s for 2,000 people. PostgreSQL keeps it: it builds it after a first fill
		// (withIndexesBuiltAfterFirstFill), and its scans cost more.
		sql: {
			sqlite: 'DROP INDEX IF EXISTS list_members_person',
			postgres: 'SELECT 1',
		},
	},
	{
		version: 14,
		name: 'performance: a bulk file staged as a patch over an earlier staging of it',
		// sources/oneroster-csv/row-patch.ts: a bulk file's chunks keep their rows' hashes (base64 of ROW_HASH_WORDS numbers a
		// row; chunks an earlier release kept with fewer are never a base), and a
		// file staged as a patch names its base (the run whose chunks hold the rows it shares) and where it holds them
		// (base64 of (base ordinal, count, row number) triples). NULL for files staged before: never a base.
		sql: `
ALTER TABLE staging_chunks ADD COLUMN row_hashes TEXT;
ALTER TABLE staging_files ADD COLUMN base_run_id TEXT;
ALTER TABLE staging_files ADD COLUMN patch TEXT;
`,
	},
	{
		version: 15,
		name: 'performance: a bulk night keeps its users rows as numbers (user links)',
		// normalize/user-links.ts: per run whose users file was bulk, its rows in file order as numbers (what each made,
		// whom it lists, its ordinal in the staging `base_run_id`), from the staging whose chunks hold the file's rows
		// (`rows_owner`). The next night's Normalize carries the rows its patch shares with that file from them. Only the
		// newest night's are kept, and they go with the run's snapshot. On PostgreSQL their ~9 MB of text is compressed
		// with LZ4 where the server has it, as the chunks are (migration 8).
		sql: {
			sqlite: USER_LINKS_TABLE,
			postgres: `${USER_LINKS_TABLE}
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE user_links ALTER COLUMN data SET COMPRESSION lz4;
	END IF;
END $$;
`,
		},
	},
	{
		version: 16,
		name: 'performance: the unsettled person changes of a run found by index',
		// store/changes.ts listUnsettledPersonChanges: a plan from changes asks the night before for its unsettled person
		// changes; a partial index holds only those (none, most nights), so asking reads nothing else of that night's changes.
		sql: "CREATE INDEX run_changes_unsettled ON run_changes (run_id, seq) WHERE entity = 'person' AND action IN ('skip', 'ambiguous', 'keep', 'pending', 'relink');",
	},
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Brings the store to the newest schema version. Safe to call on every open. */
export async function migrate(db: SqlDb): Promise<number> {
	await db.executeScript(
		'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
	);
	const applied = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
	const done = new Set(applied.map((row) => Number(row.version)));
	let count = 0;
	for (const migration of MIGRATIONS) {
		if (done.has(migration.version)) continue;
		await db.transaction(async (tx) => {
			await tx.executeScript(typeof migration.sql === 'string' ? migration.sql : migration.sql[db.engine]);
			// A concurrent opener may have applied it first: the insert then fails and the transaction rolls back.
			await tx.execute('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
				migration.version,
				migration.name,
				nowIso(),
			]);
		});
		count++;
	}
	return count;
}
