/**
 * A bulk file staged as a patch over an earlier staging of the same file (its base): the rows that are
 * byte for byte a row of the base, in the base's order, are not checked or staged again; only the other
 * rows are, and the staging keeps which base rows tonight's file holds where (segments). Reading the file
 * back (store/staging.ts) gives every row as a full staging would, with tonight's row numbers.
 *
 * Why: a SIS exports the whole roster every night and ~1-2 % of its rows change. At 100,000 students a bulk
 * day two staged ~1,000,000 rows (411 MiB written) to keep ~15,000 new ones.
 *
 * A row is known by a 64-bit hash of its cells (two 32-bit hashes, seeded with the ingest's rules, so a
 * release that stages rows differently matches nothing). A base row whose staging differs from its cells
 * (a value the checker fixed, a trailing comma) has no hash (0, 0) and is never matched. Two different rows
 * share a hash with a chance of ~1 in 2^64 per pair: at 1,000,000 rows a night, about once in 50 million
 * nights.
 */

import { doubled } from '../../store/off-heap-strings';

/** Hashes of `text` (e.g. the ingest's rules): the seeds of RowHasher. */
export function seedsOf(text: string): [number, number] {
	const hasher = new RowHasher(0x811c9dc5, 0x9e3779b9);
	hasher.hash([text]);
	return [hasher.h1, hasher.h2];
}

/** The two 32-bit hashes of a row's cells (`h1`, `h2` after `hash`), never both 0. */
export class RowHasher {
	h1 = 0;
	h2 = 0;

	constructor(
		private readonly seed1: number,
		private readonly seed2: number,
	) {}

	hash(cells: string[]): void {
		let h1 = this.seed1;
		let h2 = this.seed2;
		for (let c = 0; c < cells.length; c++) {
			const cell = cells[c];
			for (let i = 0; i < cell.length; i++) {
				const code = cell.charCodeAt(i);
				h1 = Math.imul(h1 ^ code, 0x01000193);
				h2 = Math.imul(h2 ^ code, 0x5bd1e995);
				h2 ^= h2 >>> 13;
			}
			// Where a cell ends (so ["a,b"] and ["a", "b"] differ).
			h1 = Math.imul(h1 ^ (cell.length + 0x10000), 0x01000193);
			h2 = Math.imul(h2 ^ (cell.length + 0x10000), 0x5bd1e995);
		}
		h1 ^= h1 >>> 15;
		h1 = Math.imul(h1, 0x2c1b3c6d) ^ (h1 >>> 12);
		h2 ^= h2 >>> 16;
		h2 = Math.imul(h2, 0x85ebca6b) ^ (h2 >>> 13);
		this.h1 = h1 >>> 0;
		this.h2 = (h2 | (h1 === 0 ? 1 : 0)) >>> 0;
	}
}

/** The base's rows by hash: an open-addressing table of their ordinals (the first of rows with the same hashes). */
export class BaseRowIndex {
	private readonly slots: Int32Array;

	/** `hashes`: h1, h2 of each base row, in the base's order (0, 0: never matched). */
	constructor(private readonly hashes: Uint32Array) {
		let size = 1024;
		while (size < hashes.length * 2) size *= 2;
		this.slots = new Int32Array(size);
		const mask = size - 1;
		for (let ordinal = 0; ordinal < hashes.length / 2; ordinal++) {
			const h1 = hashes[2 * ordinal];
			const h2 = hashes[2 * ordinal + 1];
			if (h1 === 0 && h2 === 0) continue;
			let slot = h1 & mask;
			for (;;) {
				const entry = this.slots[slot] - 1;
				if (entry < 0) {
					this.slots[slot] = ordinal + 1;
					break;
				}
				if (hashes[2 * entry] === h1 && hashes[2 * entry + 1] === h2) break;
				slot = (slot + 1) & mask;
			}
		}
	}

	get rows(): number {
		return this.hashes.length / 2;
	}

	/** The ordinal of the (first) base row with these hashes; -1 when none has them. */
	find(h1: number, h2: number): number {
		const mask = this.slots.length - 1;
		for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
			const entry = this.slots[slot] - 1;
			if (entry < 0) return -1;
			if (this.hashes[2 * entry] === h1 && this.hashes[2 * entry + 1] === h2) return entry;
		}
	}
}

/** How far past the next base row a row may be found and taken at once (the base rows between are not in tonight's file). */
export const NEAR_AHEAD = 128;
/** Rows in a row not taken after which a row found further ahead than NEAR_AHEAD is taken (a block of base rows is gone). */
const LOST_AFTER = 32;

/**
 * Which base rows tonight's file holds where: segments (base ordinal, count, tonight's row number), each a run of
 * base rows in order at consecutive rows of tonight's file. Base rows are taken in order only: a row found before
 * the last one taken (moved up, or a second copy) is staged on its own. A row found far ahead is taken only after
 * LOST_AFTER rows in a row were not: one row moved up from far below (or a copy of it) would otherwise make every
 * base row before it staged on its own.
 */
export class PatchSegments {
	private values = new Int32Array(3 * 1024);
	private length = 0;
	/** The next base ordinal that may be taken. */
	private next = 0;
	private lastRow = -1;
	/** Rows since the last one taken. */
	private misses = 0;
	/** Base rows taken. */
	kept = 0;

	/** Whether base row `ordinal` can be tonight's next row (it is not before the last taken, nor far ahead but after LOST_AFTER misses); if not, a miss. */
	canKeep(ordinal: number): boolean {
		const can = ordinal >= this.next && (ordinal - this.next <= NEAR_AHEAD || this.misses >= LOST_AFTER);
		if (!can) this.misses++;
		return can;
	}

	/** A row not found in the base, or not taken for another reason: a miss. */
	miss(): void {
		this.misses++;
	}

	/** Base row `ordinal` is tonight's row `row` (canKeep was true). */
	keep(ordinal: number, row: number): void {
		const at = this.length - 3;
		if (at >= 0 && ordinal === this.next && row === this.lastRow + 1) {
			this.values[at + 1]++;
		} else {
			if (this.length + 3 > this.values.length) this.values = doubled(this.values, Int32Array);
			this.values[this.length] = ordinal;
			this.values[this.length + 1] = 1;
			this.values[this.length + 2] = row;
			this.length += 3;
		}
		this.next = ordinal + 1;
		this.lastRow = row;
		this.misses = 0;
		this.kept++;
	}

	/** The segments as (base ordinal, count, tonight's row number of the first) triples. */
	toArray(): Int32Array {
		return this.values.slice(0, this.length);
	}
}
