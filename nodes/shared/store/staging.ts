/**
 * The staging area: raw rows of one run, as the source gave them, before Normalize.
 */
import type { RecordProblem } from '../model/errors';
import type { StagedEntity, StagedFile, StagedRow } from '../model/roster';
import type { StagingSink } from '../sources/staging';
import { addProblems } from './runs';
import type { SqlDb } from './sql';
import { fromJson, toJson } from './sql';

const ROW_COLUMNS = ['run_id', 'entity', 'row_number', 'sourced_id', 'cells'] as const;

/** Writes a source's files, rows and problems into the staging area of `runId`. */
export class StoreStagingSink implements StagingSink {
	constructor(
		private readonly db: SqlDb,
		private readonly runId: string,
	) {}

	async beginFile(file: StagedFile): Promise<void> {
		await this.db.execute('DELETE FROM staging_rows WHERE run_id = ? AND entity = ?', [this.runId, file.entity]);
		await this.db.execute('DELETE FROM staging_files WHERE run_id = ? AND entity = ?', [this.runId, file.entity]);
		await this.db.execute(
			'INSERT INTO staging_files (run_id, entity, file_name, oneroster_version, mode, columns) VALUES (?, ?, ?, ?, ?, ?)',
			[this.runId, file.entity, file.fileName, file.version, file.mode, toJson(file.columns)],
		);
	}

	async writeRows(entity: StagedEntity, rows: StagedRow[]): Promise<void> {
		await this.db.insertMany(
			'staging_rows',
			ROW_COLUMNS,
			rows.map((row) => [this.runId, entity, row.rowNumber, row.sourcedId, toJson(row.cells)]),
		);
	}

	async writeProblems(problems: RecordProblem[]): Promise<void> {
		await addProblems(this.db, this.runId, 'staged', problems);
	}
}

export async function readStagedFiles(db: SqlDb, runId: string): Promise<StagedFile[]> {
	const rows = await db.query('SELECT * FROM staging_files WHERE run_id = ?', [runId]);
	return rows.map((row) => ({
		entity: row.entity as StagedEntity,
		fileName: String(row.file_name),
		version: String(row.oneroster_version) as StagedFile['version'],
		mode: String(row.mode) as StagedFile['mode'],
		columns: fromJson<string[]>(row.columns, []),
	}));
}

/** Staged rows of one entity in source order, fetched in batches (never the whole table at once). */
export async function* readStagedRows(
	db: SqlDb,
	runId: string,
	entity: StagedEntity,
	batchSize = 20_000,
): AsyncGenerator<StagedRow[]> {
	let after = -1;
	for (;;) {
		const rows = await db.query(
			'SELECT row_number, sourced_id, cells FROM staging_rows WHERE run_id = ? AND entity = ? AND row_number > ? ORDER BY row_number LIMIT ?',
			[runId, entity, after, batchSize],
		);
		if (rows.length === 0) return;
		yield rows.map((row) => ({
			rowNumber: Number(row.row_number),
			sourcedId: String(row.sourced_id),
			cells: JSON.parse(String(row.cells)) as string[],
		}));
		after = Number(rows[rows.length - 1].row_number);
		if (rows.length < batchSize) return;
	}
}

export async function clearStaging(db: SqlDb, runId: string): Promise<void> {
	await db.execute('DELETE FROM staging_rows WHERE run_id = ?', [runId]);
	await db.execute('DELETE FROM staging_files WHERE run_id = ?', [runId]);
}
