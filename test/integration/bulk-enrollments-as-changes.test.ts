/**
 * A bulk enrollments file that follows a night which staged the same file is stored as its changes over
 * that night's snapshot (normalize.ts, EarlierRows): the rows with the same cells as the night before,
 * whose enrollment that snapshot has, are left alone. Whatever the nights before, the snapshot, counts
 * and problems must be those of the same files normalized on their own in an empty store (a bulk
 * night's snapshot is a function of its files and options only). Each case below is a way the night
 * before could make that go wrong: rows changed, gone, new, moved far; rows skipped the night before
 * that are good tonight and the other way round; a wider school scope; a file in another order.
 */
import { writeDayTwo, writeDistrict } from '../../bench/district-generator';
import type { CanonicalEnrollment } from '../../nodes/shared/model/roster';
import type { NormalizeOptions } from '../../nodes/shared/normalize/normalize';
import { LOOKAHEAD } from '../../nodes/shared/normalize/earlier-rows';
import { NightFolders, nightsInStore } from '../support/bulk-nights';
import { ENGINES } from '../support/engines';

const DISTRICT = { students: 900, schools: 6, seed: 7 };

const nights = new NightFolders('rostersync-bulk-changes-');
const folder = (name: string) => nights.folder(name);
const linesOf = (name: string, file: string) => nights.linesOf(name, file);
const variant = (from: string, name: string, edits: Record<string, (lines: string[]) => string[]>) => nights.variant(from, name, edits);

const firstCell = (line: string) => line.slice(0, line.indexOf(','));
const column = (line: string, at: number) => line.split(',')[at];
/** The schools, the one with the fewest enrollments first. */
let schools: string[];
/** A student with enrollments, and a class, of the generated district (as day 1 has them). */
let someStudent: string;
let someClass: string;

beforeAll(async () => {
	await writeDistrict(folder('day1'), DISTRICT);
	await writeDayTwo(folder('day1'), folder('day2'), DISTRICT);
	const enrollments = linesOf('day1', 'enrollments.csv');
	const header = enrollments[0].split(',');
	const enrollmentsAt = (school: string) => enrollments.filter((line) => column(line, header.indexOf('schoolSourcedId')) === school).length;
	schools = linesOf('day1', 'orgs.csv')
		.slice(1)
		.filter((line) => line.includes(',school,'))
		.map(firstCell)
		.sort((a, b) => enrollmentsAt(a) - enrollmentsAt(b));
	const student = enrollments.find((line) => column(line, header.indexOf('role')) === 'student') as string;
	someStudent = column(student, header.indexOf('userSourcedId'));
	someClass = column(enrollments[enrollments.length - 1], header.indexOf('classSourcedId'));

	// Day 2 with enrollments edited besides what the generator changed: rows changed, gone and new,
	// and a block of rows (more than LOOKAHEAD) moved from the start of the file to its end.
	variant('day2', 'day2-edited', {
		'enrollments.csv': ([head, ...rows]) => {
			const changed = rows.map((row, i) => (i % 97 === 5 ? row.replace(/,$/, ',2027-06-30') : row));
			const kept = changed.filter((_, i) => i % 211 !== 7);
			const added = kept.slice(40, 42).map((row) => row.replace(/^[^,]*/, (id) => `${id}-again`));
			const moved = kept.slice(0, LOOKAHEAD + 100);
			return [head, ...kept.slice(LOOKAHEAD + 100), ...added, ...moved];
		},
	});
	// Day 2 with some rows' end dates set, in place.
	variant('day2', 'day2-end-dates', { 'enrollments.csv': ([head, ...rows]) => [head, ...rows.map((row, i) => (i % 89 === 3 ? row.replace(/,$/, ',2027-01-31') : row))] });
	// Day 1 without a student's users row (their enrollments are skipped: problems), and day 1 whole.
	variant('day1', 'day1-without-student', { 'users.csv': (lines) => lines.filter((line) => firstCell(line) !== someStudent) });
	// Day 1 without a class (its enrollments are skipped tonight, the same rows as the night before).
	variant('day1', 'day1-without-class', { 'classes.csv': (lines) => lines.filter((line) => firstCell(line) !== someClass) });
	// Day 2 with a cell holding a separator character (U+001F) in one enrollment row: the staging packs
	// the rows of that row's chunk as JSON (store/staging.ts) where the night before packed them as text.
	variant('day2', 'day2-separator-in-cell', {
		'enrollments.csv': ([head, ...rows]) => {
			const school = head.split(',').indexOf('schoolSourcedId');
			return [head, ...rows.map((row, i) => (i === 10 ? row.split(',').map((value, at) => (at === school ? `${value}\u001f` : value)).join(',') : row))];
		},
	});
	// Day 2 with its enrollments in another order.
	variant('day2', 'day2-shuffled', { 'enrollments.csv': ([head, ...rows]) => [head, ...rows.reverse()] });
});
afterAll(() => nights.remove());

describe.each(ENGINES)('a bulk enrollments file stored as changes over the night before, on %s', (engine) => {
	const { night, alone, db } = nightsInStore(engine, nights, 'enrollments');

	test('rows changed, gone, new and moved far: only the changes are stored, and the snapshot is the one the file gives alone', async () => {
		const one = await night('day1');
		const two = await night('day2-edited');
		expect(two.asChangesOver).toBe(one.runId);
		expect(two.stored).toBeGreaterThan(0);
		expect(two.stored).toBeLessThan(two.result.counts.enrollments * 0.1);
		expect(two.result.snapshot.enrollments.some((enrollment) => enrollment.endDate === '2027-06-30')).toBe(true);
		expect(two.result.snapshot.enrollments.some((enrollment) => enrollment.sourcedId.endsWith('-again'))).toBe(true);
		expect(two.result).toEqual(await alone('day2-edited'));
	});

	test("a third and a fourth night, over the second night's changes", async () => {
		// (Each night's files differ from every earlier night's: the same files again would share that night's snapshot.)
		const one = await night('day1');
		await night('day2');
		const three = await night('day1-without-class');
		expect(three.asChangesOver).toBe(one.runId);
		const four = await night('day2-end-dates');
		expect(four.asChangesOver).toBe(one.runId);
		expect(four.result.snapshot.enrollments.some((enrollment) => enrollment.endDate === '2027-01-31')).toBe(true);
		expect(four.result).toEqual(await alone('day2-end-dates'));
		expect(three.result).toEqual(await alone('day1-without-class'));
	});

	test('a snapshot made under other Normalize rules (an older release) is not taken as it is: the enrollments are written whole', async () => {
		const one = await night('day1');
		await db().execute("UPDATE snapshots SET rules = 'an older release' WHERE run_id = ?", [one.runId]);
		const two = await night('day2-end-dates');
		expect(two.asChangesOver).toBeUndefined();
		expect(two.stored).toBe(two.result.counts.enrollments);
		expect(two.result).toEqual(await alone('day2-end-dates'));
	});

	test("rows skipped the night before (their user was not there) are tonight's enrollments when the user is back", async () => {
		const without = await night('day1-without-student');
		expect(without.result.problems.filter((problem) => problem.message.includes(someStudent)).length).toBeGreaterThan(0);
		const back = await night('day1');
		expect(back.asChangesOver).toBe(without.runId);
		expect(back.result.snapshot.enrollments.filter((enrollment) => enrollment.personId === someStudent).length).toBeGreaterThan(0);
		expect(back.result).toEqual(await alone('day1'));
	});

	test.each([
		['their class is gone', 'day1-without-class', () => someClass, (enrollment: CanonicalEnrollment) => enrollment.classId],
		['their user is gone', 'day1-without-student', () => someStudent, (enrollment: CanonicalEnrollment) => enrollment.personId],
	])('the same rows skipped tonight (%s) leave the snapshot, with the problems of tonight', async (_, tonight, gone, idOf) => {
		await night('day1');
		const without = await night(tonight);
		expect(without.asChangesOver).toBeDefined();
		expect(without.result.snapshot.enrollments.filter((enrollment) => idOf(enrollment) === gone())).toEqual([]);
		expect(without.result.problems.filter((problem) => problem.message.includes(gone())).length).toBeGreaterThan(0);
		expect(without.result).toEqual(await alone(tonight));
	});

	test('a wider school scope: the rows out of scope the night before are enrollments tonight', async () => {
		// The school in scope tonight, not the night before, is the smallest: its enrollments are few enough to be stored as changes.
		const wide = schools.slice(0, 6);
		const before = await night('day1', { schoolIds: schools.slice(1, 6) });
		expect(before.result.counts.outOfScope.enrollments).toBeGreaterThan(0);
		const wider = await night('day1', { schoolIds: wide });
		expect(wider.asChangesOver).toBe(before.runId);
		expect(wider.result).toEqual(await alone('day1', { schoolIds: wide }));
		// And narrower again.
		await night('day1', { schoolIds: wide });
		const narrower = await night('day1', { schoolIds: schools.slice(1, 6) });
		expect(narrower.asChangesOver).toBeDefined();
		expect(narrower.result.counts.outOfScope.enrollments).toBeGreaterThan(0);
		expect(narrower.result).toEqual(await alone('day1', { schoolIds: schools.slice(1, 6) }));
	});

	test("rows of a chunk packed otherwise than the night before's (as JSON: a cell holds a separator character) are matched all the same", async () => {
		const one = await night('day1');
		const two = await night('day2-separator-in-cell');
		const encodings = await db().queryArrays("SELECT DISTINCT encoding FROM staging_chunks WHERE run_id = ? AND entity = 'enrollments'", [two.runId]);
		expect(encodings.map(([encoding]) => encoding)).toContain('json');
		expect(two.asChangesOver).toBe(one.runId);
		expect(two.stored).toBeLessThan(two.result.counts.enrollments * 0.1);
		// And the night after, without the odd row: its rows packed as text again.
		const three = await night('day2-end-dates');
		expect(three.asChangesOver).toBe(one.runId);
		expect(three.stored).toBeLessThan(three.result.counts.enrollments * 0.1);
		expect(two.result).toEqual(await alone('day2-separator-in-cell'));
		expect(three.result).toEqual(await alone('day2-end-dates'));
	});

	test('a file in another order is written whole (each row read once more), with its problems once', async () => {
		await night('day1-without-student');
		const shuffled = await night('day2-shuffled');
		expect(shuffled.asChangesOver).toBeUndefined();
		expect(shuffled.stored).toBe(shuffled.result.counts.enrollments);
		expect(shuffled.result).toEqual(await alone('day2-shuffled'));
	});
});
