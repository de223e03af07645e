#!/usr/bin/env node
/**
 * The sync benchmark (issue 6): synthetic OneRoster districts through the whole nightly pipeline
 * (CSV ingest → normalize → reconcile users → build lists → report), on SQLite and PostgreSQL,
 * against a floor and a peer.
 *
 *   npm run bench                                           the quick CI default (5,000 students, both engines)
 *   npm run bench -- --students 10000,100000,300000         linearity
 *   npm run bench -- --students 100000 --engines sqlite --profile /tmp/prof
 *   npm run bench -- --peer --peer-students 1000,5000,20000 the stock-n8n-nodes peer in a real n8n
 *
 * Scenarios per size and engine (each a fresh child process on the same store, in this order):
 *   full  — the district's CSV set into an empty store
 *   same  — the same files again (nothing changed)
 *   day2  — a day-two set: 1 % of people changed, 0.5 % gone, 0.5 % new (bench/district-generator.ts writeDayTwo)
 *   delta — after day2: the day-two changes undone, as a OneRoster delta set (writeDeltaSet), the night a SIS
 *           that exports deltas (or OneRoster Fetch's "Changes Since the Last Run") gives
 *   delta2 — after delta: the day-two changes again, as a delta set: a delta night after a delta night, as such
 *           a SIS gives every night (its snapshot's changes are over the same base as the last night's)
 * and the floor: a naive read of the same CSV bytes (split on newline and comma) plus a bulk insert
 * of as many rows into the same store engine, in a fresh process. Each scenario is printed as wall
 * seconds, CPU seconds of the Node process, × floor, and peak RSS of the whole process.
 *
 * Flags: --students N[,N…] (default 5000) · --engines sqlite,postgres (default both) · --scenarios full,same,day2,delta,delta2
 *        --seed S (default 1) · --version 1.1|1.2 · --guid-ids (people's sourcedIds as 36-character GUIDs)
 *        --out FILE (default bench/results.json) · --repeat N
 *        (each scenario chain N times on fresh stores; median times, max memory) · --profile DIR (per-phase
 *        .cpuprofile files of the first repeat, with their top functions) · --engine-dir DIR (benchmark
 *        another compiled copy of the engine) · --keep · --pg-url postgres://user:pw@host:port/db (a server
 *        where that login may CREATE DATABASE; without it a throwaway server is started with
 *        test/support/postgres.ts) · --peer, --peer-only, --peer-students N[,N…], --peer-limit SECONDS (bench/peer.mjs)
 *        --no-rest, --rest-only, --rest-latency MS, --rest-page-size N, --rest-concurrency N (scenario 5, bench/rest-server.mjs)
 *        --max-old-space MiB, --max-semi-space MiB (V8 heap flags of the scenario processes)
 *        --v8-flags "FLAG …" (more V8 flags for the scenario processes, e.g. "--no-allocation-site-pretenuring")
 *        --in-n8n (only our nodes in the real n8n, bench/in-n8n.mjs), --n8n-heap default,512,384,512/8 (V8 old space and
 *        semi-space for it),
 *        --n8n-source disk,sftp,rest (where the roster comes from: Read Files From Disk or SFTP from a local sshd into CSV Ingest,
 *        or OneRoster Fetch from the REST server of scenario 5)
 * See bench/README.md.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as v8 from 'node:v8';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildEngine, projectRoot } from './build-engine.mjs';
import { loadTypeScript } from './generate.mjs';
import { formatSummary, summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const USAGE = `usage: npm run bench -- [--students 5000[,100000…]] [--engines sqlite,postgres] [--scenarios full,same,day2]
                      [--seed 1] [--version 1.1|1.2] [--guid-ids] [--out bench/results.json] [--repeat N] [--profile DIR]
                      [--engine-dir DIR] [--keep] [--pg-url postgres://…] [--max-old-space MiB] [--max-semi-space MiB]
                      [--v8-flags "--flag …"]
                      [--no-rest | --rest-only] [--rest-latency 30] [--rest-page-size 1000] [--rest-concurrency 4]
                      [--peer | --peer-only] [--peer-students 1000,5000,…] [--peer-limit 600]
                      [--in-n8n] [--n8n-heap default,512,384,512/8] [--n8n-source disk,sftp,rest]`;

export const SCENARIOS = {
	full: 'full sync into an empty store',
	same: 'the same files again (unchanged)',
	day2: 'day 2: 1 % changed, 0.5 % gone, 0.5 % new',
	delta: 'day 2 undone, as a OneRoster delta set (after day2)',
	delta2: 'day 2 again, as a delta set: a second delta night (after delta)',
};

/** What the nightly template would run with, everything that costs work switched on. */
export const PIPELINE_SETTINGS = {
	normalize: {},
	reconcile: { includePrimaryParentContact: true, autoUpdate: true, archive: true },
	lists: { syncClassRosters: true, terms: ['as-2026'], autoListsByRole: true, autoListsByGrade: true },
};

/** The issue's goals at 100,000 students on the 2-core bench machine. */
export const GOALS = { students: 100_000, fullSeconds: 15, fullRssMiB: 600, sameSeconds: 5, day2Seconds: 3, floorRatio: 4, restRatio: 1.2, peerFactor: 20 };

const PHASES = ['ingest', 'normalize', 'reconcile', 'lists', 'report', 'close'];

function parseList(value, name, parse = (s) => s) {
	const list = value
		.split(',')
		.map((s) => s.trim())
		.filter(Boolean)
		.map(parse);
	if (list.length === 0) throw new Error(`${name} needs at least one value`);
	return list;
}

const positiveInt = (name) => (s) => {
	const n = Number(s.replace(/_/g, ''));
	if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes positive integers, e.g. 10000,100000`);
	return n;
};

function parseArgs(argv) {
	const args = {
		students: [5000],
		engines: ['sqlite', 'postgres'],
		scenarios: Object.keys(SCENARIOS),
		seed: 1,
		version: '1.1',
		guidIds: false,
		out: join(here, 'results.json'),
		repeat: 1,
		keep: false,
		peer: false,
		peerStudents: [1000, 2000, 5000, 10000, 20000, 50000, 100000],
		peerLimit: 600,
		rest: true,
		restLatency: 30,
		restPageSize: 1000,
		restConcurrency: 4,
		maxOldSpaceMiB: null,
		maxSemiSpaceMiB: null,
		v8Flags: [],
		inN8n: false,
		n8nHeap: ['default', '512', '384'],
		n8nSource: ['disk'],
	};
	const value = (i, name) => {
		const v = argv[i + 1];
		if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
		return v;
	};
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		switch (arg) {
			case '--students':
				args.students = parseList(value(i++, arg), arg, positiveInt(arg));
				break;
			case '--engines':
			case '--engine':
				args.engines = parseList(value(i++, arg), arg);
				if (args.engines.some((e) => !['sqlite', 'postgres'].includes(e))) throw new Error('--engines takes sqlite and/or postgres');
				break;
			case '--scenarios':
				args.scenarios = parseList(value(i++, arg), arg);
				if (args.scenarios.some((s) => !(s in SCENARIOS))) throw new Error(`--scenarios takes ${Object.keys(SCENARIOS).join(', ')}`);
				if (args.scenarios.includes('delta') && !(args.scenarios.indexOf('day2') >= 0 && args.scenarios.indexOf('day2') < args.scenarios.indexOf('delta'))) {
					throw new Error('--scenarios: delta undoes day2, so it needs day2 before it');
				}
				if (args.scenarios.includes('delta2') && !(args.scenarios.indexOf('delta') >= 0 && args.scenarios.indexOf('delta') < args.scenarios.indexOf('delta2'))) {
					throw new Error('--scenarios: delta2 redoes what delta undid, so it needs delta before it');
				}
				break;
			case '--guid-ids':
				args.guidIds = true;
				break;
			case '--seed':
				args.seed = Number(value(i++, arg));
				if (!Number.isInteger(args.seed)) throw new Error('--seed must be an integer');
				break;
			case '--version':
				args.version = value(i++, arg);
				if (!['1.1', '1.2'].includes(args.version)) throw new Error('--version is 1.1 or 1.2');
				break;
			case '--pg-url':
				args.pgUrl = value(i++, arg);
				break;
			case '--out':
				args.out = resolve(value(i++, arg));
				break;
			case '--profile':
				args.profile = resolve(value(i++, arg));
				break;
			case '--repeat':
				args.repeat = positiveInt(arg)(value(i++, arg));
				break;
			case '--engine-dir':
				args.engineDir = resolve(value(i++, arg));
				break;
			case '--keep':
				args.keep = true;
				break;
			case '--peer':
				args.peer = true;
				break;
			case '--peer-only':
				args.peer = true;
				args.peerOnly = true;
				break;
			case '--peer-students':
				args.peerStudents = parseList(value(i++, arg), arg, positiveInt(arg));
				break;
			case '--no-rest':
				args.rest = false;
				break;
			case '--rest-only':
				args.rest = true;
				args.engines = [];
				break;
			case '--rest-latency':
				args.restLatency = Number(value(i++, arg));
				if (!(args.restLatency >= 0)) throw new Error('--rest-latency takes milliseconds');
				break;
			case '--rest-page-size':
				args.restPageSize = positiveInt(arg)(value(i++, arg));
				break;
			case '--rest-concurrency':
				args.restConcurrency = positiveInt(arg)(value(i++, arg));
				break;
			case '--in-n8n':
				args.inN8n = true;
				break;
			case '--n8n-heap':
				args.n8nHeap = parseList(value(i++, arg), arg, (s) => {
					const heap = parseHeap(s);
					if (!heap || (heap.oldSpaceMiB !== null && heap.oldSpaceMiB < 16)) {
						throw new Error('--n8n-heap takes default and/or MiB of old space, each with /MiB of semi-space or not, e.g. default,512,384,512/8');
					}
					return s;
				});
				break;
			case '--n8n-source':
				args.n8nSource = parseList(value(i++, arg), arg);
				if (args.n8nSource.some((s) => !['disk', 'sftp', 'rest'].includes(s))) throw new Error('--n8n-source takes disk, sftp and/or rest');
				break;
			case '--peer-limit':
				args.peerLimit = positiveInt(arg)(value(i++, arg));
				break;
			case '--max-old-space':
				args.maxOldSpaceMiB = positiveInt(arg)(value(i++, arg));
				break;
			case '--max-semi-space':
				args.maxSemiSpaceMiB = positiveInt(arg)(value(i++, arg));
				break;
			case '--v8-flags': {
				// The value is flags itself, so it starts with "--": taken as it is.
				const flags = (argv[++i] ?? '').split(/\s+/).filter(Boolean);
				if (flags.length === 0 || flags.some((flag) => !flag.startsWith('--'))) throw new Error('--v8-flags takes V8 flags, e.g. "--no-allocation-site-pretenuring"');
				args.v8Flags = flags;
				break;
			}
			case '--help':
			case '-h':
				console.log(USAGE);
				process.exit(0);
				break;
			default:
				throw new Error(`unknown argument ${arg}`);
		}
	}
	return args;
}

function machineInfo() {
	const cpus = os.cpus();
	return {
		cpus: cpus.length,
		cpuModel: cpus[0]?.model ?? 'unknown',
		totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
		platform: `${os.platform()} ${os.release()} ${os.arch()}`,
		node: process.version,
		v8: process.versions.v8,
		tmpdir: os.tmpdir(),
	};
}

/**
 * Node flags of the scenario processes. `--max-old-space MiB` caps their V8 heap: by default V8 sizes the
 * heap from the machine's memory and lets a run's garbage grow the process long before it collects it,
 * so the peak RSS measured with and without a cap tells live memory from garbage (see bench/README.md).
 * `--max-semi-space MiB` bounds the young generation (V8's default grows it to several times that).
 */
const scenarioExecArgv = ['--disable-warning=ExperimentalWarning'];

/** Node's V8 flags for MiB of old space and of young-generation semi-space (null: V8's default). */
export function v8HeapFlags(maxOldSpaceMiB, maxSemiSpaceMiB) {
	return [maxOldSpaceMiB === null ? null : `--max-old-space-size=${maxOldSpaceMiB}`, maxSemiSpaceMiB === null ? null : `--max-semi-space-size=${maxSemiSpaceMiB}`].filter(Boolean);
}

/**
 * An --n8n-heap setting: 'default' or MiB of old space ('512'), either followed by '/MiB' of young-generation
 * semi-space ('512/8', 'default/8'); undefined when it is not one.
 */
export function parseHeap(heap) {
	const match = /^(default|\d+)(?:\/(\d+))?$/.exec(heap);
	if (!match) return undefined;
	return { oldSpaceMiB: match[1] === 'default' ? null : Number(match[1]), semiSpaceMiB: match[2] === undefined ? null : Number(match[2]) };
}

/** The V8 heap the scenario processes get (their flags, and as said in the header and results.json). */
function heapLimit(maxOldSpaceMiB, maxSemiSpaceMiB) {
	const old =
		maxOldSpaceMiB === null
			? `V8 heap limit ${int(v8.getHeapStatistics().heap_size_limit / 2 ** 20)} MiB (default)`
			: `V8 old space capped at ${int(maxOldSpaceMiB)} MiB (--max-old-space-size)`;
	const semi = maxSemiSpaceMiB === null ? '' : `, semi-space ${int(maxSemiSpaceMiB)} MiB (--max-semi-space-size)`;
	return { maxOldSpaceMiB, maxSemiSpaceMiB, description: old + semi, flags: v8HeapFlags(maxOldSpaceMiB, maxSemiSpaceMiB) };
}

/** Runs one scenario in a fresh child process; resolves with its result. */
export function runChild(task) {
	return new Promise((resolvePromise, reject) => {
		const started = process.hrtime.bigint();
		const loadBefore = os.loadavg()[0];
		const child = fork(join(here, 'scenario.mjs'), [], { execPath: process.execPath, execArgv: scenarioExecArgv, stdio: 'inherit' });
		let reply = null;
		child.on('message', (message) => {
			reply = message;
		});
		child.on('error', reject);
		child.on('exit', (code, signal) => {
			const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
			// The machine's 1-minute load average around the run: other work on it shows in wall seconds.
			const load = { before: loadBefore, after: os.loadavg()[0] };
			if (reply?.ok) resolvePromise({ ...reply.result, processWallSeconds: wallSeconds, maxRssKB: reply.final.maxRssKB, load });
			else reject(new Error(reply?.error ?? `the ${task.mode} scenario exited with ${signal ?? `code ${code}`} and no result`));
		});
		child.send(task);
	});
}

/**
 * Starts bench/rest-server.mjs for a district (`auth`: how the server checks requests, a bearer token by default);
 * resolves with its address, cpuSeconds() (its CPU so far) and a stop().
 */
export function startRestServer(district, latencyMs, auth) {
	return new Promise((resolvePromise, reject) => {
		const child = fork(join(here, 'rest-server.mjs'), [], { execPath: process.execPath, execArgv: ['--disable-warning=ExperimentalWarning', '--expose-gc'], stdio: 'inherit' });
		child.once('message', (message) => {
			if (!message.ok) {
				reject(new Error(message.error));
				return;
			}
			const exited = new Promise((done) => child.once('exit', done));
			const cpuSeconds = () =>
				new Promise((answered) => {
					child.once('message', (reply) => answered(reply.cpuMicros / 1e6));
					child.send('cpu');
				});
			resolvePromise({ ...message, cpuSeconds, stop: async () => { child.send('stop'); await exited; } });
		});
		child.once('error', reject);
		child.send({ district, latencyMs, auth });
	});
}

const median = (values) => {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Repeated runs of one scenario → the first run with median times and max memory; the raw runs kept. */
function combineRuns(runs) {
	if (runs.length === 1) return runs[0];
	const combined = structuredClone(runs[0]);
	for (const key of ['seconds', 'cpuSeconds', 'systemSeconds', 'bytesWritten', 'readSeconds', 'insertSeconds']) if (key in combined) combined[key] = median(runs.map((run) => run[key]));
	combined.maxRssKB = Math.max(...runs.map((run) => run.maxRssKB));
	for (const name of Object.keys(combined.phases)) {
		const phases = runs.map((run) => run.phases[name]);
		Object.assign(combined.phases[name], {
			seconds: median(phases.map((p) => p.seconds)),
			cpuSeconds: median(phases.map((p) => p.cpuSeconds)),
			systemSeconds: median(phases.map((p) => p.systemSeconds)),
			bytesWritten: median(phases.map((p) => p.bytesWritten)),
			peakRssSampled: Math.max(...phases.map((p) => p.peakRssSampled)),
			maxRssKB: Math.max(...phases.map((p) => p.maxRssKB)),
			ownPeakRssKB: Math.max(...phases.map((p) => p.ownPeakRssKB ?? 0)) || null,
		});
	}
	combined.runs = runs.map((run) => ({ seconds: run.seconds, cpuSeconds: run.cpuSeconds, systemSeconds: run.systemSeconds, bytesWritten: run.bytesWritten, maxRssKB: run.maxRssKB, phases: Object.fromEntries(Object.entries(run.phases).map(([k, p]) => [k, p.seconds])) }));
	return combined;
}

function removeSqlite(path) {
	for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

function csvBytes(dir) {
	let bytes = 0;
	for (const name of readdirSync(dir)) if (name.endsWith('.csv')) bytes += statSync(join(dir, name)).size;
	return bytes;
}

// ───────────── PostgreSQL ─────────────

/** Databases for the runs: on a throwaway server (test/support/postgres.ts) or through --pg-url. */
async function postgresProvider(args) {
	const { Client } = require('pg');
	let server;
	let admin;
	let stop = async () => {};
	if (args.pgUrl) {
		const url = new URL(args.pgUrl);
		const login = {
			host: url.hostname,
			port: Number(url.port || 5432),
			user: decodeURIComponent(url.username),
			password: decodeURIComponent(url.password),
			database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
		};
		admin = { ...login };
		server = { ...login, version: '(given)', description: `${login.host}:${login.port} (--pg-url)` };
	} else {
		const { startPostgres } = loadTypeScript('test/support/postgres.ts');
		const started = process.hrtime.bigint();
		// PostgreSQL's own default shared_buffers (the tests' servers use 32MB); BENCH_PG_LOG_MS logs slower statements.
		const settings = { shared_buffers: '128MB', ...(process.env.BENCH_PG_LOG_MS ? { log_min_duration_statement: process.env.BENCH_PG_LOG_MS } : {}) };
		const pg = await startPostgres(settings);
		server = { host: pg.host, port: pg.port, user: pg.user, password: pg.password, version: pg.version, description: `throwaway server ${pg.host}:${pg.port} (test/support/postgres.ts: fsync off, synchronous_commit off, shared_buffers 128MB)` };
		admin = { host: pg.host, port: pg.port, user: pg.adminUser, password: pg.adminPassword, database: 'postgres' };
		stop = async () => {
			if (process.env.BENCH_PG_LOG_MS) {
				const { copyFileSync } = await import('node:fs');
				copyFileSync(join(pg.baseDir, 'postgres.log'), join(os.tmpdir(), 'rostersync-bench-postgres.log'));
				console.log(`postgres log → ${join(os.tmpdir(), 'rostersync-bench-postgres.log')}`);
			}
			await pg.stop();
		};
		server.startSeconds = Number(process.hrtime.bigint() - started) / 1e9;
	}
	let counter = 0;
	const created = [];
	const adminQuery = async (sql) => {
		const client = new Client({ ...admin, ssl: false });
		await client.connect();
		try {
			return await client.query(sql);
		} finally {
			await client.end();
		}
	};
	return {
		server,
		async database(label) {
			const name = `rostersync_bench_${process.pid}_${++counter}_${label}`.replace(/[^a-z0-9_]/g, '_');
			await adminQuery(`CREATE DATABASE "${name}" OWNER "${server.user}"`);
			created.push(name);
			return { engine: 'postgres', host: server.host, port: server.port, user: server.user, password: server.password, database: name, ssl: false };
		},
		async drop(config) {
			await adminQuery(`DROP DATABASE IF EXISTS "${config.database}"`);
		},
		stop,
	};
}

// ───────────── output ─────────────

const int = (n) => Math.round(n).toLocaleString('en-US');
const secs = (s) => (s === undefined || s === null ? '' : s.toFixed(2));
const mib = (kb) => (kb === undefined ? '' : `${int(kb / 1024)} MiB`);
/** Bytes as MiB for the tables ('' when not measured). */
const mibOfBytes = (bytes) => mib(bytes === undefined ? undefined : bytes / 1024);
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(1)}×` : '');

function table(rows) {
	const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c] ?? '').length)));
	return rows
		.map((row) =>
			row
				.map((cell, c) => (c === 0 ? String(cell ?? '').padEnd(widths[c]) : String(cell ?? '').padStart(widths[c])))
				.join('   ')
				.trimEnd(),
		)
		.join('\n');
}

const loadText = (load) => (load ? `${load.before.toFixed(1)}→${load.after.toFixed(1)}` : '');

const indent = (text) =>
	text
		.split('\n')
		.map((line) => `   ${line}`)
		.join('\n');

function printEngine(size, engine) {
	const e = size.engines[engine];
	const f = e.floor;
	console.log('');
	console.log(`── ${int(size.students)} students · ${engine}${size.repeat > 1 ? ` · median of ${size.repeat}` : ''}${size.profiled ? ' · PROFILED (timings inflated)' : ''}`);
	const header = ['scenario', 'wall s', 'cpu s', 'of it sys s', 'written', '× floor', 'peak RSS', ...PHASES.map((p) => `${p} s`), 'load'];
	const rows = [header];
	for (const [name, s] of Object.entries(e.scenarios)) {
		rows.push([`${name}: ${SCENARIOS[name]}`, secs(s.seconds), secs(s.cpuSeconds), secs(s.systemSeconds), mibOfBytes(s.bytesWritten), f ? ratio(s.seconds, f.seconds) : '', mib(s.maxRssKB), ...PHASES.map((p) => secs(s.phases[p]?.seconds)), loadText(s.load)]);
	}
	if (f) rows.push([`floor: read ${secs(f.readSeconds)} + insert ${secs(f.insertSeconds)} (${int(f.rows)} rows)`, secs(f.seconds), secs(f.phases.floor.cpuSeconds), secs(f.phases.floor.systemSeconds), mibOfBytes(f.phases.floor.bytesWritten), '1.0×', mib(f.maxRssKB), ...PHASES.map(() => ''), loadText(f.load)]);
	console.log(indent(table(rows)));
	const full = e.scenarios.full;
	if (full) {
		console.log(
			indent(
				`full: staged ${int(full.staged.rows)} rows; ${int(full.normalized.counts.people.student)} students, ${int(full.normalized.counts.contacts)} contacts, ` +
					`${int(full.normalized.counts.enrollments)} enrollments; created ${int(full.reconciled.created)} people, ${int(full.lists.lists)} lists, ${int(full.lists.membersAdded)} members`,
			),
		);
	}
	for (const [name, s] of Object.entries(e.scenarios)) {
		const own = PHASES.filter((p) => s.phases[p]?.ownPeakRssKB).map((p) => `${p} ${mib(s.phases[p].ownPeakRssKB)}`);
		if (own.length > 0) console.log(indent(`${name}: peak RSS within each phase: ${own.join(', ')}`));
		const cpu = PHASES.filter((p) => s.phases[p]?.systemSeconds !== undefined).map((p) => `${p} ${secs(s.phases[p].cpuSeconds)} (${secs(s.phases[p].systemSeconds)})`);
		if (cpu.length > 0) console.log(indent(`${name}: cpu s (of it sys s) within each phase: ${cpu.join(', ')}`));
	}
	const nights = Object.entries(e.scenarios);
	const grown = nights.map(([name, s], i) => `${name} ${i === 0 ? '' : '+'}${((s.storeBytesInUse - (i === 0 ? 0 : nights[i - 1][1].storeBytesInUse)) / 2 ** 20).toFixed(1)} MiB`);
	console.log(indent(`store in use after each night (what the night added, kept for the retention): ${grown.join(', ')}`));
	for (const name of ['day2', 'delta', 'delta2']) {
		const s = e.scenarios[name];
		if (!s) continue;
		const { created, restored, updated, archived } = s.reconciled;
		console.log(indent(`${name}: created ${int(created)}, restored ${int(restored)}, updated ${int(updated)}, archived ${int(archived)}; members +${int(s.lists.membersAdded)} −${int(s.lists.membersRemoved)}`));
	}
	// Which way Reconcile Users and Build Lists planned each night (results from before these fields: not shown).
	const how = nights
		.filter(([, s]) => s.reconciled.plannedFromChanges !== undefined)
		.map(([name, s]) => {
			const reconcile = s.reconciled.plannedFromChanges ? `${int(s.reconciled.plannedFromChanges.records)} records from changes` : 'whole roster';
			const from = s.lists.plannedFromChanges;
			const lists = s.lists.unchangedSince ? 'nothing (unchanged)' : from ? `${int(from.lists)} lists from changes${from.readEnrollments ? ', enrollments read' : ''}` : 'every list';
			return `${name} ${reconcile} / ${lists}`;
		});
	if (how.length > 0) console.log(indent(`planned (Reconcile Users / Build Lists): ${how.join('; ')}`));
	if (engine === 'postgres') console.log(indent('(PostgreSQL: cpu s, written and RSS are the Node process only; the server’s work shows in wall s)'));
}

function printParsers(size) {
	const p = size.parsers;
	if (!p || p.error) return;
	const mbps = (s) => `${int(size.generated.csvBytes / 2 ** 20 / s)} MiB/s`;
	console.log(
		indent(
			`parsing alone (best of 2, ${int(p.scanner.records)} records): csv-parse ${secs(p['csv-parse'].cpuSeconds)} cpu s (${mbps(p['csv-parse'].seconds)}), ` +
				`the engine's scanner ${secs(p.scanner.cpuSeconds)} cpu s (${mbps(p.scanner.seconds)}): ${ratio(p['csv-parse'].cpuSeconds, p.scanner.cpuSeconds)} less CPU`,
		),
	);
}

function printRest(size) {
	const r = size.rest;
	if (!r) return;
	console.log('');
	if (r.error) {
		console.log(`── ${int(size.students)} students · scenario 5, OneRoster REST fetch: failed (${r.error})`);
		return;
	}
	console.log(
		`── ${int(size.students)} students · scenario 5, OneRoster REST fetch (OneRoster 1.1, ${r.latencyMs} ms a request, page size ${int(r.pageSize)}, concurrency ${r.concurrency}, sqlite)`,
	);
	console.log(
		indent(
			`${int(r.stagedRows)} rows staged from ${int(r.pages)} pages in ${int(r.requests)} requests: ${secs(r.seconds)} s (cpu ${secs(r.cpuSeconds)} s, peak RSS ${mib(r.maxRssKB)}); ` +
				`ideal pages × latency ÷ concurrency = ${secs(r.idealSeconds)} s → ${(r.seconds / r.idealSeconds).toFixed(2)}× the ideal (goal ≤ 1.2×)` +
				(r.closeSeconds === undefined ? '' : `; then closing the store took ${secs(r.closeSeconds)} s (it copies the pull's write-ahead log into its file)`),
		),
	);
	if (r.floor) {
		const f = r.floor;
		console.log(
			indent(
				`floor: the same ${int(f.pages)} pages fetched and JSON.parse'd, nothing staged: ${secs(f.seconds)} s (cpu ${secs(f.cpuSeconds)} s) = ${(f.seconds / r.idealSeconds).toFixed(2)}× the ideal; ` +
					`the pull is ${(r.seconds / f.seconds).toFixed(2)}× its floor`,
			),
		);
	}
	if (r.serverCpuSeconds !== undefined) {
		console.log(indent(`test server (its own process): cpu ${secs(r.serverCpuSeconds)} s during the pull; load average ${r.load.before.toFixed(2)} → ${r.load.after.toFixed(2)}`));
	}
}

function printLinearity(results) {
	const sizes = results.sizes;
	if (sizes.length < 2) return;
	console.log('');
	console.log('── linearity: seconds per 1,000 students, and each step’s growth beyond linear ((t₂/t₁)/(n₂/n₁); 1.00 = linear)');
	const rows = [['engine · scenario', ...sizes.map((s) => `${int(s.students)}`), ...sizes.slice(1).map((s, i) => `step ${int(sizes[i].students / 1000)}k→${int(s.students / 1000)}k`)]];
	for (const engine of results.options.engines) {
		for (const name of [...results.options.scenarios, 'floor']) {
			const t = sizes.map((s) => (name === 'floor' ? s.engines[engine]?.floor?.seconds : s.engines[engine]?.scenarios[name]?.seconds));
			if (t.every((v) => v === undefined)) continue;
			rows.push([
				`${engine} · ${name}`,
				...t.map((v, i) => (v === undefined ? '' : (v / (sizes[i].students / 1000)).toFixed(3))),
				...t.slice(1).map((v, i) => (v === undefined || t[i] === undefined ? '' : ((v / t[i]) / (sizes[i + 1].students / sizes[i].students)).toFixed(2))),
			]);
		}
	}
	console.log(indent(table(rows)));
}

/** The issue's goals, checked at the size they are set for (or, marked so, the largest size run). */
function evaluateGoals(results) {
	const size = results.sizes.find((s) => s.students === GOALS.students) ?? results.sizes[results.sizes.length - 1];
	if (!size) return [];
	const at = size.students === GOALS.students ? '' : ` (goals are set for ${int(GOALS.students)}; this run's largest size is ${int(size.students)})`;
	const goals = [];
	const check = (name, value, limit, unit, engine) => {
		if (value === undefined) return;
		goals.push({ engine, goal: name, value, limit, unit, met: value <= limit, by: value / limit });
	};
	for (const engine of Object.keys(size.engines)) {
		const e = size.engines[engine];
		check('full sync seconds', e.scenarios.full?.seconds, GOALS.fullSeconds, 's', engine);
		check('full sync peak RSS', e.scenarios.full ? e.scenarios.full.maxRssKB / 1024 : undefined, GOALS.fullRssMiB, 'MiB', engine);
		check('unchanged re-sync seconds', e.scenarios.same?.seconds, GOALS.sameSeconds, 's', engine);
		check('1 % delta seconds', e.scenarios.day2?.seconds, GOALS.day2Seconds, 's', engine);
		check('1 % delta seconds, as a delta set', e.scenarios.delta?.seconds, GOALS.day2Seconds, 's', engine);
		check('1 % delta seconds, a second delta night', e.scenarios.delta2?.seconds, GOALS.day2Seconds, 's', engine);
		if (e.floor && e.scenarios.full) check('full sync ÷ floor', e.scenarios.full.seconds / e.floor.seconds, GOALS.floorRatio, '×', engine);
	}
	if (size.rest && !size.rest.error) check('REST fetch ÷ ideal', size.rest.seconds / size.rest.idealSeconds, GOALS.restRatio, '×', 'rest');
	if (goals.length) {
		console.log('');
		console.log(`── goals at ${int(size.students)} students${at}`);
		const rows = [['engine', 'goal', 'measured', 'limit', 'met?']];
		for (const g of goals) rows.push([g.engine, g.goal, `${g.value.toFixed(2)} ${g.unit}`, `${g.limit} ${g.unit}`, g.met ? 'yes' : `NO (${((g.by - 1) * 100).toFixed(0)} % over)`]);
		console.log(indent(table(rows)));
	}
	return goals.map((g) => ({ ...g, students: size.students }));
}

// ───────────── main ─────────────

async function main() {
	let args;
	try {
		args = parseArgs(process.argv.slice(2));
	} catch (error) {
		console.error(error.message);
		console.error(USAGE);
		process.exit(2);
	}
	const machine = machineInfo();
	const heap = heapLimit(args.maxOldSpaceMiB, args.maxSemiSpaceMiB);
	scenarioExecArgv.push(...heap.flags, ...args.v8Flags);
	const v8Flags = args.v8Flags.length > 0 ? ` · V8 flags ${args.v8Flags.join(' ')}` : '';
	console.log(`rostersync bench · node ${machine.node} · ${machine.cpus} × ${machine.cpuModel} · ${machine.totalMemoryGiB} GiB · ${heap.description}${v8Flags}`);

	let engineDir;
	if (args.engineDir) {
		engineDir = args.engineDir;
		console.log(`engine: ${engineDir} (as given)`);
	} else {
		const build = buildEngine({ log: (line) => console.log(line) });
		engineDir = build.dir;
		console.log(`engine: ${build.cached ? 'compiled earlier' : `compiled in ${secs(build.seconds)} s`} → ${build.dir}`);
	}

	const results = {
		startedAt: new Date().toISOString(),
		machine,
		options: {
			heap,
			v8Flags: args.v8Flags,
			students: args.students,
			engines: args.engines,
			scenarios: args.scenarios,
			seed: args.seed,
			version: args.version,
			guidIds: args.guidIds,
			repeat: args.repeat,
			profiled: !!args.profile,
			engineDir: args.engineDir ?? null,
			settings: PIPELINE_SETTINGS,
		},
		goals: GOALS,
		sizes: [],
	};

	const work = mkdtempSync(join(os.tmpdir(), 'rostersync-bench-'));
	let pg = null;
	try {
		if (!args.inN8n && (args.engines.includes('postgres') || args.peer)) {
			try {
				pg = await postgresProvider(args);
				console.log(`postgres: ${pg.server.description}, version ${pg.server.version}${pg.server.startSeconds ? `, started in ${secs(pg.server.startSeconds)} s` : ''}`);
				results.machine.postgres = pg.server.version;
			} catch (error) {
				console.log(`note: no PostgreSQL (${String(error.message).split('\n')[0]}); the postgres runs are skipped`);
				args.engines = args.engines.filter((e) => e !== 'postgres');
				results.options.engines = args.engines;
			}
		}

		for (const students of args.peerOnly || args.inN8n ? [] : args.students) {
			const sizeDir = join(work, `students-${students}`);
			const district = join(sizeDir, 'day1');
			const day2 = join(sizeDir, 'day2');
			mkdirSync(sizeDir, { recursive: true });
			process.stdout.write(`\n${int(students)} students: generating… `);
			const options = { students, seed: args.seed, version: args.version, guidIds: args.guidIds };
			const back = join(sizeDir, 'day2-undone-delta');
			const again = join(sizeDir, 'day2-delta');
			const generated = await runChild({
				mode: 'generate',
				district,
				day2: args.scenarios.includes('day2') ? day2 : undefined,
				day2UndoneDelta: args.scenarios.includes('delta') ? back : undefined,
				day2Delta: args.scenarios.includes('delta2') ? again : undefined,
				options,
				dayTwoOptions: {},
			});
			process.stdout.write('parsers… ');
			// An engine without the scanner (e.g. an older one given with --engine-dir) has nothing to compare.
			const parsers = await runChild({ mode: 'parsers', engineDir, district }).catch((error) => ({ parsers: { error: String(error.message).split('\n')[0] } }));
			const size = {
				students,
				seed: args.seed,
				version: args.version,
				guidIds: args.guidIds,
				repeat: args.repeat,
				profiled: !!args.profile,
				generated: { seconds: generated.seconds, counts: generated.counts, csvBytes: csvBytes(district), day2: generated.day2 },
				parsers: parsers.parsers,
				engines: {},
			};
			for (const engine of args.engines) {
				const chains = [];
				const floors = [];
				for (let r = 0; r < args.repeat; r++) {
					const store = engine === 'postgres' ? await pg.database(`s${students}_r${r}`) : { engine: 'sqlite', path: join(sizeDir, `roster-${engine}-${r}.sqlite`) };
					const chain = {};
					for (const name of args.scenarios) {
						process.stdout.write(`${engine} ${name}… `);
						let profileDir;
						if (args.profile && r === 0) {
							profileDir = join(args.profile, `students-${students}`, engine, name);
							mkdirSync(profileDir, { recursive: true });
						}
						chain[name] = await runChild({
							mode: 'pipeline',
							engineDir,
							district: { day2, delta: back, delta2: again }[name] ?? district,
							store,
							settings: PIPELINE_SETTINGS,
							profileDir,
						});
					}
					if (store.engine === 'sqlite') {
						chain.storeBytes = ['', '-wal'].reduce((sum, suffix) => sum + (existsSync(store.path + suffix) ? statSync(store.path + suffix).size : 0), 0);
						if (!args.keep) removeSqlite(store.path);
					} else if (!args.keep) await pg.drop(store);
					chains.push(chain);

					process.stdout.write(`${engine} floor… `);
					const floorStore = engine === 'postgres' ? await pg.database(`floor_s${students}_r${r}`) : { engine: 'sqlite', path: join(sizeDir, `floor-${r}.sqlite`) };
					floors.push(await runChild({ mode: 'floor', engineDir, district, store: floorStore }));
					if (floorStore.engine === 'sqlite') removeSqlite(floorStore.path);
					else await pg.drop(floorStore);
				}
				size.engines[engine] = {
					scenarios: Object.fromEntries(args.scenarios.map((name) => [name, combineRuns(chains.map((chain) => chain[name]))])),
					storeBytes: chains[0].storeBytes,
					floor: combineRuns(floors),
				};
				const e = size.engines[engine];
				e.ratios = Object.fromEntries(Object.entries(e.scenarios).map(([name, s]) => [name, s.seconds / e.floor.seconds]));
			}
			if (args.rest) {
				process.stdout.write('rest… ');
				const server = await startRestServer(district, args.restLatency);
				try {
					const store = { engine: 'sqlite', path: join(sizeDir, 'rest.sqlite') };
					let profileDir;
					if (args.profile) {
						profileDir = join(args.profile, `students-${students}`, 'rest');
						mkdirSync(profileDir, { recursive: true });
					}
					const serverCpuBefore = await server.cpuSeconds();
					size.rest = await runChild({
						mode: 'rest',
						engineDir,
						profileDir,
						store,
						url: server.url,
						token: server.token,
						latencyMs: args.restLatency,
						pageSize: args.restPageSize,
						concurrency: args.restConcurrency,
					});
					size.rest.serverRecords = server.records;
					const serverCpuAfterPull = await server.cpuSeconds();
					size.rest.serverCpuSeconds = serverCpuAfterPull - serverCpuBefore;
					size.rest.floor = await runChild({
						mode: 'restFloor',
						engineDir,
						url: server.url,
						token: server.token,
						records: server.records,
						pageSize: args.restPageSize,
						concurrency: args.restConcurrency,
					});
					size.rest.floor.serverCpuSeconds = (await server.cpuSeconds()) - serverCpuAfterPull;
					if (!args.keep) removeSqlite(store.path);
				} catch (error) {
					size.rest = { error: String(error.message).split('\n')[0] };
				} finally {
					await server.stop();
				}
			}
			process.stdout.write('done\n');
			if (!args.keep) rmSync(sizeDir, { recursive: true, force: true });
			results.sizes.push(size);
			console.log(
				`   district: ${int(size.generated.counts.users)} users (${int(size.generated.counts.guardians)} guardians), ${int(size.generated.counts.classes)} classes, ` +
					`${int(size.generated.counts.enrollments)} enrollments · ${int(size.generated.csvBytes / 2 ** 20)} MiB of CSV` +
					(size.generated.day2 ? ` · day 2: ${int(size.generated.day2.changed)} changed, ${int(size.generated.day2.gone)} gone, ${int(size.generated.day2.added)} new` : ''),
			);
			printParsers(size);
			for (const engine of Object.keys(size.engines)) printEngine(size, engine);
			printRest(size);

			if (args.profile) {
				if (size.rest?.phases?.fetch?.profile) {
					const file = size.rest.phases.fetch.profile;
					console.log('');
					console.log(formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8'))), { top: 15, title: `rest · fetch, ${int(students)} students (${file})` }));
				}
				for (const engine of Object.keys(size.engines)) {
					for (const [name, s] of Object.entries(size.engines[engine].scenarios)) {
						for (const phaseName of PHASES) {
							const file = s.phases[phaseName]?.profile;
							if (!file) continue;
							const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')));
							console.log('');
							console.log(formatSummary(summary, { top: 12, title: `${engine} · ${name} · ${phaseName}, ${int(students)} students (${file})` }));
						}
					}
				}
			}
		}
		printLinearity(results);
		results.goalChecks = evaluateGoals(results);

		if (args.inN8n) {
			const { runInN8n } = await import('./in-n8n.mjs');
			results.inN8n = await runInN8n({ args, work, engineDir });
		} else if (args.peer) {
			const { runPeer } = await import('./peer.mjs');
			results.peer = await runPeer({ args, work, pg, results, engineDir });
		}
	} finally {
		if (pg) await pg.stop().catch(() => undefined);
		if (args.keep) console.log(`\nkept the districts and stores in ${work}`);
		else rmSync(work, { recursive: true, force: true });
	}

	results.finishedAt = new Date().toISOString();
	mkdirSync(dirname(args.out), { recursive: true });
	writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
	console.log(`\nresults → ${args.out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	main().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}

export { projectRoot, int, median, secs, mib, mibOfBytes, ratio, table, indent };
