/**
 * What flows between the nodes: a small handle to a run, never the roster itself.
 * The data lives in the store, so a 100k-student district costs one n8n item per node.
 */
import type { RecordProblem } from './errors';

export interface RunHandle {
	runId: string;
	/** The store the run lives in, without secrets. */
	store: string;
	stage: string;
	status: string;
	dryRun: boolean;
	source: string;
	/** Counts of the stage that just finished. */
	counts: Record<string, unknown>;
	warnings: string[];
	problems: { count: number; first: RecordProblem[] };
}

/** How many problems a handle lists; the report and its CSV have them all. */
export const HANDLE_PROBLEM_LIMIT = 10;
