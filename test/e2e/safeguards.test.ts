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
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { simpleParser } from 'mailparser';

import { getRun } from '../../nodes/shared/store/runs';
import { openStore } from '../../nodes/shared/store/store';
import { expectSucceeded, setUpSftpTemplate, writeGrandBendNightTwo, type SftpTemplate } from '../support/n8n-e2e';
import { describeExecution, nodeOutput } from './n8n-harness';

describe('safeguards of the nightly template in a real n8n: a held night approved from the email, a stopped night', () => {
	let e2e: SftpTemplate;
	let heldRunId: string;

	beforeAll(async () => {
		// n8n installed, the package built and installed, sshd and SMTP started, the template's credentials
		// imported and its CSV Ingest pointed at the served export.
		e2e = await setUpSftpTemplate();
		const { workflow } = e2e;
		const node = (name: string) => workflow.nodes.find((n) => n.name === name)!;
		// Both email nodes send with the one SMTP credential that was imported.
		expect(node('Ask for Approval').credentials!.smtp).toEqual(node('Send Email').credentials!.smtp);
		Object.assign(node('Roster Reconcile Users').parameters, { dryRun: false, autoUpdate: true, archive: true, archiveLimitPeople: 0 });
		Object.assign(node('Roster Build Lists').parameters, { syncClassRosters: true, terms: ['255901001_2021_2020-2021_Fall'], autoListsByRole: true });
		node('Send Email').parameters.toEmail = 'ops@district.example.org';
		node('Ask for Approval').parameters.toEmail = 'ops@district.example.org';
		await e2e.importWorkflow(workflow);

		const night1 = await e2e.execute(workflow.id);
		expectSucceeded(night1, 'night 1');
		await e2e.smtp.waitForMessages(1, 30_000);
	}, 25 * 60_000);

	afterAll(async () => {
		await e2e?.close();
	});

	it('night 2 is held: nothing applied, the report and an approval request are emailed, the execution waits', async () => {
		await writeGrandBendNightTwo(e2e.remotePath, { enrollNewStudent: false });
		const night2 = await e2e.execute(e2e.workflow.id);
		if (!night2.run || night2.run.data.resultData.error) throw new Error(describeExecution(night2));
		const ran = night2.run.data.resultData.runData;
		expect(Object.keys(ran)).toEqual(expect.arrayContaining(['Roster Reconcile Users', 'Roster Publish Report', 'Send Email', 'Ask for Approval']));
		expect(ran['Roster Build Lists']).toBeUndefined();
		expect(ran['Approve Held Run']).toBeUndefined();
		// The held run left Reconcile Users by its second output, "Held".
		const reconcile = ran['Roster Reconcile Users'][0].data!.main!;
		expect(reconcile[0]).toEqual([]);
		heldRunId = String(reconcile[1]![0].json.runId);
		expect(nodeOutput(night2.run, 'Roster Publish Report')[0]).toMatchObject({ runId: heldRunId, status: 'held' });

		const store = await openStore({ engine: 'sqlite', path: e2e.storePath });
		try {
			expect(await getRun(store.db, heldRunId)).toMatchObject({ status: 'held', stage: 'reconciled' });
			expect(await store.db.query("SELECT family_name, archived_at FROM people WHERE sourced_id IN ('604874', '605015') ORDER BY sourced_id")).toEqual([
				{ family_name: 'Hughes', archived_at: null },
				{ family_name: 'Turner', archived_at: null },
			]);
		} finally {
			await store.close();
		}

		const mails = await Promise.all((await e2e.smtp.waitForMessages(3, 30_000)).slice(1).map((raw) => simpleParser(raw)));
		const report = mails.find((mail) => mail.subject?.startsWith('RosterSync HELD'))!;
		expect(report.subject).toBe('RosterSync HELD — Grand Bend High School: approval needed');
		expect(report.text).toContain('Held because it would archive 1 of 8 students (12.5 %); the limit is 10 % and 0 people');
		expect(report.attachments).toHaveLength(1);
		const ask = mails.find((mail) => mail !== report)!;
		expect(ask.subject).toBe(`RosterSync: run ${heldRunId} is held, approve it?`);
		expect(ask.html).toContain('nothing was applied, because it would archive 1 of 8 students');
	}, 5 * 60_000);

	it('answering the email form resumes the run: adds and updates applied, the archive held, lists built, the report emailed', async () => {
		const mails = await e2e.smtp.waitForMessages(3, 30_000);
		const ask = (await Promise.all(mails.map((raw) => simpleParser(raw)))).find((mail) => mail.subject?.includes('approve it?'))!;
		const link = /href="([^"]+)"/.exec(String(ask.html))![1].replace(/&amp;/g, '&');
		const resume = new URL(link);

		const server = await e2e.start();
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

			const [, , , done] = await e2e.smtp.waitForMessages(4, 120_000);
			const mail = await simpleParser(done);
			expect(mail.subject).toBe('RosterSync: 1 created, 1 updated, 0 archived, 1 archives held — Grand Bend High School');
			expect(mail.text).toContain('Approved in part: the adds and updates were applied; 1 archives are still held.');
		} finally {
			await server.stop();
		}

		const store = await openStore({ engine: 'sqlite', path: e2e.storePath });
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
		const users = path.join(e2e.remotePath, 'users.csv');
		await fs.writeFile(users, (await fs.readFile(users, 'utf8')).replace(',email,', ',emailAddress,'));
		const night3 = await e2e.execute(e2e.workflow.id);
		expectSucceeded(night3, 'night 3');
		const ran = night3.run.data.resultData.runData;
		const normalize = ran['Roster Normalize'][0].data!.main!;
		expect(normalize[0]).toEqual([]);
		expect(normalize[1]![0].json).toMatchObject({ status: 'stopped', stage: 'normalized' });
		expect(ran['Roster Reconcile Users']).toBeUndefined();

		const mail = await simpleParser((await e2e.smtp.waitForMessages(5, 30_000))[4]);
		expect(mail.subject).toBe('RosterSync STOPPED — Grand Bend High School: the export changed, nothing was applied');
		expect(mail.text).toContain('users.csv: the header changed (columns gone: email; columns new: emailAddress)');
		expect(mail.text).toContain('Pre-Flight Drift Checks on Roster Normalize');
	}, 5 * 60_000);
});
