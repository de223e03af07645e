/**
 * A bulk file staged as a patch over an earlier staging of it (sources/oneroster-csv/row-patch.ts): only the
 * rows that are not byte for byte a row of the base are checked and written. Whatever the base, the staged
 * rows read back (row numbers, sourcedIds, cells), the staging problems and the snapshot must be those of the
 * same files staged whole in an empty store. The cases: rows changed, gone, new, moved, and new rows at the top
 * (every row after them has another row number); a new row with the sourcedId of an unchanged one further on
 * (that one is then the duplicate); a value the checker fixes (never matched); a blank line; a quoted cell
 * with a comma and a line break. And what keeps a base: retention, a file reused, a patch too big (rebase).
 */
import { writeDayTwo, writeDistrict } from '../../bench/district-generator';
import type { StagedEntity, StagedRow } from '../../nodes/shared/model/roster';
import type { ProgressEvent } from '../../nodes/shared/model/progress';
import { openFolderFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import { listProblems } from '../../nodes/shared/store/runs';
import type { SqlDb } from '../../nodes/shared/store/sql';
import { REBASE_SHARE, clearStaging, readRowsAgainstEarlier, readStagedRows } from '../../nodes/shared/store/staging';
import type { RosterStore } from '../../nodes/shared/store/store';
import { NightFolders, runNight } from '../support/bulk-nights';
import { ENGINES, openTestStore } from '../support/engines';

const DISTRICT = { students: 400, schools: 4, seed: 11 };

const nights = new NightFolders('rostersync-patch-');
const linesOf = (name: string, file: string) => nights.linesOf(name, file);
const variant = (from: string, name: string, edits: Record<string, (lines: string[]) => string[]>) => nights.variant(from, name, edits);
const firstCell = (line: string) => line.slice(0, line.indexOf(','));

beforeAll(async () => {
	await writeDistrict(nights.folder('day1'), DISTRICT);
	await writeDayTwo(nights.folder('day1'), nights.folder('day2'), DISTRICT);
	variant('day2', 'day2-edited', {
		'enrollments.csv': ([head, ...rows]) => {
			const changed = rows.map((row, i) => (i % 53 === 5 ? row.replace(/,$/, ',2027-06-30') : row));
			const kept = changed.filter((_, i) => i % 101 !== 7);
			// New rows at the top; one takes the sourcedId of a row further on that is as it was (that row is the duplicate).
			const added = [kept[30].replace(/^[^,]*/, (id) => `${id}-new`), kept[500]];
			const moved = kept.slice(100, 160);
			// At the end, two rows with the sourcedIds of rows taken from the base before them: one changed, one a copy.
			const late = [kept[8].replace(/,$/, ',2027-07-01'), kept[9]];
			return [head, ...added, ...kept.slice(0, 100), ...kept.slice(160, 700), '', ...kept.slice(700), ...moved, ...late];
		},
		'users.csv': ([head, ...rows]) => {
			const columns = head.split(',');
			const role = columns.indexOf('role');
			const given = columns.indexOf('givenName');
			return [
				head,
				...rows.map((row, i) => {
					if (i % 41 === 3) {
						// A role in another letter case: the checker stages it fixed.
						const cells = row.split(',');
						if (cells.length === columns.length) cells[role] = cells[role].toUpperCase();
						return cells.join(',');
					}
					if (i === 20) {
						// A quoted given name with a comma and a line break.
						const cells = row.split(',');
						if (cells.length === columns.length) cells[given] = `"${cells[given]}, Jr.\nthe second"`;
						return cells.join(',');
					}
					return row;
				}),
			];
		},
	});
	// Day 1 with a fifth of its enrollments rows changed: past REBASE_SHARE of rows on their own.
	variant('day1', 'day1-many-changed', { 'enrollments.csv': ([head, ...rows]) => [head, ...rows.map((row, i) => (i % 5 === 0 ? row.replace(/,$/, ',2027-06-30') : row))] });
});
afterAll(() => nights.remove());

async function stagedRowsOf(db: SqlDb, runId: string, entity: StagedEntity): Promise<StagedRow[]> {
	const rows: StagedRow[] = [];
	for await (const batch of readStagedRows(db, runId, entity, 777)) rows.push(...batch);
	return rows;
}

async function stagingProblems(db: SqlDb, runId: string) {
	return (await listProblems(db, runId)).filter((problem) => problem.stage === 'staged').map(({ file, row, field, sourcedId, message }) => ({ file, row, field, sourcedId, message }));
}

async function stagedFile(db: SqlDb, runId: string, entity: StagedEntity) {
	const [row] = await db.query('SELECT base_run_id, rows_from_run_id, summary FROM staging_files WHERE run_id = ? AND entity = ?', [runId, entity]);
	const [[written]] = await db.queryArrays('SELECT COALESCE(SUM(row_count), 0) FROM staging_chunks WHERE run_id = ? AND entity = ?', [runId, entity]);
	return { baseRunId: row.base_run_id === null ? null : String(row.base_run_id), rowsFrom: row.rows_from_run_id === null ? null : String(row.rows_from_run_id), summary: JSON.parse(String(row.summary)), written: Number(written) };
}

describe.each(ENGINES)('a bulk file staged as a patch over an earlier staging (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	/** Night `name` staged and normalized in an empty store of its own: its rows, staging problems and snapshot. */
	const alone = async (name: string) => {
		const own = await openTestStore(engine);
		try {
			const night = await runNight(own.db, nights, name, 'enrollments');
			return {
				enrollments: await stagedRowsOf(own.db, night.runId, 'enrollments'),
				users: await stagedRowsOf(own.db, night.runId, 'users'),
				problems: await stagingProblems(own.db, night.runId),
				result: night.result,
			};
		} finally {
			await own.close();
		}
	};

	it.each(['day2', 'day2-edited'])('%s over day 1: the rows, problems and snapshot of the file staged whole, from a fraction of the rows written', async (name) => {
		const day1 = await runNight(store.db, nights, 'day1', 'enrollments');
		const tonight = await runNight(store.db, nights, name, 'enrollments');
		const expected = await alone(name);
		for (const entity of ['enrollments', 'users'] as const) {
			const file = await stagedFile(store.db, tonight.runId, entity);
			expect(file.baseRunId).toBe(day1.runId);
			expect(file.written).toBe(file.summary.ownRows);
			expect(file.summary.rows).toBe(expected[entity].length);
			// ~1-8 % of the rows differ from day 1's (the edits, the generator's day 2): most are the base's.
			expect(file.written).toBeLessThan(0.15 * expected[entity].length);
			expect(file.written).toBeGreaterThan(0);
			expect(await stagedRowsOf(store.db, tonight.runId, entity)).toEqual(expected[entity]);
		}
		expect(await stagingProblems(store.db, tonight.runId)).toEqual(expected.problems);
		expect(tonight.result).toEqual(expected.result);
		if (name === 'day2-edited') {
			const rows = linesOf(name, 'enrollments.csv');
			// The row further on with the sourcedId of the new row at the top is the duplicate, reported at its row.
			const duplicateId = firstCell(rows[2]);
			const duplicateRow = rows.findIndex((line, i) => i > 2 && firstCell(line) === duplicateId) + 1;
			expect(expected.problems).toContainEqual(expect.objectContaining({ file: 'enrollments.csv', row: duplicateRow, sourcedId: duplicateId, field: 'sourcedId' }));
			expect(expected.enrollments.some((row) => row.rowNumber === duplicateRow)).toBe(false);
			// The last two rows have the sourcedIds of rows before them that are as they were: both are duplicates.
			for (const row of [rows.length - 1, rows.length]) {
				const id = firstCell(rows[row - 1]);
				expect(expected.problems).toContainEqual(expect.objectContaining({ file: 'enrollments.csv', row, sourcedId: id, field: 'sourcedId' }));
			}
		}
	});

	it('a fixed value is never taken from the base: its row is checked again each night (its warning counts it)', async () => {
		await runNight(store.db, nights, 'day2-edited', 'users');
		const again = await runNight(store.db, nights, 'day2-edited', 'users');
		// The same bytes: reused whole. A copy of the night with one more row changed is a patch that checks every fixed row again.
		expect((await stagedFile(store.db, again.runId, 'users')).rowsFrom).not.toBeNull();
		variant('day2-edited', 'day2-edited-more', { 'orgs.csv': (lines) => lines, 'users.csv': (lines) => [...lines.slice(0, -1), lines[lines.length - 1].replace(/,$/, ',x')] });
		const more = await runNight(store.db, nights, 'day2-edited-more', 'users');
		const file = await stagedFile(store.db, more.runId, 'users');
		const [head, ...lines] = linesOf('day2-edited', 'users.csv');
		const role = head.split(',').indexOf('role');
		const fixed = lines.filter((line) => /^[A-Z]+$/.test(line.split(',')[role] ?? '')).length;
		expect(fixed).toBeGreaterThan(10);
		expect(file.baseRunId).not.toBeNull();
		expect(file.written).toBeGreaterThanOrEqual(fixed);
		const [{ warnings }] = await store.db.query('SELECT warnings FROM sync_runs WHERE id = ?', [more.runId]);
		expect(JSON.parse(String(warnings))).toContainEqual(expect.stringContaining(`users.csv: ${fixed} value(s) in column "role"`));
	});

	it('the same file again is reused from the patch; the base stays while a file names it; a big patch is not a base again', async () => {
		const day1 = await runNight(store.db, nights, 'day1', 'enrollments');
		const day2 = await runNight(store.db, nights, 'day2', 'enrollments');
		const expected = await stagedRowsOf(store.db, day2.runId, 'enrollments');
		const reused = await runNight(store.db, nights, 'day2', 'enrollments');
		const reusedFile = await stagedFile(store.db, reused.runId, 'enrollments');
		expect(reusedFile).toMatchObject({ baseRunId: day1.runId, rowsFrom: day2.runId, written: 0 });
		expect(await stagedRowsOf(store.db, reused.runId, 'enrollments')).toEqual(expected);

		// Day 1's staging cleared (retention): its chunks stay for the patches that name them.
		await store.db.transaction((tx) => clearStaging(tx, day1.runId));
		expect(await stagedRowsOf(store.db, reused.runId, 'enrollments')).toEqual(expected);
		// The last file naming them cleared: day 1's chunks go.
		await store.db.transaction((tx) => clearStaging(tx, day2.runId));
		await store.db.transaction((tx) => clearStaging(tx, reused.runId));
		const [[left]] = await store.db.queryArrays('SELECT COUNT(*) FROM staging_chunks WHERE run_id = ?', [day1.runId]);
		expect(Number(left)).toBe(0);

		// A night past REBASE_SHARE of rows on their own is a patch; the night after is staged whole (a new base).
		const base = await runNight(store.db, nights, 'day1', 'enrollments');
		const many = await runNight(store.db, nights, 'day1-many-changed', 'enrollments');
		const manyFile = await stagedFile(store.db, many.runId, 'enrollments');
		expect(manyFile.baseRunId).toBe(base.runId);
		expect(manyFile.written).toBeGreaterThan(REBASE_SHARE * manyFile.summary.rows);
		const after = await runNight(store.db, nights, 'day2', 'enrollments');
		expect(await stagedFile(store.db, after.runId, 'enrollments')).toMatchObject({ baseRunId: null, rowsFrom: null });
		expect(await stagedRowsOf(store.db, after.runId, 'enrollments')).toEqual(expected);
	});

	it("a patch's progress ends at the file's rows, not the rows written", async () => {
		await runNight(store.db, nights, 'day1', 'enrollments');
		const events: ProgressEvent[] = [];
		await stageRun(store.db, oneRosterCsvSource('day2', () => openFolderFileSet(nights.folder('day2'))), { onProgress: (event) => events.push(event) });
		const finished = events.find((event) => event.file === 'enrollments.csv' && event.finished);
		expect(finished?.done).toBe(linesOf('day2', 'enrollments.csv').length - 1);
	});

	it('Normalize knows the rows a patch shares with the night before from the staging, patch after patch; past a rebase it matches them', async () => {
		const day1 = await runNight(store.db, nights, 'day1', 'enrollments');
		const day2 = await runNight(store.db, nights, 'day2', 'enrollments');
		const edited = await runNight(store.db, nights, 'day2-edited', 'enrollments');
		expect(edited.result).toEqual((await alone('day2-edited')).result);
		expect(edited.asChangesOver).toBeDefined();
		for (const [tonight, earlier] of [
			[day2, day1],
			[edited, day2],
			[edited, day1],
		]) {
			const reading = await readRowsAgainstEarlier(store.db, tonight.runId, earlier.runId, 'enrollments');
			expect(reading).not.toBeNull();
			let rows = 0;
			let shared = 0;
			const earlierRows = new Map((await stagedRowsOf(store.db, earlier.runId, 'enrollments')).map((row) => [row.sourcedId, row.cells]));
			for await (const batch of reading!.batches) {
				batch.forEach((row, i) => {
					rows++;
					if (reading!.shared[i] !== 1) return;
					shared++;
					// A shared row is the earlier file's row with its sourcedId, cell for cell.
					expect(row.text.split('\u001f').slice(0, -1)).toEqual(earlierRows.get(row.sourcedId));
				});
			}
			expect(shared).toBeGreaterThan(0.8 * rows);
			// The earlier rows not shared: every earlier row whose sourcedId tonight has not, or has with other cells.
			const tonightRows = new Map((await stagedRowsOf(store.db, tonight.runId, 'enrollments')).map((row) => [row.sourcedId, row.cells]));
			const apart = [...earlierRows].filter(([id, cells]) => JSON.stringify(tonightRows.get(id)) !== JSON.stringify(cells)).map(([id]) => id);
			expect([...reading!.earlierOnly.keys()].sort()).toEqual(expect.arrayContaining(apart.sort()));
		}
		// Past a rebase (tonight staged whole), or over another base: matched row by row. (Files changed a little
		// from the nights above, so that no staging of the same bytes is reused.)
		const lastRowChanged = (lines: string[]) => [...lines.slice(0, -1), lines[lines.length - 1].replace(/,$/, ',2027-01-31')];
		variant('day2', 'day2-again', { 'enrollments.csv': lastRowChanged });
		variant('day2-edited', 'day2-edited-again', { 'enrollments.csv': lastRowChanged });
		const many = await runNight(store.db, nights, 'day1-many-changed', 'enrollments');
		const rebased = await runNight(store.db, nights, 'day2-again', 'enrollments');
		expect((await stagedFile(store.db, rebased.runId, 'enrollments')).baseRunId).toBeNull();
		expect(await readRowsAgainstEarlier(store.db, rebased.runId, many.runId, 'enrollments')).toBeNull();
		const after = await runNight(store.db, nights, 'day2-edited-again', 'enrollments');
		expect((await stagedFile(store.db, after.runId, 'enrollments')).baseRunId).toBe(rebased.runId);
		expect(await readRowsAgainstEarlier(store.db, after.runId, many.runId, 'enrollments')).toBeNull();
		expect(await readRowsAgainstEarlier(store.db, after.runId, rebased.runId, 'enrollments')).not.toBeNull();
		expect(after.result).toEqual((await alone('day2-edited-again')).result);
	});
});
