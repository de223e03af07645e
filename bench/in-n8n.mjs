/**
 * Our pipeline in the real n8n (`--in-n8n`): the packed package installed into a fresh n8n user folder (as an
 * operator installs it) and its nodes chained as the shipped template (workflows/nightly-sync-sftp.json) chains
 * them, run with `n8n execute` — the whole process timed, as the issue asks ("wall seconds and peak RSS of the
 * whole process"), with and without a cap on V8's heap:
 *
 *   Run now → [source] → Roster CSV Ingest → Roster Normalize → Roster Reconcile Users → Roster Build Lists → Roster Publish Report
 *
 * Sources (`--n8n-source disk,sftp,rest`): CSV Ingest has no local-folder source, so 'disk' reads the district with
 * n8n's own Read Files From Disk (<district>/*.csv), gathers the files into one item with Aggregate and passes
 * them as Binary Input (n8n keeps binary data on disk, its default; CSV Ingest then holds every file in memory
 * while it stages them); 'sftp' is the template as shipped, from a real sshd on 127.0.0.1 (test/support/sshd.ts)
 * serving a copy of the district; 'rest' is the API template (workflows/nightly-sync-api.json): OneRoster Fetch
 * pulls scenario 5's resources from scenario 5's server (bench/rest-server.mjs, OAuth 2 client credentials through
 * n8n's httpRequestWithAuthentication), night 1 only, beside scenario 5 itself on the same server. The template's
 * settings are replaced by the bench's (PIPELINE_SETTINGS:
 * Include primary parent contact, Auto update and Archive on, Dry run off; class rosters of the school-year
 * term, role and grade lists); the email nodes and the approval branch are left out. The store is the SQLite
 * credential on a file.
 *
 * Per size, source and heap setting (`--n8n-heap default,512,384,512/8`: NODE_OPTIONS=--max-old-space-size=N for
 * n8n, and with /S --max-semi-space-size=S), on a fresh store: night 1 (the district into an empty store), then
 * night 2 (the day-two set). Timed:
 * wall seconds and peak RSS (GNU time) of `n8n execute`, the execution's own seconds and each node's from the
 * run n8n prints, the highest RSS sampled while each node ran, and the wall seconds and peak RSS of a workflow
 * that does nothing (n8n's start-up and shut-down). Each night is checked against the store: the run completed
 * and reported, and its counts (people created, updated, archived; lists; members added, removed) equal those
 * of the bench scenario (bench/scenario.mjs) run on the same files in a bare Node process, shown alongside.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { loadTypeScript } from './generate.mjs';
import { executeTimed, failureOf, loadN8n, nothingWorkflow } from './n8n-execute.mjs';
import { indent, int, median, mib, mibOfBytes, parseHeap, projectRoot, runChild, secs, startRestServer, table, v8HeapFlags, PIPELINE_SETTINGS } from './run.mjs';

const TEMPLATE = join(projectRoot, 'workflows', 'nightly-sync-sftp.json');
const API_TEMPLATE = join(projectRoot, 'workflows', 'nightly-sync-api.json');
const READ = 'Read district files';
const AGGREGATE = 'One item';
const INGEST = 'Roster CSV Ingest';
const FETCH = 'Roster OneRoster Fetch';
const NORMALIZE = 'Roster Normalize';
const RECONCILE = 'Roster Reconcile Users';
const LISTS = 'Roster Build Lists';
const REPORT = 'Roster Publish Report';
/** The nodes whose own seconds are shown, in order. */
const TIMED_NODES = [
	[READ, 'read'],
	[AGGREGATE, 'aggregate'],
	[INGEST, 'ingest'],
	[FETCH, 'fetch'],
	[NORMALIZE, 'normalize'],
	[RECONCILE, 'reconcile'],
	[LISTS, 'lists'],
	[REPORT, 'report'],
];
/** Run counts that must match the bare-Node scenario's, per stage. */
const CHECKED = {
	reconciled: ['created', 'updated', 'archived'],
	lists: ['lists', 'membersAdded', 'membersRemoved'],
};

/**
 * The template's nightly chain with the bench's settings, reading `district`: from disk (`source` 'disk':
 * Read Files From Disk → Aggregate → CSV Ingest's Binary Input) or, as the template does, over SFTP
 * ('sftp': `district` is then the remote path).
 */
export function inN8nWorkflow(id, district, source = 'disk', restResources = []) {
	const first = source === 'rest' ? FETCH : INGEST;
	const template = JSON.parse(readFileSync(source === 'rest' ? API_TEMPLATE : TEMPLATE, 'utf8'));
	const keep = ['Run now', first, NORMALIZE, RECONCILE, LISTS, REPORT];
	const nodes = template.nodes.filter((node) => keep.includes(node.name));
	const node = (name) => nodes.find((n) => n.name === name);
	Object.assign(node(RECONCILE).parameters, PIPELINE_SETTINGS.reconcile, { dryRun: false });
	Object.assign(node(LISTS).parameters, PIPELINE_SETTINGS.lists);
	// The template's connections among the kept nodes (Normalize's Stopped and Reconcile's Held outputs go to the report).
	const connections = {};
	for (const [from, { main }] of Object.entries(template.connections)) {
		if (!keep.includes(from)) continue;
		connections[from] = { main: main.map((targets) => targets.filter((target) => keep.includes(target.node))) };
	}
	const workflow = { id, name: `RosterSync bench in n8n ${id}`, nodes, connections, active: false, settings: template.settings };
	if (source === 'rest') {
		// What scenario 5 pulls (the template leaves demographics out), page size and concurrency as the node's defaults.
		Object.assign(node(FETCH).parameters, { resources: restResources, pull: 'full' });
		return workflow;
	}
	const ingest = node(INGEST);
	if (source === 'sftp') {
		ingest.parameters.remotePath = district;
		return workflow;
	}
	ingest.parameters = { source: 'binary', binaryPropertyNames: '*', options: {} };
	delete ingest.credentials.rosterSftpApi;
	nodes.push(
		{ id: 'bench-read', name: READ, type: 'n8n-nodes-base.readWriteFile', typeVersion: 1, position: [100, 100], parameters: { operation: 'read', fileSelector: join(district, '*.csv'), options: {} } },
		{
			id: 'bench-aggregate',
			name: AGGREGATE,
			type: 'n8n-nodes-base.aggregate',
			typeVersion: 1,
			position: [200, 100],
			parameters: { aggregate: 'aggregateAllItemData', destinationFieldName: 'files', options: { includeBinaries: true } },
		},
	);
	const to = (target) => ({ main: [[{ node: target, type: 'main', index: 0 }]] });
	Object.assign(connections, { 'Run now': to(READ), [READ]: to(AGGREGATE), [AGGREGATE]: to(INGEST) });
	return workflow;
}

/** NODE_OPTIONS for a heap setting (parseHeap). */
function heapEnv(heap) {
	const { oldSpaceMiB, semiSpaceMiB } = parseHeap(heap);
	const flags = v8HeapFlags(oldSpaceMiB, semiSpaceMiB);
	if (flags.length === 0) return {};
	return { NODE_OPTIONS: [process.env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ') };
}

/** A heap setting as the tables say it. */
function heapLabel(heap) {
	const { oldSpaceMiB, semiSpaceMiB } = parseHeap(heap);
	return `${oldSpaceMiB === null ? 'default heap' : `heap ${oldSpaceMiB} MiB`}${semiSpaceMiB === null ? '' : `, semi-space ${semiSpaceMiB} MiB`}`;
}

/** The counts CHECKED of a run record (the store's) or of a bench scenario result. */
function countsOfRun(run) {
	return Object.fromEntries(Object.entries(CHECKED).flatMap(([stage, keys]) => keys.map((key) => [key, Number(run?.counts?.[stage]?.[key] ?? NaN)])));
}
function countsOfScenario(result) {
	const { created, updated, archived } = result.reconciled;
	const { lists, membersAdded, membersRemoved } = result.lists;
	return { created, updated, archived, lists, membersAdded, membersRemoved };
}

/**
 * From the run `n8n execute --rawOutput` printed and n8n's sampled RSS: the execution's own seconds
 * (startedAt → stoppedAt, i.e. without n8n's start-up and shut-down), each timed node's seconds and the
 * highest RSS sampled while it ran.
 */
function executionTimes(harness, stdout, rssSamples) {
	const run = stdout ? harness.jsonObjectsIn(stdout).find((value) => typeof value?.data?.resultData?.runData === 'object') : undefined;
	if (!run) return { executionSeconds: undefined, nodes: {}, nodePeakRssKB: {} };
	const runData = run.data.resultData.runData;
	const timed = TIMED_NODES.filter(([name]) => runData[name]);
	const peakWhile = (tasks) => {
		const inside = rssSamples.filter(([at]) => tasks.some((task) => at >= task.startTime && at <= task.startTime + (task.executionTime ?? 0)));
		return inside.length ? Math.max(...inside.map(([, kb]) => kb)) : undefined;
	};
	return {
		executionSeconds: run.startedAt && run.stoppedAt ? (Date.parse(run.stoppedAt) - Date.parse(run.startedAt)) / 1000 : undefined,
		nodes: Object.fromEntries(timed.map(([name, key]) => [key, runData[name].reduce((sum, task) => sum + (task.executionTime ?? 0), 0) / 1000])),
		nodePeakRssKB: Object.fromEntries(timed.map(([name, key]) => [key, peakWhile(runData[name])])),
	};
}

/**
 * Where the roster comes from (--n8n-source): how the heading and the table say it, the letter in its
 * workflow ids, and the nights run (REST only pulls night 1: the server serves one district).
 */
const SOURCES = {
	disk: { chain: 'Read Files From Disk + Aggregate → CSV Ingest', label: 'disk → binary', tag: 'D', nights: ['full', 'day2'] },
	sftp: { chain: 'SFTP → CSV Ingest', label: 'SFTP', tag: 'S', nights: ['full', 'day2'] },
	rest: { chain: 'OneRoster Fetch (REST)', label: 'REST', tag: 'R', nights: ['full'] },
};
/** The OAuth 2 client of the generic OneRoster credential, as the REST server checks it. */
const REST_CLIENT = { clientId: 'bench-client', clientSecret: 'bench-client-secret', tokenPath: '/oauth/token' };

export async function runInN8n({ args, work, engineDir }) {
	/** What scenario 5 pulls: everything the engine can. */
	const { REST_RESOURCES } = createRequire(import.meta.url)(join(engineDir, 'nodes/shared/sources/oneroster-rest/source.js'));
	console.log('');
	console.log(
		`── ours in n8n: the templates' chain (${args.n8nSource.map((source) => SOURCES[source].chain).join(' | ')}; → Normalize → Reconcile → Build Lists → Publish Report), \`n8n execute\`, SQLite store`,
	);
	const { harness, n8n } = await loadN8n();
	const tarball = await harness.preparePackage((line) => console.log(`   ${line}`));
	const baseDir = join(work, 'in-n8n');
	const outDir = join(baseDir, 'out');
	mkdirSync(outDir, { recursive: true });
	const folder = await harness.createUserFolder({ env: { N8N_RESTRICT_FILE_ACCESS_TO: baseDir } });
	const results = { n8n: n8n.version, package: tarball, heaps: args.n8nHeap, sources: args.n8nSource, idle: {}, sizes: [] };
	let sshd;
	/** Scenario 5's server of the size being run (--n8n-source rest), and its OAuth 2 client as the credential and the engine take it. */
	let restServer;
	let restOAuth2;
	try {
		await harness.installPackage(folder, tarball);
		const template = JSON.parse(readFileSync(TEMPLATE, 'utf8'));
		const refs = template.nodes.find((node) => node.name === INGEST).credentials;
		const storePath = join(baseDir, 'roster.sqlite');
		await harness.importCredentials(n8n, folder, [{ ...refs.rosterStoreApi, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: storePath } }]);
		if (args.n8nSource.includes('sftp')) {
			// A real sshd on 127.0.0.1 (test/support/sshd.ts: needs root and openssh-server), as the e2e tests use it.
			sshd = await loadTypeScript('test/support/sshd.ts').startSshd();
			const data = { host: sshd.host, port: sshd.port, username: sshd.username, authentication: 'password', password: sshd.password, hostKeyFingerprint: sshd.hostKeyFingerprint };
			await harness.importCredentials(n8n, folder, [{ ...refs.rosterSftpApi, type: 'rosterSftpApi', data }]);
		}
		const apiRefs = JSON.parse(readFileSync(API_TEMPLATE, 'utf8')).nodes.find((node) => node.name === FETCH).credentials;
		await harness.importWorkflow(n8n, folder, nothingWorkflow('rsBenchNothing01'));
		// n8n's start-up alone varies by a second or two from run to run: the quicker of two.
		for (const heap of args.n8nHeap) {
			const runs = [];
			for (let i = 0; i < 2; i++) runs.push(await executeTimed(n8n, folder, 'rsBenchNothing01', outDir, 5 * 60_000, heapEnv(heap)));
			const idle = runs.reduce((best, run) => (run.seconds < best.seconds ? run : best));
			results.idle[heap] = {
				seconds: idle.seconds,
				cpuSeconds: idle.cpuSeconds,
				systemSeconds: idle.systemSeconds,
				maxRssKB: Math.max(...runs.map((run) => run.maxRssKB)),
				ok: runs.every((run) => run.code === 0),
			};
		}
		console.log(
			`   n8n ${n8n.version}, \`n8n execute\` of a workflow that does nothing: ` +
				args.n8nHeap
					.map((heap) => {
						const idle = results.idle[heap];
						return `${heapLabel(heap)} ${secs(idle.seconds)} s (cpu ${secs(idle.cpuSeconds)} s, of it sys ${secs(idle.systemSeconds)} s), ${mib(idle.maxRssKB)}`;
					})
					.join('; '),
		);

		for (const students of args.students) {
			const sizeDir = join(baseDir, `students-${students}`);
			const days = { full: join(sizeDir, 'day1'), day2: join(sizeDir, 'day2') };
			process.stdout.write(`   ${int(students)} students: generating… `);
			await runChild({ mode: 'generate', district: days.full, day2: days.day2, options: { students, seed: args.seed, version: args.version }, dayTwoOptions: {} });
			const ids = {};
			const workflows = [];
			if (args.n8nSource.includes('rest')) {
				// Scenario 5's server on night 1's district, with the OAuth 2 client of the generic OneRoster credential.
				restServer = await startRestServer(days.full, args.restLatency, { kind: 'oauth2', clientAuth: 'body', ...REST_CLIENT });
				restOAuth2 = { tokenUrl: `${restServer.url}${REST_CLIENT.tokenPath}`, clientId: REST_CLIENT.clientId, clientSecret: REST_CLIENT.clientSecret, clientAuthentication: 'body' };
				const data = { baseUrl: restServer.url, version: '1.1', authentication: 'oauth2', ...restOAuth2, scope: '', schoolId: '' };
				await harness.importCredentials(n8n, folder, [{ ...apiRefs.rosterOneRosterApi, type: 'rosterOneRosterApi', data }]);
			}
			for (const source of args.n8nSource) {
				ids[source] = {};
				for (const night of SOURCES[source].nights) {
					ids[source][night] = `rsBench${SOURCES[source].tag}${night === 'full' ? 1 : 2}s${String(students).padStart(7, '0')}`;
					const district = source === 'sftp' ? await loadTypeScript('test/support/sshd.ts').copyIntoServed(sshd, days[night], `students-${students}/${night}`) : days[night];
					workflows.push(inN8nWorkflow(ids[source][night], district, source, REST_RESOURCES));
				}
			}
			await harness.importWorkflow(n8n, folder, workflows);

			// The bench scenario on the same files in a bare Node process: the counts to check against, and the comparison.
			process.stdout.write('bare Node… ');
			const bareStore = { engine: 'sqlite', path: join(sizeDir, 'bare.sqlite') };
			const entry = { students, bare: {}, runs: [] };
			for (const night of ['full', 'day2']) {
				const r = await runChild({ mode: 'pipeline', engineDir, district: days[night], store: bareStore, settings: PIPELINE_SETTINGS });
				entry.bare[night] = { seconds: r.seconds, cpuSeconds: r.cpuSeconds, systemSeconds: r.systemSeconds, bytesWritten: r.bytesWritten, maxRssKB: r.maxRssKB, counts: countsOfScenario(r), phases: Object.fromEntries(Object.entries(r.phases).map(([k, p]) => [k, p.seconds])) };
			}
			if (restServer) {
				// Scenario 5 (the engine's pull with Node's fetch and its own OAuth 2 client) from the same server: the fetch node's time compared.
				const r = await runChild({ mode: 'rest', engineDir, store: { engine: 'sqlite', path: join(sizeDir, 'bare-rest.sqlite') }, url: restServer.url, auth: { kind: 'oauth2', oauth2: restOAuth2 }, latencyMs: args.restLatency, pageSize: args.restPageSize, concurrency: args.restConcurrency });
				entry.bareRest = { seconds: r.seconds, cpuSeconds: r.cpuSeconds, maxRssKB: r.maxRssKB, idealSeconds: r.idealSeconds, pages: r.pages };
			}

			// --repeat N: each source and heap N times over, on a fresh store each time (in n8n a night varies by 1-2 s from run to run).
			for (let repeat = 1; repeat <= args.repeat; repeat++) {
				for (const source of args.n8nSource) {
					for (const heap of args.n8nHeap) {
						process.stdout.write(`${source} heap ${heap}${args.repeat > 1 ? ` (${repeat} of ${args.repeat})` : ''}… `);
						for (const suffix of ['', '-wal', '-shm']) rmSync(`${storePath}${suffix}`, { force: true });
						const nights = { source, heap, repeat };
						for (const night of SOURCES[source].nights) {
							const run = await executeTimed(n8n, folder, ids[source][night], outDir, 30 * 60_000, heapEnv(heap));
							const stored = run.code === 0 ? (await runChild({ mode: 'lastRun', engineDir, store: { engine: 'sqlite', path: storePath } })).run : undefined;
							const counts = countsOfRun(stored);
							const expected = entry.bare[night].counts;
							const mismatched = Object.keys(expected).filter((key) => counts[key] !== expected[key]);
							const complete = stored?.status === 'completed' && stored?.stage === 'reported';
							const ok = run.code === 0 && !run.timedOut && complete && mismatched.length === 0;
							const idle = results.idle[heap];
							nights[night] = {
								seconds: run.seconds,
								netSeconds: Math.max(0, run.seconds - idle.seconds),
								cpuSeconds: run.cpuSeconds,
								systemSeconds: run.systemSeconds,
								bytesWritten: run.bytesWritten,
								maxRssKB: run.maxRssKB,
								netRssKB: run.maxRssKB - idle.maxRssKB,
								...executionTimes(harness, run.stdout, run.rssSamples),
								counts,
								ok,
								...(ok
									? {}
									: {
											failure:
												run.code !== 0 || run.timedOut
													? failureOf(run)
													: !complete
														? `the run ended ${stored ? `${stored.status} at ${stored.stage}` : 'without a run in the store'}`
														: `counts differ from the bare-Node run: ${mismatched.map((key) => `${key} ${counts[key]} ≠ ${expected[key]}`).join(', ')}`,
										}),
							};
							if (!ok) break; // night 2 needs night 1's store
						}
						entry.runs.push(nights);
					}
				}
			}
			if (restServer) {
				await restServer.stop();
				restServer = undefined;
			}
			process.stdout.write('done\n');
			rmSync(sizeDir, { recursive: true, force: true });
			results.sizes.push(entry);
		}
	} finally {
		if (restServer) await restServer.stop();
		if (sshd) await sshd.stop();
		await folder.cleanup();
	}

	const nodeColumns = TIMED_NODES.map(([, key]) => key);
	const rows = [['students', 'night', 'source', 'heap cap', 'wall s', 'run s', 'cpu s', 'of it sys s', 'written', 'peak RSS', 'RSS − idle', ...nodeColumns.map((key) => `${key} s`), 'created', 'lists', 'members +', 'result']];
	const count = (n) => (Number.isNaN(n) ? '' : int(n));
	for (const s of results.sizes) {
		for (const night of ['full', 'day2']) {
			const label = night === 'full' ? '1: full' : '2: day two';
			const b = s.bare[night];
			rows.push([int(s.students), label, 'folder', 'bare Node', secs(b.seconds), '', secs(b.cpuSeconds), secs(b.systemSeconds), mibOfBytes(b.bytesWritten), mib(b.maxRssKB), '', '', '', secs(b.phases.ingest), '', secs(b.phases.normalize), secs(b.phases.reconcile), secs(b.phases.lists), secs(b.phases.report), int(b.counts.created), int(b.counts.lists), int(b.counts.membersAdded), 'bench scenario']);
			const rest = night === 'full' ? s.bareRest : undefined;
			if (rest) rows.push([int(s.students), label, 'REST', 'bare Node', secs(rest.seconds), '', secs(rest.cpuSeconds), '', '', mib(rest.maxRssKB), '', '', '', '', secs(rest.seconds), '', '', '', '', '', '', '', `scenario 5 (fetch only; ideal ${secs(rest.idealSeconds)} s)`]);
			for (const run of s.runs) {
				const r = run[night];
				if (!r) continue;
				rows.push([
					int(s.students),
					label,
					SOURCES[run.source].label,
					heapLabel(run.heap),
					secs(r.seconds),
					secs(r.executionSeconds),
					secs(r.cpuSeconds),
					secs(r.systemSeconds),
					mibOfBytes(r.bytesWritten),
					mib(r.maxRssKB),
					mib(r.netRssKB),
					...nodeColumns.map((key) => secs(r.nodes[key])),
					count(r.counts.created),
					count(r.counts.lists),
					count(r.counts.membersAdded),
					r.ok ? 'ok (counts match)' : `FAILED: ${r.failure}`,
				]);
			}
		}
	}
	if (rows.length > 1) console.log(indent(table(rows)));
	console.log(
		indent(
			'(wall s: the `n8n execute` process; run s: the execution alone, net of n8n’s start-up and shut-down (its startedAt → stoppedAt); ' +
				'cpu s: the whole process’s CPU (all threads, start-up included), of it sys s the kernel’s (page faults, file reads and writes); written: what the process wrote to files; ' +
				'RSS − idle: peak RSS − the empty workflow’s at the same heap setting; read s … report s: each node’s own time)',
		),
	);
	if (args.repeat > 1) {
		const spread = (values) => `median ${secs(median(values))} (${secs(Math.min(...values))}–${secs(Math.max(...values))})`;
		for (const s of results.sizes) {
			for (const source of args.n8nSource) {
				for (const heap of args.n8nHeap) {
					for (const night of ['full', 'day2']) {
						const done = s.runs.filter((run) => run.source === source && run.heap === heap && run[night]?.ok).map((run) => run[night]);
						if (done.length < 2) continue;
						console.log(
							indent(
								`${int(s.students)} · night ${night === 'full' ? 1 : 2} · ${SOURCES[source].label} · ${heapLabel(heap)}, ${done.length} runs: ` +
									`run s ${spread(done.map((r) => r.executionSeconds))}, cpu s ${spread(done.map((r) => r.cpuSeconds))}, ` +
									`of it sys s ${spread(done.map((r) => r.systemSeconds))}, peak RSS ${mib(Math.min(...done.map((r) => r.maxRssKB)))}–${mib(Math.max(...done.map((r) => r.maxRssKB)))}`,
							),
						);
					}
				}
			}
		}
	}
	for (const s of results.sizes) {
		for (const run of s.runs) {
			for (const night of ['full', 'day2']) {
				const peaks = Object.entries(run[night]?.nodePeakRssKB ?? {}).filter(([, kb]) => kb);
				if (peaks.length) console.log(indent(`${int(s.students)} · night ${night === 'full' ? 1 : 2} · ${SOURCES[run.source].label} · ${heapLabel(run.heap)}: highest RSS sampled while each node ran: ${peaks.map(([key, kb]) => `${key} ${mib(kb)}`).join(', ')}`));
			}
		}
		for (const source of args.n8nSource) {
			const completed = s.runs.filter((run) => run.source === source && parseHeap(run.heap).oldSpaceMiB !== null && SOURCES[source].nights.every((night) => run[night]?.ok)).map((run) => parseHeap(run.heap).oldSpaceMiB);
			if (completed.length) console.log(indent(`${int(s.students)} students, ${SOURCES[source].label}: the smallest heap cap tried that completed every night run: ${Math.min(...completed)} MiB`));
		}
	}
	return results;
}
