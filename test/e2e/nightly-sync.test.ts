/**
 * End to end in a REAL n8n (2.40.7, installed once into .cache/): the shipped template
 * workflows/nightly-sync-sftp.json, with the package built, packed and installed into the n8n user
 * folder the way an operator does it, reading the Ed-Fi Grand Bend OneRoster 1.1 sample from a REAL
 * sshd, into a SQLite store file.
 *
 * The package is built and packed by the test (test/e2e/n8n-harness.ts preparePackage(): once per
 * state of the sources, under a lock), so the test never runs against a stale dist/.
 *
 * Time: the first run on a machine installs n8n (~6 min, see n8n-install.mjs), hence the long
 * beforeAll timeout; later runs take ~1 min (build + n8n commands, each n8n command boots n8n).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { readSnapshot } from '../../nodes/shared/normalize/normalize';
import { getRun } from '../../nodes/shared/store/runs';
import { openStore } from '../../nodes/shared/store/store';
import { simpleParser } from 'mailparser';
import { EMAIL, INGEST, LISTS, NORMALIZE, RECONCILE, REPORT, expectSucceeded, nodeParameters, setUpSftpTemplate, sftpCredentialData, templateCredentials, writeGrandBendNightTwo, type SftpTemplate, type WorkflowJson } from '../support/n8n-e2e';
import { describeExecution, nodeOutput, randomOwner, signIn, type ExecuteResult } from './n8n-harness';

const PIPELINE = [INGEST, NORMALIZE, RECONCILE, LISTS, REPORT];
const FALL = '255901001_2021_2020-2021_Fall';

describe('nightly sync template in a real n8n (SFTP → ingest → normalize → reconcile → lists → report → email, SQLite store)', () => {
	let e2e: SftpTemplate;
	let workflow: WorkflowJson;
	let storePath: string;
	let result: ExecuteResult;

	beforeAll(async () => {
		const started = Date.now();
		// n8n installed, the package built and installed, sshd and SMTP started, the template's credentials imported.
		e2e = await setUpSftpTemplate();
		({ workflow, storePath } = e2e);
		// The operator's edits in the editor: where the export is (setUpSftpTemplate() set it), who gets the
		// report, and — after the dry runs looked right — Dry run off, Auto update and Archive on, class lists for the fall term.
		const parameters = (name: string) => nodeParameters(workflow, name);
		expect(parameters(RECONCILE).dryRun).toBe(true); // as shipped
		Object.assign(parameters(RECONCILE), { dryRun: false, autoUpdate: true, archive: true });
		Object.assign(parameters(LISTS), { syncClassRosters: true, terms: [FALL], autoListsByRole: true });
		parameters(EMAIL).toEmail = 'ops@district.example.org';
		await e2e.importWorkflow(workflow);
		const setupMs = Date.now() - started;

		result = await e2e.execute(workflow.id);
		process.stderr.write(`[e2e] setup (build, n8n, sshd, imports) ${setupMs} ms; n8n execute ${result.ms} ms\n`);
	}, 25 * 60_000);

	afterAll(async () => {
		await e2e?.close();
	});

	it('the installed package runs Reconcile Users and Build Lists on a thread: its step worker starts with nothing but Node and runs a step', async () => {
		const installed = path.join(e2e.folder.n8nDir, 'nodes', 'node_modules', 'n8n-nodes-rostersync');
		// Where a node's bundle looks for it (nodes/shared/threads/step-thread.ts): two folders up from dist/nodes/<Node>/.
		const worker = path.join(installed, 'dist', 'nodes', 'RosterReconcileUsers', '..', 'shared', 'threads', 'step-worker.js');
		expect(existsSync(worker)).toBe(true);
		// Asked for a run the store does not have, the step answers with the engine's error (its libraries are bundled in).
		const thread = new Worker(worker, { workerData: { step: 'reconcile', store: { engine: 'sqlite', path: storePath }, runId: 'no-such-run', settings: {} } });
		const answer = await new Promise<{ error?: { name: string; message: string } }>((resolve, reject) => {
			thread.once('message', resolve);
			thread.once('error', reject);
		});
		await thread.terminate();
		expect(answer.error?.name).toBe('RosterRunError');
		expect(answer.error?.message).toContain('no-such-run');
	});

	it('references the rostersync node types and both credentials', () => {
		const types = workflow.nodes.map((node) => node.type);
		expect(types).toEqual(
			expect.arrayContaining([
				'n8n-nodes-base.scheduleTrigger',
				'n8n-nodes-base.manualTrigger',
				'n8n-nodes-rostersync.rosterCsvIngest',
				'n8n-nodes-rostersync.rosterNormalize',
				'n8n-nodes-rostersync.rosterReconcileUsers',
				'n8n-nodes-rostersync.rosterBuildLists',
				'n8n-nodes-rostersync.rosterPublishReport',
				'n8n-nodes-base.emailSend',
			]),
		);
		expect(Object.keys(templateCredentials(workflow)).sort()).toEqual(['rosterSftpApi', 'rosterStoreApi', 'smtp']);
	});

	it('`n8n execute` runs the workflow to the end', () => {
		expectSucceeded(result);
		// `n8n execute` starts from the first trigger in the nodes array: the template lists "Run now" first.
		expect(Object.keys(result.run.data.resultData.runData).sort()).toEqual(['Run now', ...PIPELINE, EMAIL].sort());
		expect(result.run.data.resultData.lastNodeExecuted).toBe(EMAIL);
	});

	it('each rostersync node outputs one run handle for the same run', () => {
		if (!result.run) throw new Error(describeExecution(result));
		for (const node of PIPELINE) expect(nodeOutput(result.run, node)).toHaveLength(1);
		const runIds = new Set(PIPELINE.map((node) => nodeOutput(result.run!, node)[0].runId));
		expect(runIds.size).toBe(1);
		const ingest = nodeOutput(result.run, INGEST);
		const normalize = nodeOutput(result.run, NORMALIZE);
		expect(ingest[0]).toMatchObject({ runId: expect.stringMatching(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/), stage: 'staged', store: `sqlite:${storePath}` });
		expect(ingest[0].source).toEqual(expect.stringContaining(`sftp://${e2e.sshd.username}@127.0.0.1:${e2e.sshd.port}/`));
		expect(normalize[0]).toMatchObject({
			runId: ingest[0].runId,
			stage: 'normalized',
			store: `sqlite:${storePath}`,
			counts: expect.objectContaining({ people: { student: 8, teacher: 2, staff: 0, admin: 0 } }),
		});
		// Handles, not data: the whole item stays small.
		expect(JSON.stringify(normalize[0]).length).toBeLessThan(4000);
	});

	it('day 1: people and class lists are in the SQLite store file, and the report was emailed with its CSV', async () => {
		if (!result.run) throw new Error(describeExecution(result));
		const runId = String(nodeOutput(result.run, REPORT)[0].runId);
		const store = await openStore({ engine: 'sqlite', path: storePath });
		try {
			const run = await getRun(store.db, runId);
			expect(run).toMatchObject({ stage: 'reported', status: 'completed', dryRun: false });
			const snapshot = await readSnapshot(store.db, runId);
			expect(snapshot.people.find((p) => p.sourcedId === '604918')).toMatchObject({ givenName: 'Peter', familyName: 'Nash' });
			const people = await store.db.query('SELECT role, COUNT(*) AS n FROM people WHERE archived_at IS NULL GROUP BY role ORDER BY role');
			expect(people.map((row) => [row.role, Number(row.n)])).toEqual([
				['student', 8],
				['teacher', 2],
			]);
			const lists = await store.db.query("SELECT kind, title FROM user_lists WHERE archived_at IS NULL AND kind = 'class' ORDER BY title");
			expect(lists).toHaveLength(2);
			const english = await store.db.query(
				"SELECT m.membership, COUNT(*) AS n FROM list_members m JOIN user_lists l ON l.id = m.list_id WHERE l.source_key = 'class:25590100101Trad120ENG112011' GROUP BY m.membership ORDER BY m.membership",
			);
			expect(english.map((row) => [row.membership, Number(row.n)])).toEqual([
				['manager', 1],
				['member', 5],
			]);
		} finally {
			await store.close();
		}
		const report = nodeOutput(result.run, REPORT)[0];
		expect(report.subject).toBe('RosterSync: 10 created, 0 updated, 0 archived — Grand Bend High School');
		const [raw] = await e2e.smtp.waitForMessages(1, 30_000);
		const mail = await simpleParser(raw);
		expect(mail.subject).toBe(report.subject);
		expect((mail.to as { text: string }).text).toBe('ops@district.example.org');
		expect(mail.text).toContain('The sync applied these changes to the people store.');
		expect(mail.html).toContain('<table');
		expect(mail.attachments).toHaveLength(1);
		const [attachment] = mail.attachments;
		expect(attachment.filename).toMatch(/^rostersync-\d{8}T\d{9}Z-[0-9a-f]{6}\.csv$/);
		const csv = attachment.content.toString('utf8');
		expect(csv.split('\r\n')[0]).toBe('kind,action,role,sourcedId,name,fields,reason,file,row,field,message');
		expect(csv.split('\r\n').filter((line) => line.startsWith('person,create,'))).toHaveLength(10);
		expect(raw).not.toContain(e2e.sshd.password);
	});

	it('day 2: a renamed student is updated, a student who left is archived, a new one is created and added to her class list', async () => {
		await writeGrandBendNightTwo(e2e.remotePath, { enrollNewStudent: true });
		const day2 = await e2e.execute(workflow.id);
		expectSucceeded(day2);
		const report = nodeOutput(day2.run, REPORT)[0];
		expect(report.subject).toBe('RosterSync: 1 created, 1 updated, 1 archived — Grand Bend High School');
		const store = await openStore({ engine: 'sqlite', path: storePath });
		try {
			const kyle = await store.db.query("SELECT family_name, archived_at FROM people WHERE sourced_id = '604874'");
			expect(kyle).toEqual([{ family_name: 'Hughes-Park', archived_at: null }]);
			const micheal = await store.db.query("SELECT archived_at FROM people WHERE sourced_id = '605015'");
			expect(micheal).toHaveLength(1);
			expect(micheal[0].archived_at).not.toBeNull();
			const englishMembers = await store.db.query(
				"SELECT p.sourced_id FROM list_members m JOIN user_lists l ON l.id = m.list_id JOIN people p ON p.id = m.person_id WHERE l.source_key = 'class:25590100101Trad120ENG112011' AND m.membership = 'member' ORDER BY p.sourced_id",
			);
			const ids = englishMembers.map((row) => row.sourced_id);
			expect(ids).toContain('609999');
			expect(ids).not.toContain('605015');
			expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM people'))[0].n)).toBe(11);
		} finally {
			await store.close();
		}
		const mails = await e2e.smtp.waitForMessages(2, 30_000);
		expect((await simpleParser(mails[1])).subject).toBe('RosterSync: 1 created, 1 updated, 1 archived — Grand Bend High School');
	});

	it('`n8n start` serves the editor with the package loaded, and stops', async () => {
		const server = await e2e.start();
		try {
			expect((await fetch(`${server.url}/types/nodes.json`)).status).toBe(401); // the editor's files need a login
			const session = await signIn(server, randomOwner());
			const types = await session.request('GET', '/types/nodes.json');
			expect(types.status).toBe(200);
			const names = (types.json as Array<{ name: string }>).map((type) => type.name);
			expect(names).toEqual(
				expect.arrayContaining(['n8n-nodes-rostersync.rosterCsvIngest', 'n8n-nodes-rostersync.rosterNormalize', 'n8n-nodes-rostersync.rosterReconcileUsers', 'n8n-nodes-rostersync.rosterBuildLists', 'n8n-nodes-rostersync.rosterPublishReport']),
			);
			const credentialTypes = await session.request('GET', '/types/credentials.json');
			expect((credentialTypes.json as Array<{ name: string }>).map((type) => type.name)).toEqual(
				expect.arrayContaining(['rosterSftpApi', 'rosterStoreApi']),
			);
			// The imported template is there for the owner, with its execution from `n8n execute`.
			const stored = await session.request('GET', `/rest/workflows/${workflow.id}`);
			expect(stored.status).toBe(200);
			expect((stored.json as { data: { name: string } }).data.name).toBe(workflow.name);
		} finally {
			await server.stop();
		}
		expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
		await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
	}, 5 * 60_000);

	it('a run that cannot reach the export fails in n8n with the engine’s message, and stages nothing', async () => {
		const wrongKey = { id: 'rosterSftpWrongKey', name: 'Roster SFTP (wrong host key)' };
		await e2e.importCredentials([
			{
				...wrongKey,
				type: 'rosterSftpApi',
				data: sftpCredentialData(e2e.sshd, 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
			},
		]);
		const failing = JSON.parse(JSON.stringify(workflow)) as WorkflowJson;
		failing.id = 'rsNightlyWrongKey';
		failing.name = `${workflow.name} (wrong host key)`;
		failing.nodes.find((node) => node.name === INGEST)!.credentials!.rosterSftpApi = wrongKey;
		await e2e.importWorkflow(failing);

		const store = await openStore({ engine: 'sqlite', path: storePath });
		const runsBefore = Number((await store.db.query('SELECT COUNT(*) AS n FROM sync_runs'))[0].n);
		await store.close();

		const failed = await e2e.execute(failing.id);
		expect(failed.code).not.toBe(0);
		if (!failed.run) throw new Error(`no run data for the failed execution:\n${describeExecution(failed)}`);
		const error = failed.run.data.resultData.error;
		expect(error?.message).toMatch(/host key that does not match/);
		expect(failed.run.data.resultData.lastNodeExecuted).toBe(INGEST);
		expect(failed.run.data.resultData.runData[NORMALIZE]).toBeUndefined();

		const after = await openStore({ engine: 'sqlite', path: storePath });
		try {
			const runs = await after.db.query('SELECT status, stage FROM sync_runs ORDER BY started_at');
			// Nothing was staged: either no run was recorded or the one recorded is failed.
			expect(runs.slice(runsBefore).every((run) => run.status === 'failed' || run.stage === 'created')).toBe(true);
		} finally {
			await after.close();
		}
	}, 5 * 60_000);

	it('keeps n8n’s own files in the user folder', async () => {
		expect((await fs.readdir(e2e.folder.n8nDir)).sort()).toEqual(expect.arrayContaining(['database.sqlite', 'nodes']));
	});
});
