/**
 * Pickers filled from the store: the terms, grades and schools of the newest snapshot.
 */
import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';

import { GRADE_LEVELS } from '../shared/model/roster';
import { CLASS_TABLE, ORG_TABLE, PERSON_TABLE, TERM_TABLE, latestSnapshotRunId, readSnapshotRecords } from '../shared/store/snapshot';
import type { RosterStore } from '../shared/store/store';
import { withStore } from '../shared/store/store';
import { storeConfigFor } from './store';

async function fromLatestSnapshot(
	context: ILoadOptionsFunctions,
	read: (store: RosterStore, runId: string) => Promise<INodePropertyOptions[]>,
): Promise<INodePropertyOptions[]> {
	return withStore(await storeConfigFor(context), async (store) => {
		const runId = await latestSnapshotRunId(store.db);
		return runId ? read(store, runId) : [];
	});
}

/** OneRoster academicSession types in an operator's words. */
const TERM_TYPES: Record<string, string> = {
	schoolYear: 'School year',
	semester: 'Semester',
	term: 'Term',
	gradingPeriod: 'Grading period',
};

export async function getTerms(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	return fromLatestSnapshot(this, async (store, runId) => {
		const terms = await readSnapshotRecords(store.db, runId, TERM_TABLE);
		return terms
			.sort((a, b) => (b.startDate ?? '').localeCompare(a.startDate ?? '') || a.title.localeCompare(b.title))
			.map((term) => ({
				name: `${term.title} (${term.startDate ?? '?'} – ${term.endDate ?? '?'})`,
				value: term.sourcedId,
				description: `${TERM_TYPES[term.type] ?? term.type}${term.schoolYear ? ` · school year ${term.schoolYear}` : ''}`,
			}));
	});
}

export async function getGrades(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	return fromLatestSnapshot(this, async (store, runId) => {
		const grades = new Set<string>();
		for (const klass of await readSnapshotRecords(store.db, runId, CLASS_TABLE)) klass.grades.forEach((g) => grades.add(g));
		for (const person of await readSnapshotRecords(store.db, runId, PERSON_TABLE)) if (person.grade) grades.add(person.grade);
		const order = (grade: string) => {
			const index = (GRADE_LEVELS as readonly string[]).indexOf(grade);
			return index === -1 ? GRADE_LEVELS.length : index;
		};
		return [...grades].sort((a, b) => order(a) - order(b)).map((grade) => ({ name: grade, value: grade }));
	});
}

export async function getSchools(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	return fromLatestSnapshot(this, async (store, runId) => {
		const orgs = await readSnapshotRecords(store.db, runId, ORG_TABLE);
		return orgs
			.filter((org) => org.type === 'school')
			.map((org) => ({ name: `${org.name} (${org.identifier ?? org.sourcedId})`, value: org.sourcedId }));
	});
}

/** School IDs from the picker (an array) or from an expression (an array, or ids separated by commas or new lines). */
export function schoolIdList(value: unknown): string[] {
	const parts = Array.isArray(value) ? value.map((id) => String(id)) : String(value ?? '').split(/[,\n]/);
	return [...new Set(parts.map((id) => id.trim()).filter(Boolean))];
}
