/**
 * One benchmark scenario, run by bench/run.mjs in a fresh child process (child_process.fork) so the
 * peak RSS it reports is the scenario's own. The task arrives as the first IPC message; the result
 * goes back as one IPC message.
 *
 *   { mode: 'sync',  engineDir, district, store, profileDir? }  ingest (stageRun) then normalize (normalizeRun)
 *   { mode: 'floor', district, store }                          naive CSV read + bulk insert, the lower bound
 *   { mode: 'generate', district, options }                     writes the synthetic district (not measured)
 *
 * Memory per phase: `peakRssSampled` is the max of process.memoryUsage().rss sampled every 50 ms
 * (a timer: it only fires when the event loop gets a turn, so it can miss peaks inside long
 * synchronous stretches) plus a sample at the phase's start and end; `maxRssKB` is
 * process.resourceUsage().maxRSS at the phase's end, the process's high-water mark so far (kernel
 * accounting: never misses a peak, but it is cumulative over the phases).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const SAMPLE_MS = 50;

let peak = 0;
const sample = () => {
	const rss = process.memoryUsage.rss();
	if (rss > peak) peak = rss;
	return rss;
};

function resourceSnapshot() {
	const usage = process.resourceUsage();
	return { userMicros: usage.userCPUTime, systemMicros: usage.systemCPUTime, maxRssKB: usage.maxRSS };
}

/** Optional per-phase CPU profile through the inspector (same data as `node --cpu-prof`, split by phase). */
async function openProfiler(profileDir) {
	if (!profileDir) return null;
	const inspector = await import('node:inspector');
	const session = new inspector.Session();
	session.connect();
	const post = (method, params) =>
		new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
	await post('Profiler.enable');
	await post('Profiler.setSamplingInterval', { interval: 500 });
	return {
		start: () => post('Profiler.start'),
		async stop(name) {
			const { profile } = await post('Profiler.stop');
			const file = join(profileDir, `${name}.cpuprofile`);
			writeFileSync(file, JSON.stringify(profile));
			return file;
		},
	};
}

/** Runs `work` as a measured phase. */
async function phase(name, work, profiler) {
	const before = resourceSnapshot();
	peak = 0;
	sample();
	if (profiler) await profiler.start();
	const started = process.hrtime.bigint();
	const result = await work();
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const profile = profiler ? await profiler.stop(name) : undefined;
	sample();
	const after = resourceSnapshot();
	const memory = process.memoryUsage();
	return {
		result,
		stats: {
			seconds,
			cpuSeconds: (after.userMicros - before.userMicros + after.systemMicros - before.systemMicros) / 1e6,
			peakRssSampled: peak,
			maxRssKB: after.maxRssKB,
			memoryAtEnd: { rss: memory.rss, heapTotal: memory.heapTotal, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers },
			...(profile ? { profile } : {}),
		},
	};
}

async function runSync(task) {
	const load = (path) => require(join(task.engineDir, path));
	const { openStore } = load('nodes/shared/store/store.js');
	const { stageRun } = load('nodes/shared/sources/stage-run.js');
	const { oneRosterCsvSource } = load('nodes/shared/sources/oneroster-csv/source.js');
	const { openFolderFileSet } = load('nodes/shared/sources/oneroster-csv/file-set.js');
	const { normalizeRun } = load('nodes/shared/normalize/normalize.js');
	const profiler = await openProfiler(task.profileDir);

	const open = await phase('open', () => openStore(task.store));
	const store = open.result;
	try {
		const source = oneRosterCsvSource(`folder ${task.district}`, () => openFolderFileSet(task.district));
		const ingest = await phase('ingest', () => stageRun(store.db, source), profiler);
		const { run, summary } = ingest.result;
		const normalize = await phase('normalize', () => normalizeRun(store.db, run.id), profiler);
		if (task.cleanup) {
			// A shared (PostgreSQL) store: leave the run's row, remove its bulk.
			const { clearStaging } = load('nodes/shared/store/staging.js');
			const { deleteSnapshot } = load('nodes/shared/store/snapshot.js');
			await clearStaging(store.db, run.id);
			await deleteSnapshot(store.db, run.id);
		}
		return {
			runId: run.id,
			staged: {
				rows: summary.files.reduce((sum, file) => sum + file.rows, 0),
				skipped: summary.files.reduce((sum, file) => sum + file.skipped, 0),
				files: Object.fromEntries(summary.files.map((file) => [file.entity, file.rows])),
				warnings: summary.warnings.length,
			},
			normalized: { counts: normalize.result.counts, problems: normalize.result.problemCount },
			phases: { open: open.stats, ingest: ingest.stats, normalize: normalize.stats },
		};
	} finally {
		await store.close();
	}
}

/**
 * The floor: what reading these CSV bytes and inserting as many rows into SQLite costs at least.
 * Each file is read whole, decoded, split on '\n' and each line on ',' (no quoting rules); every
 * non-empty line after the header becomes one row (file, row number, first cell, the line) inserted
 * with one prepared statement in one transaction, with the store's pragmas. Files are handled one at a
 * time, so memory holds one file at once.
 */
async function runFloor(task) {
	const { DatabaseSync } = require('node:sqlite');
	const names = readdirSync(task.district)
		.filter((name) => name.endsWith('.csv') && name !== 'manifest.csv')
		.sort();
	const db = new DatabaseSync(task.store.path);
	db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
	db.exec('CREATE TABLE floor_rows (file TEXT NOT NULL, row_number INTEGER NOT NULL, sourced_id TEXT NOT NULL, line TEXT NOT NULL)');
	const insert = db.prepare('INSERT INTO floor_rows (file, row_number, sourced_id, line) VALUES (?, ?, ?, ?)');
	let readSeconds = 0;
	let insertSeconds = 0;
	let rows = 0;
	let cells = 0;
	let bytes = 0;
	const total = await phase('floor', async () => {
		let t = process.hrtime.bigint();
		db.exec('BEGIN IMMEDIATE');
		insertSeconds += Number(process.hrtime.bigint() - t) / 1e9;
		for (const name of names) {
			t = process.hrtime.bigint();
			const data = readFileSync(join(task.district, name));
			bytes += data.length;
			const lines = data.toString('utf8').split('\n');
			const split = new Array(lines.length);
			for (let i = 0; i < lines.length; i++) {
				split[i] = lines[i].split(',');
				cells += split[i].length;
			}
			const read = process.hrtime.bigint();
			readSeconds += Number(read - t) / 1e9;
			for (let i = 1; i < lines.length; i++) {
				if (lines[i] === '') continue;
				insert.run(name, i + 1, split[i][0], lines[i]);
				rows++;
			}
			insertSeconds += Number(process.hrtime.bigint() - read) / 1e9;
			sample();
		}
		t = process.hrtime.bigint();
		db.exec('COMMIT');
		insertSeconds += Number(process.hrtime.bigint() - t) / 1e9;
	});
	const sqliteVersion = db.prepare('SELECT sqlite_version() AS v').get().v;
	db.close();
	return { sqliteVersion, rows, cells, bytes, files: names.length, readSeconds, insertSeconds, phases: { floor: total.stats } };
}

/** Writes the district (in its own process, so the bench's parent stays small: see run.mjs). */
async function runGenerate(task) {
	const { loadGenerator } = await import('./generate.mjs');
	const generator = loadGenerator();
	const started = process.hrtime.bigint();
	const counts = await generator.writeDistrict(task.district, task.options);
	return { counts, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

process.once('message', async (task) => {
	const sampler = setInterval(sample, SAMPLE_MS);
	try {
		const result =
			task.mode === 'generate' ? await runGenerate(task) : task.mode === 'floor' ? await runFloor(task) : await runSync(task);
		clearInterval(sampler);
		process.send({ ok: true, result, final: resourceSnapshot() }, () => process.exit(0));
	} catch (error) {
		clearInterval(sampler);
		process.send({ ok: false, error: String(error?.stack ?? error) }, () => process.exit(1));
	}
});
