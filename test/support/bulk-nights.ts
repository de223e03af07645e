/**
 * Nights of CSV exports in folders, for the tests of a bulk night stored as changes over the night before
 * (bulk-enrollments-as-changes, bulk-users-as-changes): each night staged and normalized in a store, with
 * what it made (snapshot, counts, problems) and how one entity of its snapshot was stored.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { NormalizeOptions } from '../../nodes/shared/normalize/normalize';
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { openFolderFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import { listProblems } from '../../nodes/shared/store/runs';
import type { SqlDb } from '../../nodes/shared/store/sql';
import type { RosterStore } from '../../nodes/shared/store/store';
import type { TestEngine } from './engines';
import { openTestStore } from './engines';

/** Night folders in a temporary folder of their own (`remove` it after the tests), each a CSV set. */
export class NightFolders {
	private readonly dir: string;

	constructor(prefix: string) {
		this.dir = mkdtempSync(join(tmpdir(), prefix));
	}

	remove(): void {
		rmSync(this.dir, { recursive: true, force: true });
	}

	folder(name: string): string {
		return join(this.dir, name);
	}

	/** A file of night `name`, as lines (header first). */
	linesOf(name: string, file: string): string[] {
		return readFileSync(join(this.folder(name), file), 'utf8').replace(/\n$/, '').split('\n');
	}

	/** A copy of night `from` as night `name`, with some files' lines (header first) edited. */
	variant(from: string, name: string, edits: Record<string, (lines: string[]) => string[]>): void {
		cpSync(this.folder(from), this.folder(name), { recursive: true });
		for (const [file, edit] of Object.entries(edits)) writeFileSync(join(this.folder(name), file), `${edit(this.linesOf(from, file)).join('\n')}\n`);
	}
}

/**
 * Night `name` staged and normalized in `db`: what it made (its snapshot, counts and normalize problems), the run
 * whose snapshot its `entity` is stored as changes over (undefined: stored whole), how many of its records it stored,
 * and the run whose user links its users rows were carried from (undefined: none).
 */
export async function runNight(db: SqlDb, folders: NightFolders, name: string, entity: string, options: NormalizeOptions = {}) {
	const { run } = await stageRun(db, oneRosterCsvSource(name, () => openFolderFileSet(folders.folder(name))));
	const { counts, usersCarriedFrom } = await normalizeRun(db, run.id, options);
	const problems = (await listProblems(db, run.id))
		.filter((problem) => problem.stage === 'normalized')
		.map(({ file, row, field, sourcedId, message }) => ({ file, row, field, sourcedId, message }));
	const [layer] = await db.queryArrays('SELECT base_run_id FROM snapshot_layers WHERE run_id = ? AND entity = ?', [run.id, entity]);
	const [[stored]] = await db.queryArrays('SELECT COALESCE(SUM(row_count), 0) FROM snapshot_chunks WHERE run_id = ? AND entity = ?', [run.id, entity]);
	return { runId: run.id, result: { snapshot: await readSnapshot(db, run.id), counts, problems }, asChangesOver: layer ? String(layer[0]) : undefined, stored: Number(stored), usersCarriedFrom };
}

/**
 * A fresh store of `engine` for each test of the describe block it is called in, and its nights: `night` runs one
 * in it (runNight), `alone` runs one in an empty store of its own (what the night must make whatever came before).
 */
export function nightsInStore(engine: TestEngine, folders: NightFolders, entity: string) {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());
	const night = (name: string, options: NormalizeOptions = {}) => runNight(store.db, folders, name, entity, options);
	const alone = async (name: string, options: NormalizeOptions = {}) => {
		await store.close();
		store = await openTestStore(engine);
		return (await night(name, options)).result;
	};
	return { night, alone, db: () => store.db };
}
