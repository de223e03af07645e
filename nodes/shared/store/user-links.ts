/**
 * A bulk night's users rows as numbers (normalize/user-links.ts), kept with its snapshot for the next night's Normalize.
 */
import type { SqlDb } from './sql';

/** One run's kept user links: the staging its rows' ordinals are in, the run whose chunks hold the file's rows, and the links as text. */
export interface StoredUserLinks {
	baseRunId: string;
	rowsOwner: string;
	data: string;
}

/**
 * Keeps `runId`'s links, in place of any other run's: only the newest night's are carried from (the next night's
 * Normalize reads the last normalized run's), and a district's are ~9 MB a night at 100,000 students.
 */
export async function writeUserLinks(db: SqlDb, runId: string, links: StoredUserLinks): Promise<void> {
	await db.execute('DELETE FROM user_links');
	await db.execute('INSERT INTO user_links (run_id, base_run_id, rows_owner, data) VALUES (?, ?, ?, ?)', [runId, links.baseRunId, links.rowsOwner, links.data]);
}

/**
 * `runId`'s links; a run that shares an earlier run's snapshot (the same export: `snapshots.records_from_run_id`)
 * has that run's, while they are kept (they are not copied: an unchanged night writes nothing).
 */
export async function readUserLinks(db: SqlDb, runId: string): Promise<StoredUserLinks | undefined> {
	const [row] = await db.queryArrays(
		'SELECT base_run_id, rows_owner, data FROM user_links WHERE run_id = COALESCE((SELECT records_from_run_id FROM snapshots WHERE run_id = ?), ?)',
		[runId, runId],
	);
	return row ? { baseRunId: String(row[0]), rowsOwner: String(row[1]), data: String(row[2]) } : undefined;
}
