/**
 * The peer: what an operator builds from stock n8n nodes when there is no roster engine, run in the real
 * n8n of the e2e setup (test/e2e/n8n-harness.ts; n8n 2.40.7 in .cache/) with `n8n execute`:
 *
 *   Run now ─┬─ Read users.csv (today) ──── Extract From File (CSV) ──┐
 *            │                                                          ├─ Compare Datasets (by sourcedId) ─┬─ In A only → Postgres: insert
 *            ├─ Read users.csv (yesterday) ─ Extract From File (CSV) ──┘                                      ├─ Different → Postgres: update
 *            │                                                                                                └─ In B only → Postgres: delete
 *            └─ the same for enrollments.csv
 *
 * One n8n item per record. Two nights per size, on one fresh database of the PostgreSQL server our
 * postgres scenarios use: night 1 compares the district with the files' headers only (the extract then
 * outputs one empty item, so the comparison still runs) and inserts everything — against our full sync
 * (scenario 1); night 2 compares the day-two files with day one's and inserts, updates and deletes the
 * difference — against our day 2 (scenario 3). The peer does much less than ours per night (no checks,
 * no canonical model, no matching, lists or report): it is the lower bound of what a stock-nodes build
 * costs. Sizes grow until a night takes longer than the limit (default 10 minutes) or fails;
 * `n8n execute` prints the whole run as JSON, which fails past ~240k items ("Invalid string length")
 * — a property of the peer, recorded as such.
 *
 * Timed: wall seconds of the `n8n execute` process (stdout goes to a file), its peak RSS (GNU time),
 * and, apart, the same process running a workflow that does nothing (n8n's own start-up and shut-down),
 * so the peer's work is also given net of it. Each size is checked by counting the rows written.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { executeTimed, failureOf, loadN8n, nothingWorkflow } from './n8n-execute.mjs';
import { indent, int, runChild, secs, table, PIPELINE_SETTINGS } from './run.mjs';

const require = createRequire(import.meta.url);

const FILES = [
	{ name: 'users.csv', table: 'peer_users' },
	{ name: 'enrollments.csv', table: 'peer_enrollments' },
];
const CREDENTIAL = { id: 'rsPeerPostgres01', name: 'Peer PostgreSQL' };

function headerOf(path) {
	const text = readFileSync(path, 'utf8');
	return text.slice(0, text.indexOf('\n')).replace(/\r$/, '').split(',');
}

function countLines(path) {
	const data = readFileSync(path);
	let lines = 0;
	for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines++;
	return lines;
}

/** The stock-nodes workflow for one day's files (`today`) against the previous day's (`yesterday`). */
export function peerWorkflow(id, today, yesterday) {
	const nodes = [{ id: 'peer-trigger', name: 'Run now', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 300], parameters: {} }];
	const connections = { 'Run now': { main: [[]] } };
	const node = (name, type, typeVersion, position, parameters, extra = {}) => {
		nodes.push({ id: `peer-${nodes.length}`, name, type, typeVersion, position, parameters, ...extra });
		return name;
	};
	const link = (from, to, output = 0, input = 0) => {
		connections[from] ??= { main: [] };
		while (connections[from].main.length <= output) connections[from].main.push([]);
		connections[from].main[output].push({ node: to, type: 'main', index: input });
	};
	const postgres = (name, position, parameters) =>
		node(name, 'n8n-nodes-base.postgres', 2.6, position, parameters, { credentials: { postgres: CREDENTIAL } });
	const tableRef = (value) => ({ __rl: true, mode: 'name', value });
	const schemaRef = { __rl: true, mode: 'name', value: 'public' };

	FILES.forEach((file, f) => {
		const y = f * 600;
		const stem = file.name.replace('.csv', '');
		const readToday = node(`Read ${stem} (today)`, 'n8n-nodes-base.readWriteFile', 1, [250, y], { operation: 'read', fileSelector: join(today, file.name), options: {} });
		const readYesterday = node(`Read ${stem} (yesterday)`, 'n8n-nodes-base.readWriteFile', 1, [250, y + 200], { operation: 'read', fileSelector: join(yesterday, file.name), options: {} });
		const extractToday = node(`Extract ${stem} (today)`, 'n8n-nodes-base.extractFromFile', 1.1, [500, y], { operation: 'csv', binaryPropertyName: 'data', options: {} });
		const extractYesterday = node(`Extract ${stem} (yesterday)`, 'n8n-nodes-base.extractFromFile', 1.1, [500, y + 200], { operation: 'csv', binaryPropertyName: 'data', options: {} }, { alwaysOutputData: true });
		const compare = node(`Compare ${stem}`, 'n8n-nodes-base.compareDatasets', 2.3, [750, y + 100], {
			mergeByFields: { values: [{ field1: 'sourcedId', field2: 'sourcedId' }] },
			resolve: 'preferInput1',
			options: {},
		});
		const insert = postgres(`Insert new ${stem}`, [1000, y], {
			operation: 'insert',
			schema: schemaRef,
			table: tableRef(file.table),
			columns: { mappingMode: 'autoMapInputData', value: {}, matchingColumns: [], schema: [] },
			options: {},
		});
		const update = postgres(`Update changed ${stem}`, [1000, y + 150], {
			operation: 'update',
			schema: schemaRef,
			table: tableRef(file.table),
			columns: { mappingMode: 'autoMapInputData', value: {}, matchingColumns: ['sourcedId'], schema: [] },
			options: {},
		});
		const remove = postgres(`Delete gone ${stem}`, [1000, y + 300], {
			operation: 'executeQuery',
			query: `DELETE FROM ${file.table} WHERE "sourcedId" = $1`,
			options: { queryReplacement: '={{ $json.sourcedId ?? null }}' },
		});
		link('Run now', readToday);
		link('Run now', readYesterday);
		link(readToday, extractToday);
		link(readYesterday, extractYesterday);
		link(extractToday, compare, 0, 0);
		link(extractYesterday, compare, 0, 1);
		link(compare, insert, 0);
		link(compare, update, 2);
		link(compare, remove, 3);
	});
	return { id, name: `RosterSync bench peer ${id}`, nodes, connections, active: false, settings: { executionOrder: 'v1' } };
}

export async function runPeer({ args, work, pg, engineDir }) {
	console.log('');
	console.log(`── the peer: stock n8n nodes (Read/Write Files from Disk → Extract From File → Compare Datasets → Postgres), one item per record, in n8n`);
	if (!pg) {
		console.log('   skipped: the peer writes to PostgreSQL and none is available');
		return { skipped: 'no PostgreSQL' };
	}
	const { Client } = require('pg');
	const { loadGenerator } = await import('./generate.mjs');
	const { harness, n8n } = await loadN8n();
	const peerDir = join(work, 'peer');
	mkdirSync(peerDir, { recursive: true });
	const folder = await harness.createUserFolder({ env: { N8N_RESTRICT_FILE_ACCESS_TO: peerDir } });
	const outDir = join(peerDir, 'out');
	mkdirSync(outDir, { recursive: true });
	const results = { n8n: n8n.version, limitSeconds: args.peerLimit, files: FILES.map((f) => f.name), sizes: [] };
	try {
		const credentialDb = await pg.database('peer_credentials');
		await harness.importCredentials(n8n, folder, [
			{
				...CREDENTIAL,
				type: 'postgres',
				data: { host: credentialDb.host, port: credentialDb.port, database: credentialDb.database, user: credentialDb.user, password: credentialDb.password, ssl: 'disable', maxConnections: 10 },
			},
		]);
		await harness.importWorkflow(n8n, folder, nothingWorkflow('rsPeerNothing001'));
		const idle = await executeTimed(n8n, folder, 'rsPeerNothing001', outDir, 5 * 60_000);
		results.n8nOverheadSeconds = idle.seconds;
		results.n8nIdleRssKB = idle.maxRssKB;
		console.log(`   n8n ${n8n.version}: \`n8n execute\` of a workflow that does nothing takes ${secs(idle.seconds)} s (start-up and shut-down; subtracted for "net")`);

		const generator = loadGenerator();
		const credentialFor = (database) => ({
			...CREDENTIAL,
			type: 'postgres',
			data: { host: database.host, port: database.port, database: database.database, user: database.user, password: database.password, ssl: 'disable', maxConnections: 10 },
		});
		const countRows = async (database) => {
			const client = new Client({ ...database, ssl: false });
			await client.connect();
			const written = {};
			for (const file of FILES) written[file.table] = Number((await client.query(`SELECT COUNT(*) AS n FROM ${file.table}`)).rows[0].n);
			await client.end();
			return written;
		};
		/** One night of the peer: `n8n execute` of the workflow comparing `today` with `yesterday`, checked by the rows it leaves. */
		const night = async (id, today, yesterday, database) => {
			const expected = Object.fromEntries(FILES.map((file) => [file.table, countLines(join(today, file.name)) - 1]));
			const items = FILES.reduce((sum, file) => sum + countLines(join(today, file.name)) - 1 + Math.max(0, countLines(join(yesterday, file.name)) - 1), 0);
			await harness.importWorkflow(n8n, folder, peerWorkflow(id, today, yesterday));
			const run = await executeTimed(n8n, folder, id, outDir, (args.peerLimit + 120) * 1000);
			const written = await countRows(database);
			const complete = FILES.every((file) => written[file.table] === expected[file.table]);
			const ok = run.code === 0 && complete && !run.timedOut;
			return {
				items,
				seconds: run.seconds,
				netSeconds: Math.max(0, run.seconds - idle.seconds),
				maxRssKB: run.maxRssKB,
				exitCode: run.code,
				stdoutBytes: run.stdoutBytes,
				rowsWritten: written,
				rowsExpected: expected,
				ok,
				overLimit: run.seconds > args.peerLimit,
				...(ok ? {} : { failure: complete && run.code !== 0 ? `${failureOf(run)} (the rows were all written before that)` : failureOf(run) }),
			};
		};
		const describe = (r) =>
			r.ok ? `${secs(r.seconds)} s (net ${secs(r.netSeconds)} s, ${int(r.items)} items, peak RSS ${int(r.maxRssKB / 1024)} MiB)` : `FAILED after ${secs(r.seconds)} s: ${r.failure}`;

		for (const students of args.peerStudents) {
			const sizeDir = join(peerDir, `students-${students}`);
			const day1 = join(sizeDir, 'day1');
			const day2 = join(sizeDir, 'day2');
			const empty = join(sizeDir, 'empty');
			mkdirSync(empty, { recursive: true });
			const options = { students, seed: args.seed, version: '1.1' };
			await generator.writeDistrict(day1, options);
			await generator.writeDayTwo(day1, day2, options);
			for (const file of FILES) writeFileSync(join(empty, file.name), `${headerOf(join(day1, file.name)).join(',')}\n`);

			// The peer's database: the file columns as text, keyed by sourcedId (the database node maps item fields to them).
			const database = await pg.database(`peer_s${students}`);
			const client = new Client({ ...database, ssl: false });
			await client.connect();
			for (const file of FILES) {
				const columns = headerOf(join(day1, file.name));
				await client.query(`CREATE TABLE ${file.table} (${columns.map((c) => `"${c}" TEXT${c === 'sourcedId' ? ' PRIMARY KEY' : ''}`).join(', ')})`);
			}
			await client.end();
			await harness.importCredentials(n8n, folder, [credentialFor(database)]);
			const entry = { students };
			process.stdout.write(`   ${int(students)} students: night 1 (everything new)… `);
			entry.full = await night(`rsPeerF${String(students).padStart(9, '0')}`, day1, empty, database);
			process.stdout.write(`${describe(entry.full)}\n`);
			if (entry.full.ok && !entry.full.overLimit) {
				process.stdout.write(`   ${int(students)} students: night 2 (day two against day one)… `);
				entry.day2 = await night(`rsPeerD${String(students).padStart(9, '0')}`, day2, day1, database);
				process.stdout.write(`${describe(entry.day2)}\n`);
			}
			await pg.drop(database);

			// Ours at the same size: full sync then day two, on the same PostgreSQL server (and on SQLite).
			entry.ours = {};
			for (const engine of ['postgres', 'sqlite']) {
				const store = engine === 'postgres' ? await pg.database(`peer_ours_s${students}`) : { engine: 'sqlite', path: join(sizeDir, 'ours.sqlite') };
				const full = await runChild({ mode: 'pipeline', engineDir, district: day1, store, settings: PIPELINE_SETTINGS });
				const second = await runChild({ mode: 'pipeline', engineDir, district: day2, store, settings: PIPELINE_SETTINGS });
				entry.ours[engine] = {
					full: { seconds: full.seconds, cpuSeconds: full.cpuSeconds, maxRssKB: full.maxRssKB },
					day2: { seconds: second.seconds, cpuSeconds: second.cpuSeconds, maxRssKB: second.maxRssKB },
				};
				if (engine === 'postgres') await pg.drop(store);
			}
			for (const name of ['full', 'day2']) {
				const r = entry[name];
				if (!r) continue;
				r.factor = r.seconds / entry.ours.postgres[name].seconds;
				r.netFactor = r.netSeconds / entry.ours.postgres[name].seconds;
			}
			console.log(
				`   ours: full ${secs(entry.ours.postgres.full.seconds)} s (postgres), ${secs(entry.ours.sqlite.full.seconds)} s (sqlite); ` +
					`day 2 ${secs(entry.ours.postgres.day2.seconds)} s (postgres), ${secs(entry.ours.sqlite.day2.seconds)} s (sqlite)`,
			);
			results.sizes.push(entry);
			rmSync(sizeDir, { recursive: true, force: true });
			const finished = (r) => r && r.ok && !r.overLimit;
			if (!finished(entry.full) || !finished(entry.day2)) break;
		}
	} finally {
		await folder.cleanup();
	}
	const rows = [['students', 'night', 'items', 'peer s', 'peer net s', 'peer RSS', 'ours pg s', 'ours sqlite s', 'peer net ÷ ours pg', 'result']];
	for (const s of results.sizes) {
		for (const name of ['full', 'day2']) {
			const r = s[name];
			if (!r) continue;
			rows.push([
				int(s.students),
				name === 'full' ? '1: all new' : '2: day two',
				int(r.items),
				secs(r.seconds),
				secs(r.netSeconds),
				r.maxRssKB ? `${int(r.maxRssKB / 1024)} MiB` : '',
				secs(s.ours.postgres[name].seconds),
				secs(s.ours.sqlite[name].seconds),
				`${r.netFactor.toFixed(1)}×`,
				r.ok ? (r.overLimit ? 'over the limit' : 'ok') : `failed: ${r.failure}`,
			]);
		}
	}
	if (rows.length > 1) console.log(indent(table(rows)));
	for (const name of ['full', 'day2']) {
		const done = results.sizes.filter((s) => s[name]?.ok && !s[name].overLimit);
		const largest = done[done.length - 1];
		results[`largest_${name}`] = largest ? largest.students : null;
		if (largest) {
			const r = largest[name];
			console.log(
				indent(
					`night ${name === 'full' ? '1' : '2'}: the largest size the peer completes within ${args.peerLimit} s is ${int(largest.students)} students; ` +
						`there ours (postgres) is ${r.netFactor.toFixed(1)}× faster net of n8n's start-up (${r.factor.toFixed(1)}× gross; sqlite: ${(r.netSeconds / largest.ours.sqlite[name].seconds).toFixed(1)}× net) — goal ≥ 20×`,
				),
			);
		}
	}
	return results;
}

