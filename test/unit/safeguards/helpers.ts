/**
 * Rosters for the safeguard tests: a 200-student school (syntheticRoster) and the changes a bad
 * (or a good) export makes to it.
 */
import type { PersonRole } from '../../../nodes/shared/model/roster';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import type { Roster } from '../../support/roster-fixtures';
import { student, syntheticRoster } from '../../support/roster-fixtures';

export const STUDENTS = 200;

export function school(): Roster {
	return syntheticRoster(STUDENTS, 1);
}

/** The roster without the first `count` people of `role` (and their enrollments). */
export function without(roster: Roster, role: PersonRole, count: number): Roster {
	const gone = new Set(roster.people.filter((p) => p.role === role).slice(0, count).map((p) => p.sourcedId));
	return {
		...roster,
		people: roster.people.filter((p) => !gone.has(p.sourcedId)),
		enrollments: roster.enrollments.filter((e) => !gone.has(e.personId)),
	};
}

/** The roster with the last `count` students renamed. */
export function renamed(roster: Roster, count: number): Roster {
	const students = roster.people.filter((p) => p.role === 'student');
	const changed = new Set(students.slice(-count).map((p) => p.sourcedId));
	return { ...roster, people: roster.people.map((p) => (changed.has(p.sourcedId) ? { ...p, familyName: `${p.familyName}-Renamed` } : p)) };
}

/** The roster with `count` new students. */
export function withNewStudents(roster: Roster, count: number): Roster {
	const added = Array.from({ length: count }, (_, i) => student(`new-${i}`, `New${i}`, `Student${i}`, '09', `N${i}`));
	return { ...roster, people: [...roster.people, ...added] };
}

export async function activeCount(db: SqlDb, role?: PersonRole): Promise<number> {
	const rows = await db.query(`SELECT COUNT(*) AS n FROM people WHERE archived_at IS NULL${role ? ' AND role = ?' : ''}`, role ? [role] : []);
	return Number(rows[0].n);
}
