#!/usr/bin/env node
/**
 * The sync benchmark: synthetic OneRoster districts through CSV ingest and Normalize, with a floor.
 *
 *   npm run bench                                   10,000 students (the CI default)
 *   npm run bench -- --students 10000,100000        several sizes, one after another
 *   npm run bench -- --students 100000 --profile /tmp/prof   + per-phase CPU profiles, summarised
 *
 * Flags: --students N[,N…] (default 10000) · --seed S (default 1) · --version 1.1|1.2 (default 1.1)
 *        --engine sqlite|postgres (default sqlite) · --out FILE (default bench/results.json)
 *        --repeat N (run each scenario N times, each in a fresh process and store; report median times and
 *        max memory) · --profile DIR (write ingest/normalize .cpuprofile files of the first run there and
 *        print their top functions; profiling slows the run, so its timings are marked as profiled)
 *        --engine-dir DIR (benchmark an engine compiled elsewhere, e.g. `dist` or a patched copy, for A/B
 *        comparisons; it must mirror the project: DIR/nodes/shared/…) · --keep (keep the temp files)
 *        --pg-url postgres://user:password@host:port/database (or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)
 *
 * Per size: the district is generated into a temp dir (timed apart, not part of the sync). Then a
 * fresh child process (bench/scenario.mjs) runs ingest — stageRun with oneRosterCsvSource over
 * openFolderFileSet into a fresh store — and normalize (normalizeRun), timing each phase and taking
 * its peak RSS; a second fresh child runs the floor (naive read + split of the same CSV bytes, and a
 * bulk insert of as many rows into SQLite in one transaction). The engine is compiled from
 * nodes/shared with the TypeScript compiler into a cache in the OS temp dir (bench/build-engine.mjs).
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildEngine } from './build-engine.mjs';
import { loadGenerator } from './generate.mjs';
import { formatSummary, summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: npm run bench -- [--students 10000[,100000]] [--seed 1] [--version 1.1|1.2]
                      [--engine sqlite|postgres] [--pg-url postgres://…] [--out bench/results.json]
                      [--repeat N] [--profile DIR] [--engine-dir DIR] [--keep]`;

function parseArgs(argv) {
	const args = { students: [10000], seed: 1, version: '1.1', engine: 'sqlite', out: join(here, 'results.json'), repeat: 1, keep: false };
	const value = (i, name) => {
		const v = argv[i + 1];
		if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
		return v;
	};
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		switch (arg) {
			case '--students':
				args.students = value(i++, arg)
					.split(',')
					.map((s) => Number(s.replace(/_/g, '').trim()));
				if (args.students.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--students takes positive integers, e.g. 10000,100000');
				break;
			case '--seed':
				args.seed = Number(value(i++, arg));
				if (!Number.isInteger(args.seed)) throw new Error('--seed must be an integer');
				break;
			case '--version':
				args.version = value(i++, arg);
				if (!['1.1', '1.2'].includes(args.version)) throw new Error('--version is 1.1 or 1.2');
				break;
			case '--engine':
				args.engine = value(i++, arg);
				if (!['sqlite', 'postgres'].includes(args.engine)) throw new Error('--engine is sqlite or postgres');
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
				args.repeat = Number(value(i++, arg));
				if (!Number.isInteger(args.repeat) || args.repeat < 1) throw new Error('--repeat takes a positive integer');
				break;
			case '--engine-dir':
				args.engineDir = resolve(value(i++, arg));
				break;
			case '--keep':
				args.keep = true;
				break;
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

/** A PostgreSQL connection from --pg-url or the PG* environment variables; null when none is given. */
function postgresConnection(args) {
	if (args.pgUrl) {
		const url = new URL(args.pgUrl);
		return {
			host: url.hostname,
			port: Number(url.port || 5432),
			database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
			user: decodeURIComponent(url.username),
			password: decodeURIComponent(url.password),
			ssl: url.searchParams.get('sslmode') === 'require',
		};
	}
	const env = process.env;
	if (!env.PGHOST) return null;
	return {
		host: env.PGHOST,
		port: Number(env.PGPORT || 5432),
		database: env.PGDATABASE || env.PGUSER || 'postgres',
		user: env.PGUSER || os.userInfo().username,
		password: env.PGPASSWORD || '',
		ssl: env.PGSSLMODE === 'require',
	};
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

/** Runs one scenario in a fresh child process; resolves with its result. */
function runChild(task) {
	return new Promise((resolvePromise, reject) => {
		const started = process.hrtime.bigint();
		const child = fork(join(here, 'scenario.mjs'), [], { execPath: process.execPath, execArgv: ['--disable-warning=ExperimentalWarning'], stdio: 'inherit' });
		let reply = null;
		child.on('message', (message) => {
			reply = message;
		});
		child.on('error', reject);
		child.on('exit', (code, signal) => {
			const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
			if (reply?.ok) resolvePromise({ ...reply.result, processWallSeconds: wallSeconds, processMaxRssKB: reply.final.maxRssKB });
			else reject(new Error(reply?.error ?? `the ${task.mode} scenario exited with ${signal ?? `code ${code}`} and no result`));
		});
		child.send(task);
	});
}

const median = (values) => {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Repeated runs of one scenario → the first run's result with per-phase median times and max memory; raw runs kept. */
function combineRuns(runs) {
	if (runs.length === 1) return runs[0];
	const combined = structuredClone(runs[0]);
	for (const name of Object.keys(combined.phases)) {
		const phases = runs.map((run) => run.phases[name]);
		Object.assign(combined.phases[name], {
			seconds: median(phases.map((p) => p.seconds)),
			cpuSeconds: median(phases.map((p) => p.cpuSeconds)),
			peakRssSampled: Math.max(...phases.map((p) => p.peakRssSampled)),
			maxRssKB: Math.max(...phases.map((p) => p.maxRssKB)),
		});
	}
	for (const key of ['readSeconds', 'insertSeconds']) if (key in combined) combined[key] = median(runs.map((run) => run[key]));
	combined.runs = runs.map((run) => ({ phases: run.phases, ...('readSeconds' in run ? { readSeconds: run.readSeconds, insertSeconds: run.insertSeconds } : {}) }));
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

// ───────────── output ─────────────

const int = (n) => Math.round(n).toLocaleString('en-US');
const secs = (s) => (s === undefined ? '' : s.toFixed(2));
const mb = (bytes) => (bytes === undefined ? '' : `${int(bytes / 2 ** 20)} MB`);
const kbAsMb = (kb) => (kb === undefined ? '' : `${int(kb / 1024)} MB`);
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

function printSize(entry) {
	const { students, seed, generated, sync, floor } = entry;
	const c = generated.counts;
	console.log('');
	console.log(
		`── ${int(students)} students · seed ${seed} · OneRoster ${entry.version} · ${entry.engine}${entry.repeat > 1 ? ` · median of ${entry.repeat} runs` : ''}${entry.profiled ? ' · PROFILED (timings inflated)' : ''}`,
	);
	console.log(
		`   district: ${int(c.users)} users (${int(c.guardians)} guardians), ${int(c.classes)} classes, ${int(c.enrollments)} enrollments, ` +
			`${int(c.demographics)} demographics · ${mb(generated.csvBytes)} of CSV · generated in ${secs(generated.seconds)} s (not measured)`,
	);
	if (!sync) {
		console.log(`   sync: skipped (${entry.skipped})`);
		return;
	}
	const rows = sync.staged.rows;
	const p = sync.phases;
	const syncSeconds = p.ingest.seconds + p.normalize.seconds;
	const header = ['phase', 'wall s', 'cpu s', 'rows/s', 'peak RSS (50 ms samples)', 'maxRSS (high-water)'];
	const body = [
		['open store', secs(p.open.seconds), secs(p.open.cpuSeconds), '', mb(p.open.peakRssSampled), kbAsMb(p.open.maxRssKB)],
		['ingest', secs(p.ingest.seconds), secs(p.ingest.cpuSeconds), int(rows / p.ingest.seconds), mb(p.ingest.peakRssSampled), kbAsMb(p.ingest.maxRssKB)],
		['normalize', secs(p.normalize.seconds), secs(p.normalize.cpuSeconds), int(rows / p.normalize.seconds), mb(p.normalize.peakRssSampled), kbAsMb(p.normalize.maxRssKB)],
		['ingest + normalize', secs(syncSeconds), secs(p.ingest.cpuSeconds + p.normalize.cpuSeconds), int(rows / syncSeconds), mb(Math.max(p.ingest.peakRssSampled, p.normalize.peakRssSampled)), kbAsMb(p.normalize.maxRssKB)],
	];
	if (floor) {
		const f = floor.phases.floor;
		body.push([
			`floor (read ${secs(floor.readSeconds)} + insert ${secs(floor.insertSeconds)})`,
			secs(f.seconds),
			secs(f.cpuSeconds),
			int(floor.rows / f.seconds),
			mb(f.peakRssSampled),
			kbAsMb(f.maxRssKB),
		]);
	}
	console.log(
		table([header, ...body])
			.split('\n')
			.map((line) => `   ${line}`)
			.join('\n'),
	);
	console.log(
		`   staged ${int(rows)} rows (${int(sync.staged.skipped)} skipped); normalized: ${int(sync.normalized.counts.people.student)} students, ` +
			`${int(sync.normalized.counts.contacts)} contacts, ${int(sync.normalized.counts.enrollments)} enrollments; rows/s = staged rows ÷ phase wall time`,
	);
	if (entry.engine === 'postgres') console.log('   (PostgreSQL: cpu s and RSS are the Node process only; the server’s work shows in wall s)');
	if (floor) {
		console.log(
			`   floor: ${int(floor.rows)} rows; ingest = ${ratio(p.ingest.seconds, floor.phases.floor.seconds)} floor, ` +
				`ingest + normalize = ${ratio(syncSeconds, floor.phases.floor.seconds)} floor (goal: ≤ 4×)`,
		);
	}
}

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
	console.log(`rostersync bench · node ${machine.node} · ${machine.cpus} × ${machine.cpuModel} · ${machine.totalMemoryGiB} GiB`);

	let pg = null;
	if (args.engine === 'postgres') {
		pg = postgresConnection(args);
		if (!pg) {
			console.log(
				'note: --engine postgres needs a connection (--pg-url postgres://user:password@host:port/db, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE); ' +
					'none given, so the sync runs are skipped (the floor still runs). The PostgreSQL benchmark proper comes in a later issue.',
			);
		} else {
			console.log(`note: PostgreSQL at ${pg.host}:${pg.port}/${pg.database}: use a scratch database; the bench leaves its run rows there (staging and snapshot rows are removed).`);
		}
	}

	let engineDir;
	if (args.engineDir) {
		engineDir = args.engineDir;
		console.log(`engine: ${engineDir} (as given)`);
	} else {
		const build = buildEngine({ log: (line) => console.log(line) });
		engineDir = build.dir;
		console.log(`engine: ${build.cached ? 'compiled earlier' : `compiled in ${secs(build.seconds)} s`} → ${build.dir}`);
	}
	loadGenerator(); // transpiles and caches the generator once, before the children use it

	const work = mkdtempSync(join(os.tmpdir(), 'rostersync-bench-run-'));
	const results = {
		startedAt: new Date().toISOString(),
		machine,
		options: {
			students: args.students,
			seed: args.seed,
			version: args.version,
			engine: args.engine,
			repeat: args.repeat,
			profiled: !!args.profile,
			engineDir: args.engineDir ?? null,
		},
		sizes: [],
	};
	try {
		for (const students of args.students) {
			const sizeDir = join(work, `students-${students}`);
			const district = join(sizeDir, 'district');
			const entry = { students, seed: args.seed, version: args.version, engine: args.engine, repeat: args.repeat, profiled: !!args.profile };
			process.stdout.write(`\n${int(students)} students: generating… `);
			// In a child too: on Linux a child's maxRSS starts at its parent's RSS when spawned, so the parent stays small.
			const generated = await runChild({ mode: 'generate', district, options: { students, seed: args.seed, version: args.version } });
			entry.generated = { seconds: generated.seconds, counts: generated.counts, csvBytes: csvBytes(district) };

			let profileDir;
			if (args.engine === 'postgres' && !pg) {
				entry.skipped = 'no PostgreSQL connection given';
			} else {
				process.stdout.write('ingest + normalize… ');
				if (args.profile) {
					profileDir = join(args.profile, `students-${students}`);
					mkdirSync(profileDir, { recursive: true });
				}
				const runs = [];
				for (let r = 0; r < args.repeat; r++) {
					const store = pg ? { engine: 'postgres', ...pg } : { engine: 'sqlite', path: join(sizeDir, `roster-${r}.sqlite`) };
					const run = await runChild({ mode: 'sync', engineDir, district, store, profileDir: r === 0 ? profileDir : undefined, cleanup: !!pg });
					if (store.engine === 'sqlite') {
						run.storeBytes = statSync(store.path).size;
						if (!args.keep) removeSqlite(store.path);
					}
					runs.push(run);
				}
				entry.sync = combineRuns(runs);
			}
			process.stdout.write('floor… ');
			const floors = [];
			for (let r = 0; r < args.repeat; r++) {
				const path = join(sizeDir, `floor-${r}.sqlite`);
				floors.push(await runChild({ mode: 'floor', district, store: { path } }));
				if (!args.keep) removeSqlite(path);
			}
			entry.floor = combineRuns(floors);
			process.stdout.write('done\n');
			results.machine.sqlite ??= entry.floor.sqliteVersion;
			if (!args.keep) rmSync(sizeDir, { recursive: true, force: true });

			if (entry.sync && entry.floor) {
				const f = entry.floor.phases.floor.seconds;
				const p = entry.sync.phases;
				entry.ratios = { ingestToFloor: p.ingest.seconds / f, syncToFloor: (p.ingest.seconds + p.normalize.seconds) / f };
			}
			results.sizes.push(entry);
			printSize(entry);

			if (profileDir && entry.sync) {
				for (const phaseName of ['ingest', 'normalize']) {
					const file = entry.sync.phases[phaseName].profile;
					const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')));
					console.log('');
					console.log(formatSummary(summary, { top: 15, title: `${phaseName} profile, ${int(students)} students (${file})` }));
				}
			}
		}
	} finally {
		if (args.keep) console.log(`\nkept the districts and stores in ${work}`);
		else rmSync(work, { recursive: true, force: true });
	}

	results.finishedAt = new Date().toISOString();
	mkdirSync(dirname(args.out), { recursive: true });
	writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
	console.log(`\nresults → ${args.out}`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});

