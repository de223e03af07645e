/**
 * Progress of a long step, for whoever runs the engine (n8n's logger and the manual-run UI,
 * a benchmark, a test). The engine only calls the callback; it never throttles, formats or logs.
 */

export interface ProgressEvent {
	/** What is going on: 'ingest', 'fetch', 'normalize', … */
	stage: string;
	/** How many `unit`s are done so far (in this stage, or in this file when `file` is set). */
	done: number;
	/** How many there are in all, when known. */
	total?: number;
	/** 'rows', 'pages', 'records', … */
	unit: string;
	/** The file or entity the count is about (e.g. users.csv). */
	file?: string;
	/** True on the last event of a file or stage. */
	finished?: boolean;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Calls `onProgress`, and never lets a failing listener break the run. */
export function reportProgress(onProgress: ProgressCallback | undefined, event: ProgressEvent): void {
	if (!onProgress) return;
	try {
		onProgress(event);
	} catch {
		// progress is informational: a listener's error must not fail the run
	}
}
