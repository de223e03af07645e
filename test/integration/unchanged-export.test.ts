/**
 * An export identical to an earlier one is not parsed or normalized again: the staging of each
 * unchanged file, and the snapshot of an unchanged set, are copied from the earlier run. What the
 * run then holds must be exactly what staging and normalizing the files would have given.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { StagedEntity } from '../../nodes/shared/model/roster';
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { openBufferFileSet } from '../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import { listProblems } from '../../nodes/shared/store/runs';
import { clearStaging, readStagedFiles, readStagedRows } from '../../nodes/shared/store/staging';
import type { SqlDb } from '../../nodes/shared/store/sql';
import type { RosterStore } from '../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../support/engines';
import { GRAND_BEND_1_1, sharedDataDir } from '../support/paths';

type Files = Array<{ name: string; data: Buffer }>;

const sample = (): Files => readdirSync(sharedDataDir(GRAND_BEND_1_1)).map((name) => ({ name, data: readFileSync(join(sharedDataDir(GRAND_BEND_1_1), name)) }));
const stage = (db: SqlDb, files: Files) => stageRun(db, oneRosterCsvSource('binary input', () => openBufferFileSet(files)));

function edit(files: Files, name: string, change: (text: string) => string): Files {
	return files.map((file) => (file.name === name ? { name, data: Buffer.from(change(file.data.toString('utf8'))) } : file));
}

async function stagedRows(db: SqlDb, runId: string) {
	const rows: Record<string, unknown[]> = {};
	for (const file of await readStagedFiles(db, runId)) {
		rows[file.entity] = [];
		for await (const batch of readStagedRows(db, runId, file.entity as StagedEntity)) rows[file.entity].push(...batch);
	}
	return rows;
}

const withoutRun = (files: Awaited<ReturnType<typeof readStagedFiles>>) => [...files].sort((a, b) => (a.entity < b.entity ? -1 : 1));

describe.each(ENGINES)('an unchanged export on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	test('the same files again: staging and snapshot are copied, and equal what the first run made', async () => {
		const first = await stage(store.db, sample());
		const firstNormalized = await normalizeRun(store.db, first.run.id);
		expect(first.summary.files.every((file) => file.reusedFrom === undefined)).toBe(true);
		expect(firstNormalized.counts.snapshotCopiedFrom).toBeUndefined();

		const second = await stage(store.db, sample());
		expect(second.summary.files.map((file) => file.reusedFrom)).toEqual(second.summary.files.map(() => first.run.id));
		expect(second.summary.files.map((file) => file.rows)).toEqual(first.summary.files.map((file) => file.rows));
		expect(second.summary.warnings).toEqual(first.summary.warnings);
		expect(second.run.counts.staged).toEqual(first.run.counts.staged);
		expect(withoutRun(await readStagedFiles(store.db, second.run.id))).toEqual(withoutRun(await readStagedFiles(store.db, first.run.id)));
		expect(await stagedRows(store.db, second.run.id)).toEqual(await stagedRows(store.db, first.run.id));

		const secondNormalized = await normalizeRun(store.db, second.run.id);
		expect(secondNormalized.counts.snapshotCopiedFrom).toBe(first.run.id);
		const { snapshotCopiedFrom: _, ...counts } = secondNormalized.counts;
		expect(counts).toEqual(firstNormalized.counts);
		expect(secondNormalized.warnings).toEqual(firstNormalized.warnings);
		expect(secondNormalized.problemCount).toBe(firstNormalized.problemCount);
		expect(await readSnapshot(store.db, second.run.id)).toEqual(await readSnapshot(store.db, first.run.id));
		const messages = async (runId: string) => (await listProblems(store.db, runId)).map(({ stage, file, row, field, sourcedId, message }) => ({ stage, file, row, field, sourcedId, message }));
		expect(await messages(second.run.id)).toEqual(await messages(first.run.id));
	});

	test('one changed file is staged from the source and the snapshot is normalized again', async () => {
		const first = await stage(store.db, sample());
		await normalizeRun(store.db, first.run.id);
		const renamed = edit(sample(), 'users.csv', (text) => text.replace(',Peter,', ',Pete,'));
		const second = await stage(store.db, renamed);
		const users = second.summary.files.find((file) => file.entity === 'users');
		expect(users?.reusedFrom).toBeUndefined();
		expect(second.summary.files.filter((file) => file.entity !== 'users').every((file) => file.reusedFrom === first.run.id)).toBe(true);
		const normalized = await normalizeRun(store.db, second.run.id);
		expect(normalized.counts.snapshotCopiedFrom).toBeUndefined();
		expect((await readSnapshot(store.db, second.run.id)).people.find((p) => p.sourcedId === '604918')?.givenName).toBe('Pete');

		// The changed set again: this time copied from the second run.
		const third = await stage(store.db, renamed);
		expect(third.summary.files.every((file) => file.reusedFrom === second.run.id || (file.entity !== 'users' && file.reusedFrom !== undefined))).toBe(true);
		expect((await normalizeRun(store.db, third.run.id)).counts.snapshotCopiedFrom).toBe(second.run.id);
	});

	test('reused files share the earlier run’s staged rows: nothing is copied, and the rows stay until no run names them', async () => {
		const chunksOf = async (runId: string) => Number((await store.db.queryArrays('SELECT COUNT(*) FROM staging_chunks WHERE run_id = ?', [runId]))[0][0]);
		const allChunks = async () => Number((await store.db.queryArrays('SELECT COUNT(*) FROM staging_chunks'))[0][0]);
		const first = await stage(store.db, sample());
		const staged = await stagedRows(store.db, first.run.id);
		const firstChunks = await chunksOf(first.run.id);
		expect(firstChunks).toBeGreaterThan(0);

		const second = await stage(store.db, sample());
		const third = await stage(store.db, sample());
		// The third run found the second's files, which name the first run's rows.
		expect(third.summary.files.every((file) => file.reusedFrom === second.run.id)).toBe(true);
		expect(await chunksOf(second.run.id)).toBe(0);
		expect(await chunksOf(third.run.id)).toBe(0);
		expect(await allChunks()).toBe(firstChunks);
		expect(await stagedRows(store.db, second.run.id)).toEqual(staged);
		expect(await stagedRows(store.db, third.run.id)).toEqual(staged);

		// Retention clears the first run, then the second: the third still reads every row.
		await clearStaging(store.db, first.run.id);
		expect(await readStagedFiles(store.db, first.run.id)).toEqual([]);
		expect(await allChunks()).toBe(firstChunks);
		await clearStaging(store.db, second.run.id);
		expect(await stagedRows(store.db, third.run.id)).toEqual(staged);
		// A fourth run still reuses them.
		const fourth = await stage(store.db, sample());
		expect(fourth.summary.files.every((file) => file.reusedFrom === third.run.id)).toBe(true);
		expect(await stagedRows(store.db, fourth.run.id)).toEqual(staged);
		// Gone with the last run that names them.
		await clearStaging(store.db, third.run.id);
		expect(await allChunks()).toBe(firstChunks);
		await clearStaging(store.db, fourth.run.id);
		expect(await allChunks()).toBe(0);

		// With the rows gone, the same files are staged from the source again, under the new run.
		const fifth = await stage(store.db, sample());
		expect(fifth.summary.files.every((file) => file.reusedFrom === undefined)).toBe(true);
		expect(await chunksOf(fifth.run.id)).toBe(firstChunks);
		expect(await stagedRows(store.db, fifth.run.id)).toEqual(staged);
	});

	test('a file with a row problem is parsed every time, and other School IDs normalize again', async () => {
		const broken = edit(sample(), 'users.csv', (text) => text.replace(/\n[^\n]*\n?$/, '\n,,,true,x,student,,,,,,,,,,,,\n'));
		const first = await stage(store.db, broken);
		expect(first.summary.problemCount).toBeGreaterThan(0);
		await normalizeRun(store.db, first.run.id);
		const second = await stage(store.db, broken);
		expect(second.summary.files.find((file) => file.entity === 'users')?.reusedFrom).toBeUndefined();
		expect(second.summary.problemCount).toBe(first.summary.problemCount);
		expect((await normalizeRun(store.db, second.run.id)).counts.snapshotCopiedFrom).toBeUndefined();

		const clean = await stage(store.db, sample());
		await normalizeRun(store.db, clean.run.id);
		const scoped = await stage(store.db, sample());
		const school = (await readSnapshot(store.db, clean.run.id)).orgs.find((org) => org.type === 'school')!.sourcedId;
		expect((await normalizeRun(store.db, scoped.run.id, { schoolIds: [school] })).counts.snapshotCopiedFrom).toBeUndefined();
	});
});
