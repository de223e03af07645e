/**
 * Row hashes and patch segments (sources/oneroster-csv/row-patch.ts): what decides which rows of a bulk file are
 * taken from the base instead of being checked and staged.
 */
import { BaseRowIndex, NEAR_AHEAD, PatchSegments, RowHasher, seedsOf } from '../../../nodes/shared/sources/oneroster-csv/row-patch';

const hashOf = (hasher: RowHasher, cells: string[]): [number, number] => {
	hasher.hash(cells);
	return [hasher.h1, hasher.h2];
};

describe('RowHasher', () => {
	const hasher = new RowHasher(...seedsOf('rules'));

	it('gives the same cells the same hashes, as unsigned 32-bit numbers, and rows that differ anywhere other ones', () => {
		const row = ['enr-1', '', '', 'cls-1', 'sch-1', 'stu-1', 'student', 'false', '', ''];
		const hashes = hashOf(hasher, row);
		expect(hashOf(hasher, [...row])).toEqual(hashes);
		for (const value of hashes) expect(value >>> 0).toBe(value);
		const others = [
			['enr-1', '', '', 'cls-1', 'sch-1', 'stu-1', 'student', 'false', '', '2027-06-30'],
			['enr-1,', '', 'cls-1', 'sch-1', 'stu-1', 'student', 'false', '', ''],
			['enr-1', '', '', 'cls-1', 'sch-1', 'stu-1', 'student', 'false', ''],
			['enr-2', '', '', 'cls-1', 'sch-1', 'stu-1', 'student', 'false', '', ''],
		];
		for (const other of others) expect(hashOf(hasher, other)).not.toEqual(hashes);
		// Cells split elsewhere: the same characters, other rows.
		expect(hashOf(hasher, ['ab', 'c'])).not.toEqual(hashOf(hasher, ['a', 'bc']));
	});

	it('hashes under other seeds (other ingest rules) differ', () => {
		const other = new RowHasher(...seedsOf('other rules'));
		expect(hashOf(other, ['a', 'b'])).not.toEqual(hashOf(hasher, ['a', 'b']));
	});

	it('spreads 200,000 rows without a shared pair of hashes, and about half of them with the top bit set', () => {
		const seen = new Set<string>();
		let high = 0;
		for (let i = 0; i < 200_000; i++) {
			const [h1, h2] = hashOf(hasher, [`enr-${i}`, `cls-${i % 977}`, `stu-${i % 5003}`, 'student']);
			seen.add(`${h1}:${h2}`);
			if (h2 >= 2 ** 31) high++;
		}
		expect(seen.size).toBe(200_000);
		expect(high).toBeGreaterThan(90_000);
		expect(high).toBeLessThan(110_000);
	});
});

describe('BaseRowIndex', () => {
	it('finds each base row by its hashes, the first of equal ones, never a row without hashes (0, 0)', () => {
		const hashes = new Uint32Array([1, 2, 0xffffffff, 0x80000000, 0, 0, 1, 2, 5, 6]);
		const index = new BaseRowIndex(hashes);
		expect(index.rows).toBe(5);
		expect(index.find(1, 2)).toBe(0);
		expect(index.find(0xffffffff, 0x80000000)).toBe(1);
		expect(index.find(5, 6)).toBe(4);
		expect(index.find(0, 0)).toBe(-1);
		expect(index.find(1, 3)).toBe(-1);
	});
});

describe('PatchSegments', () => {
	it('runs of base rows at consecutive rows make one segment each; a row before the last taken is not taken', () => {
		const segments = new PatchSegments();
		for (const [ordinal, row] of [
			[0, 2],
			[1, 3],
			[2, 4],
			[4, 6], // base row 3 gone, row 5 new
			[5, 7],
		]) {
			expect(segments.canKeep(ordinal)).toBe(true);
			segments.keep(ordinal, row);
		}
		expect(segments.canKeep(2)).toBe(false);
		expect([...segments.toArray()]).toEqual([0, 3, 2, 4, 2, 6]);
		expect(segments.kept).toBe(5);
	});

	it('a row found far ahead is taken only after rows in a row were not', () => {
		const segments = new PatchSegments();
		segments.keep(0, 2);
		expect(segments.canKeep(NEAR_AHEAD + 1)).toBe(true);
		expect(segments.canKeep(NEAR_AHEAD + 2)).toBe(false);
		let rows = 0;
		while (!segments.canKeep(5000)) {
			segments.miss();
			rows++;
		}
		expect(rows).toBeGreaterThan(10);
		expect(rows).toBeLessThan(64);
	});
});
