/**
 * A bulk users file that follows a night which staged the same file is read as changes over that
 * night's snapshot (normalize.ts, earlierUsers): a person's row with the same text as the night before,
 * which made a person then, is not mapped again; only its primary contact is decided again. Whatever
 * the nights before, the snapshot, counts and problems must be those of the same files normalized on
 * their own in an empty store. Each case below is a way the night before could make that go wrong:
 * people changed, gone, new, turned into contacts; primary contacts that change while the students'
 * rows do not; rows skipped as problems the night before; orgs whose type changed; a school scope the
 * night before; another Normalize release; a file in another order.
 */
import { parse } from 'csv-parse/sync';

import { writeDayTwo, writeDistrict } from '../../bench/district-generator';
import type { NormalizeOptions } from '../../nodes/shared/normalize/normalize';
import { LOOKAHEAD } from '../../nodes/shared/normalize/earlier-rows';
import { NightFolders, nightsInStore } from '../support/bulk-nights';
import { ENGINES } from '../support/engines';

const DISTRICT = { students: 900, schools: 6, seed: 7 };

const nights = new NightFolders('rostersync-bulk-users-');
const folder = (name: string) => nights.folder(name);
const linesOf = (name: string, file: string) => nights.linesOf(name, file);
const variant = (from: string, name: string, edits: Record<string, (lines: string[]) => string[]>) => nights.variant(from, name, edits);

const cellsOf = (line: string): string[] => (parse(line) as string[][])[0];
const lineOf = (cells: string[]): string => cells.map((value) => (/[",]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value)).join(',');
/** The lines with the row of `sourcedId` edited: `edit` sets cells by column name. */
const editRow = (lines: string[], sourcedId: string, edit: (set: (column: string, value: string) => void) => void): string[] => {
	const header = cellsOf(lines[0]);
	const at = lines.findIndex((line) => line.startsWith(`${sourcedId},`));
	if (at < 0) throw new Error(`no row ${sourcedId}`);
	const cells = cellsOf(lines[at]);
	edit((column, value) => (cells[header.indexOf(column)] = value));
	return lines.map((line, i) => (i === at ? lineOf(cells) : line));
};
const without = (lines: string[], ...ids: string[]) => lines.filter((line) => !ids.some((id) => line.startsWith(`${id},`)));
const cellOf = (name: string, file: string, sourcedId: string, column: string): string => {
	const lines = linesOf(name, file);
	return cellsOf(lines.find((line) => line.startsWith(`${sourcedId},`)) as string)[cellsOf(lines[0]).indexOf(column)];
};

/** The schools (sourcedIds). */
let schools: string[];

beforeAll(async () => {
	await writeDistrict(folder('day1'), DISTRICT);
	await writeDayTwo(folder('day1'), folder('day2'), DISTRICT);
	schools = linesOf('day1', 'orgs.csv')
		.slice(1)
		.filter((line) => line.includes(',school,'))
		.map((line) => line.slice(0, line.indexOf(',')));

	// Day 1 as the nights below start from: stu-000010 lists no contacts of its own (its primary contact is
	// the first guardian row that lists it), and stu-000011 names an org there is none of (a problem).
	variant('day1', 'start', {
		'users.csv': (lines) =>
			editRow(
				editRow(lines, 'stu-000010', (set) => set('agentSourcedIds', '')),
				'stu-000011',
				(set) => set('orgSourcedIds', 'org-nowhere'),
			),
	});
	const guardianOf10 = linesOf('start', 'users.csv').find((line) => line.startsWith('gdn-') && cellsOf(line)[15].split(',').includes('stu-000010')) as string;
	// The night after: people changed, gone, new, turned into a guardian and skipped (an unknown org); a student's guardians all gone
	// (the student's row as it was); the first guardian of stu-000001 and its siblings gone (the second, no one's
	// contact the night before, is theirs now); the guardian that made stu-000010's primary contact no longer lists it;
	// stu-000011 still a problem, in the same row; and (`next`) a block of rows (more than LOOKAHEAD) moved to the end, or
	// (`next-in-place`) not.
	const nextNight = (moveBlock: boolean) => (lines: string[]) => {
			let edited = editRow(lines, 'stu-000005', (set) => set('givenName', 'Renamed'));
			edited = editRow(edited, 'stu-000007', (set) => set('role', 'guardian'));
			edited = editRow(edited, 'stu-000012', (set) => set('orgSourcedIds', 'org-nowhere'));
			edited = editRow(edited, guardianOf10.slice(0, guardianOf10.indexOf(',')), (set) => set('agentSourcedIds', ''));
			const guardiansOf3 = cellOf('start', 'users.csv', 'stu-000003', 'agentSourcedIds').split(',');
			edited = without(edited, 'stu-000006', 'gdn-000001-1', ...guardiansOf3);
			const added = editRow([edited[0], edited.find((line) => line.startsWith('stu-000008,')) as string], 'stu-000008', (set) => set('sourcedId', 'stu-900008'))[1];
			const [head, ...rows] = edited;
			const moved = moveBlock ? rows.slice(0, LOOKAHEAD + 100) : [];
			return [head, ...rows.slice(moved.length), `stu-900008${added.slice(added.indexOf(','))}`, ...moved];
	};
	variant('start', 'next', { 'users.csv': nextNight(true) });
	variant('start', 'next-in-place', { 'users.csv': nextNight(false) });
	// The night after that: stu-000011's org fixed.
	const fixed = (lines: string[]) => editRow(lines, 'stu-000011', (set) => set('orgSourcedIds', cellOf('day1', 'users.csv', 'stu-000011', 'orgSourcedIds')));
	variant('next', 'fixed', { 'users.csv': fixed });
	variant('next-in-place', 'fixed-in-place', { 'users.csv': fixed });
	// Start, with a school that is a school no more (its people's schools change; their rows do not).
	variant('start', 'school-gone', { 'orgs.csv': (lines) => lines.map((line) => (line.startsWith(`${schools[5]},`) ? line.replace(',school,', ',department,') : line)) });
	// Start, without the district's org (the staff who name it are skipped; their rows are the same).
	variant('start', 'district-gone', { 'orgs.csv': (lines) => without(lines, 'org-district') });
	// Start, with a department that is no school's and a staff member of it alone (out of any school scope).
	variant('start', 'department', {
		'orgs.csv': (lines) => [...lines, 'org-transport,,,Transport,department,,org-district'],
		'users.csv': (lines) => editRow(lines, 'stf-00003', (set) => set('orgSourcedIds', 'org-transport')),
	});
	// Day 2 with its users in another order.
	variant('day2', 'day2-shuffled', { 'users.csv': ([head, ...rows]) => [head, ...rows.reverse()] });
});
afterAll(() => nights.remove());

describe.each(ENGINES)('a bulk users file read as changes over the night before, on %s', (engine) => {
	const { night, alone, db } = nightsInStore(engine, nights, 'people');

	type NightResult = Awaited<ReturnType<typeof night>>['result'];
	const personOf = (result: NightResult, sourcedId: string) => result.snapshot.people.find((person) => person.sourcedId === sourcedId);

	test.each([
		['moved far: the rows to read are too many to hold, so they are matched as text', 'next', false],
		["in place: the rows both files share are carried from the night before's user links, not read", 'next-in-place', true],
	])('people changed, gone, new, turned guardian, and primary contacts decided again (%s): the snapshot is the one the files give alone', async (_, name, carried) => {
		const one = await night('start');
		expect(personOf(one.result, 'stu-000010')?.primaryContactId).not.toBeNull();
		expect(personOf(one.result, 'stu-000003')?.primaryContactId).not.toBeNull();
		expect(one.result.problems.filter((problem) => problem.sourcedId === 'stu-000011')).toHaveLength(1);
		const two = await night(name);
		expect(two.asChangesOver).toBe(one.runId);
		expect(two.usersCarriedFrom).toBe(carried ? one.runId : undefined);
		expect(two.stored).toBeGreaterThan(0);
		expect(two.stored).toBeLessThan(two.result.counts.people.student * 0.1);
		const { result } = two;
		expect(personOf(result, 'stu-000005')?.givenName).toBe('Renamed');
		expect(personOf(result, 'stu-000006')).toBeUndefined();
		expect(personOf(result, 'stu-000007')).toBeUndefined();
		expect(personOf(result, 'stu-000012')).toBeUndefined();
		expect(result.problems.filter((problem) => problem.sourcedId === 'stu-000012')).toHaveLength(1);
		expect(personOf(result, 'stu-900008')).toBeDefined();
		expect(personOf(result, 'stu-000003')?.primaryContactId).toBeNull();
		expect(one.result.snapshot.contacts.map((contact) => contact.sourcedId)).not.toContain('gdn-000001-2');
		expect(personOf(result, 'stu-000001')?.primaryContactId).toBe('gdn-000001-2');
		expect(result.snapshot.contacts.find((contact) => contact.sourcedId === 'gdn-000001-2')?.familyName).toBe(cellOf('start', 'users.csv', 'gdn-000001-2', 'familyName'));
		// No guardian lists stu-000010 first now: its contact is another that lists it, or none; not the night before's.
		expect(personOf(result, 'stu-000010')?.primaryContactId).not.toBe(personOf(one.result, 'stu-000010')?.primaryContactId);
		// Still a problem, with tonight's row number.
		expect(result.problems.filter((problem) => problem.sourcedId === 'stu-000011')).toHaveLength(1);
		expect(personOf(result, 'stu-000011')).toBeUndefined();
		expect(result).toEqual(await alone(name));
	});

	test("a row skipped the night before is tonight's person once it is good; a third night over the second's changes", async () => {
		const one = await night('start');
		await night('next');
		const three = await night('fixed');
		expect(three.asChangesOver).toBe(one.runId);
		// Only the newest night's user links are kept: only they are carried from.
		expect((await db().queryArrays('SELECT run_id FROM user_links')).map(([runId]) => runId)).toEqual([three.runId]);
		expect(personOf(three.result, 'stu-000011')).toBeDefined();
		expect(three.result.problems.filter((problem) => problem.sourcedId === 'stu-000011')).toEqual([]);
		expect(three.result).toEqual(await alone('fixed'));
	});

	test("a night after an unchanged night (whose snapshot is the one before's) is carried from that night's user links", async () => {
		const one = await night('start');
		const same = await night('start');
		expect((await db().queryArrays('SELECT records_from_run_id FROM snapshots WHERE run_id = ?', [same.runId]))[0][0]).toBe(one.runId);
		// The unchanged night kept no links of its own: it has the first night's.
		expect((await db().queryArrays('SELECT run_id FROM user_links')).map(([runId]) => runId)).toEqual([one.runId]);
		const next = await night('next-in-place');
		expect(next.usersCarriedFrom).toBe(same.runId);
		expect(next.result).toEqual(await alone('next-in-place'));
	});

	test("a third night carried from the second's user links, which were carried from the first's: a row skipped twice is a person", async () => {
		const one = await night('start');
		const two = await night('next-in-place');
		expect(two.usersCarriedFrom).toBe(one.runId);
		const three = await night('fixed-in-place');
		expect(three.usersCarriedFrom).toBe(two.runId);
		expect(personOf(three.result, 'stu-000011')).toBeDefined();
		expect(three.result).toEqual(await alone('fixed-in-place'));
	});

	test.each([
		['a school that is one no more: its people have other schools', 'school-gone', (result: NightResult) => result.snapshot.people.some((person) => person.schoolIds.includes(schools[5]))],
		['an org gone: the staff who name it are skipped', 'district-gone', (result: NightResult) => !result.problems.some((problem) => problem.sourcedId === 'stf-00001')],
	])('orgs changed, the rows not (%s)', async (_, name, asTheNightBefore) => {
		const one = await night('start');
		expect(asTheNightBefore(one.result)).toBe(true);
		const changed = await night(name);
		expect(asTheNightBefore(changed.result)).toBe(false);
		expect(changed.result).toEqual(await alone(name));
	});

	test.each([
		['some schools', 'start', () => schools.slice(0, 3)],
		['every school, leaving out the staff of a department', 'department', () => schools],
	])('a school scope the night before (%s): the people it left out are people tonight', async (_, name, schoolIds) => {
		const scoped = await night(name, { schoolIds: schoolIds() });
		expect(scoped.result.counts.outOfScope.people).toBeGreaterThan(0);
		const all = await night(name);
		expect(all.result.counts.outOfScope.people).toBe(0);
		expect(all.result).toEqual(await alone(name));
	});

	test('a snapshot made under other Normalize rules (an older release), and a file in another order', async () => {
		const one = await night('day1');
		await db().execute("UPDATE snapshots SET rules = 'an older release' WHERE run_id = ?", [one.runId]);
		const two = await night('day2');
		expect(two.result).toEqual(await alone('day2'));
		await night('day1');
		const shuffled = await night('day2-shuffled');
		// Rows in another order: a patch of rows of its own nearly all, too many to hold: matched as text, not carried.
		expect(shuffled.usersCarriedFrom).toBeUndefined();
		expect(shuffled.result).toEqual(await alone('day2-shuffled'));
	});
});
