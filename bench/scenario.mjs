/**
 * One benchmark scenario, run by bench/run.mjs in a fresh child process (child_process.fork) so the
 * peak RSS it reports is the scenario's own. The task arrives as the first IPC message; the result
 * goes back as one IPC message.
 *
 *   { mode: 'pipeline', engineDir, district, store, settings, profileDir? }
 *        one night: ingest (stageRun) → normalize → reconcile → lists → report (buildReport + publishRun)
 *   { mode: 'floor', district, store }     naive CSV read + bulk insert into the same store engine: the lower bound
 *   { mode: 'parsers', engineDir, district }          csv-parse against the engine's CSV scanner, parse only
 *   { mode: 'rest', engineDir, store, url, token | auth, latencyMs, pageSize, concurrency }   scenario 5: a full REST pull
 *   { mode: 'restFloor', engineDir, url, token, records, pageSize, concurrency }   the same pages fetched and JSON.parse'd, nothing else: the pull's lower bound
 *   { mode: 'generate', district, day2?, day2UndoneDelta?, day2Delta?, options }   writes the synthetic district (its day two, and the delta
 *        set that undoes day two, and day two again as a delta set); not measured
 *   { mode: 'lastRun', engineDir, store }             the newest run in a store (bench/in-n8n.mjs checks n8n's nights with it)
 *
 * Memory: `maxRssKB` is process.resourceUsage().maxRSS, the kernel's high-water mark of the process
 * (never misses a peak; cumulative over the phases, and each scenario is its own process, so the
 * value at the end is the scenario's peak). `peakRssSampled` per phase is the max of
 * process.memoryUsage().rss sampled every 50 ms (a timer: it can miss peaks inside long synchronous
 * stretches) plus a sample at the phase's start and end.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const SAMPLE_MS = 50;

let peak = 0;
/** The V8 heap at the sample of the highest RSS: what of the RSS is JavaScript objects (the rest is SQLite's cache, buffers, code). */
let heapAtPeak = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
	const rss = process.memoryUsage.rss();
	if (rss > peak) {
		peak = rss;
		const { heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
		heapAtPeak = { heapTotal, heapUsed, external, arrayBuffers };
	}
	return rss;
};

/**
 * The phase's own RSS high-water mark (Linux): VmHWM is reset at the phase's start by writing 5 to
 * /proc/self/clear_refs and read at its end, so unlike maxRssKB it is not carried over from earlier
 * phases (it still counts what earlier phases left allocated). null where /proc does not allow it.
 * (VmHWM and maxRSS are two readings of one kernel counter that can differ by a few MiB.)
 */
function resetRssHighWater() {
	highWaterBeforeResetsKB = Math.max(highWaterBeforeResetsKB, process.resourceUsage().maxRSS);
	try {
		writeFileSync('/proc/self/clear_refs', '5');
		return true;
	} catch {
		return false;
	}
}
function rssHighWaterKB() {
	const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
	return match ? Number(match[1]) : null;
}

/**
 * The process's high-water mark so far. Resetting VmHWM also resets what resourceUsage().maxRSS
 * reads, so the highest value seen before each reset is kept here.
 */
let highWaterBeforeResetsKB = 0;

/**
 * CPU seconds between two resourceSnapshot()s (and bytes written): all of it, and the kernel's part of it (`systemSeconds`:
 * page faults on fresh memory, the store's reads and writes). The kernel's part varies most from run to
 * run for the same code on this machine (a step's 0.2–1.0 s, measured), so a change to the engine's own
 * code shows best in the user part (cpuSeconds − systemSeconds).
 */
function cpuBetween(before, after) {
	const systemMicros = after.systemMicros - before.systemMicros;
	return {
		cpuSeconds: (after.userMicros - before.userMicros + systemMicros) / 1e6,
		systemSeconds: systemMicros / 1e6,
		// What the process wrote to files (the store, its write-ahead log), from the kernel's count of 512-byte blocks.
		bytesWritten: (after.blocksWritten - before.blocksWritten) * 512,
	};
}

function resourceSnapshot() {
	const usage = process.resourceUsage();
	return { userMicros: usage.userCPUTime, systemMicros: usage.systemCPUTime, blocksWritten: usage.fsWrite, maxRssKB: Math.max(usage.maxRSS, highWaterBeforeResetsKB) };
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
	heapAtPeak = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
	const ownHighWater = resetRssHighWater();
	const rssAtStartKB = Math.round(process.memoryUsage.rss() / 1024);
	sample();
	if (profiler) await profiler.start();
	const started = process.hrtime.bigint();
	const result = await work();
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const profile = profiler ? await profiler.stop(name) : undefined;
	sample();
	const after = resourceSnapshot();
	return {
		result,
		stats: {
			seconds,
			...cpuBetween(before, after),
			peakRssSampled: peak,
			heapAtPeak,
			maxRssKB: after.maxRssKB,
			rssAtStartKB,
			ownPeakRssKB: ownHighWater ? rssHighWaterKB() : null,
			...(profile ? { profile } : {}),
		},
	};
}

/**
 * What the store holds after a night (not timed): SQLite's pages in use (its file never shrinks, and
 * freed pages are used again), PostgreSQL's database size. The difference between nights is what a
 * night adds to the store (its staged rows, snapshot, changes …), kept for the retention period.
 */
async function storeBytesInUse(db) {
	if (db.engine === 'postgres') return Number((await db.queryArrays('SELECT pg_database_size(current_database())'))[0][0]);
	const pragma = async (name) => Number((await db.queryArrays(`PRAGMA ${name}`))[0][0]);
	return ((await pragma('page_count')) - (await pragma('freelist_count'))) * (await pragma('page_size'));
}

/**
 * Closes the store and waits until its file holds everything: a SQLite store's checkpoint thread copies what is
 * left of the write-ahead log after close (store/sqlite-checkpoints.ts, checkpointed()).
 */
async function closeForGood(store) {
	await store.close();
	await store.db.checkpointed?.();
}

/** One night of the nightly workflow, as the shipped template chains the nodes. */
async function runPipeline(task) {
	const load = (path) => require(join(task.engineDir, path));
	const { openStore } = load('nodes/shared/store/store.js');
	const { stageRun } = load('nodes/shared/sources/stage-run.js');
	const { oneRosterCsvSource } = load('nodes/shared/sources/oneroster-csv/source.js');
	const { openFolderFileSet } = load('nodes/shared/sources/oneroster-csv/file-set.js');
	const { normalizeRun } = load('nodes/shared/normalize/normalize.js');
	const { reconcileRun } = load('nodes/shared/reconcile/apply.js');
	const { buildListsRun } = load('nodes/shared/lists/apply.js');
	const { buildReport, publishRun } = load('nodes/shared/report/report.js');
	const profiler = await openProfiler(task.profileDir);
	const started = process.hrtime.bigint();
	const cpuBefore = resourceSnapshot();

	const open = await phase('open', () => openStore(task.store));
	const store = open.result;
	let closed = false;
	try {
		const source = oneRosterCsvSource(`folder ${task.district}`, () => openFolderFileSet(task.district));
		const ingest = await phase('ingest', () => stageRun(store.db, source), profiler);
		const { run, summary } = ingest.result;
		const normalize = await phase('normalize', () => normalizeRun(store.db, run.id, task.settings.normalize), profiler);
		const reconcile = await phase('reconcile', () => reconcileRun(store.db, run.id, task.settings.reconcile), profiler);
		const lists = await phase('lists', () => buildListsRun(store.db, run.id, task.settings.lists), profiler);
		const report = await phase(
			'report',
			async () => {
				const built = await buildReport(store.db, run.id);
				await publishRun(store.db, run.id);
				return built;
			},
			profiler,
		);
		const phasesWall = Number(process.hrtime.bigint() - started) / 1e9;
		const bytesInUse = await storeBytesInUse(store.db);
		// Closing the store is part of the night: the night ends when the store file holds it.
		const close = await phase('close', () => closeForGood(store));
		closed = true;
		const wall = phasesWall + close.stats.seconds;
		const cpuAfter = resourceSnapshot();
		return {
			runId: run.id,
			seconds: wall,
			storeBytesInUse: bytesInUse,
			...cpuBetween(cpuBefore, cpuAfter),
			staged: {
				rows: summary.files.reduce((sum, file) => sum + file.rows, 0),
				skipped: summary.files.reduce((sum, file) => sum + file.skipped, 0),
				files: Object.fromEntries(summary.files.map((file) => [file.entity, file.rows])),
				warnings: summary.warnings.length,
			},
			normalized: { counts: normalize.result.counts, problems: normalize.result.problemCount },
			reconciled: {
				created: reconcile.result.counts.created,
				updated: reconcile.result.counts.updated,
				unchanged: reconcile.result.counts.unchanged,
				archived: reconcile.result.counts.archived,
				restored: reconcile.result.counts.restored,
				skipped: reconcile.result.counts.skipped,
				// How it planned: from the changes since a run (reconcile/apply.ts), or the whole roster (absent).
				plannedFromChanges: reconcile.result.counts.plannedFromChanges ?? null,
			},
			lists: {
				lists: lists.result.counts.lists,
				listsCreated: lists.result.counts.listsCreated,
				listsUpdated: lists.result.counts.listsUpdated,
				membersAdded: lists.result.counts.membersAdded,
				membersRemoved: lists.result.counts.membersRemoved,
				managersAdded: lists.result.counts.managersAdded,
				// How it planned: nothing (an unchanged night), from changes (lists/apply.ts), or every list (both absent).
				unchangedSince: lists.result.counts.unchangedSince ?? null,
				plannedFromChanges: lists.result.counts.plannedFromChanges ?? null,
			},
			report: { subject: report.result.subject, csvBytes: report.result.csv.length },
			phases: {
				open: open.stats,
				ingest: ingest.stats,
				normalize: normalize.stats,
				reconcile: reconcile.stats,
				lists: lists.stats,
				report: report.stats,
				close: close.stats,
			},
		};
	} finally {
		if (!closed) await store.close();
	}
}

/**
 * The floor: what reading these CSV bytes and inserting as many rows into the store engine costs at
 * least. Each file is read whole, decoded, split on '\n' and each line on ',' (no quoting rules);
 * every non-empty line after the header becomes one row (file, row number, first cell, the line),
 * inserted in one transaction: on SQLite with one prepared statement (the store's journal, sync and page size), on
 * PostgreSQL with multi-row INSERTs of 1,000 rows (what `pg` offers without COPY). Files are handled
 * one at a time, so memory holds one file at once.
 */
async function runFloor(task) {
	const names = readdirSync(task.district)
		.filter((name) => name.endsWith('.csv') && name !== 'manifest.csv')
		.sort();
	const engine = task.store.engine ?? 'sqlite';
	// The page size of a new store of the engine benchmarked (an engine from before SQLITE_PAGE_SIZE: SQLite's default).
	const pageSize = require(join(task.engineDir, 'nodes/shared/store/sqlite.js')).SQLITE_PAGE_SIZE ?? 4096;
	const target = engine === 'postgres' ? await postgresFloorTarget(task.store) : sqliteFloorTarget(task.store.path, pageSize);
	let readSeconds = 0;
	let insertSeconds = 0;
	let rows = 0;
	let bytes = 0;
	const total = await phase('floor', async () => {
		let t = process.hrtime.bigint();
		await target.begin();
		insertSeconds += Number(process.hrtime.bigint() - t) / 1e9;
		for (const name of names) {
			t = process.hrtime.bigint();
			const data = readFileSync(join(task.district, name));
			bytes += data.length;
			const lines = data.toString('utf8').split('\n');
			const split = new Array(lines.length);
			for (let i = 0; i < lines.length; i++) split[i] = lines[i].split(',');
			const read = process.hrtime.bigint();
			readSeconds += Number(read - t) / 1e9;
			for (let i = 1; i < lines.length; i++) {
				if (lines[i] === '') continue;
				await target.insert(name, i + 1, split[i][0], lines[i]);
				rows++;
			}
			await target.flush();
			insertSeconds += Number(process.hrtime.bigint() - read) / 1e9;
			sample();
		}
		t = process.hrtime.bigint();
		await target.commit();
		insertSeconds += Number(process.hrtime.bigint() - t) / 1e9;
	});
	const version = await target.close();
	return { engine, version, rows, bytes, files: names.length, readSeconds, insertSeconds, seconds: total.stats.seconds, phases: { floor: total.stats } };
}

function sqliteFloorTarget(path, pageSize) {
	const { DatabaseSync } = require('node:sqlite');
	const db = new DatabaseSync(path);
	db.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;`);
	db.exec('CREATE TABLE floor_rows (file TEXT NOT NULL, row_number INTEGER NOT NULL, sourced_id TEXT NOT NULL, line TEXT NOT NULL)');
	const statement = db.prepare('INSERT INTO floor_rows (file, row_number, sourced_id, line) VALUES (?, ?, ?, ?)');
	return {
		begin: async () => db.exec('BEGIN IMMEDIATE'),
		insert: (file, row, id, line) => {
			statement.run(file, row, id, line);
		},
		flush: async () => {},
		commit: async () => db.exec('COMMIT'),
		close: async () => {
			const version = db.prepare('SELECT sqlite_version() AS v').get().v;
			db.close();
			return `SQLite ${version}`;
		},
	};
}

async function postgresFloorTarget(config) {
	const { Client } = require('pg');
	const client = new Client({ host: config.host, port: config.port, database: config.database, user: config.user, password: config.password, ssl: config.ssl ? { rejectUnauthorized: false } : false });
	await client.connect();
	await client.query('DROP TABLE IF EXISTS floor_rows');
	await client.query('CREATE TABLE floor_rows (file TEXT NOT NULL, row_number INTEGER NOT NULL, sourced_id TEXT NOT NULL, line TEXT NOT NULL)');
	const BATCH = 1000;
	let params = [];
	let statement = '';
	let statementRows = -1;
	const flush = async () => {
		if (params.length === 0) return;
		const n = params.length / 4;
		if (n !== statementRows) {
			const tuples = [];
			for (let i = 0; i < n; i++) tuples.push(`($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`);
			statement = `INSERT INTO floor_rows (file, row_number, sourced_id, line) VALUES ${tuples.join(', ')}`;
			statementRows = n;
		}
		await client.query(statement, params);
		params = [];
	};
	return {
		begin: () => client.query('BEGIN'),
		insert: async (file, row, id, line) => {
			params.push(file, row, id, line);
			if (params.length >= BATCH * 4) await flush();
		},
		flush,
		commit: () => client.query('COMMIT'),
		close: async () => {
			const version = (await client.query('SHOW server_version')).rows[0].server_version;
			await client.query('DROP TABLE floor_rows');
			await client.end();
			return `PostgreSQL ${version}`;
		},
	};
}

/**
 * The parser comparison: every staged file of the district read with csv-parse (streaming, the
 * options the ingest used with it) and with the engine's scanner (csv-scan.ts), both behind the same
 * strict UTF-8 chunks, each run `rounds` times alternately; best CPU and wall time of each kept.
 */
async function runParsers(task) {
	const load = (path) => require(join(task.engineDir, path));
	const { openFolderFileSet } = load('nodes/shared/sources/oneroster-csv/file-set.js');
	const { readCsvRecordBatches, PARSE_OPTIONS } = load('nodes/shared/sources/oneroster-csv/csv-records.js');
	if (!PARSE_OPTIONS) throw new Error('this engine has no CSV scanner to compare');
	const { strictUtf8Chunks } = load('nodes/shared/sources/oneroster-csv/utf8.js');
	const { parse } = require('csv-parse');
	const { pipeline } = await import('node:stream/promises');
	const names = readdirSync(task.district).filter((name) => name.endsWith('.csv') && name !== 'manifest.csv').sort();
	const files = await openFolderFileSet(task.district);
	const readers = {
		'csv-parse': async (name) => {
			let records = 0;
			let fields = 0;
			const parser = parse(PARSE_OPTIONS);
			const feeding = pipeline(await files.open(name), strictUtf8Chunks(name), parser);
			feeding.catch(() => {});
			for await (const record of parser) {
				records++;
				fields += record.length;
			}
			await feeding;
			return { records, fields };
		},
		scanner: async (name) => {
			let records = 0;
			let fields = 0;
			for await (const batch of readCsvRecordBatches(files, name, 5000)) {
				records += batch.length;
				for (const record of batch) fields += record.length;
			}
			return { records, fields };
		},
	};
	const best = {};
	try {
		for (let round = 0; round < (task.rounds ?? 2); round++) {
			for (const [reader, read] of Object.entries(readers)) {
				const before = resourceSnapshot();
				const started = process.hrtime.bigint();
				let records = 0;
				let fields = 0;
				for (const name of names) {
					const counted = await read(name);
					records += counted.records;
					fields += counted.fields;
				}
				const seconds = Number(process.hrtime.bigint() - started) / 1e9;
				const after = resourceSnapshot();
				const { cpuSeconds } = cpuBetween(before, after);
				const previous = best[reader];
				if (previous && (previous.records !== records || previous.fields !== fields)) throw new Error(`${reader} read different records in round ${round}`);
				best[reader] = { records, fields, seconds: Math.min(seconds, previous?.seconds ?? Infinity), cpuSeconds: Math.min(cpuSeconds, previous?.cpuSeconds ?? Infinity) };
			}
		}
	} finally {
		await files.close();
	}
	if (best['csv-parse'].records !== best.scanner.records || best['csv-parse'].fields !== best.scanner.fields) {
		throw new Error(`the parsers disagree: csv-parse ${best['csv-parse'].records} records / ${best['csv-parse'].fields} fields, scanner ${best.scanner.records} / ${best.scanner.fields}`);
	}
	return { parsers: best, phases: {} };
}

/** Where the bench's REST server (test/support/oneroster-server.ts) serves OneRoster 1.1: scenario 5 and its floor read the same pages. */
const ONEROSTER_1_1_ROOT = '/ims/oneroster/v1p1';

/**
 * Scenario 5: a full OneRoster REST pull (the OneRoster Fetch engine, nodes/shared/sources/oneroster-rest)
 * from bench/rest-server.mjs into a fresh store: stageRun with oneRosterApiSource, page size and
 * concurrency as given. Reports the pull's requests and pages and the ideal time, pages × latency ÷ concurrency.
 */
async function runRest(task) {
	const load = (path) => require(join(task.engineDir, path));
	const { openStore } = load('nodes/shared/store/store.js');
	const { stageRun } = load('nodes/shared/sources/stage-run.js');
	const { apiClient } = load('nodes/shared/sources/oneroster-rest/auth/api-auth.js');
	const { fetchTransport } = load('nodes/shared/sources/oneroster-rest/http.js');
	const { oneRosterApiSource, REST_RESOURCES } = load('nodes/shared/sources/oneroster-rest/source.js');
	const profiler = await openProfiler(task.profileDir);
	const open = await phase('open', () => openStore(task.store));
	const store = open.result;
	let closed = false;
	try {
		// The server's bearer token, or `auth` as the engine's client takes it (bench/in-n8n.mjs: OAuth 2).
		const client = apiClient(fetchTransport(), task.auth ?? { kind: 'bearer', token: task.token });
		const config = {
			sisName: 'Bench SIS',
			baseUrl: `${task.url}${ONEROSTER_1_1_ROOT}`,
			version: '1.1',
			// Everything the engine can pull, in its order.
			resources: [...REST_RESOURCES],
			schoolIds: [],
		};
		const source = oneRosterApiSource(client, config, { mode: 'full', reason: 'benchmark' }, { pageSize: task.pageSize, concurrency: task.concurrency });
		const fetch = await phase('fetch', () => stageRun(store.db, source), profiler);
		const summary = source.fetchSummary ?? {};
		const { summary: staged } = fetch.result;
		// Not the pull's: the store's copy of the pull's write-ahead log, which in n8n goes on while Normalize runs. Timed apart, for the record.
		const close = await phase('close', () => closeForGood(store));
		closed = true;
		return {
			closeSeconds: close.stats.seconds,
			seconds: fetch.stats.seconds,
			cpuSeconds: fetch.stats.cpuSeconds,
			requests: summary.requests,
			pages: summary.pages,
			overfetchedPages: summary.overfetchedPages,
			records: summary.records,
			stagedRows: staged.files.reduce((sum, file) => sum + file.rows, 0),
			latencyMs: task.latencyMs,
			pageSize: task.pageSize,
			concurrency: task.concurrency,
			idealSeconds: ((summary.pages ?? 0) * task.latencyMs) / 1000 / task.concurrency,
			phases: { open: open.stats, fetch: fetch.stats, close: close.stats },
		};
	} finally {
		if (!closed) await store.close();
	}
}

/**
 * Scenario 5's floor: what fetching the pull's pages costs at least on this machine. Every page the
 * pull reads (offsets from the server's record counts, so no paging logic), resource by resource,
 * `concurrency` requests at a time, with the same fetch and bearer token, each body read as bytes and
 * then by the engine's readJson (decoded, all-ASCII bodies as Latin-1, and JSON.parse'd) — and nothing else: no
 * records flattened, checked or staged. The server's latency is the pull's; its ideal
 * pages × latency ÷ concurrency leaves out the time a request takes besides the latency.
 */
async function runRestFloor(task) {
	const { REST_RESOURCES } = require(join(task.engineDir, 'nodes/shared/sources/oneroster-rest/source.js'));
	const { readJson } = require(join(task.engineDir, 'nodes/shared/sources/oneroster-rest/http.js'));
	const headers = { authorization: `Bearer ${task.token}` };
	const root = `${task.url}${ONEROSTER_1_1_ROOT}`;
	let pages = 0;
	let records = 0;
	const floor = await phase('restFloor', async () => {
		for (const resource of REST_RESOURCES) {
			const offsets = [];
			for (let offset = 0; offset === 0 || offset < (task.records[resource] ?? 0); offset += task.pageSize) offsets.push(offset);
			let next = 0;
			const fetchPages = async () => {
				while (next < offsets.length) {
					const url = `${root}/${resource}?limit=${task.pageSize}&offset=${offsets[next++]}&sort=sourcedId`;
					const response = await fetch(url, { headers });
					if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
					const read = readJson({ status: response.status, headers: {}, body: Buffer.from(await response.arrayBuffer()) });
					if (!read || !('json' in read)) throw new Error(`GET ${url} answered no JSON`);
					records += read.json[resource].length;
					pages++;
				}
			};
			await Promise.all(Array.from({ length: task.concurrency }, fetchPages));
		}
	});
	const expected = REST_RESOURCES.reduce((sum, resource) => sum + (task.records[resource] ?? 0), 0);
	if (records !== expected) throw new Error(`the REST floor read ${records} records, the server has ${expected}`);
	return { seconds: floor.stats.seconds, cpuSeconds: floor.stats.cpuSeconds, pages, records, phases: { restFloor: floor.stats } };
}

/** Writes the district and its day two (in its own process, so the bench's parent stays small). */
async function runGenerate(task) {
	const { loadGenerator } = await import('./generate.mjs');
	const generator = loadGenerator();
	const started = process.hrtime.bigint();
	const counts = await generator.writeDistrict(task.district, task.options);
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	let day2;
	if (task.day2) {
		const t = process.hrtime.bigint();
		const result = await generator.writeDayTwo(task.district, task.day2, { ...task.options, ...task.dayTwoOptions });
		day2 = {
			counts: result.counts,
			changed: result.changed.length,
			gone: result.gone.length,
			added: result.added.length,
			seconds: Number(process.hrtime.bigint() - t) / 1e9,
		};
		// The day-2 changes undone, as a OneRoster delta set: a 1 % delta night to run after day 2.
		if (task.day2UndoneDelta) day2.undoneDelta = generator.writeDeltaSet(task.day2, task.district, task.day2UndoneDelta);
		// And day 2's changes again, as a delta set: a second delta night, to run after that one.
		if (task.day2Delta) day2.delta = generator.writeDeltaSet(task.district, task.day2, task.day2Delta);
	}
	return { counts, seconds, day2 };
}

/** The newest run in a store (its status, stage and counts): how bench/in-n8n.mjs checks a night n8n ran. */
async function runLastRun(task) {
	const { openStore } = require(join(task.engineDir, 'nodes/shared/store/store.js'));
	const { listRuns } = require(join(task.engineDir, 'nodes/shared/store/runs.js'));
	const store = await openStore(task.store);
	try {
		return { run: (await listRuns(store.db, 1))[0] ?? null };
	} finally {
		await store.close();
	}
}

process.once('message', async (task) => {
	const sampler = setInterval(sample, SAMPLE_MS);
	try {
		const modes = { generate: runGenerate, floor: runFloor, parsers: runParsers, pipeline: runPipeline, rest: runRest, restFloor: runRestFloor, lastRun: runLastRun };
		if (!modes[task.mode]) throw new Error(`unknown scenario mode ${task.mode}`);
		const result = await modes[task.mode](task);
		clearInterval(sampler);
		process.send({ ok: true, result, final: resourceSnapshot() }, () => process.exit(0));
	} catch (error) {
		clearInterval(sampler);
		process.send({ ok: false, error: String(error?.stack ?? error) }, () => process.exit(1));
	}
});
