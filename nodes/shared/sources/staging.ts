/**
 * Where sources put what they read: the store's staging area for one run.
 * Sources only call this interface; the store implements it (see store/staging.ts).
 */
import type { RecordProblem } from '../model/errors';
import type { StagedEntity, StagedFile, StagedRow } from '../model/roster';

export interface StagingSink {
	/** Called once per file before its rows. */
	beginFile(file: StagedFile): Promise<void>;
	/** Called with batches of valid rows (in file order) of the file last begun for `entity`. */
	writeRows(entity: StagedEntity, rows: StagedRow[]): Promise<void>;
	/** Row-level problems: the row was skipped. */
	writeProblems(problems: RecordProblem[]): Promise<void>;
}

/** What a source reports when it has staged a whole input. */
export interface StagingSummary {
	version: '1.1' | '1.2';
	/** One entry per staged file, in the order staged. */
	files: Array<{ entity: StagedEntity; fileName: string; mode: 'bulk' | 'delta'; rows: number; skipped: number }>;
	problemCount: number;
	warnings: string[];
}
