/**
 * A StagingSink that keeps everything in memory, for tests of sources.
 */
import type { RecordProblem } from '../../nodes/shared/model/errors';
import type { StagedEntity, StagedFile, StagedRow } from '../../nodes/shared/model/roster';
import type { StagingSink } from '../../nodes/shared/sources/staging';

export class MemoryStagingSink implements StagingSink {
	readonly files = new Map<StagedEntity, StagedFile>();
	readonly rows = new Map<StagedEntity, StagedRow[]>();
	readonly problems: RecordProblem[] = [];
	/** Sizes of the batches passed to writeRows, in call order. */
	readonly batchSizes: number[] = [];

	async beginFile(file: StagedFile): Promise<void> {
		this.files.set(file.entity, file);
		this.rows.set(file.entity, []);
	}

	async writeRows(entity: StagedEntity, rows: StagedRow[]): Promise<void> {
		const staged = this.rows.get(entity);
		if (!staged) throw new Error(`writeRows(${entity}) before beginFile`);
		staged.push(...rows);
		this.batchSizes.push(rows.length);
	}

	async writeProblems(problems: RecordProblem[]): Promise<void> {
		this.problems.push(...problems);
	}

	/** The staged rows of `entity` as objects keyed by column name. */
	records(entity: StagedEntity): Array<Record<string, string>> {
		const file = this.files.get(entity);
		if (!file) return [];
		return (this.rows.get(entity) ?? []).map((row) =>
			Object.fromEntries(file.columns.map((column, index) => [column, row.cells[index]])),
		);
	}

	/** The staged row of `entity` with this sourcedId, keyed by column name. */
	record(entity: StagedEntity, sourcedId: string): Record<string, string> | undefined {
		return this.records(entity).find((record) => record.sourcedId === sourcedId);
	}
}
