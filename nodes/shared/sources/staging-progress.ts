/**
 * A staging sink that counts what passes through it: rows staged per file, reported as
 * progress (stage 'ingest', unit 'rows'). Sources need not know about progress at all.
 */
import type { ProgressCallback } from '../model/progress';
import { reportProgress } from '../model/progress';
import type { StagedEntity } from '../model/roster';
import type { FileOutcome, StagingSink } from './staging';

export interface CountingStagingSink extends StagingSink {
	/** Reports the last file as finished (call once staging is done). */
	finish(): void;
}

export function progressStagingSink(sink: StagingSink, onProgress: ProgressCallback | undefined, stage = 'ingest'): CountingStagingSink {
	let current: { fileName: string; entity: string; rows: number } | undefined;
	const finish = () => {
		if (current) reportProgress(onProgress, { stage, done: current.rows, unit: 'rows', file: current.fileName, finished: true });
		current = undefined;
	};
	return {
		async beginFile(file) {
			finish();
			current = { fileName: file.fileName, entity: file.entity, rows: 0 };
			await sink.beginFile(file);
			reportProgress(onProgress, { stage, done: 0, unit: 'rows', file: file.fileName });
		},
		async writeRows(entity, rows, hints) {
			await sink.writeRows(entity, rows, hints);
			if (current && current.entity === entity) {
				current.rows += rows.length;
				reportProgress(onProgress, { stage, done: current.rows, unit: 'rows', file: current.fileName });
			}
		},
		writeProblems: (problems) => sink.writeProblems(problems),
		...(sink.reuseFile
			? {
					async reuseFile(file: Parameters<NonNullable<StagingSink['reuseFile']>>[0]) {
						finish();
						const reused = await sink.reuseFile!(file);
						if (reused) reportProgress(onProgress, { stage, done: reused.rows, unit: 'rows', file: file.fileName, finished: true });
						return reused;
					},
				}
			: {}),
		...(sink.baseRowsFor ? { baseRowsFor: (entity: StagedEntity) => sink.baseRowsFor!(entity) } : {}),
		...(sink.finishFile
			? {
					finishFile(entity: StagedEntity, outcome: FileOutcome) {
						// A patch's rows are more than those written (row-patch.ts): the file's rows are reported.
						if (current && current.entity === entity) current.rows = outcome.rows;
						return sink.finishFile!(entity, outcome);
					},
				}
			: {}),
		finish,
	};
}
