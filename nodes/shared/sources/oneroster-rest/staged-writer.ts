/**
 * Staging records pulled from an API: each flattened row is checked like a CSV row (the same
 * FileChecker, so a REST pull and a CSV export have the same rules and the same problem
 * messages), records seen twice (offset paging while the SIS changes) are staged once,
 * and rows go to the sink in batches, numbered in pull order from 2.
 */
import type { FileMode, OneRosterVersion, StagedEntity, StagedRow } from '../../model/roster';
import { FileChecker } from '../oneroster-csv/file-check';
import { STAGED_FILES } from '../oneroster-csv/spec';
import type { ProblemList, StagingSink, StagingSummary } from '../staging';

/**
 * Rows per staged chunk: a page of a pull. Rows wait as arrays of cells until their batch is staged,
 * and every young-generation collection copies (and soon promotes) what waits: batches of 5,000 rows
 * doubled the bytes the collector copied and promoted in a 100,000-student pull.
 */
export const REST_ROW_BATCH_SIZE = 1000;

export class StagedFileWriter {
	staged = 0;
	skipped = 0;
	duplicates = 0;
	private row = 1;
	private batch: StagedRow[] = [];
	private readonly checker: FileChecker;
	private readonly sourcedIdIndex: number;

	private constructor(
		private readonly sink: StagingSink,
		readonly entity: StagedEntity,
		readonly fileName: string,
		readonly mode: FileMode,
		readonly columns: string[],
		version: OneRosterVersion,
		private readonly problems: ProblemList,
	) {
		const spec = STAGED_FILES[version].find((file) => file.entity === entity);
		if (!spec) throw new Error(`OneRoster ${version} has no ${entity} file`);
		this.checker = new FileChecker({ spec, fileName, version, mode }, columns);
		this.sourcedIdIndex = columns.indexOf('sourcedId');
	}

	static async begin(
		sink: StagingSink,
		file: { entity: StagedEntity; fileName: string; version: OneRosterVersion; mode: FileMode; columns: string[] },
		problems: ProblemList,
	): Promise<StagedFileWriter> {
		const writer = new StagedFileWriter(sink, file.entity, file.fileName, file.mode, file.columns, file.version, problems);
		await sink.beginFile({ ...file });
		return writer;
	}

	/**
	 * Checks one row (cells line up with `columns`) and queues it for staging. Synchronous, because a
	 * pull adds every record of the district: call `flushIfFull` once per page.
	 */
	add(cells: string[]): void {
		const sourcedId = cells[this.sourcedIdIndex] ?? '';
		// The checker remembers every sourcedId it checked (cells always line up with the columns here), so it
		// knows the ones seen before; a Set of its own cost ~1 CPU s and its garbage a 100,000-student pull.
		if (this.has(sourcedId)) {
			this.duplicates++;
			return;
		}
		this.row++;
		const problems = this.checker.check(cells, this.row);
		if (problems) {
			this.skipped++;
			this.problems.add(problems);
			return;
		}
		this.batch.push({ rowNumber: this.row, sourcedId, cells });
	}

	/**
	 * A record that is no row at all (e.g. `null` in the page's list): a row problem with no sourcedId,
	 * so Reconcile archives nobody (in users) rather than archive whoever the record was.
	 */
	addUnreadable(record: unknown): void {
		this.row++;
		this.skipped++;
		const kind = record === null ? 'null' : Array.isArray(record) ? 'a list' : `a ${typeof record}`;
		this.problems.add([{ file: this.fileName, row: this.row, message: `the record is not a JSON object (${kind}); skipped` }]);
	}

	/** Stages the queued rows once there are a batch's worth. */
	async flushIfFull(): Promise<void> {
		if (this.batch.length >= REST_ROW_BATCH_SIZE) await this.flush();
	}

	/** Whether a row with this sourcedId was added (staged or skipped as a problem). */
	has(sourcedId: string): boolean {
		return sourcedId !== '' && this.checker.firstRowOf(sourcedId) !== undefined;
	}

	async flush(): Promise<void> {
		if (this.batch.length > 0) {
			const rows = this.batch;
			this.batch = [];
			await this.sink.writeRows(this.entity, rows);
			this.staged += rows.length;
		}
		await this.problems.flush(this.sink);
	}

	/** Flushes and returns the file's line of the staging summary; `warnings` gets the checker's fixes. */
	async finish(warnings: string[]): Promise<StagingSummary['files'][number]> {
		await this.flush();
		warnings.push(...this.checker.warnings());
		if (this.duplicates > 0) {
			warnings.push(`${this.fileName}: ${this.duplicates} record(s) came twice (the SIS changed while it was paged); staged once`);
		}
		return { entity: this.entity, fileName: this.fileName, mode: this.mode, rows: this.staged, skipped: this.skipped };
	}
}
