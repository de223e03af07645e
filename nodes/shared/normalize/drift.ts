/**
 * The pre-flight drift check: after Normalize wrote the run's snapshot, compare the export with
 * the last good run (the newest run whose changes were applied) and stop the run before
 * Reconcile Users when it looks broken — the incidents behind mass deletions:
 *
 * - headers: a file's set of columns changed (a header renamed, a column dropped), or a file of
 *   the last good run is missing from a full export;
 * - encoding: names now look mis-encoded ("JosÃ©", "Jos?", U+FFFD) where the last good run had none
 *   (the CSV ingest already refuses bytes that are not UTF-8; this catches an export that was
 *   converted wrongly on its way);
 * - schools: a school of the last good run is gone from the orgs, or has nobody left in it
 *   (a school's sharing switched off);
 * - row counts: an entity (schools, terms, courses, classes, students, teachers, staff, admins,
 *   parent contacts, enrollments) fell by more than the allowed percent;
 * - emails: every person of a role has an empty email, where the last good run had emails.
 *
 * It reads only what the store holds: staged files' columns and both runs' snapshots.
 */
import type { RunRecord } from '../store/runs';
import { addStageCounts, getRun, lastAppliedRun, setRunStatus } from '../store/runs';
import {
	CLASS_TABLE,
	CONTACT_TABLE,
	COURSE_TABLE,
	ENROLLMENT_TABLE,
	ORG_TABLE,
	PERSON_TABLE,
	TERM_TABLE,
	countSnapshotRecords,
	findSnapshotRecords,
	readSnapshotHeader,
	readSnapshotRecords,
	readSnapshotTallies,
} from '../store/snapshot';
import type { SqlDb } from '../store/sql';
import { readStagedFiles } from '../store/staging';

export const DRIFT_CHECKS = ['headers', 'encoding', 'schools', 'rowCounts', 'emails'] as const;
export type DriftCheck = (typeof DRIFT_CHECKS)[number];

export interface DriftSettings {
	/** The checks to run; an empty list turns the drift check off. */
	checks: DriftCheck[];
	/** Row counts: stop when an entity fell by more than this percent. */
	maxRowDropPercent: number;
}

export const DEFAULT_DRIFT_SETTINGS: Readonly<DriftSettings> = { checks: [...DRIFT_CHECKS], maxRowDropPercent: 20 };

/** Entities with fewer rows than this in the last good run are not compared by count. */
export const MIN_ROWS_TO_COMPARE = 10;

export function driftSettings(given: Partial<DriftSettings> = {}): DriftSettings {
	const checks = given.checks === undefined ? [...DEFAULT_DRIFT_SETTINGS.checks] : DRIFT_CHECKS.filter((check) => given.checks!.includes(check));
	const percent = Number(given.maxRowDropPercent);
	return {
		checks,
		maxRowDropPercent: given.maxRowDropPercent === undefined || !Number.isFinite(percent) || percent < 0 ? DEFAULT_DRIFT_SETTINGS.maxRowDropPercent : percent,
	};
}

export interface DriftFinding {
	check: DriftCheck;
	/** Exactly what changed, for the report. */
	message: string;
}

/** What Normalize keeps under counts.normalized.drift. */
export interface DriftReport {
	/** The run compared with; null when there is no earlier applied run (nothing to compare). */
	baselineRunId: string | null;
	checks: DriftCheck[];
	findings: DriftFinding[];
	/** Checks that could not be made, and why. */
	notes: string[];
}

const countText = (n: number) => n.toLocaleString('en-US');

/** Runs the drift check; when it finds drift the run is stopped (status 'stopped', nothing applied). */
export async function checkDrift(db: SqlDb, runId: string, given: Partial<DriftSettings> = {}): Promise<{ run: RunRecord; drift: DriftReport }> {
	const drift = await findDrift(db, runId, driftSettings(given));
	await addStageCounts(db, runId, 'normalized', { drift }, drift.notes);
	if (drift.findings.length === 0) return { run: await getRun(db, runId), drift };
	const first = drift.findings[0].message;
	const more = drift.findings.length > 1 ? ` (and ${drift.findings.length - 1} more)` : '';
	const run = await setRunStatus(db, runId, 'stopped', `the export changed since the last good run ${drift.baselineRunId}: ${first}${more}`);
	return { run, drift };
}

export async function findDrift(db: SqlDb, runId: string, settings: DriftSettings): Promise<DriftReport> {
	const report: DriftReport = { baselineRunId: null, checks: settings.checks, findings: [], notes: [] };
	if (settings.checks.length === 0) return report;
	const baseline = await lastAppliedRun(db, runId);
	if (!baseline) return report;
	report.baselineRunId = baseline.id;
	const current = await getRun(db, runId);
	const on = (check: DriftCheck) => settings.checks.includes(check);
	const add = (check: DriftCheck, message: string) => report.findings.push({ check, message });

	const sameSource = sourceKind(current.source) === sourceKind(baseline.source);
	if (!sameSource && (on('headers') || on('encoding'))) {
		report.notes.push(`the source changed since the last good run (${sourceKind(baseline.source)} → ${sourceKind(current.source)}); headers and encoding were not compared`);
	}
	if (on('headers') && sameSource) {
		const headers = await headerDrift(db, runId, baseline.id);
		if (headers === null) report.notes.push(`the last good run's staged files (${baseline.id}) are no longer kept; headers were not compared`);
		for (const message of headers ?? []) add('headers', message);
	}

	const [now, before] = [await readSnapshotHeader(db, runId), await readSnapshotHeader(db, baseline.id)];
	if (!now || !before) {
		if (settings.checks.some((check) => check !== 'headers')) report.notes.push(`the last good run's snapshot (${baseline.id}) is no longer kept; only headers were compared`);
		return report;
	}
	if (on('encoding') && sameSource) {
		// The last good run's names are scanned only when tonight's has some that look mis-encoded: each scan searches
		// the text of all the people chunks (~30 ms at 100,000 students, a night).
		const found = await misencodedNames(db, runId);
		const had = found.count > 0 ? await misencodedNames(db, baseline.id) : undefined;
		if (had !== undefined && (had.count === 0 || found.count >= 2 * had.count + 10)) {
			add(
				'encoding',
				`${countText(found.count)} people's names look mis-encoded (e.g. ${found.examples.map((name) => `"${name}"`).join(', ')}); the last good run had ${had.count === 0 ? 'none' : countText(had.count)}: the export's character encoding changed`,
			);
		}
	}
	const scopeChanged = !sameSet(now.schoolIds, before.schoolIds);
	if (on('schools')) for (const message of await schoolDrift(db, runId, baseline.id, now.schoolIds, before.schoolIds)) add('schools', message);
	if (on('rowCounts')) {
		if (scopeChanged) report.notes.push('the School IDs setting changed since the last good run; row counts were not compared');
		else for (const message of await rowCountDrift(db, runId, baseline.id, settings.maxRowDropPercent)) add('rowCounts', message);
	}
	if (on('emails')) for (const message of await emailDrift(db, runId, baseline.id)) add('emails', message);
	return report;
}

/** "oneroster-csv sftp://…" → "oneroster-csv". */
function sourceKind(source: string): string {
	return source.trim().split(/\s+/)[0] ?? '';
}

function sameSet(a: string[], b: string[]): boolean {
	return a.length === b.length && new Set([...a, ...b]).size === a.length;
}

/** What changed in the files' headers; null when the baseline's staged files are gone. */
async function headerDrift(db: SqlDb, runId: string, baselineId: string): Promise<string[] | null> {
	const files = await readStagedFiles(db, runId);
	const before = await readStagedFiles(db, baselineId);
	if (before.length === 0) return null;
	const messages: string[] = [];
	const fullExport = files.length > 0 && files.every((file) => file.mode === 'bulk');
	for (const old of before) {
		const file = files.find((f) => f.entity === old.entity);
		if (!file) {
			if (fullExport) messages.push(`${old.fileName} was in the last good run's export and is missing from this one`);
			continue;
		}
		const removed = old.columns.filter((column) => !file.columns.includes(column));
		const added = file.columns.filter((column) => !old.columns.includes(column));
		if (removed.length === 0 && added.length === 0) continue;
		const parts = [removed.length ? `columns gone: ${removed.join(', ')}` : '', added.length ? `columns new: ${added.join(', ')}` : ''].filter(Boolean);
		messages.push(`${file.fileName}: the header changed (${parts.join('; ')})`);
	}
	return messages;
}

/** Double-encoded UTF-8 (Ã©, â€™), the replacement character, and a ? inside a word. */
const MISENCODED = /Ã[\u0080-\u00BF\u2010-\u203A]|â€|\uFFFD|\p{L}\?\p{L}/u;

/** Texts one of which every name MISENCODED matches holds: only the people chunks holding one are read. */
const MISENCODED_HINTS = ['Ã', 'â€', '\uFFFD', '?'];

async function misencodedNames(db: SqlDb, runId: string): Promise<{ count: number; examples: string[] }> {
	const nameOf = (person: { givenName: string; familyName: string }) => `${person.givenName} ${person.familyName}`;
	const people = await findSnapshotRecords(db, runId, PERSON_TABLE, (person) => MISENCODED.test(nameOf(person)), MISENCODED_HINTS);
	const names = people.map(nameOf);
	return { count: names.length, examples: names.slice(0, 3) };
}

async function schoolDrift(db: SqlDb, runId: string, baselineId: string, scope: string[], baselineScope: string[]): Promise<string[]> {
	const schools = async (id: string) =>
		new Map((await readSnapshotRecords(db, id, ORG_TABLE)).filter((org) => org.type === 'school').map((org) => [org.sourcedId, org.name]));
	const peoplePerSchool = async (id: string) => {
		const perSchool = new Map<string, number>();
		for (const [key, n] of await readSnapshotTallies(db, id, PERSON_TABLE)) if (key.startsWith('school:')) perSchool.set(key.slice('school:'.length), n);
		return perSchool;
	};
	const [now, before] = [await schools(runId), await schools(baselineId)];
	const [peopleNow, peopleBefore] = [await peoplePerSchool(runId), await peoplePerSchool(baselineId)];
	const messages: string[] = [];
	for (const schoolId of baselineScope) {
		const name = `${before.get(schoolId) ?? schoolId} (${schoolId})`;
		if (!now.has(schoolId)) {
			messages.push(`school ${name} is gone from the export's orgs (it had ${countText(peopleBefore.get(schoolId) ?? 0)} people in the last good run)`);
		} else if (scope.includes(schoolId) && (peopleBefore.get(schoolId) ?? 0) > 0 && (peopleNow.get(schoolId) ?? 0) === 0) {
			messages.push(`school ${name} has nobody in this export (${countText(peopleBefore.get(schoolId) ?? 0)} people in the last good run): is its sharing switched off?`);
		}
	}
	return messages;
}

const ROLE_NAMES: Record<string, string> = { student: 'students', teacher: 'teachers', staff: 'staff', admin: 'admins' };

async function entityCounts(db: SqlDb, runId: string): Promise<Map<string, number>> {
	const counts = new Map<string, number>();
	counts.set('schools', (await readSnapshotTallies(db, runId, ORG_TABLE)).get('type:school') ?? 0);
	counts.set('terms', await countSnapshotRecords(db, runId, TERM_TABLE));
	counts.set('courses', await countSnapshotRecords(db, runId, COURSE_TABLE));
	counts.set('classes', await countSnapshotRecords(db, runId, CLASS_TABLE));
	for (const role of Object.keys(ROLE_NAMES)) counts.set(ROLE_NAMES[role], 0);
	for (const [key, n] of await readSnapshotTallies(db, runId, PERSON_TABLE)) {
		if (key.startsWith('role:')) counts.set(ROLE_NAMES[key.slice('role:'.length)] ?? key.slice('role:'.length), n);
	}
	counts.set('parent contacts', await countSnapshotRecords(db, runId, CONTACT_TABLE));
	counts.set('enrollments', await countSnapshotRecords(db, runId, ENROLLMENT_TABLE));
	return counts;
}

async function rowCountDrift(db: SqlDb, runId: string, baselineId: string, maxDropPercent: number): Promise<string[]> {
	const [now, before] = [await entityCounts(db, runId), await entityCounts(db, baselineId)];
	const messages: string[] = [];
	for (const [entity, had] of before) {
		if (had < MIN_ROWS_TO_COMPARE) continue;
		const has = now.get(entity) ?? 0;
		const drop = Math.round(((had - has) * 1000) / had) / 10;
		if (drop > maxDropPercent) {
			messages.push(`${entity} fell from ${countText(had)} to ${countText(has)} (−${drop} %; the limit is ${maxDropPercent} %)`);
		}
	}
	return messages;
}

async function emailDrift(db: SqlDb, runId: string, baselineId: string): Promise<string[]> {
	const emails = async (id: string) => {
		const tallies = await readSnapshotTallies(db, id, PERSON_TABLE);
		const byRole = new Map<string, { people: number; withEmail: number }>();
		for (const [key, n] of tallies) {
			if (key.startsWith('role:')) byRole.set(key.slice('role:'.length), { people: n, withEmail: tallies.get(`email:${key.slice('role:'.length)}`) ?? 0 });
		}
		return byRole;
	};
	const [now, before] = [await emails(runId), await emails(baselineId)];
	const messages: string[] = [];
	for (const role of Object.keys(ROLE_NAMES)) {
		const counts = now.get(role);
		const had = before.get(role);
		if (counts && counts.people > 0 && counts.withEmail === 0 && had && had.withEmail > 0) {
			messages.push(
				`every one of the ${countText(counts.people)} ${ROLE_NAMES[role] ?? role} has an empty email (${countText(had.withEmail)} of ${countText(had.people)} had one in the last good run)`,
			);
		}
	}
	return messages;
}
