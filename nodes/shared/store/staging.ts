/**
 * The staging area: raw rows of one run, as the source gave them, before Normalize.
 *
 * Rows are kept packed: each batch a source hands over is one `staging_chunks` row holding its
 * rows (row number, sourcedId and cells) as text. A 100,000-student district stages ~1M rows; one
 * store row per staged row cost ~4 s of inserts (and ~2 s to read back) a night, ~1,000
 * chunks cost a fraction of that, and the run's raw snapshot is still in the store, row for row.
 *
 * Encodings of a chunk's `data`:
 * - `u1`: records separated by U+001E, fields by U+001F: the cells, then the sourcedId ('' when it
 *   is the row's own sourcedId cell), then the row number. Used when no value holds U+001E, U+001F
 *   or U+0000 (checked on the packed text: the separators counted must be exactly the ones written).
 * - `json`: `[[rowNumber, sourcedId, cells], …]`, for anything else.
 * Runs staged before migration 3 have one `staging_rows` row per staged row; they are read the same.
 *
 * A file staged again unchanged (reuseFile) shares the chunks of the run that staged it: its
 * `staging_files` row names that run in `rows_from_run_id`, and the chunks go only when no file
 * names them any more (clearStaging).
 *
 * A bulk file staged as a patch over an earlier staging of it (sources/oneroster-csv/row-patch.ts,
 * baseRowsFor) has chunks of only the rows that are not the base's: its `staging_files` row names the
 * base's run in `base_run_id` and where the file holds the base's rows in `patch`; it is read back
 * whole, every row with its own row number (patchedRows). A bulk staging keeps its rows' hashes with
 * its chunks (`row_hashes`), for the nights after to be patches over it.
 */
import type { RecordProblem } from '../model/errors';
import type { StagedEntity, StagedFile, StagedRow } from '../model/roster';
import type { BaseRows, FileOutcome, ReusedFile, RowHints, StagingSink } from '../sources/staging';
import { ROW_HASH_WORDS } from '../sources/staging';
import { addProblems } from './runs';
import type { SqlDb, SqlValue } from './sql';
import { askedAhead, base64Of, fromJson, placeholders, toJson, typedArrayOf } from './sql';

const CHUNK_COLUMNS = ['run_id', 'entity', 'seq', 'row_count', 'encoding', 'data', 'row_hashes'] as const;
const RECORD = '\u001e';
const FIELD = '\u001f';
const SOURCED_ID = 'sourcedId';

type Encoding = 'u1' | 'json';

/** What a staging_files row's `summary` keeps: what the file's staging came to, and a patch's rows written under its run. */
type StagedSummary = Partial<Omit<FileOutcome, 'patch'>> & { ownRows?: number };

/** Past this share of its rows written on their own, a patch's base is not used again: the next night stages the file whole (a new base). */
export const REBASE_SHARE = 0.1;

function countOf(text: string, char: string): number {
	let count = 0;
	for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) count++;
	return count;
}

/** Whether a text can be a `u1` cell or sourcedId (it holds no separator, nor U+0000). */
const plainText = (text: string): boolean => text.indexOf(FIELD) === -1 && text.indexOf(RECORD) === -1 && text.indexOf('\u0000') === -1;

/** A row's cells and sourcedId as a `u1` record has them (without its row number). `own`: the sourcedId is its own cell. */
const u1Text = (row: StagedRow, own: boolean): string => `${row.cells.join(FIELD)}${FIELD}${own ? '' : row.sourcedId}`;

/**
 * Rows → one chunk's text (see the encodings above). `sourcedIdIndex`: the sourcedId column, or -1.
 * `plain`: the caller knows no cell holds U+0000, U+001E or U+001F (RowHints), so they are not counted.
 */
export function packRows(rows: StagedRow[], sourcedIdIndex: number, plain = false): { encoding: Encoding; data: string } {
	const records = new Array<string>(rows.length);
	let fields = 0;
	let sourcedIdsFit = true;
	for (let i = 0; i < rows.length; i++) {
		const row = rows[i];
		const own = sourcedIdIndex >= 0 && row.cells[sourcedIdIndex] === row.sourcedId;
		if (!own && row.sourcedId === '') sourcedIdsFit = false;
		records[i] = `${u1Text(row, own)}${FIELD}${row.rowNumber}`;
		fields += row.cells.length + 1;
	}
	if (sourcedIdsFit) {
		const data = records.join(RECORD);
		if (plain || (countOf(data, FIELD) === fields && countOf(data, RECORD) === rows.length - 1 && data.indexOf('\u0000') === -1)) {
			return { encoding: 'u1', data };
		}
	}
	return { encoding: 'json', data: JSON.stringify(rows.map((row) => [row.rowNumber, row.sourcedId, row.cells])) };
}

/** One chunk's text → its rows. */
export function unpackRows(encoding: string, data: string, sourcedIdIndex: number): StagedRow[] {
	if (encoding === 'json') {
		return (JSON.parse(data) as Array<[number, string, string[]]>).map(([rowNumber, sourcedId, cells]) => ({ rowNumber, sourcedId, cells }));
	}
	if (encoding !== 'u1') throw new Error(`unknown staging chunk encoding "${encoding}"`);
	if (data === '') return [];
	// One pass of indexOf and slice over the whole text: ~25 % less time than splitting it into records and
	// each record into fields (614,000 enrollments: 148 against 196 ms in a micro-benchmark).
	const rows: StagedRow[] = [];
	for (let start = 0; start <= data.length; ) {
		let end = data.indexOf(RECORD, start);
		if (end === -1) end = data.length;
		const cells: string[] = [];
		for (let field = start; ; ) {
			const next = data.indexOf(FIELD, field);
			if (next === -1 || next > end) {
				cells.push(data.slice(field, end));
				break;
			}
			cells.push(data.slice(field, next));
			field = next + 1;
		}
		const rowNumber = Number(cells.pop());
		const sourcedId = cells.pop() as string;
		rows.push({ rowNumber, sourcedId: sourcedId === '' && sourcedIdIndex >= 0 ? cells[sourcedIdIndex] : sourcedId, cells });
		start = end + 1;
	}
	return rows;
}

/**
 * A staged row read without splitting it into cells: what Normalize matches to another night's rows of
 * the same file (normalize/earlier-rows.ts). `text` is the row's cells and sourcedId as a `u1` record
 * packs them (less its row number), or, for a row no `u1` record can hold (a cell with a separator),
 * U+0000 and the row as JSON. Two rows of a file have the same text exactly when they have the same
 * cells and sourcedId, however their chunks were packed. cellAt and cellsOf give its cells.
 */
export interface StagedRowText {
	rowNumber: number;
	sourcedId: string;
	text: string;
}

const JSON_TEXT = '\u0000';

/** A row as StagedRowText: its text is what a `u1` record has, where it can hold the row. */
function rowTextOf(row: StagedRow, sourcedIdIndex: number): StagedRowText {
	const own = sourcedIdIndex >= 0 && row.cells[sourcedIdIndex] === row.sourcedId;
	const plain = (own || row.sourcedId !== '') && plainText(row.sourcedId) && row.cells.every(plainText);
	return { rowNumber: row.rowNumber, sourcedId: row.sourcedId, text: plain ? u1Text(row, own) : JSON_TEXT + JSON.stringify([row.sourcedId, row.cells]) };
}

/** A StagedRowText's row split into its cells. */
export function stagedRowOf(row: StagedRowText): StagedRow {
	return { rowNumber: row.rowNumber, sourcedId: row.sourcedId, cells: cellsOf(row) };
}

/** The cells of a StagedRowText's row (only its text is read). */
export function cellsOf({ text }: Pick<StagedRowText, 'text'>): string[] {
	if (text.startsWith(JSON_TEXT)) return (JSON.parse(text.slice(JSON_TEXT.length)) as [string, string[]])[1];
	const cells = text.split(FIELD);
	cells.pop();
	return cells;
}

/** The cell at `index` of a StagedRowText's row, as cellsOf(row)[index] (undefined past its cells), without splitting the others. */
export function cellAt(row: StagedRowText, index: number): string | undefined {
	if (row.text.startsWith(JSON_TEXT)) return cellsOf(row)[index];
	return u1Cell(row.text, index);
}

/** The cell at `index` of a `u1` text (cells, then the sourcedId field: never a cell). */
function u1Cell(text: string, index: number): string | undefined {
	let start = 0;
	for (let i = 0; i < index; i++) {
		start = text.indexOf(FIELD, start) + 1;
		if (start === 0) return undefined;
	}
	const end = text.indexOf(FIELD, start);
	return end === -1 ? undefined : text.slice(start, end);
}

/** One chunk's text → its rows as StagedRowText, not split into cells. */
export function unpackRowTexts(encoding: string, data: string, sourcedIdIndex: number): StagedRowText[] {
	if (encoding !== 'u1') return unpackRows(encoding, data, sourcedIdIndex).map((row) => rowTextOf(row, sourcedIdIndex));
	if (data === '') return [];
	const records = data.split(RECORD);
	const rows = new Array<StagedRowText>(records.length);
	for (let i = 0; i < records.length; i++) {
		const record = records[i];
		const end = record.lastIndexOf(FIELD);
		const idAt = record.lastIndexOf(FIELD, end - 1) + 1;
		const text = record.slice(0, end);
		const sourcedId = idAt === end && sourcedIdIndex >= 0 ? (u1Cell(text, sourcedIdIndex) as string) : record.slice(idAt, end);
		rows[i] = { rowNumber: Number(record.slice(end + 1)), sourcedId, text };
	}
	return rows;
}

/** Writes a source's files, rows and problems into the staging area of `runId`. */
export class StoreStagingSink implements StagingSink {
	private readonly files = new Map<StagedEntity, { sourcedIdIndex: number; seq: number }>();

	constructor(
		private readonly db: SqlDb,
		private readonly runId: string,
	) {}

	async beginFile(file: StagedFile): Promise<void> {
		await this.db.execute('DELETE FROM staging_chunks WHERE run_id = ? AND entity = ?', [this.runId, file.entity]);
		await this.db.execute('DELETE FROM staging_rows WHERE run_id = ? AND entity = ?', [this.runId, file.entity]);
		await this.db.execute('DELETE FROM staging_files WHERE run_id = ? AND entity = ?', [this.runId, file.entity]);
		await this.db.execute(
			'INSERT INTO staging_files (run_id, entity, file_name, oneroster_version, mode, columns) VALUES (?, ?, ?, ?, ?, ?)',
			[this.runId, file.entity, file.fileName, file.version, file.mode, toJson(file.columns)],
		);
		this.files.set(file.entity, { sourcedIdIndex: file.columns.indexOf(SOURCED_ID), seq: 0 });
	}

	async writeRows(entity: StagedEntity, rows: StagedRow[], hints: RowHints = {}): Promise<void> {
		if (rows.length === 0) return;
		let file = this.files.get(entity);
		if (!file) {
			file = { sourcedIdIndex: await sourcedIdIndexOf(this.db, this.runId, entity), seq: await lastSeq(this.db, this.runId, entity) };
			this.files.set(entity, file);
		}
		const { encoding, data } = packRows(rows, file.sourcedIdIndex, hints.plain);
		await this.db.execute(`INSERT INTO staging_chunks (${CHUNK_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
			this.runId,
			entity,
			++file.seq,
			rows.length,
			encoding,
			data,
			hints.hashes ? base64Of(hints.hashes) : null,
		]);
	}

	async writeProblems(problems: RecordProblem[]): Promise<void> {
		await addProblems(this.db, this.runId, 'staged', problems);
	}

	async reuseFile(file: StagedFile & { contentHash: string }): Promise<ReusedFile | null> {
		const earlier = await this.db.query(
			`SELECT run_id, ${CHUNKS_OWNER} AS owner, columns, summary, base_run_id, patch FROM staging_files WHERE entity = ? AND content_hash = ? AND run_id <> ? ORDER BY run_id DESC LIMIT 1`,
			[file.entity, file.contentHash, this.runId],
		);
		const found = earlier[0];
		if (!found) return null;
		const summary = fromJson<StagedSummary>(found.summary, {});
		if (summary.skipped !== 0 || typeof summary.rows !== 'number') return null;
		const owner = String(found.owner);
		const [{ rows }] = await this.db.query<{ rows: number }>('SELECT COALESCE(SUM(row_count), 0) AS rows FROM staging_chunks WHERE run_id = ? AND entity = ?', [
			owner,
			file.entity,
		]);
		// The earlier staging is not all there any more (pruned, or staged before migration 3): stage the file from the source.
		if (Number(rows) !== (found.patch === null ? summary.rows : summary.ownRows)) return null;
		const columns = fromJson<string[]>(found.columns, []);
		await this.beginFile({ entity: file.entity, fileName: file.fileName, version: file.version, mode: file.mode, columns });
		// A patch's base is named as the earlier file names it (its chunks stay while a file names them).
		await this.db.execute('UPDATE staging_files SET rows_from_run_id = ?, base_run_id = ?, patch = ? WHERE run_id = ? AND entity = ?', [
			owner,
			found.base_run_id ?? null,
			found.patch ?? null,
			this.runId,
			file.entity,
		]);
		// Its rows are the owner's: none are written under this run.
		this.files.delete(file.entity);
		await this.recordOutcome(file.entity, { contentHash: file.contentHash, rows: summary.rows, skipped: 0, warnings: summary.warnings ?? [] }, summary.ownRows);
		return { fromRunId: String(found.run_id), columns, rows: summary.rows, warnings: summary.warnings ?? [] };
	}

	async finishFile(entity: StagedEntity, outcome: FileOutcome): Promise<void> {
		const { patch } = outcome;
		if (patch) {
			await this.db.execute('UPDATE staging_files SET base_run_id = ?, patch = ? WHERE run_id = ? AND entity = ?', [
				patch.baseRunId,
				base64Of(patch.segments),
				this.runId,
				entity,
			]);
		}
		await this.recordOutcome(entity, outcome, patch?.ownRows);
	}

	/** Keeps what a file's staging came to (`ownRows`: a patch's rows written under its run). */
	private async recordOutcome(entity: StagedEntity, outcome: FileOutcome, ownRows: number | undefined): Promise<void> {
		await this.db.execute('UPDATE staging_files SET content_hash = ?, summary = ? WHERE run_id = ? AND entity = ?', [
			outcome.contentHash,
			toJson({ rows: outcome.rows, skipped: outcome.skipped, warnings: outcome.warnings, ...(ownRows === undefined ? {} : { ownRows }) }),
			this.runId,
			entity,
		]);
	}

	/**
	 * The last bulk staging of `entity` before this run's, with the same columns, as a base for this run's file
	 * (StagingSink.baseRowsFor): that staging itself, when it was staged whole with its rows' hashes; or, when it is
	 * a patch, its base, while its rows written on their own are at most REBASE_SHARE of its rows (past that, the file
	 * is staged whole again, a new base). Null when there is none such, or its chunks are not all there.
	 */
	async baseRowsFor(entity: StagedEntity): Promise<BaseRows | null> {
		const [last] = await this.db.query(
			`SELECT ${CHUNKS_OWNER} AS owner, mode, columns, summary, base_run_id FROM staging_files WHERE entity = ? AND run_id <> ? ORDER BY run_id DESC LIMIT 1`,
			[entity, this.runId],
		);
		const [tonight] = await this.db.query('SELECT columns FROM staging_files WHERE run_id = ? AND entity = ?', [this.runId, entity]);
		if (!last || !tonight || last.mode !== 'bulk' || last.columns !== tonight.columns) return null;
		const summary = fromJson<StagedSummary>(last.summary, {});
		if (typeof summary.rows !== 'number') return null;
		const isPatch = last.base_run_id !== null && last.base_run_id !== undefined;
		if (isPatch && (summary.ownRows ?? summary.rows) > REBASE_SHARE * summary.rows) return null;
		const runId = String(isPatch ? last.base_run_id : last.owner);
		const chunks = await this.db.queryArrays('SELECT row_count, row_hashes FROM staging_chunks WHERE run_id = ? AND entity = ? ORDER BY seq', [runId, entity]);
		let rows = 0;
		for (const [count, hashes] of chunks) {
			if (hashes === null) return null;
			rows += Number(count);
		}
		if (!isPatch && rows !== summary.rows) return null;
		const hashes = new Uint32Array(ROW_HASH_WORDS * rows);
		let at = 0;
		for (const [count, text] of chunks) {
			const chunk = typedArrayOf(String(text), Uint32Array);
			// Kept otherwise by an earlier release: not a base.
			if (chunk.length !== ROW_HASH_WORDS * Number(count)) return null;
			hashes.set(chunk, at);
			at += chunk.length;
		}
		return at === hashes.length ? { runId, hashes } : null;
	}
}

/** Content hashes of a run's staged files (entity → hash; files staged without one are left out). */
export async function readStagedContentHashes(db: SqlDb, runId: string): Promise<Map<StagedEntity, { contentHash: string; skipped: number | null }>> {
	const rows = await db.query('SELECT entity, content_hash, summary FROM staging_files WHERE run_id = ? AND content_hash IS NOT NULL', [runId]);
	return new Map(
		rows.map((row) => {
			const summary = fromJson<Partial<FileOutcome>>(row.summary, {});
			return [row.entity as StagedEntity, { contentHash: String(row.content_hash), skipped: typeof summary.skipped === 'number' ? summary.skipped : null }];
		}),
	);
}

/** The run whose staging_chunks hold the rows of a staging_files row: its own, or the one it shares (reuseFile). */
const CHUNKS_OWNER = 'COALESCE(rows_from_run_id, run_id)';

/**
 * Where a run's staged file is read from: the run whose chunks hold its rows, its sourcedId column, and a patch's base,
 * segments and rows of its own (as its summary says). `staged`: false when the run staged no such file.
 */
interface StagedFileSource {
	staged: boolean;
	owner: string;
	sourcedIdIndex: number;
	/** A file staged as a patch (row-patch.ts): the run whose chunks hold its base's rows, and where the file holds them. */
	patch?: { baseRunId: string; segments: Int32Array; ownRows: number | undefined };
}

async function stagedFileSource(db: SqlDb, runId: string, entity: StagedEntity): Promise<StagedFileSource> {
	const rows = await db.query(`SELECT ${CHUNKS_OWNER} AS owner, columns, base_run_id, patch, summary FROM staging_files WHERE run_id = ? AND entity = ?`, [
		runId,
		entity,
	]);
	if (!rows[0]) return { staged: false, owner: runId, sourcedIdIndex: -1 };
	const { owner, columns, base_run_id: baseRunId, patch, summary } = rows[0];
	return {
		staged: true,
		owner: String(owner),
		sourcedIdIndex: fromJson<string[]>(columns, []).indexOf(SOURCED_ID),
		...(patch === null || patch === undefined
			? {}
			: { patch: { baseRunId: String(baseRunId), segments: typedArrayOf(String(patch), Int32Array), ownRows: fromJson<StagedSummary>(summary, {}).ownRows } }),
	};
}

/**
 * How a run's staged file holds its rows: `whole` (its own chunks, or those of the staging it reuses, `owner`:
 * the base of a later night's patch) or as a patch over the staging of `baseRunId`, with the patch's segments
 * (base ordinal, count, row number of the first: row-patch.ts) and the number of rows it holds of its own.
 * Undefined when the run staged no such file.
 */
export type StagedLayout =
	| { owner: string; whole: true; baseRunId: string }
	| { owner: string; whole: false; baseRunId: string; segments: Int32Array; ownRows: number };

export async function stagedLayout(db: SqlDb, runId: string, entity: StagedEntity): Promise<StagedLayout | undefined> {
	const { staged, owner, patch } = await stagedFileSource(db, runId, entity);
	if (!staged) return undefined;
	if (!patch) return { owner, whole: true, baseRunId: owner };
	const { ownRows } = patch;
	if (typeof ownRows !== 'number') throw new Error(`The staged ${entity} file of run ${runId} is a patch that does not say how many rows it holds of its own`);
	return { owner, whole: false, baseRunId: patch.baseRunId, segments: patch.segments, ownRows };
}

/** The rows a patch holds of its own (not its base's), in file order, with their row numbers; all the rows of a file staged whole. */
export async function* readOwnStagedRows(db: SqlDb, runId: string, entity: StagedEntity): AsyncGenerator<StagedRow[]> {
	const { owner, sourcedIdIndex } = await stagedFileSource(db, runId, entity);
	yield* chunkRows(db, owner, entity, sourcedIdIndex, unpackRows);
}

/**
 * The rows of `baseRunId`'s staging of `entity` at these ordinals (its rows counted from 0 in file order), in the
 * order asked, with the row numbers they have there. Only the chunks that hold them are read.
 */
export async function readStagedRowsAt(db: SqlDb, baseRunId: string, entity: StagedEntity, ordinals: readonly number[]): Promise<StagedRow[]> {
	if (ordinals.length === 0) return [];
	const { sourcedIdIndex } = await stagedFileSource(db, baseRunId, entity);
	const chunks = await db.queryArrays('SELECT seq, row_count FROM staging_chunks WHERE run_id = ? AND entity = ? ORDER BY seq', [baseRunId, entity]);
	/** Each chunk's first ordinal. */
	const starts: number[] = [];
	let rows = 0;
	for (const [, count] of chunks) {
		starts.push(rows);
		rows += Number(count);
	}
	const chunkOf = (ordinal: number): number => {
		let low = 0;
		let high = starts.length - 1;
		while (low < high) {
			const middle = (low + high + 1) >> 1;
			if (starts[middle] <= ordinal) low = middle;
			else high = middle - 1;
		}
		return low;
	};
	const wanted = new Set<number>();
	for (const ordinal of ordinals) {
		if (ordinal < 0 || ordinal >= rows) throw new Error(`The staged ${entity} rows of run ${baseRunId} have no row ${ordinal + 1}`);
		wanted.add(chunkOf(ordinal));
	}
	const unpacked = new Map<number, StagedRow[]>();
	const wantedChunks = [...wanted];
	for (let at = 0; at < wantedChunks.length; at += CHUNKS_PER_QUERY) {
		const slice = wantedChunks.slice(at, at + CHUNKS_PER_QUERY);
		const seqs = slice.map((chunk) => Number(chunks[chunk][0]));
		const found = await db.queryArrays(`SELECT seq, encoding, data FROM staging_chunks WHERE run_id = ? AND entity = ? AND seq IN (${placeholders(seqs)})`, [
			baseRunId,
			entity,
			...seqs,
		]);
		const bySeq = new Map(found.map(([seq, encoding, data]) => [Number(seq), unpackRows(String(encoding), String(data), sourcedIdIndex)]));
		for (const chunk of slice) unpacked.set(chunk, bySeq.get(Number(chunks[chunk][0])) ?? []);
	}
	return ordinals.map((ordinal) => {
		const chunk = chunkOf(ordinal);
		return ownCopy((unpacked.get(chunk) as StagedRow[])[ordinal - starts[chunk]]);
	});
}

async function sourcedIdIndexOf(db: SqlDb, runId: string, entity: StagedEntity): Promise<number> {
	return (await stagedFileSource(db, runId, entity)).sourcedIdIndex;
}

async function lastSeq(db: SqlDb, runId: string, entity: StagedEntity): Promise<number> {
	const rows = await db.query<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) AS seq FROM staging_chunks WHERE run_id = ? AND entity = ?', [runId, entity]);
	return Number(rows[0]?.seq ?? 0);
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

/** Chunks fetched per query: a few MB of text at most (a CSV chunk holds ROW_BATCH_SIZE rows, 1,000: ~190 KB of users). */
const CHUNKS_PER_QUERY = 16;

/** Staged rows of one entity in source order, in batches of `batchSize` (never the whole file at once). */
export function readStagedRows(db: SqlDb, runId: string, entity: StagedEntity, batchSize = 5000): AsyncGenerator<StagedRow[]> {
	return readStagedChunks<StagedRow>(db, runId, entity, batchSize, unpackRows, (row) => row);
}

/** Staged rows of one entity in source order as StagedRowText, not split into cells (a fraction of the work). */
export function readStagedRowTexts(db: SqlDb, runId: string, entity: StagedEntity, batchSize = 5000): AsyncGenerator<StagedRowText[]> {
	return readStagedChunks(db, runId, entity, batchSize, unpackRowTexts, rowTextOf);
}

async function* readStagedChunks<R extends { rowNumber: number }>(
	db: SqlDb,
	runId: string,
	entity: StagedEntity,
	batchSize: number,
	unpack: (encoding: string, data: string, sourcedIdIndex: number) => R[],
	fromLegacy: (row: StagedRow, sourcedIdIndex: number) => R,
): AsyncGenerator<R[]> {
	const { owner, sourcedIdIndex, patch } = await stagedFileSource(db, runId, entity);
	const chunks = (of: string) => chunkRows(db, of, entity, sourcedIdIndex, unpack);
	let pending: R[] = [];
	let chunksRead = 0;
	const arrays = patch ? rowsOf(patchedRows(chunks(owner), chunks(patch.baseRunId), patch.segments, entity)) : chunks(owner);
	for await (const unpacked of arrays) {
		chunksRead++;
		pending = pending.length === 0 ? unpacked : pending.concat(unpacked);
		while (pending.length >= batchSize) {
			yield pending.length === batchSize ? pending : pending.slice(0, batchSize);
			pending = pending.length === batchSize ? [] : pending.slice(batchSize);
		}
	}
	if (pending.length > 0) yield pending;
	if (chunksRead === 0) for await (const batch of readLegacyStagedRows(db, runId, entity, batchSize)) yield batch.map((row) => fromLegacy(row, sourcedIdIndex));
}

/** The rows of each batch. */
async function* rowsOf<R>(batches: AsyncIterable<PatchedBatch<R>>): AsyncGenerator<R[]> {
	for await (const { rows } of batches) yield rows;
}

/** The rows of each of `owner`'s chunks of `entity`, in order (one array per chunk). */
async function* chunkRows<R>(
	db: SqlDb,
	owner: string,
	entity: StagedEntity,
	sourcedIdIndex: number,
	unpack: (encoding: string, data: string, sourcedIdIndex: number) => R[],
): AsyncGenerator<R[]> {
	const ask = (after: number) =>
		askedAhead(db.queryArrays('SELECT seq, encoding, data FROM staging_chunks WHERE run_id = ? AND entity = ? AND seq > ? ORDER BY seq LIMIT ?', [owner, entity, after, CHUNKS_PER_QUERY]));
	let next: Promise<SqlValue[][]> | undefined = ask(0);
	while (next !== undefined) {
		const rows: SqlValue[][] = await next;
		// The next chunks are asked for before these are unpacked.
		next = rows.length < CHUNKS_PER_QUERY ? undefined : ask(Number(rows[rows.length - 1][0]));
		for (const [, encoding, data] of rows) yield unpack(String(encoding), String(data), sourcedIdIndex);
	}
}

/** Rows taken one at a time from arrays of them. */
class RowCursor<R> {
	rows: R[] = [];
	at = 0;
	constructor(private readonly arrays: AsyncIterator<R[]>) {}

	/** Whether a row is at hand (rows[at]), reading the next array when needed; false at the end. */
	async ready(): Promise<boolean> {
		while (this.at >= this.rows.length) {
			const next = await this.arrays.next();
			if (next.done) return false;
			this.rows = next.value;
			this.at = 0;
		}
		return true;
	}
}

/** Rows handed on at a time by patchedRows. */
const PATCH_OUT_ROWS = 1000;

/** Rows of a patch in file order, with the base ordinal of each (-1: a row of the patch's own). */
interface PatchedBatch<R> {
	rows: R[];
	ordinals: Int32Array;
}

/**
 * A patch's rows in file order (row-patch.ts): its own rows (`own`, with their row numbers) and the base rows its
 * segments hold (base ordinal, count, row number of the first), given the row numbers they have in this file.
 * `dropped`, when given, is handed every base row the file does not hold (the base is then read to its end), each
 * before the patch's own rows that follow it in the base's order (a row changed in place: its base row first).
 */
async function* patchedRows<R extends { rowNumber: number }>(
	ownArrays: AsyncIterator<R[]>,
	baseArrays: AsyncIterator<R[]>,
	segments: Int32Array,
	entity: StagedEntity,
	dropped?: (row: R, ordinal: number) => void,
): AsyncGenerator<PatchedBatch<R>> {
	const own = new RowCursor(ownArrays);
	const base = new RowCursor(baseArrays);
	let rows: R[] = [];
	let ordinals = new Int32Array(PATCH_OUT_ROWS);
	const put = (row: R, ordinal: number) => {
		ordinals[rows.length] = ordinal;
		rows.push(row);
	};
	const flush = (): PatchedBatch<R> => {
		const batch = { rows, ordinals: ordinals.subarray(0, rows.length) };
		rows = [];
		ordinals = new Int32Array(PATCH_OUT_ROWS);
		return batch;
	};
	let ordinal = 0;
	/** Whether a base row is at hand (base.rows[base.at]); past the base's end, an error (the patch names rows its base no longer has) unless `atEnd`. */
	const baseRowReady = async (atEnd = false): Promise<boolean> => {
		if (await base.ready()) return true;
		if (atEnd) return false;
		throw new Error(`The staged ${entity} rows of a patch name base rows its base no longer has (base row ${ordinal + 1})`);
	};
	const ownRowsBefore = async function* (rowNumber: number) {
		while ((own.at < own.rows.length || (await own.ready())) && own.rows[own.at].rowNumber < rowNumber) {
			put(own.rows[own.at++], -1);
			if (rows.length >= PATCH_OUT_ROWS) yield flush();
		}
	};
	// A base row is taken without an await while its chunk's rows last (an await a row cost ~0.1 µs: 800,000 base rows a night).
	for (let s = 0; s < segments.length; s += 3) {
		const [start, count, firstRow] = [segments[s], segments[s + 1], segments[s + 2]];
		for (; ordinal < start; ordinal++) {
			if (base.at >= base.rows.length) await baseRowReady();
			const row = base.rows[base.at++];
			dropped?.(row, ordinal);
		}
		yield* ownRowsBefore(firstRow);
		for (let k = 0; k < count; k++, ordinal++) {
			if (base.at >= base.rows.length) await baseRowReady();
			const row = base.rows[base.at++];
			row.rowNumber = firstRow + k;
			put(row, ordinal);
			if (rows.length >= PATCH_OUT_ROWS) yield flush();
		}
	}
	if (dropped) {
		for (; base.at < base.rows.length || (await baseRowReady(true)); ordinal++) dropped(base.rows[base.at++], ordinal);
	}
	yield* ownRowsBefore(Infinity);
	if (rows.length > 0) yield flush();
}

/** Tonight's rows of a file staged as a patch, against an earlier staging of the file over the same base (readRowsAgainstEarlier). */
export interface RowsAgainstEarlier {
	/** Tonight's rows as text, in file order (batches of up to 1,000). */
	batches: AsyncGenerator<StagedRowText[]>;
	/** For the batch last yielded: 1 where its row is a base row the earlier staging holds too (so the earlier file has that very row). */
	shared: Uint8Array;
	/** For the batch last yielded: each row's ordinal in the base (-1: a row of the patch's own). */
	ordinals: Int32Array;
	/** The run whose staging is the base of both nights' files. */
	baseRunId: string;
	/**
	 * The earlier staging's rows tonight's has not (its rows of its own, and base rows tonight's file left out), by
	 * sourcedId, as strings of their own: in when the batch of the tonight's row that replaces one in place is yielded,
	 * and all of them once every batch is read.
	 */
	earlierOnly: Map<string, StagedRowText>;
}

/**
 * Tonight's staged rows of `entity` as text, each marked when the earlier staging of the file (`earlierRunId`) has
 * the very same row (the same base row; no text compared), and the earlier rows tonight's has not; null unless
 * tonight's file is a patch over a base that the earlier file is, or is a patch over too. The base's rows are read
 * once, for both nights (Normalize read each night's whole file, and matched them row by row: normalize/earlier-rows.ts).
 */
export async function readRowsAgainstEarlier(db: SqlDb, runId: string, earlierRunId: string, entity: StagedEntity): Promise<RowsAgainstEarlier | null> {
	const tonight = await stagedFileSource(db, runId, entity);
	const earlier = await stagedFileSource(db, earlierRunId, entity);
	const baseRunId = tonight.patch?.baseRunId;
	if (!tonight.patch || (earlier.patch ? earlier.patch.baseRunId !== baseRunId : earlier.owner !== baseRunId)) return null;
	const heldByEarlier = earlier.patch ? baseRowsHeld(earlier.patch.segments) : undefined;
	const earlierHolds = (ordinal: number) => heldByEarlier === undefined || (ordinal < heldByEarlier.length && heldByEarlier[ordinal] === 1);
	const { sourcedIdIndex } = tonight;
	const chunks = (of: string) => chunkRows(db, of, entity, sourcedIdIndex, unpackRowTexts);
	const earlierOnly = new Map<string, StagedRowText>();
	if (earlier.patch) for await (const rows of chunks(earlier.owner)) for (const row of rows) earlierOnly.set(row.sourcedId, ownCopy(row));
	const patch = tonight.patch;
	const dropped = (row: StagedRowText, ordinal: number) => {
		if (earlierHolds(ordinal)) earlierOnly.set(row.sourcedId, ownCopy(row));
	};
	const batches = patchedRows(chunks(tonight.owner), chunks(patch.baseRunId), patch.segments, entity, dropped);
	const reading = { shared: new Uint8Array(0), ordinals: new Int32Array(0), baseRunId: patch.baseRunId, earlierOnly } as RowsAgainstEarlier;
	reading.batches = (async function* () {
		for await (const { rows, ordinals } of batches) {
			const shared = new Uint8Array(rows.length);
			for (let i = 0; i < rows.length; i++) shared[i] = ordinals[i] >= 0 && earlierHolds(ordinals[i]) ? 1 : 0;
			reading.shared = shared;
			reading.ordinals = ordinals;
			yield rows;
		}
	})();
	return reading;
}

/** 1 at each base ordinal a patch's segments hold. */
function baseRowsHeld(segments: Int32Array): Uint8Array {
	let end = 0;
	for (let s = 0; s < segments.length; s += 3) end = Math.max(end, segments[s] + segments[s + 1]);
	const held = new Uint8Array(end);
	for (let s = 0; s < segments.length; s += 3) held.fill(1, segments[s], segments[s] + segments[s + 1]);
	return held;
}

/** A staged row held for a while: strings of its own, not cut from its chunk's staged text (which it would keep whole). */
export const ownCopy = <R>(row: R): R => JSON.parse(JSON.stringify(row)) as R;

/** Rows of a run staged before migration 3 (one store row per staged row). */
async function* readLegacyStagedRows(db: SqlDb, runId: string, entity: StagedEntity, batchSize: number): AsyncGenerator<StagedRow[]> {
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

/**
 * Deletes a run's staging: its files, its legacy rows, and the chunks of its files that no other
 * run's file shares (a later run that reused a file, or staged one as a patch over it, keeps reading
 * them; they go with the last file that names them).
 */
export async function clearStaging(db: SqlDb, runId: string): Promise<void> {
	const held = await db.query(`SELECT ${CHUNKS_OWNER} AS owner, base_run_id FROM staging_files WHERE run_id = ?`, [runId]);
	await db.execute('DELETE FROM staging_files WHERE run_id = ?', [runId]);
	await db.execute('DELETE FROM staging_rows WHERE run_id = ?', [runId]);
	const owners = new Set([runId, ...held.flatMap((row) => [String(row.owner), ...(row.base_run_id === null ? [] : [String(row.base_run_id)])])]);
	for (const owner of owners) {
		await db.execute(
			`DELETE FROM staging_chunks WHERE run_id = ? AND entity NOT IN (SELECT entity FROM staging_files WHERE ${CHUNKS_OWNER} = ? OR base_run_id = ?)`,
			[owner, owner, owner],
		);
	}
}
