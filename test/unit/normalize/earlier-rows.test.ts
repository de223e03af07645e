/**
 * EarlierRows (normalize/earlier-rows.ts): the last run's rows of a file matched to tonight's by
 * sourcedId, both read in file order, holding only the rows read ahead and the rows passed over.
 */
import { EarlierRows, FAR_AHEAD, LOOKAHEAD } from '../../../nodes/shared/normalize/earlier-rows';
import type { StagedRow } from '../../../nodes/shared/model/roster';

const row = (id: string, rowNumber = 0): StagedRow => ({ rowNumber, sourcedId: id, cells: [id, `cell of ${id}`] });
const ids = (count: number, prefix = 'r') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** An EarlierRows over these ids (in batches of `batch`), and tonight's ids matched against it batch by batch: what each take gave. */
async function match(earlier: string[], tonight: string[], batch = 100) {
	async function* batches() {
		for (let start = 0; start < earlier.length; start += batch) yield earlier.slice(start, start + batch).map((id) => row(id));
	}
	const rows = new EarlierRows(batches());
	const taken: Array<string | undefined> = [];
	let mostPassedOver = 0;
	for (let start = 0; start < tonight.length; start += batch) {
		const slice = tonight.slice(start, start + batch);
		await rows.readAhead(slice.length);
		for (const id of slice) {
			taken.push(rows.take(id)?.sourcedId);
			mostPassedOver = Math.max(mostPassedOver, rows.passedOver);
		}
	}
	const untaken: string[] = [];
	for await (const left of rows.untaken()) untaken.push(left.sourcedId);
	return { taken, untaken, mostPassedOver };
}

test('the same file: every row is taken, in order, nothing is held aside', async () => {
	const file = ids(5000);
	const { taken, untaken, mostPassedOver } = await match(file, file);
	expect(taken).toEqual(file);
	expect(untaken).toEqual([]);
	expect(mostPassedOver).toBe(0);
});

test('rows removed since are passed over and left untaken; rows added since are not found and move nothing', async () => {
	const earlier = ids(3000);
	const removed = new Set(['r10', 'r11', 'r500', 'r2999']);
	const tonight = earlier.filter((id) => !removed.has(id));
	tonight.splice(700, 0, 'new-1', 'new-2');
	tonight.push('new-3');
	const { taken, untaken } = await match(earlier, tonight);
	expect(taken.filter((id) => id === undefined)).toHaveLength(3);
	expect(taken.filter((id) => id !== undefined)).toEqual(tonight.filter((id) => !id.startsWith('new-')));
	expect(new Set(untaken)).toEqual(removed);
});

test('a block moved further than LOOKAHEAD is found again after a run of misses; the rows it jumped are taken later from those passed over', async () => {
	const earlier = ids(LOOKAHEAD * 4);
	const moved = earlier.slice(0, LOOKAHEAD + 200);
	const tonight = [...earlier.slice(LOOKAHEAD + 200), ...moved];
	const { taken, untaken, mostPassedOver } = await match(earlier, tonight);
	const missed = taken.filter((id) => id === undefined).length;
	// Only the misses before it looked further ahead (LOST_AFTER, 32).
	expect(missed).toBeGreaterThan(0);
	expect(missed).toBeLessThanOrEqual(33);
	expect(mostPassedOver).toBeGreaterThanOrEqual(moved.length - missed);
	// The missed rows were not taken tonight: they are left for the caller, who holds them as changes.
	expect(untaken).toHaveLength(missed);
	expect(taken.filter((id) => id !== undefined)).toHaveLength(tonight.length - missed);
});

test('a reversed file: the rows pile up as passed over (what makes the caller give up)', async () => {
	const earlier = ids(Math.min(FAR_AHEAD, 8000));
	const { mostPassedOver } = await match(earlier, [...earlier].reverse());
	expect(mostPassedOver).toBeGreaterThan(earlier.length / 2);
});

test('a file several times FAR_AHEAD long, read in batches of several sizes: every row is matched as in a short one', async () => {
	const earlier = ids(FAR_AHEAD * 3 + 123);
	const removed = new Set([earlier[5], earlier[FAR_AHEAD], earlier[FAR_AHEAD * 2 + 7], earlier[earlier.length - 1]]);
	const tonight = earlier.filter((id) => !removed.has(id));
	tonight.splice(FAR_AHEAD + 11, 0, 'new-1');
	tonight.splice(2 * FAR_AHEAD, 0, 'new-2', 'new-3');
	for (const batch of [1000, 4999, 5000]) {
		const { taken, untaken, mostPassedOver } = await match(earlier, tonight, batch);
		expect(taken.filter((id) => id !== undefined)).toEqual(tonight.filter((id) => !id.startsWith('new-')));
		expect(taken.filter((id) => id === undefined)).toHaveLength(3);
		expect(new Set(untaken)).toEqual(removed);
		expect(mostPassedOver).toBeLessThanOrEqual(removed.size);
	}
});
