import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';

import { buildListsRun } from '../../../nodes/shared/lists/apply';
import { normalizeRun } from '../../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { buildReport, listHistory, maskContactDetails, neutralizeCsvCell, publishRun, scrubSecrets, toCsv } from '../../../nodes/shared/report/report';
import { addProblems } from '../../../nodes/shared/store/runs';
import { openBufferFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../../nodes/shared/sources/stage-run';
import { getRun } from '../../../nodes/shared/store/runs';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';
import { GRAND_BEND_1_1, sharedDataDir } from '../../support/paths';

const PARENT_EMAIL = 'pat.archer@family.example.net';
const PARENT_PHONE = '(519) 555-0199';

/** The sample set with a guardian for Mary Archer, a name outside Latin-1, and two bad rows (one a formula injection attempt). */
function sampleWithProblems() {
	const dir = sharedDataDir(GRAND_BEND_1_1);
	return readdirSync(dir).map((name) => {
		let text = readFileSync(join(dir, name), 'utf8');
		if (name === 'users.csv') {
			text = text
				.replace('604863,,,true,255901001,student,Mary Archer,{Local:863},Mary,Archer,,,Mary.Archer@studentgps.org,,(950) 336 6601,,09,', '604863,,,true,255901001,student,Mary Archer,{Local:863},Mary,Archer,,,Mary.Archer@studentgps.org,,(950) 336 6601,g1,09,')
				.replace('604927,,,true,255901001,student', '604927,,,true,255901001,"=HYPERLINK(""x"")"')
				.replace(',Peter,Nash,Ivan,', ',Péter,Nash-李,Ivan,')
				.concat(`\ng1,,,true,255901001,guardian,Pat Archer,,Pat,Archer,,,${PARENT_EMAIL},,${PARENT_PHONE},604863,,\n`);
		}
		return { name, data: Buffer.from(text) };
	});
}

describe.each(ENGINES)('Publish Report on %s', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function syncedRun(dryRun: boolean): Promise<string> {
		const { run } = await stageRun(store.db, oneRosterCsvSource('binary input', () => openBufferFileSet(sampleWithProblems())));
		await normalizeRun(store.db, run.id);
		await reconcileRun(store.db, run.id, { includePrimaryParentContact: true, dryRun });
		await buildListsRun(store.db, run.id, { syncClassRosters: true, terms: ['255901001_2021_2020-2021_Fall'], autoListsByRole: true });
		return run.id;
	}

	test('a run with errors: counts, problems, subject, and a CSV with every change and problem', async () => {
		const runId = await syncedRun(false);
		const published = await publishRun(store.db, runId);
		expect(published).toMatchObject({ status: 'completed', stage: 'reported' });
		const report = await buildReport(store.db, runId);

		expect(report.summary.people?.student.created).toBe(7);
		expect(report.summary.people?.teacher.created).toBe(2);
		expect(report.summary.problems.count).toBe(3); // the bad role row, and Larry's two enrollments
		expect(report.subject).toBe('RosterSync: 9 created, 0 updated, 0 archived, 3 problems — Grand Bend High School');
		expect(report.text).toContain('users.csv, row 5, field "role"');
		expect(report.text).toContain('The sync applied these changes');
		expect(report.html).toContain('&quot;'); // the bad role's quotes are escaped
		expect(report.html).not.toContain('=HYPERLINK("x")');

		// Parent contacts were synced onto the student, but never reach the email body — not even
		// through a problem message that quotes one.
		await addProblems(store.db, runId, 'staged', [
			{ file: 'users.csv', row: 12, field: 'phone', sourcedId: 'g1', message: `phone "${PARENT_PHONE}" is not a phone number` },
			{ file: 'users.csv', row: 12, field: 'agentSourcedIds', sourcedId: 'g1', message: `agent ${PARENT_EMAIL} is unknown` },
		]);
		const withContactProblems = await buildReport(store.db, runId);
		expect(withContactProblems.text).toContain('users.csv, row 12, field "phone": phone "[hidden]" is not a phone number');
		expect(withContactProblems.text).toContain('agent [email hidden] is unknown');
		for (const body of [report.text, report.html, report.subject, withContactProblems.text, withContactProblems.html]) {
			expect(body).not.toContain(PARENT_EMAIL);
			expect(body).not.toContain(PARENT_PHONE);
		}

		const rows: string[][] = parse(report.csv);
		expect(rows[0]).toEqual(['kind', 'action', 'role', 'sourcedId', 'name', 'fields', 'reason', 'file', 'row', 'field', 'message']);
		const problemRows = rows.filter((row) => row[0] === 'problem');
		expect(problemRows).toHaveLength(3);
		const roleProblem = problemRows.find((row) => row[9] === 'role')!;
		expect(roleProblem.slice(7, 10)).toEqual(['users.csv', '5', 'role']);
		const created = rows.filter((row) => row[0] === 'person' && row[1] === 'create');
		expect(created).toHaveLength(9);
		// The CSV is UTF-8: a name outside Latin-1 comes back as it was.
		expect(created.map((row) => row[4])).toContain('Péter Nash-李');
		expect(rows.filter((row) => row[0] === 'list' && row[1] === 'create').length).toBeGreaterThanOrEqual(2);
		expect(report.csv.toString('utf8')).not.toContain(PARENT_PHONE);
		// Every cell that could start a formula is neutralised.
		for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@]/);
	});

	test('a dry run says so in the subject and the body', async () => {
		const runId = await syncedRun(true);
		await publishRun(store.db, runId);
		const report = await buildReport(store.db, runId);
		expect(report.subject).toMatch(/\(dry run\)$/);
		expect(report.text).toContain('Dry run: these are the changes the sync would make. Nothing in the people store was changed.');
		expect(Number((await store.db.query('SELECT COUNT(*) AS n FROM people'))[0].n)).toBe(0);
	});

	test('a failed run gets a report that says nothing changed, and the history lists both', async () => {
		const good = await syncedRun(false);
		await publishRun(store.db, good);
		const broken = sampleWithProblems().filter((file) => file.name !== 'users.csv');
		const failure = await stageRun(store.db, oneRosterCsvSource('binary input', () => openBufferFileSet(broken))).catch((e) => e);
		const failedReport = await buildReport(store.db, failure.runId);
		expect(failedReport.subject).toMatch(/^RosterSync FAILED/);
		expect(failedReport.text).toContain('nothing in the people store was changed');
		expect(failedReport.text).toContain('users.csv');
		expect((await publishRun(store.db, failure.runId)).status).toBe('failed');
		const history = await listHistory(store.db, 10);
		expect(history.map((entry) => [entry.runId, entry.status])).toEqual([
			[failure.runId, 'failed'],
			[good, 'completed'],
		]);
		expect(history[1]).toMatchObject({ created: 9, updated: 0, archived: 0, problems: 3 });
		expect((await getRun(store.db, good)).finishedAt).not.toBeNull();
	});
});

test('CSV cells are quoted and formula-neutralised', () => {
	expect(neutralizeCsvCell('=1+2')).toBe("'=1+2");
	expect(neutralizeCsvCell('-5')).toBe("'-5");
	expect(neutralizeCsvCell('@SUM(A1)')).toBe("'@SUM(A1)");
	expect(neutralizeCsvCell('\tx')).toBe("'\tx");
	expect(neutralizeCsvCell('Zoë')).toBe('Zoë');
	expect(toCsv([['a,b', 'say "hi"', '+1'], [null, 3, 'x\ny']])).toBe('"a,b","say ""hi""",\'+1\r\n,3,"x\ny"\r\n');
});

test('contact details are masked in problem messages', () => {
	expect(maskContactDetails('email "mom@example.net" is a duplicate', 'email')).toBe('email "[hidden]" is a duplicate');
	expect(maskContactDetails('see mom@example.net.', 'role')).toBe('see [email hidden].');
	expect(maskContactDetails('unknown role "pupil"', 'role')).toBe('unknown role "pupil"');
});

test('secrets in free text are blanked', () => {
	expect(scrubSecrets('GET https://sis.example.org/token?client_secret=abc123&x=1')).toBe('GET https://sis.example.org/token?client_secret=***&x=1');
	expect(scrubSecrets('Authorization: Bearer eyJhbGciOi.x.y failed')).toBe('Authorization: *** failed');
	expect(scrubSecrets('sftp://ops:hunter2@sis.example.org/path')).toBe('sftp://ops:***@sis.example.org/path');
	expect(scrubSecrets('password=hunter2')).toBe('password=***');
});
