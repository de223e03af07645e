/**
 * Starting a run from a source: the run is created, the source stages its input in one
 * transaction, and a file-level problem fails the run with nothing staged.
 */
import { RosterInputError } from '../model/errors';
import type { RunRecord } from '../store/runs';
import { completeStage, createRun, failRun } from '../store/runs';
import type { SqlDb } from '../store/sql';
import { StoreStagingSink } from '../store/staging';
import type { ProgressCallback } from '../model/progress';
import type { StagingSink, StagingSummary } from './staging';
import { progressStagingSink } from './staging-progress';

export interface RosterSource {
	/** What and where, without secrets: "oneroster-csv sftp://ops@sis.example.org:22/exports". */
	readonly description: string;
	/** `progress.onProgress`, when given, hears about long steps the sink cannot see (e.g. API pages). */
	stage(sink: StagingSink, progress?: { onProgress?: ProgressCallback }): Promise<StagingSummary>;
}

export interface StagedRun {
	run: RunRecord;
	summary: StagingSummary;
}

/** Thrown when staging failed; carries the failed run's id so the report can show it. */
export class StagingFailedError extends Error {
	constructor(
		readonly runId: string,
		readonly cause: Error,
	) {
		super(cause.message);
		this.name = cause.name;
	}
	get hint(): string | undefined {
		return (this.cause as RosterInputError).hint;
	}
}

export async function stageRun(
	db: SqlDb,
	source: RosterSource,
	options: { dryRun?: boolean; onProgress?: ProgressCallback } = {},
): Promise<StagedRun> {
	const created = await createRun(db, { source: source.description, dryRun: options.dryRun });
	try {
		const summary = await db.transaction(async (tx) => {
			const sink = progressStagingSink(new StoreStagingSink(tx, created.id), options.onProgress);
			const staged = await source.stage(sink, { onProgress: options.onProgress });
			sink.finish();
			return staged;
		});
		const counts = {
			version: summary.version,
			files: Object.fromEntries(summary.files.map((file) => [file.entity, file.rows])),
			skippedRows: summary.problemCount,
			// Rows skipped per file: Reconcile compares them with the problems listed (Max Row Problems caps the list).
			skippedRowsByFile: Object.fromEntries(summary.files.map((file) => [file.entity, file.skipped])),
			modes: Object.fromEntries(summary.files.map((file) => [file.entity, file.mode])),
			...(summary.details ? { fetch: summary.details } : {}),
		};
		const run = await completeStage(db, created.id, 'staged', counts, summary.warnings);
		return { run, summary };
	} catch (error) {
		await failRun(db, created.id, (error as Error).message);
		throw new StagingFailedError(created.id, error as Error);
	}
}
