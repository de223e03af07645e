/**
 * A OneRoster CSV set as a roster source: opened when the run stages, closed whatever happens.
 */
import type { RosterSource } from '../stage-run';
import type { CsvFileSet } from './file-set';
import { ingestOneRosterCsv } from './ingest';

export interface CsvSourceOptions {
	/** How many row-level problems to keep in the run's problem list (all are counted). */
	maxRowProblems?: number;
}

export function oneRosterCsvSource(
	where: string,
	openFiles: () => Promise<CsvFileSet>,
	options: CsvSourceOptions = {},
): RosterSource {
	return {
		description: `OneRoster CSV, ${where}`,
		async stage(sink) {
			const files = await openFiles();
			try {
				return await ingestOneRosterCsv(files, sink, { maxRowProblems: options.maxRowProblems });
			} finally {
				await files.close();
			}
		},
	};
}
