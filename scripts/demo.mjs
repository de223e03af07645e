#!/usr/bin/env node
/**
 * `npm run demo`: the nightly sync in a real n8n, on a seeded demo district, with the embedded SQLite store.
 *
 *  1. builds and packs the package (skipped when a tarball for the same sources is in .cache/e2e-package/);
 *  2. installs n8n 2.40.7 into .cache/n8n-2.40.7/ (first time ~6 min; then instant);
 *  3. writes a seeded OneRoster 1.1 district (bench/generate.mjs: 600 students, seed 7) to .cache/demo/data/;
 *  4. sets up the n8n user folder .cache/demo/n8n/ with the package installed in .n8n/nodes, the Roster
 *     Store credential (SQLite file .cache/demo/roster.sqlite) and two workflows:
 *       - "RosterSync demo: nightly sync (demo district from disk)": the shipped template with its CSV
 *         Ingest on the Binary Input source, fed by n8n's Read/Write Files from Disk (the demo folder's
 *         *.csv) and Aggregate (all files into one item). No SFTP server is needed, so the demo runs the
 *         same as root or not, on any machine;
 *       - the shipped template itself (workflows/nightly-sync-sftp.json), to look at and fill in;
 *  5. runs the demo workflow once with `n8n execute` and prints each node's run handle (the summary);
 *  6. starts the editor (`n8n start` on 127.0.0.1:5678) in the foreground until Ctrl+C.
 *
 * Environment: DEMO_NO_EDITOR=1 exits after the summary (CI smoke); DEMO_PORT (default 5678);
 * DEMO_STUDENTS (600), DEMO_SEED (7); DEMO_FRESH=1 starts from an empty .cache/demo/ (otherwise the
 * store and n8n's executions are kept, and each demo run adds one sync run, like a night).
 */
import { existsSync, readFileSync, writeFileSync, createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTypeScript } from '../bench/generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '..');
process.env.ROSTERSYNC_REPO_ROOT = REPO;

const DEMO_DIR = path.join(REPO, '.cache', 'demo');
const DATA_DIR = path.join(DEMO_DIR, 'data');
const USER_FOLDER = path.join(DEMO_DIR, 'n8n');
const STORE_FILE = path.join(DEMO_DIR, 'roster.sqlite');
const PORT = Number(process.env.DEMO_PORT ?? 5678);
const STUDENTS = Number(process.env.DEMO_STUDENTS ?? 600);
const SEED = Number(process.env.DEMO_SEED ?? 7);
const NO_EDITOR = ['1', 'true', 'yes'].includes(String(process.env.DEMO_NO_EDITOR ?? '').toLowerCase());
const DEMO_WORKFLOW_ID = 'rsNightlyDemo001';

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const say = (message) => console.log(`[demo] ${message}`);

async function step(title, work) {
	const t0 = Date.now();
	say(`${title} …`);
	const result = await work();
	say(`${title}: done in ${secs(Date.now() - t0)}`);
	return result;
}

/** test/e2e/n8n-harness.ts and the project files it imports, transpiled (no type check) into a cached folder. */
function loadHarness() {
	return loadTypeScript('test/e2e/n8n-harness.ts');
}

function portFree(port) {
	return new Promise((resolve) => {
		const server = net.createServer();
		server.once('error', () => resolve(false));
		server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
	});
}

/** The demo district's terms (all of them), for Build Lists' class rosters. */
function demoTerms(dataDir) {
	const [header, ...rows] = readFileSync(path.join(dataDir, 'academicSessions.csv'), 'utf8').trim().split(/\r?\n/);
	const id = header.split(',').indexOf('sourcedId');
	return rows.map((row) => row.split(',')[id]);
}

/**
 * The demo variant of the template: Read/Write Files from Disk → Aggregate → CSV Ingest (Binary Input),
 * applied for real (Dry run off) with class lists for every term and lists by role and grade, and no
 * Send Email (the demo has no mail server: it prints the report instead).
 */
export function demoWorkflow(template, dataDir) {
	const workflow = structuredClone(template);
	workflow.id = DEMO_WORKFLOW_ID;
	workflow.name = 'RosterSync demo: nightly sync (demo district from disk)';
	const ingest = workflow.nodes.find((node) => node.type === 'n8n-nodes-rostersync.rosterCsvIngest');
	if (!ingest) throw new Error('the template has no Roster CSV Ingest node');
	const triggers = workflow.nodes.filter((node) => /scheduleTrigger|manualTrigger/.test(node.type));
	const [x, y] = ingest.position;
	// Make room for the two file nodes: everything from the CSV Ingest on moves right.
	for (const node of workflow.nodes) if (node.position[0] >= x && node.type !== 'n8n-nodes-base.stickyNote') node.position = [node.position[0] + 520, node.position[1]];
	ingest.parameters = { source: 'binary', binaryPropertyNames: '*', options: {} };
	delete ingest.credentials.rosterSftpApi;
	const read = {
		id: 'de30a1b2-0000-4000-8000-000000000001',
		name: 'Read demo export',
		type: 'n8n-nodes-base.readWriteFile',
		typeVersion: 1,
		position: [x, y],
		parameters: { operation: 'read', fileSelector: `${dataDir}/*.csv`, options: {} },
	};
	const combine = {
		id: 'de30a1b2-0000-4000-8000-000000000002',
		name: 'All files in one item',
		type: 'n8n-nodes-base.aggregate',
		typeVersion: 1,
		position: [x + 260, y],
		parameters: { aggregate: 'aggregateAllItemData', destinationFieldName: 'files', options: { includeBinaries: true } },
	};
	workflow.nodes.push(read, combine);
	// Every email node goes (the report, and the approval request for a held run).
	const emails = new Set(workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.emailSend').map((node) => node.name));
	workflow.nodes = workflow.nodes.filter((node) => !emails.has(node.name));
	for (const [from, links] of Object.entries(workflow.connections)) {
		if (emails.has(from)) delete workflow.connections[from];
		else {
			links.main = links.main.map((outputs) => outputs.filter((link) => !emails.has(link.node)));
			if (links.main.every((outputs) => outputs.length === 0)) delete workflow.connections[from];
		}
	}
	const parameters = (type) => workflow.nodes.find((node) => node.type === `n8n-nodes-rostersync.${type}`).parameters;
	Object.assign(parameters('rosterReconcileUsers'), { dryRun: false, includePrimaryParentContact: true });
	Object.assign(parameters('rosterBuildLists'), { syncClassRosters: true, terms: demoTerms(dataDir), autoListsByRole: true, autoListsByGrade: true });
	for (const trigger of triggers) workflow.connections[trigger.name] = { main: [[{ node: read.name, type: 'main', index: 0 }]] };
	workflow.connections[read.name] = { main: [[{ node: combine.name, type: 'main', index: 0 }]] };
	workflow.connections[combine.name] = { main: [[{ node: ingest.name, type: 'main', index: 0 }]] };
	// The SFTP note becomes a note about the demo's source.
	const sftpNote = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.stickyNote' && /SFTP/.test(node.name));
	if (sftpNote) {
		sftpNote.name = 'Note: demo source';
		sftpNote.parameters.content =
			'### Demo source\n\nThis demo reads a seeded OneRoster 1.1 district from disk instead of SFTP: **Read demo export** reads ' +
			`\`${dataDir}/*.csv\`, **All files in one item** puts them in one item, and **Roster CSV Ingest** uses its **Binary Input** source ` +
			'(`*` = every file of the item).\n\nThe real template, *RosterSync: nightly sync (OneRoster CSV from SFTP)*, reads the export from your SIS\'s SFTP server.';
	}
	return workflow;
}

function formatCounts(counts, prefix = '') {
	const parts = [];
	for (const [key, value] of Object.entries(counts ?? {})) {
		if (value && typeof value === 'object') parts.push(...formatCounts(value, `${prefix}${key}.`));
		else parts.push(`${prefix}${key}=${value}`);
	}
	return parts;
}

function printSummary(harness, run) {
	const order = Object.entries(run.data.resultData.runData).sort(([, a], [, b]) => (a[0].startTime ?? 0) - (b[0].startTime ?? 0));
	console.log('\n──────── RosterSync demo: summary of the run ────────');
	for (const [name] of order) {
		const items = harness.nodeOutput(run, name);
		const handle = items[0];
		if (!handle || typeof handle.runId !== 'string') {
			console.log(`• ${name}: ${items.length} item(s)`);
			continue;
		}
		console.log(`• ${name}: ${items.length} item — run ${handle.runId}, stage ${handle.stage}, status ${handle.status}`);
		const counts = formatCounts(handle.counts);
		for (let i = 0; i < counts.length; i += 6) console.log(`    ${counts.slice(i, i + 6).join('  ')}`);
		const warnings = handle.warnings ?? [];
		const problems = handle.problems ?? { count: 0 };
		console.log(`    warnings: ${warnings.length}${warnings.length ? ` (${warnings.slice(0, 3).join(' | ')})` : ''}; row problems: ${problems.count}`);
	}
	console.log('─────────────────────────────────────────────────────\n');
}

async function main() {
	if (process.env.DEMO_FRESH) await fs.rm(DEMO_DIR, { recursive: true, force: true });
	await fs.mkdir(DEMO_DIR, { recursive: true });
	const harness = loadHarness();

	// The build (~20 s) and n8n's first install (~6 min) do not depend on each other.
	const [tarball, n8n] = await step('building the package and installing n8n (cached)', () =>
		Promise.all([harness.preparePackage((m) => say(m)), harness.ensureN8n()]),
	);

	const counts = await step(`writing the demo district (${STUDENTS} students, seed ${SEED}) to ${DATA_DIR}`, async () => {
		const { loadGenerator } = await import(path.join(REPO, 'bench', 'generate.mjs'));
		await fs.rm(DATA_DIR, { recursive: true, force: true });
		return loadGenerator().writeDistrict(DATA_DIR, { students: STUDENTS, seed: SEED, version: '1.1' });
	});
	say(`district: ${counts.students} students, ${counts.teachers} teachers, ${counts.staff} staff, ${counts.admins} admins, ${counts.guardians} guardians, ${counts.classes} classes, ${counts.enrollments} enrollments`);

	const folder = await harness.createUserFolder({
		root: USER_FOLDER,
		// Read/Write Files from Disk may read the demo folder only (n8n 2.x allows ~/.n8n-files by default).
		env: { N8N_RESTRICT_FILE_ACCESS_TO: DATA_DIR },
	});
	await step('installing the package into the n8n user folder', () => harness.installPackage(folder, tarball));

	const template = JSON.parse(readFileSync(path.join(REPO, 'workflows', 'nightly-sync-sftp.json'), 'utf8'));
	const storeRef = template.nodes.find((node) => node.credentials?.rosterStoreApi)?.credentials.rosterStoreApi;
	await step('importing the Roster Store credential and the workflows', async () => {
		await harness.importCredentials(n8n, folder, [
			{ ...storeRef, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: STORE_FILE } },
		]);
		await harness.importWorkflow(n8n, folder, [template, demoWorkflow(template, DATA_DIR)]);
	});

	const result = await step('running the sync once (n8n execute)', () => harness.executeWorkflow(n8n, folder, DEMO_WORKFLOW_ID));
	if (result.code !== 0 || !result.run || result.run.data.resultData.error) {
		console.error(harness.describeExecution(result));
		throw new Error('the demo sync failed (see above)');
	}
	printSummary(harness, result.run);
	const report = harness.nodeOutput(result.run, 'Roster Publish Report')[0];
	if (report?.text) console.log(`──────── The report (the email the template sends) ────────\n${report.text}`);
	say(`store: ${STORE_FILE} (SQLite; open it with any SQLite client, e.g. sqlite3 ${path.relative(process.cwd(), STORE_FILE)} "select id, stage, status from sync_runs")`);
	say(`demo ready in ${secs(Date.now() - started)} (n8n execute took ${secs(result.ms)})`);

	if (NO_EDITOR) {
		say('DEMO_NO_EDITOR is set: not starting the editor.');
		return;
	}
	if (!(await portFree(PORT))) throw new Error(`port ${PORT} on 127.0.0.1 is in use; set DEMO_PORT to another port`);
	const logFile = path.join(DEMO_DIR, 'n8n.log');
	const server = await step(`starting the n8n editor on 127.0.0.1:${PORT}`, () => harness.startN8n(n8n, folder, { port: PORT }));
	const log = createWriteStream(logFile, { flags: 'a' });
	log.write(server.log());
	server.process.stdout.on('data', (chunk) => log.write(chunk));
	server.process.stderr.on('data', (chunk) => log.write(chunk));
	// The editor asks for an owner account on a fresh instance: the demo makes one (kept with the demo).
	const ownerFile = path.join(DEMO_DIR, 'owner.json');
	const owner = existsSync(ownerFile) ? JSON.parse(readFileSync(ownerFile, 'utf8')) : harness.randomOwner();
	if (!existsSync(ownerFile)) writeFileSync(ownerFile, `${JSON.stringify({ ...owner, email: 'demo@rostersync.test' }, null, 2)}\n`, { mode: 0o600 });
	const login = JSON.parse(readFileSync(ownerFile, 'utf8'));
	const session = await harness.signIn(server, login);
	const listed = await session.request('GET', `/rest/workflows/${DEMO_WORKFLOW_ID}`);
	if (listed.status !== 200) throw new Error(`the editor does not show the demo workflow (${listed.status}): ${listed.text.slice(0, 300)}`);
	console.log(`
  n8n editor:  ${server.url}/workflow/${DEMO_WORKFLOW_ID}
  sign in:     ${login.email} / ${login.password}   (a local demo account, kept in ${path.relative(process.cwd(), ownerFile)})
  workflows:   "RosterSync demo: nightly sync (demo district from disk)" — press "Execute workflow"
               "RosterSync: nightly sync (OneRoster CSV from SFTP)" — the template to fill in
  store:       ${STORE_FILE}
  n8n log:     ${logFile}
  stop:        Ctrl+C
`);
	let stopping = false;
	const stop = async (signal) => {
		if (stopping) return;
		stopping = true;
		say(`${signal}: stopping n8n …`);
		await server.stop();
		log.end();
		say('stopped');
		process.exit(0);
	};
	process.on('SIGINT', () => void stop('SIGINT'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
	server.process.once('exit', (code, signal) => {
		if (stopping) return;
		console.error(`[demo] n8n exited on its own (code ${code}, signal ${signal}); last output:\n${server.log().split('\n').slice(-40).join('\n')}`);
		process.exit(1);
	});
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
	main().catch((error) => {
		console.error(`[demo] FAILED: ${error.message}`);
		process.exit(1);
	});
}
