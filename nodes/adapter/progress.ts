/**
 * Engine progress → n8n: the node's logger (n8n's log, level info/debug) and, in a manual run,
 * the editor (this.sendMessageToUI: the browser console of whoever pressed "Execute workflow").
 * Throttled: a file's count is told at most every `everyRows` rows or `everyMs` milliseconds,
 * and once when the file is done.
 */
import type { IExecuteFunctions } from 'n8n-workflow';

import type { ProgressCallback, ProgressEvent } from '../shared/model/progress';

export interface ProgressReporterOptions {
	everyRows?: number;
	everyMs?: number;
	/** The clock (tests). */
	now?: () => number;
}

export const PROGRESS_EVERY_ROWS = 50_000;
export const PROGRESS_EVERY_MS = 2_000;

const VERBS: Record<string, string> = {
	ingest: 'staged',
	fetch: 'fetched',
	normalize: 'read',
};

const count = (value: number) => value.toLocaleString('en-US');

/** "users.csv: 150,000 rows staged" / "users: page 3 of 10 fetched". */
export function describeProgress(event: ProgressEvent): string {
	const verb = VERBS[event.stage] ?? 'done';
	const amount = event.total !== undefined ? `${count(event.done)} of ${count(event.total)} ${event.unit}` : `${count(event.done)} ${event.unit}`;
	return `${event.file ? `${event.file}: ` : ''}${amount} ${verb}${event.finished ? ' (done)' : ''}`;
}

function sendToUi(context: IExecuteFunctions, message: string): void {
	try {
		context.sendMessageToUI(message); // a no-op outside manual runs
	} catch {
		// the editor may have gone away: progress is informational
	}
}

/**
 * Tells `message` to n8n's log as "<node name>: message" and, in a manual run, to the editor
 * (which shows it in the browser console as `[Node: "<node name>"] message`).
 */
export function tellProgress(context: IExecuteFunctions, message: string, level: 'info' | 'debug' = 'info'): void {
	const node = context.getNode().name;
	context.logger[level](`${node}: ${message}`, { node });
	sendToUi(context, message);
}

/** A throttled ProgressCallback for the engine, telling through tellProgress. */
export function progressReporter(context: IExecuteFunctions, options: ProgressReporterOptions = {}): ProgressCallback {
	const everyRows = options.everyRows ?? PROGRESS_EVERY_ROWS;
	const everyMs = options.everyMs ?? PROGRESS_EVERY_MS;
	const now = options.now ?? Date.now;
	const started = now();
	const told = new Map<string, { done: number; at: number }>();
	const tell = (message: string, level: 'info' | 'debug') => tellProgress(context, message, level);
	return (event) => {
		const key = `${event.stage}\0${event.file ?? ''}`;
		const last = told.get(key) ?? { done: 0, at: started };
		if (event.finished) {
			told.delete(key);
			tell(describeProgress(event), 'debug');
			return;
		}
		const time = now();
		if (event.done - last.done >= everyRows || (event.done > last.done && time - last.at >= everyMs)) {
			told.set(key, { done: event.done, at: time });
			tell(describeProgress(event), 'info');
		} else if (!told.has(key)) {
			told.set(key, last);
		}
	};
}
