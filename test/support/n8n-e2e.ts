/**
 * The setup the end-to-end tests (test/e2e/*.test.ts) share, on top of the n8n harness
 * (test/e2e/n8n-harness.ts, which the demo uses too):
 *
 *  - startN8nWithPackage(): n8n installed and the package built and packed (side by side), then a
 *    fresh n8n user folder with the package installed, and the harness's commands bound to it;
 *  - setUpSftpTemplate(): that, plus the shipped SFTP template (workflows/nightly-sync-sftp.json) with
 *    a real sshd serving the Grand Bend sample, a real SMTP server and the three credentials the
 *    template refers to imported. The workflow itself is imported by the test, after its own edits.
 *
 * close() stops what was started and removes the user folder (unless ROSTERSYNC_KEEP_E2E is set).
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

import {
	createUserFolder,
	describeExecution,
	ensureN8n,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	preparePackage,
	startN8n,
	type CredentialToImport,
	type ExecuteResult,
	type N8nInstallation,
	type N8nRun,
	type N8nUserFolder,
	type RunningN8n,
} from '../e2e/n8n-harness';
import { freePort } from './net';
import { GRAND_BEND_1_1, REPO_ROOT, sharedDataDir } from './paths';
import type { SmtpServer } from './smtp';
import { startSmtp } from './smtp';
import type { SshdServer } from './sshd';
import { copyIntoServed, startSshd } from './sshd';

export const SFTP_TEMPLATE = path.join(REPO_ROOT, 'workflows', 'nightly-sync-sftp.json');

// Node names in the shipped templates (workflows/*.json).
export const INGEST = 'Roster CSV Ingest';
export const FETCH = 'Roster OneRoster Fetch';
export const NORMALIZE = 'Roster Normalize';
export const RECONCILE = 'Roster Reconcile Users';
export const LISTS = 'Roster Build Lists';
export const REPORT = 'Roster Publish Report';
export const EMAIL = 'Send Email';

export interface CredentialRef {
	id: string;
	name: string;
}

/** A workflow as exported to JSON, typed as loosely as the tests need. */
export interface WorkflowJson {
	id: string;
	name: string;
	nodes: Array<{ name: string; type: string; parameters: Record<string, unknown>; credentials?: Record<string, CredentialRef> }>;
	[key: string]: unknown;
}

export function readWorkflow(file: string): WorkflowJson {
	return JSON.parse(readFileSync(file, 'utf8')) as WorkflowJson;
}

/** The parameters of a workflow's node, to edit as the operator does in the editor. */
export function nodeParameters(workflow: WorkflowJson, nodeName: string): Record<string, unknown> {
	const node = workflow.nodes.find((candidate) => candidate.name === nodeName);
	if (!node) throw new Error(`the workflow "${workflow.name}" has no node "${nodeName}"`);
	return node.parameters;
}

/** The credential ids and names a workflow refers to, by type (an import with these ids needs no rewiring). */
export function templateCredentials(workflow: WorkflowJson): Record<string, CredentialRef> {
	const found: Record<string, CredentialRef> = {};
	for (const node of workflow.nodes) {
		for (const [type, ref] of Object.entries(node.credentials ?? {})) {
			if (found[type] && found[type].id !== ref.id) throw new Error(`the workflow refers to two ${type} credentials`);
			found[type] = ref;
		}
	}
	return found;
}

/** Throws with n8n's account of the run unless `n8n execute` ran the workflow to the end without an error. */
export function expectSucceeded(result: ExecuteResult, what = 'the workflow'): asserts result is ExecuteResult & { run: N8nRun } {
	if (result.code !== 0 || !result.run || result.run.data.resultData.error) throw new Error(`${what} did not succeed:\n${describeExecution(result)}`);
}

/** The n8n SMTP credential's data for the test SMTP server. */
export function smtpCredentialData(smtp: SmtpServer): Record<string, unknown> {
	return { host: smtp.host, port: smtp.port, user: smtp.user, password: smtp.password, secure: false };
}

/** The Roster SFTP credential's data for the test sshd: password login, host key pinned to `hostKeyFingerprint`. */
export function sftpCredentialData(sshd: SshdServer, hostKeyFingerprint = sshd.hostKeyFingerprint): Record<string, unknown> {
	return { host: sshd.host, port: sshd.port, username: sshd.username, authentication: 'password', password: sshd.password, hostKeyFingerprint };
}

/**
 * Night 2 of the Grand Bend export in `dir`: Kyle Hughes (604874) renamed Hughes-Park, Micheal Turner
 * (605015) gone with his enrollments, Ada Byron (609999) new, and with `enrollNewStudent` in English.
 */
export async function writeGrandBendNightTwo(dir: string, options: { enrollNewStudent: boolean }): Promise<void> {
	const users = (await fs.readFile(path.join(dir, 'users.csv'), 'utf8'))
		.replace('604874,,,true,255901001,student,Kyle Hughes,{Local:874},Kyle,Hughes,', '604874,,,true,255901001,student,Kyle Hughes-Park,{Local:874},Kyle,Hughes-Park,')
		.split(/\r?\n/)
		.filter((line) => !line.startsWith('605015,'))
		.concat(['609999,,,true,255901001,student,Ada Byron,{Local:999},Ada,Byron,,,Ada.Byron@studentgps.org,,,,09,'])
		.join('\n');
	const enrollments = (await fs.readFile(path.join(dir, 'enrollments.csv'), 'utf8'))
		.split(/\r?\n/)
		.filter((line) => !line.includes(',605015,'))
		.concat(options.enrollNewStudent ? ['NEW-ADA-ENG-FALL,,,25590100101Trad120ENG112011,255901001,609999,student,,2020-08-17,2020-12-18'] : [])
		.join('\n');
	await fs.writeFile(path.join(dir, 'users.csv'), users);
	await fs.writeFile(path.join(dir, 'enrollments.csv'), enrollments);
}

/** n8n with the package installed in a fresh user folder, and the harness's commands bound to both. */
export interface N8nWithPackage {
	n8n: N8nInstallation;
	folder: N8nUserFolder;
	/** Where the tests put the Roster Store's SQLite file: `<folder>/store/roster.sqlite`. */
	storePath: string;
	importCredentials(credentials: CredentialToImport[]): Promise<void>;
	importWorkflow(workflows: { id?: string } | Array<{ id?: string }>): Promise<string[]>;
	/** `n8n execute --id=<workflowId>` (see executeWorkflow()). */
	execute(workflowId: string): Promise<ExecuteResult>;
	/** `n8n start` on a free port of 127.0.0.1; stop() it when done. */
	start(): Promise<RunningN8n>;
	close(): Promise<void>;
}

/** n8n's first install (~6 min) and the package build run side by side; then the user folder. */
export async function startN8nWithPackage(): Promise<N8nWithPackage> {
	const [n8n, tarball] = await Promise.all([ensureN8n(), preparePackage()]);
	const folder = await createUserFolder();
	try {
		await installPackage(folder, tarball);
	} catch (error) {
		await folder.cleanup();
		throw error;
	}
	return {
		n8n,
		folder,
		storePath: path.join(folder.root, 'store', 'roster.sqlite'),
		importCredentials: (credentials) => importCredentials(n8n, folder, credentials),
		importWorkflow: (workflows) => importWorkflow(n8n, folder, workflows),
		execute: (workflowId) => executeWorkflow(n8n, folder, workflowId),
		start: async () => startN8n(n8n, folder, { port: await freePort() }),
		close: () => folder.cleanup(),
	};
}

export interface SftpTemplate extends N8nWithPackage {
	sshd: SshdServer;
	smtp: SmtpServer;
	/** The served folder of the Grand Bend export, which the template's CSV Ingest reads. */
	remotePath: string;
	/** The template, its CSV Ingest pointed at `remotePath`; not imported yet. */
	workflow: WorkflowJson;
}

/** The SFTP template ready to import and run: sshd, SMTP and the template's credentials (Roster SFTP, Roster Store, SMTP). */
export async function setUpSftpTemplate(): Promise<SftpTemplate> {
	const started: Array<{ stop(): Promise<void> }> = [];
	const stopAll = async () => {
		for (const service of started.reverse()) await service.stop();
	};
	try {
		const base = await startN8nWithPackage();
		started.push({ stop: () => base.close() });
		const sshd = await startSshd();
		started.push(sshd);
		const smtp = await startSmtp();
		started.push(smtp);
		const remotePath = await copyIntoServed(sshd, sharedDataDir(GRAND_BEND_1_1), 'exports/grand-bend');
		const workflow = readWorkflow(SFTP_TEMPLATE);
		nodeParameters(workflow, INGEST).remotePath = remotePath;
		const refs = templateCredentials(workflow);
		await base.importCredentials([
			{ ...refs.rosterSftpApi, type: 'rosterSftpApi', data: sftpCredentialData(sshd) },
			{ ...refs.rosterStoreApi, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: base.storePath } },
			{ ...refs.smtp, type: 'smtp', data: smtpCredentialData(smtp) },
		]);
		return { ...base, sshd, smtp, remotePath, workflow, close: stopAll };
	} catch (error) {
		await stopAll();
		throw error;
	}
}
