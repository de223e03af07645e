/**
 * UserLinks (normalize/user-links.ts) decides primary contacts from numbers. Each result is checked against the
 * rule as Normalize stated it on strings before (a map of agentSourcedIds cells, a set of contacts, the first
 * lister in file order), on random rosters: unknown ids, lists with spaces and empty items, duplicates, people
 * who list themselves, problem rows that list others; for a bulk night (contacts are the rows that made one)
 * and a delta night (contacts as the caller says, and the previous primary contact to fall back on). Rows carried
 * from an earlier night's links, and links read back from the store, must be the links built row by row.
 */
import type { UserMade } from '../../../nodes/shared/normalize/user-links';
import { UserLinks, UserLinksBuilder } from '../../../nodes/shared/normalize/user-links';

interface Row {
	id: string;
	made: UserMade;
	agents: string;
}

/** A small seeded generator (mulberry32): the same rosters every run. */
function random(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const MADE: UserMade[] = ['student', 'student', 'student', 'teacher', 'staff', 'admin', 'guardian', 'parent', 'relative', undefined];

/** A roster of unique sourcedIds (some long, some not ASCII), and a few ids only listed, never a row's. */
function rosterOf(next: () => number, size: number): { rows: Row[]; listedOnly: string[] } {
	const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
	const ids = Array.from({ length: size }, (_, i) => (i % 7 === 0 ? `user-ß-${i}-0f3c9a7e-5d1b-4c2a-9e8f-${String(i).padStart(12, '0')}` : `u${i}`));
	const listedOnly = ['ghost-1', 'ghost-2'];
	const rows = ids.map((id): Row => {
		const items = Array.from({ length: Math.floor(next() * 4) }, () => (next() < 0.1 ? pick(listedOnly) : pick(ids)));
		if (next() < 0.2 && items.length > 0) items.push(items[0]);
		if (next() < 0.2) items.splice(Math.floor(next() * (items.length + 1)), 0, next() < 0.5 ? '' : '  ');
		const agents = items.map((item) => (next() < 0.2 ? ` ${item} ` : item)).join(',');
		return { id, made: pick(MADE), agents };
	});
	return { rows, listedOnly };
}

const isContactMade = (made: UserMade) => made === 'guardian' || made === 'parent' || made === 'relative';

/** The rule on strings, as Normalize stated it before UserLinks. */
function stringRule(rows: Row[], isContact: (id: string) => boolean) {
	const split = (value: string) => value.split(',').map((part) => part.trim()).filter((part) => part !== '');
	const agentsOf = new Map<string, string>();
	for (const row of rows) if (split(row.agents).length > 0) agentsOf.set(row.id, row.agents);
	const listers = new Map<string, string>();
	for (const [userId, agents] of agentsOf) {
		if (!isContact(userId)) continue;
		for (const studentId of split(agents)) if (!listers.has(studentId)) listers.set(studentId, userId);
	}
	return (studentId: string, had: string | null): string | null => {
		const own = split(agentsOf.get(studentId) ?? '').find(isContact);
		if (own !== undefined) return own;
		return listers.get(studentId) ?? (had !== null && isContact(had) ? had : null);
	};
}

function build(rows: Row[], baseRunId?: string): UserLinks {
	const builder = new UserLinksBuilder(baseRunId);
	rows.forEach((row, ordinal) => builder.add(row.id, row.made, row.agents, ordinal));
	return builder.finish(true);
}

/** What a row of the links says, in strings: sourcedId, what it made, ordinal, the ids it lists. */
function rowsOf(links: UserLinks) {
	return Array.from({ length: links.rows }, (_, row) => {
		const agents: string[] = [];
		for (let a = row === 0 ? 0 : links.agentEnd[row - 1]; a < links.agentEnd[row]; a++) agents.push(links.ids[links.agents[a]]);
		return { id: links.sourcedIdAt(row), made: links.madeAt(row), ordinal: links.ordinal[row], agents };
	});
}

/** Every student's primary contact by row (primaryContactAt, as strings). */
function decisionsOf(links: UserLinks): Array<string | null> {
	links.decideContacts();
	return Array.from({ length: links.rows }, (_, row) => {
		if (!links.isStudentAt(row)) return null;
		const id = links.primaryContactAt(row);
		return id < 0 ? null : links.ids[id];
	});
}

describe('UserLinks: primary contacts', () => {
	test.each([1, 2, 3, 4, 5, 6, 7, 8])('a bulk night (seed %i): the contacts are the rows that made one', (seed) => {
		const next = random(seed);
		const { rows, listedOnly } = rosterOf(next, 80);
		const contacts = new Set(rows.filter((row) => isContactMade(row.made)).map((row) => row.id));
		const rule = stringRule(rows, (id) => contacts.has(id));
		const links = build(rows);
		links.decideContacts();
		let decided = 0;
		for (const [row, { id, made }] of rows.entries()) {
			if (made !== 'student') continue;
			const expected = rule(id, null);
			expect(links.primaryContactOf(id, null)).toBe(expected);
			const at = links.primaryContactAt(row);
			expect(at < 0 ? null : links.ids[at]).toBe(expected);
			if (expected !== null) decided++;
		}
		// Ids with no row: only a lister can make their contact.
		for (const id of [...listedOnly, 'nobody']) expect(links.primaryContactOf(id, null)).toBe(rule(id, null));
		expect(decided).toBeGreaterThan(0);
	});

	test.each([11, 12, 13, 14])('a delta night (seed %i): the contacts the caller says, and the previous contact while still one', (seed) => {
		const next = random(seed);
		const { rows, listedOnly } = rosterOf(next, 60);
		const contacts = new Set([...rows.map((row) => row.id), ...listedOnly, 'previous-1', 'previous-2'].filter(() => next() < 0.4));
		const isContact = (id: string) => contacts.has(id);
		const rule = stringRule(rows, isContact);
		const links = build(rows);
		links.decideContacts(isContact);
		const candidates = ['previous-1', 'previous-2', 'gone', ...rows.slice(0, 5).map((row) => row.id)];
		let fellBack = 0;
		for (const id of [...rows.map((row) => row.id), ...listedOnly, 'previous-student']) {
			for (const had of [null, ...candidates]) {
				const expected = rule(id, had);
				expect(links.primaryContactOf(id, had)).toBe(expected);
				if (had !== null && expected === had) fellBack++;
			}
		}
		expect(fellBack).toBeGreaterThan(0);
	});

	test('what a sourcedId made: persons, contacts and their relationship, nothing', () => {
		const links = build([
			{ id: 's', made: 'student', agents: 'g' },
			{ id: 'g', made: 'guardian', agents: 's' },
			{ id: 'x', made: undefined, agents: 'g' },
		]);
		expect([links.isPerson('s'), links.isPerson('g'), links.isPerson('x'), links.isPerson('nobody')]).toEqual([true, false, false, false]);
		expect([links.relationshipOf('g'), links.relationshipOf('s'), links.relationshipOf('nobody')]).toEqual(['guardian', undefined, undefined]);
		expect(links.made('x')).toBeUndefined();
	});
});

describe('UserLinks: carried rows and the store', () => {
	test.each([21, 22, 23])('rows carried from an earlier night are the rows added one by one (seed %i)', (seed) => {
		const next = random(seed);
		const { rows: earlierRows } = rosterOf(next, 120);
		const earlier = build(earlierRows, 'base');
		// Tonight: most earlier rows in their order (some dropped), and new rows between them; new rows list carried ones and the other way round.
		const { rows: fresh } = rosterOf(random(seed + 100), 30);
		const newRows = fresh.map((row, i) => ({ ...row, id: `new-${i}`, agents: `${row.agents},${earlierRows[i].id}` }));
		const builder = new UserLinksBuilder('base');
		const tonight: Array<Row & { ordinal: number }> = [];
		let added = 0;
		earlierRows.forEach((row, ordinal) => {
			if (next() < 0.15 && added < newRows.length) {
				builder.add(newRows[added].id, newRows[added].made, newRows[added].agents, -1);
				tonight.push({ ...newRows[added++], ordinal: -1 });
			}
			if (next() < 0.1) return;
			builder.carry(earlier, ordinal, ordinal);
			tonight.push({ ...row, ordinal });
		});
		const carried = builder.finish(true);
		const byRow = new UserLinksBuilder('base');
		for (const row of tonight) byRow.add(row.id, row.made, row.agents, row.ordinal);
		const added1by1 = byRow.finish(false);
		expect(rowsOf(carried)).toEqual(rowsOf(added1by1));
		expect(decisionsOf(carried)).toEqual(decisionsOf(added1by1));
		expect(decisionsOf(carried).some((contact) => contact !== null)).toBe(true);
	});

	test('links read back from the store are the links written', () => {
		const { rows } = rosterOf(random(31), 200);
		const links = build(rows, 'base-run');
		const back = UserLinks.fromStored(links.toStored(), 'base-run') as UserLinks;
		expect(back.baseRunId).toBe('base-run');
		expect(rowsOf(back)).toEqual(rowsOf(links));
		expect(decisionsOf(back)).toEqual(decisionsOf(links));
		expect(back.rowOf(rows[150].id)).toBe(150);
		expect(UserLinks.fromStored(links.toStored().replace('"version":1', '"version":0'), 'base-run')).toBeUndefined();
	});
});
