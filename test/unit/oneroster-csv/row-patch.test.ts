/**
 * Row hashes and patch segments (sources/oneroster-csv/row-patch.ts): what decides which rows of a bulk file are
 * taken from the base instead of being checked and staged.
 */
import { ROW_HASH_WORDS } from '../../../nodes/shared/sources/staging';
import { BaseRowIndex, HashPairSet, NEAR_AHEAD, PatchOverBase, PatchSegments, RowHasher, seedsOf } from '../../../nodes/shared/sources/oneroster-csv/row-patch';

const bytesHash = (hasher: RowHasher, text: string): [number, number] => {
	const bytes = Buffer.from(`xx${text}yy`);
	hasher.hashBytes(bytes, 2, bytes.length - 2);
	return [hasher.h1, hasher.h2];
};
const textHash = (hasher: RowHasher, text: string): [number, number] => {
	hasher.hashText(text);
	return [hasher.h1, hasher.h2];
};

describe('RowHasher', () => {
	const hasher = new RowHasher(...seedsOf('rules'));

	it('gives the same bytes the same hashes, as unsigned 32-bit numbers, whatever is around them, and rows that differ anywhere other ones', () => {
		const row = 'enr-1,,,cls-1,sch-1,stu-1,student,false,,';
		const hashes = bytesHash(hasher, row);
		const bytes = Buffer.from(`${row}\n${row}`);
		hasher.hashBytes(bytes, row.length + 1, bytes.length);
		expect([hasher.h1, hasher.h2]).toEqual(hashes);
		for (const value of hashes) expect(value >>> 0).toBe(value);
		const others = [
			'enr-1,,,cls-1,sch-1,stu-1,student,false,,2027-06-30',
			'enr-1,,,cls-1,sch-1,stu-1,student,false,',
			'enr-2,,,cls-1,sch-1,stu-1,student,false,,',
			'enr-1,,,cls-1,sch-1,stu-1,student,false,,,',
			'"enr-1",,,cls-1,sch-1,stu-1,student,false,,',
			'enr-1,,,cls-1,sch-1,stu-1,student,falsf,,',
		];
		for (const other of others) expect(bytesHash(hasher, other)).not.toEqual(hashes);
		// Every length from 0 to 9 (the bytes after the last whole four) gives other hashes.
		const short = new Set<string>();
		for (let length = 0; length < 10; length++) short.add(bytesHash(hasher, 'abcdefghi'.slice(0, length)).join(':'));
		expect(short.size).toBe(10);
	});

	it('hashes under other seeds (other ingest rules or record delimiters) differ, for bytes and texts', () => {
		const other = new RowHasher(...seedsOf('other rules'));
		expect(bytesHash(other, 'a,b')).not.toEqual(bytesHash(hasher, 'a,b'));
		expect(textHash(other, 'stu-1')).not.toEqual(textHash(hasher, 'stu-1'));
	});

	it('spreads 200,000 rows and 200,000 sourcedIds without a shared pair of hashes, about half of each hash with the top bit set', () => {
		for (const hash of [(i: number) => bytesHash(hasher, `enr-${i},cls-${i % 977},stu-${i % 5003},student`), (i: number) => textHash(hasher, `stu-${i}`)]) {
			const seen = new Set<string>();
			let high1 = 0;
			let high2 = 0;
			for (let i = 0; i < 200_000; i++) {
				const [h1, h2] = hash(i);
				seen.add(`${h1}:${h2}`);
				if (h1 >= 2 ** 31) high1++;
				if (h2 >= 2 ** 31) high2++;
			}
			expect(seen.size).toBe(200_000);
			for (const high of [high1, high2]) {
				expect(high).toBeGreaterThan(90_000);
				expect(high).toBeLessThan(110_000);
			}
		}
	});
});

/** Base words for rows given as [row h1, row h2, id h1, id h2]. */
const baseWords = (rows: number[][]): Uint32Array => {
	const words = new Uint32Array(ROW_HASH_WORDS * rows.length);
	rows.forEach((row, ordinal) => words.set(row, ROW_HASH_WORDS * ordinal));
	return words;
};

describe('BaseRowIndex', () => {
	it('finds each base row by its row hashes or its sourcedId hashes, the first of equal ones, never a row without hashes (0, 0)', () => {
		const words = baseWords([
			[1, 2, 11, 12],
			[0xffffffff, 0x80000000, 13, 14],
			[0, 0, 15, 16],
			[1, 2, 17, 18],
			[5, 6, 19, 20],
		]);
		const rows = new BaseRowIndex(words, 0);
		expect(rows.rows).toBe(5);
		expect(rows.find(1, 2)).toBe(0);
		expect(rows.find(0xffffffff, 0x80000000)).toBe(1);
		expect(rows.find(5, 6)).toBe(4);
		expect(rows.find(0, 0)).toBe(-1);
		expect(rows.find(1, 3)).toBe(-1);
		expect(rows.find(11, 12)).toBe(-1);
		const ids = new BaseRowIndex(words, 2);
		expect([11, 13, 15, 17, 19].map((h1) => ids.find(h1, h1 + 1))).toEqual([0, 1, 2, 3, 4]);
		expect(ids.find(1, 2)).toBe(-1);
	});
});

describe('HashPairSet', () => {
	it('holds what was added, past growing, and nothing else', () => {
		const set = new HashPairSet();
		for (let i = 1; i <= 5000; i++) set.add(i * 7919, i);
		set.add(7919, 1);
		for (let i = 1; i <= 5000; i++) expect(set.has(i * 7919, i)).toBe(true);
		expect(set.has(7919, 2)).toBe(false);
		expect(set.has(0, 0)).toBe(false);
	});
});

describe('PatchOverBase', () => {
	it('knows the rows taken by their sourcedIds, and the base rows whose sourcedId a checked row had', () => {
		const patch = new PatchOverBase('run-1', baseWords([
			[1, 2, 11, 12],
			[3, 4, 13, 14],
			[5, 6, 15, 16],
		]));
		expect(patch.rows.find(3, 4)).toBe(1);
		expect(patch.keptRowWithId(13, 14)).toBeUndefined();
		patch.segments.keep(1, 7);
		expect(patch.keptRowWithId(13, 14)).toBe(7);
		expect(patch.keptRowWithId(11, 12)).toBeUndefined();
		expect(patch.keptRowWithId(99, 98)).toBeUndefined();
		expect(patch.sourcedIdChecked(2)).toBe(false);
		patch.noteChecked(15, 16);
		expect(patch.sourcedIdChecked(2)).toBe(true);
		expect(patch.sourcedIdChecked(0)).toBe(false);
	});
});

describe('PatchSegments', () => {
	it('runs of base rows at consecutive rows make one segment each; a row before the last taken is not taken', () => {
		const segments = new PatchSegments(10_000);
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
		const segments = new PatchSegments(10_000);
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
