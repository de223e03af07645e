/**
 * Publish Report: the run's results report (email subject, text and HTML), the CSV of every
 * change and problem, and the history of runs ("OneRoster History").
 *
 * The email body holds counts, problem locations and warnings only: never a parent's phone or
 * email, never a secret. The CSV names changed fields, not their values.
 */
import type { PersonRole } from '../model/roster';
import { PERSON_ROLES } from '../model/roster';
import { changeLinePages, countChanges, listChanges } from '../store/changes';
import type { RunRecord, StoredProblem } from '../store/runs';
import { completeStage, countProblems, getRun, listProblems, listRuns } from '../store/runs';
import { ORG_TABLE, readSnapshotHeader, readSnapshotRecords } from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import type { RunOutcome } from './outcome';
import { describeOutcome } from './outcome';

/** How many problems the email body lists; the CSV has them all. */
export const REPORT_PROBLEM_LIMIT = 20;

const ROLE_TITLES: Record<PersonRole, string> = { student: 'Students', teacher: 'Teachers', staff: 'Staff', admin: 'Admins' };
const PEOPLE_COLUMNS = ['created', 'updated', 'archived', 'restored', 'skipped', 'unchanged', 'ambiguous', 'deleted', 'pendingArchive', 'archiveHeld'] as const;
type PeopleColumn = (typeof PEOPLE_COLUMNS)[number];
/** Columns shown only when some role has a count in them (a rollback's deletes, the grace period, archives held). */
const OPTIONAL_COLUMNS: readonly PeopleColumn[] = ['deleted', 'pendingArchive', 'archiveHeld'];
const COLUMN_TITLES: Partial<Record<PeopleColumn, string>> = { pendingArchive: 'pending', archiveHeld: 'held' };

export interface ReportSummary {
	runId: string;
	/** 'sync', or 'rollback' for a run that rolled another back (`rollbackOf`). */
	kind: string;
	rollbackOf: string | null;
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
	/** What happened, why, and what to do next (held, stopped, discarded, rolled back…). */
	outcome: RunOutcome;
	/** People missing from the SIS but not archived yet: the grace period (Archive After Missing Runs). */
	pendingArchive: { count: number; first: Array<{ name: string | null; role: string | null; sourcedId: string | null; reason: string | null }> };
}

export interface RunReport {
	subject: string;
	text: string;
	html: string;
	/** The CSV file, UTF-8: bytes, not a string (a first night's is ~27 MB; as one string it would be built whole on the heap, then copied into the attachment). */
	csv: Buffer;
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

const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV cell: formula-neutralized, quoted when it holds a quote, comma or line break. */
function csvCell(cell: string | number | null | undefined): string {
	if (cell === null || cell === undefined || cell === '') return '';
	const text = neutralizeCsvCell(String(cell));
	return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows: Array<Array<string | number | null | undefined>>): string {
	return rows.map((row) => row.map(csvCell).join(',')).join('\r\n').concat('\r\n');
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

/**
 * The run's summary. `pendingArchive`, when given, is what the caller found reading the run's
 * changes anyway (buildReport, for the CSV); else it is read here.
 */
export async function summarizeRun(db: SqlDb, runId: string, pendingArchive?: ReportSummary['pendingArchive']): Promise<ReportSummary> {
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
		kind: run.kind,
		rollbackOf: run.kind === 'rollback' ? String(run.settings.rollbackOf ?? '') : null,
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
		outcome: describeOutcome(run),
		pendingArchive: pendingArchive ?? (await readPendingArchive(db, runId)),
	};
}

/** People pending archive (the grace period): how many, and the first few. */
async function readPendingArchive(db: SqlDb, runId: string): Promise<ReportSummary['pendingArchive']> {
	const filter = { entities: ['person' as const], actions: ['pending'] };
	const pending = await listChanges(db, runId, { ...filter, withValues: false, limit: REPORT_PROBLEM_LIMIT });
	return {
		count: await countChanges(db, runId, filter),
		first: pending.map((change) => ({ name: change.label, role: change.role, sourcedId: change.sourcedId, reason: change.reason })),
	};
}

function subjectOf(summary: ReportSummary): string {
	const where = summary.schools.length === 1 ? ` — ${summary.schools[0]}` : summary.schools.length > 1 ? ` — ${summary.schools.length} schools` : '';
	const mode = summary.dryRun ? ' (dry run)' : '';
	if (summary.kind === 'rollback') return `RosterSync: ${summary.dryRun ? 'preview of a rollback' : 'rollback'} of run ${summary.rollbackOf}${where}${mode}`;
	if (summary.status === 'failed') return `RosterSync FAILED${where}: nothing was changed${mode}`;
	if (summary.status === 'stopped') return `RosterSync STOPPED${where}: the export changed, nothing was applied${mode}`;
	if (summary.status === 'held') return `RosterSync HELD${where}: approval needed${mode}`;
	if (summary.status === 'discarded') return `RosterSync DISCARDED${where}: the held run was not applied`;
	if (!summary.totals) return `RosterSync: run ${summary.stage}${where}${mode}`;
	const t = summary.totals;
	const problems = summary.problems.count ? `, ${summary.problems.count} problem${summary.problems.count === 1 ? '' : 's'}` : '';
	const held = t.archiveHeld ? `, ${t.archiveHeld} archives held` : '';
	return `RosterSync: ${t.created} created, ${t.updated} updated, ${t.archived} archived${held}${problems}${where}${mode}`;
}

function headline(summary: ReportSummary): string {
	return summary.outcome.headline;
}

/** The people table's columns: the usual ones, and the optional ones some role has a count in. */
function peopleColumns(summary: ReportSummary): PeopleColumn[] {
	return PEOPLE_COLUMNS.filter((column) => !OPTIONAL_COLUMNS.includes(column) || (summary.totals?.[column] ?? 0) > 0);
}

const columnTitle = (column: PeopleColumn) => COLUMN_TITLES[column] ?? column;

/** Why and what next, then the people pending archive: lines of text (empty when there is nothing to say). */
function outcomeLines(summary: ReportSummary): string[] {
	const lines: string[] = [];
	const { reasons, nextSteps } = summary.outcome;
	if (reasons.length) lines.push('Why:', ...reasons.map((reason) => `  - ${reason}`), '');
	if (nextSteps.length) lines.push('What to do next:', ...nextSteps.map((step, i) => `  ${i + 1}. ${step}`), '');
	return lines;
}

function pendingLines(summary: ReportSummary): string[] {
	const { count, first } = summary.pendingArchive;
	if (count === 0) return [];
	const lines = [`Pending archive: ${count} ${count === 1 ? 'person is' : 'people are'} no longer in the SIS and will be archived if still missing (grace period):`];
	for (const person of first) lines.push(`  - ${person.name || person.sourcedId} (${person.role ?? 'unknown role'}): ${person.reason ?? ''}`);
	if (count > first.length) lines.push(`  … and ${count - first.length} more (all are in the attached CSV)`);
	return lines;
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
	const lines: string[] = [subjectOf(summary), '', headline(summary), '', ...outcomeLines(summary)];
	lines.push(`Run: ${summary.runId} (${summary.status}, ${summary.durationSeconds} s)`);
	lines.push(`Source: ${summary.source}`);
	if (summary.schools.length) lines.push(`Schools: ${summary.schools.join(', ')}`);
	if (summary.people) {
		const columns = peopleColumns(summary);
		lines.push('', ['People'.padEnd(10), ...columns.map((c) => columnTitle(c).padStart(10))].join(''));
		for (const role of PERSON_ROLES) {
			lines.push([ROLE_TITLES[role].padEnd(10), ...columns.map((c) => String(summary.people![role][c]).padStart(10))].join(''));
		}
	}
	const pending = pendingLines(summary);
	if (pending.length) lines.push('', ...pending);
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
		...(summary.outcome.reasons.length
			? [`<p style="font-family:sans-serif">Why:</p><ul style="font-family:sans-serif">${summary.outcome.reasons.map((r) => `<li>${e(r)}</li>`).join('')}</ul>`]
			: []),
		...(summary.outcome.nextSteps.length
			? [`<p style="font-family:sans-serif">What to do next:</p><ol style="font-family:sans-serif">${summary.outcome.nextSteps.map((step) => `<li>${e(step)}</li>`).join('')}</ol>`]
			: []),
		`<p style="font-family:sans-serif">Run ${e(summary.runId)} · ${e(summary.status)} · ${summary.durationSeconds} s<br>Source: ${e(summary.source)}${
			summary.schools.length ? `<br>Schools: ${e(summary.schools.join(', '))}` : ''
		}</p>`,
	];
	if (summary.people) {
		const columns = peopleColumns(summary);
		const head = ['People', ...columns.map(columnTitle)].map((c) => `<th style="text-align:left;padding:2px 8px">${e(c)}</th>`).join('');
		const rows = PERSON_ROLES.map(
			(role) =>
				`<tr><td style="padding:2px 8px">${e(ROLE_TITLES[role])}</td>${columns.map((c) => `<td style="padding:2px 8px">${summary.people![role][c]}</td>`).join('')}</tr>`,
		).join('');
		parts.push(`<table style="font-family:sans-serif;border-collapse:collapse"><tr>${head}</tr>${rows}</table>`);
	}
	const pending = pendingLines(summary);
	if (pending.length) {
		parts.push(`<p style="font-family:sans-serif">${e(pending[0])}</p><ul style="font-family:sans-serif">${pending.slice(1).map((line) => `<li>${e(line.replace(/^\s*-\s*/, ''))}</li>`).join('')}</ul>`);
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

const CSV_CHANGES_PER_PAGE = 10_000;

const CSV_HEADER = ['kind', 'action', 'role', 'sourcedId', 'name', 'fields', 'reason', 'file', 'row', 'field', 'message'];

/** The CSV of the run's problems and changes, and the people pending archive found on the way (one read of the changes). */
async function renderCsv(db: SqlDb, runId: string): Promise<{ csv: Buffer; pendingArchive: ReportSummary['pendingArchive'] }> {
	const rows: Array<Array<string | number | null | undefined>> = [CSV_HEADER];
	for (const problem of await listProblems(db, runId)) {
		rows.push(['problem', 'skipped', null, problem.sourcedId, null, null, null, problem.file, problem.row, problem.field, scrubSecrets(problem.message)]);
	}
	// Changes a page at a time, each page straight into CSV bytes: a district's first night has ~150k.
	const parts = [Buffer.from(toCsv(rows), 'utf8')];
	const pendingArchive: ReportSummary['pendingArchive'] = { count: 0, first: [] };
	for await (const page of changeLinePages(db, runId, CSV_CHANGES_PER_PAGE)) {
		const lines = new Array<string>(page.length);
		for (let i = 0; i < page.length; i++) {
			const change = page[i];
			if (change.entity === 'person' && change.action === 'pending' && pendingArchive.count++ < REPORT_PROBLEM_LIMIT) {
				pendingArchive.first.push({ name: change.label, role: change.role, sourcedId: change.sourcedId, reason: change.reason });
			}
			const fields = change.fieldsJson === null ? '' : (JSON.parse(change.fieldsJson) as string[]).join(' ');
			// The columns of CSV_HEADER; a change has no file, row, field or message.
			lines[i] = `${csvCell(change.entity)},${csvCell(change.action)},${csvCell(change.role)},${csvCell(change.sourcedId)},${csvCell(change.label)},${csvCell(fields)},${csvCell(change.reason)},,,,\r\n`;
		}
		parts.push(Buffer.from(lines.join(''), 'utf8'));
	}
	return { csv: Buffer.concat(parts), pendingArchive };
}

export async function buildReport(db: SqlDb, runId: string): Promise<RunReport> {
	const { csv, pendingArchive } = await renderCsv(db, runId);
	const summary = await summarizeRun(db, runId, pendingArchive);
	return { subject: subjectOf(summary), text: renderText(summary), html: renderHtml(summary), csv, summary };
}

/** Records the run as reported: completed, unless it failed, is held, or was stopped, discarded or rolled back (those keep their status). */
export async function publishRun(db: SqlDb, runId: string): Promise<RunRecord> {
	const run = await getRun(db, runId);
	if (run.status !== 'running' && run.status !== 'completed') return run;
	return completeStage(db, runId, 'reported', { publishedAt: new Date().toISOString() }, [], 'completed');
}

export interface HistoryEntry {
	runId: string;
	/** 'sync', or 'rollback'. */
	kind: string;
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
			kind: run.kind,
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
