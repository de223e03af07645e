/**
 * End to end in a REAL n8n, the shipped template's safeguards: a night that passes a mass-change
 * threshold is held — the report and an approval request (n8n's Send Email "send and wait" with a
 * form) are emailed, and when the operator answers the form from the email the run is applied in
 * part (adds and updates now, the archive held); a night whose export lost a column is stopped by
 * the drift check, and the report says what changed. Grand Bend from a real sshd, a real SMTP
 * server, a SQLite store file.
 *
 * Night 2 of Grand Bend archives 1 of 8 students (12.5 %): under the default thresholds (10 % AND
 * more than 5 people) it would not be held, so the test sets Archive Threshold (People) to 0
 * (the percent alone), as an operator of a small school might.
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

import { simpleParser } from 'mailparser';

import { getRun } from '../../nodes/shared/store/runs';
import { openStore } from '../../nodes/shared/store/store';
import { freePort } from '../support/net';
import { GRAND_BEND_1_1, REPO_ROOT, sharedDataDir } from '../support/paths';
import type { SmtpServer } from '../support/smtp';
import { startSmtp } from '../support/smtp';
import type { SshdServer } from '../support/sshd';
import { copyIntoServed, startSshd } from '../support/sshd';
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
	startN8n,
	type N8nInstallation,
	type N8nUserFolder,
} from './n8n-harness';

const TEMPLATE = path.join(REPO_ROOT, 'workflows', 'nightly-sync-sftp.json');

interface WorkflowJson {
	id: string;
	nodes: Array<{ name: string; parameters: Record<string, unknown>; credentials?: Record<string, { id: string; name: string }> }>;
	[key: string]: unknown;
}

/** Night 2: Micheal Turner (605015) gone with his enrollments, Kyle Hughes renamed, Ada Byron new. */
async function writeNightTwo(dir: string): Promise<void> {
	const users = (await fs.readFile(path.join(dir, 'users.csv'), 'utf8'))
		.replace('604874,,,true,255901001,student,Kyle Hughes,{Local:874},Kyle,Hughes,', '604874,,,true,255901001,student,Kyle Hughes-Park,{Local:874},Kyle,Hughes-Park,')
		.split(/\r?\n/)
		.filter((line) => !line.startsWith('605015,'))
		.concat(['609999,,,true,255901001,student,Ada Byron,{Local:999},Ada,Byron,,,Ada.Byron@studentgps.org,,,,09,'])
		.join('\n');
	const enrollments = (await fs.readFile(path.join(dir, 'enrollments.csv'), 'utf8'))
		.split(/\r?\n/)
		.filter((line) => !line.includes(',605015,'))
		.join('\n');
	await fs.writeFile(path.join(dir, 'users.csv'), users);
	await fs.writeFile(path.join(dir, 'enrollments.csv'), enrollments);
}

describe('safeguards of the nightly template in a real n8n: a held night approved from the email, a stopped night', () => {
	let n8n: N8nInstallation;
	let folder: N8nUserFolder;
	let sshd: SshdServer;
	let smtp: SmtpServer;
	let remotePath: string;
	let storePath: string;
	let workflow: WorkflowJson;
	let heldRunId: string;

	beforeAll(async () => {
		const [installed, tarball] = await Promise.all([ensureN8n(), preparePackage()]);
		n8n = installed;
		sshd = await startSshd();
		smtp = await startSmtp();
		remotePath = await copyIntoServed(sshd, sharedDataDir(GRAND_BEND_1_1), 'exports/grand-bend');
		folder = await createUserFolder();
		await installPackage(folder, tarball);
		storePath = path.join(folder.root, 'store', 'roster.sqlite');

		workflow = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as WorkflowJson;
		const node = (name: string) => workflow.nodes.find((n) => n.name === name)!;
		const refs = { sftp: node('Roster CSV Ingest').credentials!.rosterSftpApi, store: node('Roster CSV Ingest').credentials!.rosterStoreApi, smtp: node('Send Email').credentials!.smtp };
		expect(node('Ask for Approval').credentials!.smtp).toEqual(refs.smtp);
		await importCredentials(n8n, folder, [
			{
				...refs.sftp,
				type: 'rosterSftpApi',
				data: { host: sshd.host, port: sshd.port, username: sshd.username, authentication: 'password', password: sshd.password, hostKeyFingerprint: sshd.hostKeyFingerprint },
			},
			{ ...refs.store, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: storePath } },
			{ ...refs.smtp, type: 'smtp', data: { host: smtp.host, port: smtp.port, user: smtp.user, password: smtp.password, secure: false } },
		]);
		node('Roster CSV Ingest').parameters.remotePath = remotePath;
		Object.assign(node('Roster Reconcile Users').parameters, { dryRun: false, autoUpdate: true, archive: true, archiveLimitPeople: 0 });
		Object.assign(node('Roster Build Lists').parameters, { syncClassRosters: true, terms: ['255901001_2021_2020-2021_Fall'], autoListsByRole: true });
		node('Send Email').parameters.toEmail = 'ops@district.example.org';
		node('Ask for Approval').parameters.toEmail = 'ops@district.example.org';
		await importWorkflow(n8n, folder, workflow);

		const night1 = await executeWorkflow(n8n, folder, workflow.id);
		if (night1.code !== 0 || !night1.run || night1.run.data.resultData.error) throw new Error(describeExecution(night1));
		await smtp.waitForMessages(1, 30_000);
	}, 25 * 60_000);

	afterAll(async () => {
		await sshd?.stop();
		await smtp?.stop();
		await folder?.cleanup();
	});

	it('night 2 is held: nothing applied, the report and an approval request are emailed, the execution waits', async () => {
		await writeNightTwo(remotePath);
		const night2 = await executeWorkflow(n8n, folder, workflow.id);
		if (!night2.run || night2.run.data.resultData.error) throw new Error(describeExecution(night2));
		const ran = night2.run.data.resultData.runData;
		expect(Object.keys(ran)).toEqual(expect.arrayContaining(['Roster Reconcile Users', 'Roster Publish Report', 'Send Email', 'Ask for Approval']));
		expect(ran['Roster Build Lists']).toBeUndefined();
		expect(ran['Approve Held Run']).toBeUndefined();
		// The held run left Reconcile Users by its second output, "Held".
		const reconcile = ran['Roster Reconcile Users'][0].data!.main;
		expect(reconcile[0]).toEqual([]);
		heldRunId = String(reconcile[1]![0].json.runId);
		expect(nodeOutput(night2.run, 'Roster Publish Report')[0]).toMatchObject({ runId: heldRunId, status: 'held' });

		const store = await openStore({ engine: 'sqlite', path: storePath });
		try {
			expect(await getRun(store.db, heldRunId)).toMatchObject({ status: 'held', stage: 'reconciled' });
			expect(await store.db.query("SELECT family_name, archived_at FROM people WHERE sourced_id IN ('604874', '605015') ORDER BY sourced_id")).toEqual([
				{ family_name: 'Hughes', archived_at: null },
				{ family_name: 'Turner', archived_at: null },
			]);
		} finally {
			await store.close();
		}

		const mails = await Promise.all((await smtp.waitForMessages(3, 30_000)).slice(1).map((raw) => simpleParser(raw)));
		const report = mails.find((mail) => mail.subject?.startsWith('RosterSync HELD'))!;
		expect(report.subject).toBe('RosterSync HELD — Grand Bend High School: approval needed');
		expect(report.text).toContain('Held because it would archive 1 of 8 students (12.5 %); the limit is 10 % and 0 people');
		expect(report.attachments).toHaveLength(1);
		const ask = mails.find((mail) => mail !== report)!;
		expect(ask.subject).toBe(`RosterSync: run ${heldRunId} is held, approve it?`);
		expect(ask.html).toContain('nothing was applied, because it would archive 1 of 8 students');
	}, 5 * 60_000);

	it('answering the email form resumes the run: adds and updates applied, the archive held, lists built, the report emailed', async () => {
		const mails = await smtp.waitForMessages(3, 30_000);
		const ask = (await Promise.all(mails.map((raw) => simpleParser(raw)))).find((mail) => mail.subject?.includes('approve it?'))!;
		const link = /href="([^"]+)"/.exec(String(ask.html))![1].replace(/&amp;/g, '&');
		const resume = new URL(link);

		const port = await freePort();
		const server = await startN8n(n8n, folder, { port });
		try {
			const form = await fetch(`${server.url}${resume.pathname}${resume.search}`);
			expect(form.status).toBe(200);
			const page = await form.text();
			expect(page).toContain('Apply adds and updates (archives stay held)');
			expect(page).toContain('Discard');

			// What the form page posts when the operator picks the first choice (n8n's form sends a radio as a JSON list).
			const answer = new FormData();
			answer.append('field-0', JSON.stringify(['Apply adds and updates (archives stay held)']));
			const posted = await fetch(`${server.url}${resume.pathname}${resume.search}`, { method: 'POST', body: answer });
			if (posted.status !== 200) throw new Error(`the form answer got ${posted.status}: ${await posted.text()}\n--- n8n (tail) ---\n${server.log().slice(-4000)}`);

			const [, , , done] = await smtp.waitForMessages(4, 120_000);
			const mail = await simpleParser(done);
			expect(mail.subject).toBe('RosterSync: 1 created, 1 updated, 0 archived, 1 archives held — Grand Bend High School');
			expect(mail.text).toContain('Approved in part: the adds and updates were applied; 1 archives are still held.');
		} finally {
			await server.stop();
		}

		const store = await openStore({ engine: 'sqlite', path: storePath });
		try {
			expect(await getRun(store.db, heldRunId)).toMatchObject({ status: 'completed', stage: 'reported' });
			expect(await store.db.query("SELECT sourced_id, family_name, archived_at FROM people WHERE sourced_id IN ('604874', '605015', '609999') ORDER BY sourced_id")).toEqual([
				{ sourced_id: '604874', family_name: 'Hughes-Park', archived_at: null },
				{ sourced_id: '605015', family_name: 'Turner', archived_at: null },
				{ sourced_id: '609999', family_name: 'Byron', archived_at: null },
			]);
			// Build Lists ran on the approved run: the new student is on the All Students list.
			const allStudents = await store.db.query(
				"SELECT p.sourced_id FROM list_members m JOIN user_lists l ON l.id = m.list_id JOIN people p ON p.id = m.person_id WHERE l.source_key = 'role:student' AND p.sourced_id = '609999'",
			);
			expect(allStudents).toHaveLength(1);
		} finally {
			await store.close();
		}
	}, 6 * 60_000);

	it('a night whose export renamed a column is stopped before Reconcile, and the report says what changed', async () => {
		const users = path.join(remotePath, 'users.csv');
		await fs.writeFile(users, (await fs.readFile(users, 'utf8')).replace(',email,', ',emailAddress,'));
		const night3 = await executeWorkflow(n8n, folder, workflow.id);
		if (night3.code !== 0 || !night3.run || night3.run.data.resultData.error) throw new Error(describeExecution(night3));
		const ran = night3.run.data.resultData.runData;
		const normalize = ran['Roster Normalize'][0].data!.main;
		expect(normalize[0]).toEqual([]);
		expect(normalize[1]![0].json).toMatchObject({ status: 'stopped', stage: 'normalized' });
		expect(ran['Roster Reconcile Users']).toBeUndefined();

		const mail = await simpleParser((await smtp.waitForMessages(5, 30_000))[4]);
		expect(mail.subject).toBe('RosterSync STOPPED — Grand Bend High School: the export changed, nothing was applied');
		expect(mail.text).toContain('users.csv: the header changed (columns gone: email; columns new: emailAddress)');
		expect(mail.text).toContain('Pre-Flight Drift Checks on Roster Normalize');
	}, 5 * 60_000);
});
