/**
 * Safeguard 4: the pre-flight drift check in Normalize, on real CSV exports (a generated
 * two-school district through CSV Ingest and Normalize). Against the last good run: a header
 * renamed, a file missing, a school gone or emptied, a row count collapsed, every email of a role
 * empty, names mis-encoded. A failed check stops the run before Reconcile and says what changed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';

import { writeDistrict } from '../../../bench/district-generator';
import type { NormalizeOptions } from '../../../nodes/shared/normalize/normalize';
import { normalizeRun } from '../../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../../nodes/shared/reconcile/apply';
import { buildReport, publishRun } from '../../../nodes/shared/report/report';
import { openBufferFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../../nodes/shared/sources/oneroster-csv/source';
import { stageRun } from '../../../nodes/shared/sources/stage-run';
import { lastAppliedRun } from '../../../nodes/shared/store/runs';
import type { RosterStore } from '../../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../../support/engines';

type Files = Array<{ name: string; data: Buffer }>;

let district: Files;
let dir: string;
beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), 'rostersync-drift-'));
	await writeDistrict(dir, { students: 300, schools: 2, seed: 7 });
	district = readdirSync(dir).map((name) => ({ name, data: readFileSync(join(dir, name)) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const csvCell = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** The district with one file rewritten: `edit` gets the header and the rows, returns them changed. */
function edited(files: Files, name: string, edit: (header: string[], rows: string[][]) => { header: string[]; rows: string[][] }): Files {
	return files.map((file) => {
		if (file.name !== name) return file;
		const [header, ...rows] = parse(file.data) as string[][];
		const out = edit(header, rows);
		return { name, data: Buffer.from([out.header, ...out.rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n') };
	});
}

/** Rows of `name` whose `column` matches `keep`. */
const keepRows = (files: Files, name: string, column: string, keep: (value: string) => boolean) =>
	edited(files, name, (header, rows) => ({ header, rows: rows.filter((row) => keep(row[header.indexOf(column)])) }));

const SCHOOL_2 = 'org-sch-002';

describe.each(ENGINES)('pre-flight drift check (%s)', (engine) => {
	let store: RosterStore;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => store.close());

	async function normalized(files: Files, options: NormalizeOptions = {}) {
		const { run } = await stageRun(store.db, oneRosterCsvSource('binary input', () => openBufferFileSet(files)));
		return normalizeRun(store.db, run.id, options);
	}

	/** The last good run: normalized and applied. */
	async function goodNight(files: Files = district): Promise<string> {
		const result = await normalized(files);
		expect(result.drift.findings).toEqual([]);
		await reconcileRun(store.db, result.run.id, { archive: true, autoUpdate: true });
		return result.run.id;
	}

	test('the first run has nothing to compare with; an unchanged export passes and records the run it was compared with', async () => {
		const first = await normalized(district);
		expect(first.drift).toEqual({ baselineRunId: null, checks: ['headers', 'encoding', 'schools', 'rowCounts', 'emails'], findings: [], notes: [] });
		await reconcileRun(store.db, first.run.id, {});
		const second = await normalized(district);
		expect(second.run.status).toBe('running');
		expect(second.drift).toMatchObject({ baselineRunId: first.run.id, findings: [] });
		expect(second.run.counts.normalized).toMatchObject({ drift: { baselineRunId: first.run.id, findings: [] } });
	});

	test('a renamed header stops the run before Reconcile, saying exactly what changed; the report says what to do', async () => {
		const baseline = await goodNight();
		const renamed = edited(district, 'users.csv', (header, rows) => ({ header: header.map((c) => (c === 'email' ? 'emailAddress' : c)), rows }));
		const result = await normalized(renamed);

		expect(result.run.status).toBe('stopped');
		expect(result.drift.findings).toEqual([
			{ check: 'headers', message: 'users.csv: the header changed (columns gone: email; columns new: emailAddress)' },
			{ check: 'emails', message: expect.stringMatching(/^every one of the 300 students has an empty email \(\d+ of 300 had one in the last good run\)$/) },
			{ check: 'emails', message: 'every one of the 19 teachers has an empty email (19 of 19 had one in the last good run)' },
			{ check: 'emails', message: 'every one of the 5 staff has an empty email (5 of 5 had one in the last good run)' },
			{ check: 'emails', message: 'every one of the 4 admins has an empty email (4 of 4 had one in the last good run)' },
		]);
		expect(result.run.error).toBe(`the export changed since the last good run ${baseline}: users.csv: the header changed (columns gone: email; columns new: emailAddress) (and ${result.drift.findings.length - 1} more)`);
		await expect(reconcileRun(store.db, result.run.id, {})).rejects.toThrow(/the pre-flight drift check stopped it/);
		expect((await lastAppliedRun(store.db))?.id).toBe(baseline);

		expect(await publishRun(store.db, result.run.id)).toMatchObject({ status: 'stopped' });
		const report = await buildReport(store.db, result.run.id);
		expect(report.subject).toBe('RosterSync STOPPED — 2 schools: the export changed, nothing was applied');
		expect(report.text).toContain(`The pre-flight drift check stopped the run before Reconcile Users: the export differs from the last good run (${baseline}). Nothing in the people store was changed.`);
		expect(report.text).toContain('Why:\n  - users.csv: the header changed (columns gone: email; columns new: emailAddress)\n');
		expect(report.text).toContain('What to do next:\n  1. Check the export');
		expect(report.text).toContain('turn off "Headers" and "Empty Emails" in Pre-Flight Drift Checks on Roster Normalize for one run');

		// The change is intended: with those checks off the run goes through.
		const accepted = await normalized(renamed, { drift: { checks: ['encoding', 'schools', 'rowCounts'] } });
		expect(accepted.run.status).toBe('running');
		expect(accepted.drift.findings).toEqual([]);
	});

	test("a school whose sharing was switched off, a school gone from the orgs, a file missing from the drop", async () => {
		await goodNight();
		const students2 = new Set(
			(parse(district.find((f) => f.name === 'users.csv')!.data, { columns: true }) as Array<Record<string, string>>)
				.filter((u) => u.orgSourcedIds.includes(SCHOOL_2))
				.map((u) => u.sourcedId),
		);
		let sharingOff = keepRows(district, 'users.csv', 'orgSourcedIds', (orgs) => !orgs.includes(SCHOOL_2));
		sharingOff = keepRows(sharingOff, 'classes.csv', 'schoolSourcedId', (school) => school !== SCHOOL_2);
		sharingOff = keepRows(sharingOff, 'enrollments.csv', 'schoolSourcedId', (school) => school !== SCHOOL_2);
		sharingOff = keepRows(sharingOff, 'demographics.csv', 'sourcedId', (id) => !students2.has(id));
		const off = await normalized(sharingOff);
		expect(off.run.status).toBe('stopped');
		const messages = off.drift.findings.map((f) => `${f.check}: ${f.message}`);
		expect(messages[0]).toMatch(/^schools: school .+ \(org-sch-002\) has nobody in this export \(\d+ people in the last good run\): is its sharing switched off\?$/);
		expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/^rowCounts: students fell from 300 to \d+ \(−\d+(\.\d)? %; the limit is 20 %\)$/)]));

		const gone = await normalized(keepRows(sharingOff, 'orgs.csv', 'sourcedId', (id) => id !== SCHOOL_2));
		expect(gone.drift.findings[0].message).toMatch(/^school .+ \(org-sch-002\) is gone from the export's orgs \(it had \d+ people in the last good run\)$/);
		// Schools fell from 2 to 1, but fewer than 10 schools are not compared by count: the school finding says it.
		expect(gone.drift.findings.filter((f) => f.message.startsWith('schools'))).toEqual([]);

		const noEnrollments = edited(district, 'manifest.csv', (header, rows) => ({
			header,
			rows: rows.map((row) => (row[0] === 'file.enrollments' ? [row[0], 'absent'] : row)),
		})).filter((file) => file.name !== 'enrollments.csv');
		const missing = await normalized(noEnrollments);
		expect(missing.drift.findings).toEqual([
			{ check: 'headers', message: "enrollments.csv was in the last good run's export and is missing from this one" },
			{ check: 'rowCounts', message: expect.stringMatching(/^enrollments fell from 1,8\d\d to 0 \(−100 %; the limit is 20 %\)$/) },
		]);
	});

	test('a row count that fell by more than the limit stops the run; the limit is a setting; small entities are not compared', async () => {
		await goodNight();
		let n = 0;
		// Every third enrollment gone: −33 %.
		const fewer = edited(district, 'enrollments.csv', (header, rows) => ({ header, rows: rows.filter(() => n++ % 3 !== 0) }));
		const stopped = await normalized(fewer);
		expect(stopped.drift.findings).toEqual([{ check: 'rowCounts', message: expect.stringMatching(/^enrollments fell from 1,8\d\d to 1,2\d\d \(−33\.\d %; the limit is 20 %\)$/) }]);
		const allowed = await normalized(fewer, { drift: { maxRowDropPercent: 40 } });
		expect(allowed.drift.findings).toEqual([]);
		// 2 of 4 admins gone (−50 %), but fewer than 10 admins: not compared by count.
		const admins = edited(district, 'users.csv', (header, rows) => {
			let gone = 0;
			return { header, rows: rows.filter((row) => !(row[header.indexOf('role')] === 'administrator' && gone++ < 2)) };
		});
		expect((await normalized(admins)).drift.findings).toEqual([]);
	});

	test("names that now look mis-encoded stop the run (the export's encoding changed)", async () => {
		await goodNight();
		const mangled = edited(district, 'users.csv', (header, rows) => {
			const given = header.indexOf('givenName');
			return { header, rows: rows.map((row, i) => (i % 25 === 1 ? Object.assign([...row], { [given]: i % 2 ? 'JosÃ©' : 'Zo\uFFFD' }) : row)) };
		});
		const result = await normalized(mangled);
		expect(result.drift.findings).toHaveLength(1);
		expect(result.drift.findings[0]).toMatchObject({ check: 'encoding' });
		expect(result.drift.findings[0].message).toMatch(/^\d+ people's names look mis-encoded \(e\.g\. "(JosÃ©|Zo\uFFFD) .+"\); the last good run had none: the export's character encoding changed$/);
		// Proper accents are no drift.
		const accents = edited(district, 'users.csv', (header, rows) => {
			const given = header.indexOf('givenName');
			return { header, rows: rows.map((row, i) => (i % 25 === 1 ? Object.assign([...row], { [given]: 'José' }) : row)) };
		});
		expect((await normalized(accents)).drift.findings).toEqual([]);
	});

	test('every email of one role empty; a changed School IDs scope is not mistaken for a collapse', async () => {
		await goodNight();
		const noTeacherEmails = edited(district, 'users.csv', (header, rows) => ({
			header,
			rows: rows.map((row) => (row[header.indexOf('role')] === 'teacher' ? Object.assign([...row], { [header.indexOf('email')]: '' }) : row)),
		}));
		const result = await normalized(noTeacherEmails);
		expect(result.drift.findings).toEqual([{ check: 'emails', message: 'every one of the 19 teachers has an empty email (19 of 19 had one in the last good run)' }]);

		const oneSchool = await normalized(district, { schoolIds: ['org-sch-001'] });
		expect(oneSchool.drift.findings).toEqual([]);
		expect(oneSchool.drift.notes).toEqual(['the School IDs setting changed since the last good run; row counts were not compared']);
		expect(oneSchool.run.warnings).toContain('the School IDs setting changed since the last good run; row counts were not compared');
	});
});
