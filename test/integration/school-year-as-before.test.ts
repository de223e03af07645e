/**
 * A night whose orgs, academicSessions, courses and classes files are the very files the night before staged
 * takes those records from that night's snapshot, without reading their staged rows (normalize.ts,
 * schoolYearAsBefore). Whatever came before, the snapshot, counts and problems must be those of the same files
 * normalized on their own in an empty store: the problems in those files too (at their rows), and the people and
 * enrollments checked against those orgs and classes. Files changed, a school scope, or another Normalize release:
 * read as any night's.
 */
import { writeDayTwo, writeDistrict } from '../../bench/district-generator';
import * as staging from '../../nodes/shared/store/staging';
import { NightFolders, nightsInStore } from '../support/bulk-nights';
import { ENGINES } from '../support/engines';

const DISTRICT = { students: 300, schools: 3, seed: 5 };

const nights = new NightFolders('rostersync-school-year-');
const linesOf = (name: string, file: string) => nights.linesOf(name, file);

beforeAll(async () => {
	await writeDistrict(nights.folder('day1'), DISTRICT);
	await writeDayTwo(nights.folder('day1'), nights.folder('day2'), DISTRICT);
	// Both nights with a class that names a school there is none of (a problem, in the same row both nights).
	const withBadClass = (lines: string[]) => {
		const [head, ...rows] = lines;
		const school = head.split(',').indexOf('schoolSourcedId');
		return [head, ...rows.map((row, i) => (i === 4 ? row.split(',').map((cell, at) => (at === school ? 'org-nowhere' : cell)).join(',') : row))];
	};
	nights.variant('day1', 'start', { 'classes.csv': withBadClass });
	nights.variant('day2', 'next', { 'classes.csv': withBadClass });
	// The night after, with a class renamed.
	nights.variant('next', 'renamed', {
		'classes.csv': (lines) => {
			const title = lines[0].split(',').indexOf('title');
			return lines.map((line, i) => (i === 9 ? line.split(',').map((cell, at) => (at === title ? `${cell} (renamed)` : cell)).join(',') : line));
		},
	});
});
afterAll(() => nights.remove());

describe.each(ENGINES)("the night before's orgs, terms, courses and classes, on %s", (engine) => {
	const { night, alone, db } = nightsInStore(engine, nights, 'classes');

	/** The entities whose staged rows Normalize read during `run`. */
	const entitiesRead = async <T>(run: () => Promise<T>): Promise<{ result: T; read: string[] }> => {
		const spy = jest.spyOn(staging, 'readStagedRows');
		try {
			const result = await run();
			return { result, read: spy.mock.calls.map((call) => call[2]) };
		} finally {
			spy.mockRestore();
		}
	};

	test('the same files: taken from the night before, unread; the class problem again at its row; the night is the one the files give alone', async () => {
		const one = await night('start');
		const badClass = one.result.problems.filter((problem) => problem.file === 'classes.csv');
		expect(badClass).toHaveLength(1);
		const { result: two, read } = await entitiesRead(() => night('next'));
		expect(read).not.toContain('classes');
		expect(read).not.toContain('orgs');
		expect(two.asChangesOver).toBe(one.runId);
		expect(two.stored).toBe(0);
		expect(two.result.problems.filter((problem) => problem.file === 'classes.csv')).toEqual(badClass);
		expect(two.result.counts.classes).toBe(one.result.counts.classes);
		expect(two.result).toEqual(await alone('next'));
	});

	test('a class changed: read as any night, and the night is the one the files give alone', async () => {
		await night('start');
		await night('next');
		const { result: three, read } = await entitiesRead(() => night('renamed'));
		expect(read).toContain('classes');
		const renamed = linesOf('renamed', 'classes.csv')[9].split(',')[0];
		expect(three.result.snapshot.classes.find((found) => found.sourcedId === renamed)?.title).toMatch(/\(renamed\)$/);
		expect(three.result).toEqual(await alone('renamed'));
	});

	test('a school scope tonight that the night before had not, or another Normalize release: read, and the nights are the ones the files give alone', async () => {
		await night('start');
		const school = linesOf('start', 'orgs.csv').find((line) => line.includes(',school,')) as string;
		const options = { schoolIds: [school.slice(0, school.indexOf(','))] };
		const { result: scoped, read } = await entitiesRead(() => night('next', options));
		expect(read).toContain('classes');
		expect(scoped.result.counts.outOfScope.classes).toBeGreaterThan(0);
		expect(scoped.result).toEqual(await alone('next', options));

		const one = await night('start');
		await db().execute("UPDATE snapshots SET rules = 'an older release' WHERE run_id = ?", [one.runId]);
		const { result: two, read: readAfterRelease } = await entitiesRead(() => night('next'));
		expect(readAfterRelease).toContain('classes');
		expect(two.result).toEqual(await alone('next'));
	});
});
