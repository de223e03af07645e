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
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

import { readSnapshot } from '../../nodes/shared/normalize/normalize';
import { getRun } from '../../nodes/shared/store/runs';
import { openStore } from '../../nodes/shared/store/store';
import { GRAND_BEND_1_1, REPO_ROOT, sharedDataDir } from '../support/paths';
import type { SshdServer } from '../support/sshd';
import { copyIntoServed, startSshd } from '../support/sshd';
import { freePort } from '../support/net';
import {
	createUserFolder,
	describeExecution,
	ensureN8n,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	nodeOutput,
	preparePackage,
	randomOwner,
	signIn,
	startN8n,
	type ExecuteResult,
	type N8nInstallation,
	type N8nUserFolder,
} from './n8n-harness';

const TEMPLATE = path.join(REPO_ROOT, 'workflows', 'nightly-sync-sftp.json');
const INGEST = 'Roster CSV Ingest';
const NORMALIZE = 'Roster Normalize';

interface WorkflowJson {
	id: string;
	name: string;
	nodes: Array<{ name: string; type: string; parameters: Record<string, unknown>; credentials?: Record<string, { id: string; name: string }> }>;
	[key: string]: unknown;
}

/** The credential ids and names the template refers to (an import with these ids needs no rewiring). */
function templateCredentials(workflow: WorkflowJson): Record<string, { id: string; name: string }> {
	const found: Record<string, { id: string; name: string }> = {};
	for (const node of workflow.nodes) {
		for (const [type, ref] of Object.entries(node.credentials ?? {})) {
			if (found[type] && found[type].id !== ref.id) throw new Error(`the template refers to two ${type} credentials`);
			found[type] = ref;
		}
	}
	return found;
}

describe('nightly sync template in a real n8n (SFTP → CSV Ingest → Normalize, SQLite store)', () => {
	let n8n: N8nInstallation;
	let folder: N8nUserFolder;
	let sshd: SshdServer;
	let storePath: string;
	let workflow: WorkflowJson;
	let result: ExecuteResult;

	beforeAll(async () => {
		const started = Date.now();
		// n8n's first install (~6 min) and the package build run side by side.
		const [installed, tarball] = await Promise.all([ensureN8n(), preparePackage()]);
		n8n = installed;
		sshd = await startSshd();
		const remotePath = await copyIntoServed(sshd, sharedDataDir(GRAND_BEND_1_1), 'exports/grand-bend');

		folder = await createUserFolder();
		await installPackage(folder, tarball);
		storePath = path.join(folder.root, 'store', 'roster.sqlite');

		workflow = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as WorkflowJson;
		const refs = templateCredentials(workflow);
		await importCredentials(n8n, folder, [
			{
				...refs.rosterSftpApi,
				type: 'rosterSftpApi',
				data: {
					host: sshd.host,
					port: sshd.port,
					username: sshd.username,
					authentication: 'password',
					password: sshd.password,
					hostKeyFingerprint: sshd.hostKeyFingerprint,
				},
			},
			{ ...refs.rosterStoreApi, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: storePath } },
		]);
		// The operator's one edit: where the export is on the SFTP server.
		workflow.nodes.find((node) => node.name === INGEST)!.parameters.remotePath = remotePath;
		await importWorkflow(n8n, folder, workflow);
		const setupMs = Date.now() - started;

		result = await executeWorkflow(n8n, folder, workflow.id);
		process.stderr.write(`[e2e] setup (build, n8n, sshd, imports) ${setupMs} ms; n8n execute ${result.ms} ms\n`);
	}, 25 * 60_000);

	afterAll(async () => {
		await sshd?.stop();
		await folder?.cleanup();
	});

	it('references the rostersync node types and both credentials', () => {
		const types = workflow.nodes.map((node) => node.type);
		expect(types).toEqual(
			expect.arrayContaining([
				'n8n-nodes-base.scheduleTrigger',
				'n8n-nodes-base.manualTrigger',
				'n8n-nodes-rostersync.rosterCsvIngest',
				'n8n-nodes-rostersync.rosterNormalize',
			]),
		);
		expect(Object.keys(templateCredentials(workflow)).sort()).toEqual(['rosterSftpApi', 'rosterStoreApi']);
	});

	it('`n8n execute` runs the workflow to the end', () => {
		if (result.code !== 0 || !result.run || result.run.data.resultData.error) {
			throw new Error(`the workflow did not succeed:\n${describeExecution(result)}`);
		}
		// `n8n execute` starts from the first trigger in the nodes array: the template lists "Run now" first.
		expect(Object.keys(result.run.data.resultData.runData).sort()).toEqual(['Run now', INGEST, NORMALIZE].sort());
		expect(result.run.data.resultData.lastNodeExecuted).toBe(NORMALIZE);
	});

	it('each rostersync node outputs one run handle for the same run', () => {
		if (!result.run) throw new Error(describeExecution(result));
		const ingest = nodeOutput(result.run, INGEST);
		const normalize = nodeOutput(result.run, NORMALIZE);
		expect(ingest).toHaveLength(1);
		expect(normalize).toHaveLength(1);
		expect(ingest[0]).toMatchObject({ runId: expect.stringMatching(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/), stage: 'staged', store: `sqlite:${storePath}` });
		expect(ingest[0].source).toEqual(expect.stringContaining(`sftp://${sshd.username}@127.0.0.1:${sshd.port}/`));
		expect(normalize[0]).toMatchObject({
			runId: ingest[0].runId,
			stage: 'normalized',
			store: `sqlite:${storePath}`,
			counts: expect.objectContaining({ people: { student: 8, teacher: 2, staff: 0, admin: 0 } }),
		});
		// Handles, not data: the whole item stays small.
		expect(JSON.stringify(normalize[0]).length).toBeLessThan(4000);
	});

	it('leaves the run normalized in the SQLite store file, with 8 students and 2 teachers', async () => {
		if (!result.run) throw new Error(describeExecution(result));
		const runId = String(nodeOutput(result.run, NORMALIZE)[0].runId);
		const store = await openStore({ engine: 'sqlite', path: storePath });
		try {
			const run = await getRun(store.db, runId);
			expect(run.stage).toBe('normalized');
			expect(run.status).not.toBe('failed');
			const snapshot = await readSnapshot(store.db, runId);
			const roles = snapshot.people.reduce<Record<string, number>>((acc, person) => {
				acc[person.role] = (acc[person.role] ?? 0) + 1;
				return acc;
			}, {});
			expect(roles).toEqual({ student: 8, teacher: 2 });
			expect(snapshot.people.find((p) => p.sourcedId === '604918')).toMatchObject({ givenName: 'Peter', familyName: 'Nash' });
		} finally {
			await store.close();
		}
	});

	it('`n8n start` serves the editor with the package loaded, and stops', async () => {
		const port = await freePort();
		const server = await startN8n(n8n, folder, { port });
		try {
			expect((await fetch(`${server.url}/types/nodes.json`)).status).toBe(401); // the editor's files need a login
			const session = await signIn(server, randomOwner());
			const types = await session.request('GET', '/types/nodes.json');
			expect(types.status).toBe(200);
			const names = (types.json as Array<{ name: string }>).map((type) => type.name);
			expect(names).toEqual(expect.arrayContaining(['n8n-nodes-rostersync.rosterCsvIngest', 'n8n-nodes-rostersync.rosterNormalize']));
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
		await importCredentials(n8n, folder, [
			{
				...wrongKey,
				type: 'rosterSftpApi',
				data: {
					host: sshd.host,
					port: sshd.port,
					username: sshd.username,
					authentication: 'password',
					password: sshd.password,
					hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
				},
			},
		]);
		const failing = JSON.parse(JSON.stringify(workflow)) as WorkflowJson;
		failing.id = 'rsNightlyWrongKey';
		failing.name = `${workflow.name} (wrong host key)`;
		failing.nodes.find((node) => node.name === INGEST)!.credentials!.rosterSftpApi = wrongKey;
		await importWorkflow(n8n, folder, failing);

		const store = await openStore({ engine: 'sqlite', path: storePath });
		const runsBefore = Number((await store.db.query('SELECT COUNT(*) AS n FROM sync_runs'))[0].n);
		await store.close();

		const failed = await executeWorkflow(n8n, folder, failing.id);
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
		expect((await fs.readdir(folder.n8nDir)).sort()).toEqual(expect.arrayContaining(['database.sqlite', 'nodes']));
	});
});
