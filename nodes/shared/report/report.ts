/**
 * Publish Report: the run's results report (email subject, text and HTML), the CSV of every
 * change and problem, and the history of runs ("OneRoster History").
 *
 * The email body holds counts, problem locations and warnings only: never a parent's phone or
 * email, never a secret. The CSV names changed fields, not their values.
 */
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import { listChanges } from '../store/changes';
import type { RunRecord, StoredProblem } from '../store/runs';
import { completeStage, countProblems, getRun, listProblems, listRuns } from '../store/runs';
import { ORG_TABLE, readSnapshotHeader, readSnapshotRecords } from '../store/snapshot';
import type { SqlDb } from '../store/sql';

/** How many problems the email body lists; the CSV has them all. */
export const REPORT_PROBLEM_LIMIT = 20;

const ROLE_TITLES: Record<PersonRole, string> = { student: 'Students', teacher: 'Teachers', staff: 'Staff', admin: 'Admins' };
const PEOPLE_COLUMNS = ['created', 'updated', 'archived', 'restored', 'skipped', 'unchanged', 'ambiguous'] as const;
type PeopleColumn = (typeof PEOPLE_COLUMNS)[number];

export interface ReportSummary {
	runId: string;
	status: string;
	stage: string;
	dryRun: boolean;
	source: string;
	schools: string[];
	startedAt: string;
	finishedAt: string | null;
	durationSeconds: number;
	people: Record<PersonRole, Record<PeopleColumn, number>> | null;
	totals: Record<PeopleColumn, number> | null;
	lists: Record<string, number> | null;
	problems: { count: number; first: Array<Omit<StoredProblem, 'stage'>> };
	warnings: string[];
	error: string | null;
}

export interface RunReport {
	subject: string;
	text: string;
	html: string;
	csv: string;
	summary: ReportSummary;
}

/** Anything that looks like a credential in free text (e.g. a URL or an upstream error) is blanked. */
export function scrubSecrets(text: string): string {
	return text
		.replace(/\b(password|passwd|pwd|token|secret|client_secret|access_token|api[_-]?key|passphrase)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;]+)/gi, '$1$2***')
		.replace(/\b(authorization\s*:\s*)(bearer|basic|oauth)?\s*[^\s,;]+/gi, '$1***')
		.replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***')
		.replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1***@');
}

const CONTACT_FIELDS = new Set(['email', 'phone', 'sms']);

/**
 * A problem message as the email body may show it: no email address, and no quoted value of a
 * contact field (a parent's phone or email must never reach the email body).
 */
export function maskContactDetails(message: string, field?: string): string {
	let masked = message.replace(/[^\s"'<>(),;]+@[^\s"'<>(),;]+\.[A-Za-z]{2,}/g, '[email hidden]');
	if (field && CONTACT_FIELDS.has(field)) masked = masked.replace(/"[^"]*"/g, '"[hidden]"');
	return masked;
}

/** A spreadsheet must not run a cell as a formula: cells starting with = + - @ tab or CR get a leading '. */
export function neutralizeCsvCell(value: string): string {
	return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function toCsv(rows: Array<Array<string | number | null | undefined>>): string {
	return rows
		.map((row) =>
			row
				.map((cell) => {
					const text = neutralizeCsvCell(cell === null || cell === undefined ? '' : String(cell));
					return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
				})
				.join(','),
		)
		.join('\r\n')
		.concat('\r\n');
}

function escapeHtml(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function location(problem: Omit<StoredProblem, 'stage'>): string {
	const parts = [problem.file, problem.row !== undefined ? `row ${problem.row}` : undefined, problem.field ? `field "${problem.field}"` : undefined];
	return parts.filter(Boolean).join(', ');
}

async function schoolNames(db: SqlDb, runId: string): Promise<string[]> {
	const header = await readSnapshotHeader(db, runId);
	if (!header) return [];
	const orgs = await readSnapshotRecords(db, runId, ORG_TABLE);
	return header.schoolIds.map((id) => orgs.find((org) => org.sourcedId === id)?.name ?? id);
}

function peopleCounts(run: RunRecord): ReportSummary['people'] {
	const reconciled = run.counts.reconciled as { byRole?: Record<PersonRole, Record<string, number>> } | undefined;
	if (!reconciled?.byRole) return null;
	const byRole = {} as Record<PersonRole, Record<PeopleColumn, number>>;
	for (const role of PERSON_ROLES) {
		const counts = reconciled.byRole[role] ?? {};
		byRole[role] = Object.fromEntries(PEOPLE_COLUMNS.map((column) => [column, Number(counts[column] ?? 0)])) as Record<PeopleColumn, number>;
	}
	return byRole;
}

export async function summarizeRun(db: SqlDb, runId: string): Promise<ReportSummary> {
	const run = await getRun(db, runId);
	const people = peopleCounts(run);
	const totals = people
		? (Object.fromEntries(
				PEOPLE_COLUMNS.map((column) => [column, PERSON_ROLES.reduce((sum, role) => sum + people[role][column], 0)]),
			) as Record<PeopleColumn, number>)
		: null;
	const lists = run.counts.lists as Record<string, unknown> | undefined;
	const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
	return {
		runId,
		status: run.status,
		stage: run.stage,
		dryRun: run.dryRun,
		source: scrubSecrets(run.source),
		schools: await schoolNames(db, runId),
		startedAt: run.startedAt,
		finishedAt: run.finishedAt,
		durationSeconds: Math.max(0, Math.round((end - Date.parse(run.startedAt)) / 100) / 10),
		people,
		totals,
		lists: lists
			? Object.fromEntries(Object.entries(lists).filter(([, value]) => typeof value === 'number') as Array<[string, number]>)
			: null,
		problems: {
			count: await countProblems(db, runId),
			first: (await listProblems(db, runId, REPORT_PROBLEM_LIMIT)).map((problem) => ({
				file: problem.file,
				row: problem.row,
				field: problem.field,
				sourcedId: problem.sourcedId,
				message: maskContactDetails(scrubSecrets(problem.message), problem.field),
			})),
		},
		warnings: run.warnings.map(scrubSecrets),
		error: run.error ? scrubSecrets(run.error) : null,
	};
}

function subjectOf(summary: ReportSummary): string {
	const where = summary.schools.length === 1 ? ` — ${summary.schools[0]}` : summary.schools.length > 1 ? ` — ${summary.schools.length} schools` : '';
	const mode = summary.dryRun ? ' (dry run)' : '';
	if (summary.status === 'failed') return `RosterSync FAILED${where}: nothing was changed${mode}`;
	if (summary.status === 'held') return `RosterSync HELD${where}: approval needed${mode}`;
	if (!summary.totals) return `RosterSync: run ${summary.stage}${where}${mode}`;
	const t = summary.totals;
	const problems = summary.problems.count ? `, ${summary.problems.count} problem${summary.problems.count === 1 ? '' : 's'}` : '';
	return `RosterSync: ${t.created} created, ${t.updated} updated, ${t.archived} archived${problems}${where}${mode}`;
}

function headline(summary: ReportSummary): string {
	if (summary.status === 'failed') return `The sync stopped and nothing in the people store was changed: ${summary.error ?? 'no reason recorded'}`;
	if (summary.dryRun) return 'Dry run: these are the changes the sync would make. Nothing in the people store was changed.';
	if (summary.status === 'held') return 'The run is held: nothing was applied. Review it and approve or discard it.';
	return 'The sync applied these changes to the people store.';
}

const LIST_LINES: Array<[string, string]> = [
	['listsCreated', 'lists created'],
	['listsUpdated', 'lists updated'],
	['listsArchived', 'lists archived'],
	['listsRestored', 'lists restored'],
	['membersAdded', 'members added'],
	['membersRemoved', 'members removed'],
	['managersAdded', 'managers added'],
	['managersRemoved', 'managers removed'],
];

function renderText(summary: ReportSummary): string {
	const lines: string[] = [subjectOf(summary), '', headline(summary), ''];
	lines.push(`Run: ${summary.runId} (${summary.status}, ${summary.durationSeconds} s)`);
	lines.push(`Source: ${summary.source}`);
	if (summary.schools.length) lines.push(`Schools: ${summary.schools.join(', ')}`);
	if (summary.people) {
		lines.push('', ['People'.padEnd(10), ...PEOPLE_COLUMNS.map((c) => c.padStart(10))].join(''));
		for (const role of PERSON_ROLES) {
			lines.push([ROLE_TITLES[role].padEnd(10), ...PEOPLE_COLUMNS.map((c) => String(summary.people![role][c]).padStart(10))].join(''));
		}
	}
	if (summary.lists) {
		const parts = LIST_LINES.filter(([key]) => summary.lists![key]).map(([key, label]) => `${summary.lists![key]} ${label}`);
		lines.push('', `Lists: ${parts.length ? parts.join(', ') : 'no changes'}`);
	}
	lines.push('', `Problems: ${summary.problems.count}${summary.problems.count ? ' (rows skipped; all are in the attached CSV)' : ''}`);
	for (const problem of summary.problems.first) lines.push(`  - ${location(problem)}: ${problem.message}`);
	if (summary.problems.count > summary.problems.first.length) lines.push(`  … and ${summary.problems.count - summary.problems.first.length} more`);
	if (summary.warnings.length) {
		lines.push('', 'Warnings:');
		for (const warning of summary.warnings) lines.push(`  - ${warning}`);
	}
	return lines.join('\n') + '\n';
}

function renderHtml(summary: ReportSummary): string {
	const e = escapeHtml;
	const parts: string[] = [
		`<h2 style="font-family:sans-serif">${e(subjectOf(summary))}</h2>`,
		`<p style="font-family:sans-serif"><strong>${e(headline(summary))}</strong></p>`,
		`<p style="font-family:sans-serif">Run ${e(summary.runId)} · ${e(summary.status)} · ${summary.durationSeconds} s<br>Source: ${e(summary.source)}${
			summary.schools.length ? `<br>Schools: ${e(summary.schools.join(', '))}` : ''
		}</p>`,
	];
	if (summary.people) {
		const head = ['People', ...PEOPLE_COLUMNS].map((c) => `<th style="text-align:left;padding:2px 8px">${e(c)}</th>`).join('');
		const rows = PERSON_ROLES.map(
			(role) =>
				`<tr><td style="padding:2px 8px">${e(ROLE_TITLES[role])}</td>${PEOPLE_COLUMNS.map((c) => `<td style="padding:2px 8px">${summary.people![role][c]}</td>`).join('')}</tr>`,
		).join('');
		parts.push(`<table style="font-family:sans-serif;border-collapse:collapse"><tr>${head}</tr>${rows}</table>`);
	}
	if (summary.lists) {
		const items = LIST_LINES.filter(([key]) => summary.lists![key]).map(([key, label]) => `${summary.lists![key]} ${e(label)}`);
		parts.push(`<p style="font-family:sans-serif">Lists: ${items.length ? items.join(', ') : 'no changes'}</p>`);
	}
	parts.push(`<p style="font-family:sans-serif">Problems: ${summary.problems.count}</p>`);
	if (summary.problems.first.length) {
		parts.push(`<ul style="font-family:sans-serif">${summary.problems.first.map((p) => `<li>${e(location(p))}: ${e(p.message)}</li>`).join('')}</ul>`);
	}
	if (summary.warnings.length) {
		parts.push(`<p style="font-family:sans-serif">Warnings:</p><ul style="font-family:sans-serif">${summary.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>`);
	}
	return `<!doctype html><html><body>${parts.join('\n')}</body></html>`;
}

const CSV_HEADER = ['kind', 'action', 'role', 'sourcedId', 'name', 'fields', 'reason', 'file', 'row', 'field', 'message'];

async function renderCsv(db: SqlDb, runId: string): Promise<string> {
	const rows: Array<Array<string | number | null | undefined>> = [CSV_HEADER];
	for (const problem of await listProblems(db, runId)) {
		rows.push(['problem', 'skipped', null, problem.sourcedId, null, null, null, problem.file, problem.row, problem.field, scrubSecrets(problem.message)]);
	}
	for (const change of await listChanges(db, runId)) {
		rows.push([change.entity, change.action, change.role, change.sourcedId, change.label, (change.fields ?? []).join(' '), change.reason, null, null, null, null]);
	}
	return toCsv(rows);
}

export async function buildReport(db: SqlDb, runId: string): Promise<RunReport> {
	const summary = await summarizeRun(db, runId);
	return {
		subject: subjectOf(summary),
		text: renderText(summary),
		html: renderHtml(summary),
		csv: await renderCsv(db, runId),
		summary,
	};
}

/** Records the run as reported: completed, unless it failed or is held (those keep their status). */
export async function publishRun(db: SqlDb, runId: string): Promise<RunRecord> {
	const run = await getRun(db, runId);
	if (run.status === 'failed' || run.status === 'held') return run;
	return completeStage(db, runId, 'reported', { publishedAt: new Date().toISOString() }, [], 'completed');
}

export interface HistoryEntry {
	runId: string;
	status: string;
	stage: string;
	dryRun: boolean;
	source: string;
	startedAt: string;
	finishedAt: string | null;
	durationSeconds: number | null;
	created: number | null;
	updated: number | null;
	archived: number | null;
	problems: number;
	error: string | null;
}

/** The last `limit` runs, newest first: the "OneRoster History" report. */
export async function listHistory(db: SqlDb, limit: number): Promise<HistoryEntry[]> {
	const runs = await listRuns(db, limit);
	const entries: HistoryEntry[] = [];
	for (const run of runs) {
		const reconciled = run.counts.reconciled as Record<string, number> | undefined;
		entries.push({
			runId: run.id,
			status: run.status,
			stage: run.stage,
			dryRun: run.dryRun,
			source: scrubSecrets(run.source),
			startedAt: run.startedAt,
			finishedAt: run.finishedAt,
			durationSeconds: run.finishedAt ? Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 100) / 10 : null,
			created: reconciled ? Number(reconciled.created ?? 0) : null,
			updated: reconciled ? Number(reconciled.updated ?? 0) : null,
			archived: reconciled ? Number(reconciled.archived ?? 0) : null,
			problems: await countProblems(db, run.id),
			error: run.error ? scrubSecrets(run.error) : null,
		});
	}
	return entries;
}
