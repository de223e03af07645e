/**
 * Where sources put what they read: the store's staging area for one run.
 * Sources only call this interface; the store implements it (see store/staging.ts).
 */
import type { RecordProblem } from '../model/errors';
import type { StagedEntity, StagedFile, StagedRow } from '../model/roster';

export interface StagingSink {
	/** Called once per file before its rows. */
	beginFile(file: StagedFile): Promise<void>;
	/**
	 * Called with batches of valid rows (in file order) of the file last begun for `entity`. `hints.plain`:
	 * the source knows that no cell of these rows holds U+0000, U+001E or U+001F (e.g. the bytes it read
	 * had none), so the sink, which may use them as separators, need not look.
	 */
	writeRows(entity: StagedEntity, rows: StagedRow[], hints?: RowHints): Promise<void>;
	/** Row-level problems: the row was skipped. */
	writeProblems(problems: RecordProblem[]): Promise<void>;
	/**
	 * Optional. Stages `file` by copying an earlier run's staging of the very same content (same
	 * `contentHash`, which covers the file's bytes, name, version, mode and the rules that checked it)
	 * when that staging had no row problems. Returns what was staged, or null (stage it from the source).
	 */
	reuseFile?(file: StagedFile & { contentHash: string }): Promise<ReusedFile | null>;
	/** Optional. What a file's staging came to, kept with it so a later run of the same content can reuse it. */
	finishFile?(entity: StagedEntity, outcome: FileOutcome): Promise<void>;
	/**
	 * Optional. The rows of an earlier bulk staging of the file last begun for `entity` (with the same columns,
	 * its rows' hashes kept: RowHints.hashes) that tonight's rows may be matched to, so that the file is staged
	 * as a patch over it (sources/oneroster-csv/row-patch.ts, FileOutcome.patch); null when there is none to use.
	 */
	baseRowsFor?(entity: StagedEntity): Promise<BaseRows | null>;
}

/**
 * What a whole bulk staging keeps of each row (RowHints.hashes, BaseRows.hashes), this many numbers a row: the
 * two hashes of its bytes (0, 0: never matched), then the two of its sourcedId (sources/oneroster-csv/row-patch.ts).
 */
export const ROW_HASH_WORDS = 4;

/** An earlier staging a bulk file may be staged as a patch over (StagingSink.baseRowsFor). */
export interface BaseRows {
	/** The run whose staging_chunks hold the base's rows. */
	runId: string;
	/** ROW_HASH_WORDS numbers for each of its rows, in order. */
	hashes: Uint32Array;
}

/** A file staged as a patch over a base (row-patch.ts): the rows written are only those not in the base. */
export interface StagedPatch {
	baseRunId: string;
	/** (base ordinal, count, row number of the first) triples, in file order (PatchSegments). */
	segments: Int32Array;
	/** Rows written under this run (the rest are the base's). */
	ownRows: number;
}

/** What a source knows of a batch of rows (StagingSink.writeRows). */
export interface RowHints {
	plain?: boolean;
	/** ROW_HASH_WORDS numbers for each row of the batch (row-patch.ts), kept so that a later night's file may be staged as a patch over this one. */
	hashes?: Uint32Array;
}

/** What staging one file came to. */
export interface FileOutcome {
	/** null when the file was not hashed whole (too big to hold: see ingest.ts); such a staging is never reused. */
	contentHash: string | null;
	rows: number;
	skipped: number;
	/** Warnings about the file (header, fixes), as the source reported them. */
	warnings: string[];
	/** The file was staged as a patch over an earlier staging (baseRowsFor). */
	patch?: StagedPatch;
}

/** A file staged by copying an earlier run's staging of the same content. */
export interface ReusedFile {
	fromRunId: string;
	columns: string[];
	rows: number;
	warnings: string[];
}

/** What a source reports when it has staged a whole input. */
export interface StagingSummary {
	version: '1.1' | '1.2';
	/** One entry per staged file, in the order staged. */
	files: Array<{
		entity: StagedEntity;
		fileName: string;
		mode: 'bulk' | 'delta';
		rows: number;
		skipped: number;
		/** The file had the very content of one this earlier run staged: that staging was copied. */
		reusedFrom?: string;
		/** The file was staged as a patch over this run's staging of it: only `rowsWritten` of its rows were checked and written. */
		patchOver?: { runId: string; rowsWritten: number };
	}>;
	problemCount: number;
	warnings: string[];
	/** What the source wants kept with the run's staged counts (e.g. an API pull's requests, pages and mode). */
	details?: Record<string, unknown>;
}

/**
 * A source's row problems: all counted, the first `max` handed to the sink (in batches, between
 * row batches), so one broken export cannot fill the store with millions of problem rows.
 */
export class ProblemList {
	count = 0;
	listed = 0;
	private pending: RecordProblem[] = [];

	constructor(private readonly max: number) {}

	add(problems: RecordProblem[]): void {
		this.count += problems.length;
		for (const problem of problems) {
			if (this.listed >= this.max) return;
			this.pending.push(problem);
			this.listed++;
		}
	}

	async flush(sink: StagingSink): Promise<void> {
		if (this.pending.length === 0) return;
		const problems = this.pending;
		this.pending = [];
		await sink.writeProblems(problems);
	}

	/** Says in `warnings` how many problems were counted but not listed, if any. */
	noteUnlisted(warnings: string[]): void {
		if (this.count > this.listed) warnings.push(`${this.count} row problems in all; only the first ${this.listed} are listed`);
	}
}
