/**
 * A bulk file staged as a patch over an earlier staging of the same file (its base): the rows that are
 * byte for byte a row of the base, in the base's order, are not checked or staged again; only the other
 * rows are, and the staging keeps which base rows tonight's file holds where (segments). Reading the file
 * back (store/staging.ts) gives every row as a full staging would, with tonight's row numbers.
 *
 * Why: a SIS exports the whole roster every night and ~1-2 % of its rows change. At 100,000 students a bulk
 * day two staged ~1,000,000 rows (411 MiB written) to keep ~15,000 new ones.
 *
 * A row is known by a 64-bit hash of its bytes (two 32-bit hashes, seeded with the ingest's rules and the
 * file's record delimiter, so a release that stages rows differently matches nothing), taken before they are
 * decoded: a row found in the base is never decoded, split into cells or checked (csv-frame.ts frames the
 * records). A base row whose staging differs from its cells (a value the checker fixed, a trailing comma) has
 * no hash (0, 0) and is never matched. Two different rows share a hash with a chance of ~1 in 2^64 per pair:
 * at 1,000,000 rows a night, about once in 50 million nights.
 *
 * A row taken from the base is not checked, but its sourcedId must still count for the duplicate check of the
 * rows that are: the base keeps a 64-bit hash of each row's sourcedId. A row checked tonight whose sourcedId's
 * hash is a base row's taken before it is a duplicate of that row; a base row whose sourcedId's hash is one a
 * row checked before it had is checked, not taken (the checker then decides). The same odds hold for a
 * sourcedId taken for another one.
 */

import { doubled } from '../../store/off-heap-strings';
import { ROW_HASH_WORDS } from '../staging';

/** Hashes of `text` (e.g. the ingest's rules): the seeds of RowHasher. */
export function seedsOf(text: string): [number, number] {
	const hasher = new RowHasher(0x811c9dc5, 0x9e3779b9);
	hasher.hashText(text);
	return [hasher.h1, hasher.h2];
}

/**
 * Two 32-bit hashes (`h1`, `h2`, never both 0) of a row's bytes as the file has them (hashBytes), or of a text
 * (hashText: a sourcedId). hashBytes reads four bytes at a time (murmur3's mixing for h1, another for h2): a
 * byte at a time took ~1.6 ns a byte, this ~1.1 (100 MB of rows a night at 100,000 students).
 */
export class RowHasher {
	h1 = 0;
	h2 = 0;

	constructor(
		private readonly seed1: number,
		private readonly seed2: number,
	) {}

	hashBytes(bytes: Uint8Array, start: number, end: number): void {
		let h1 = this.seed1;
		let h2 = this.seed2;
		let i = start;
		for (; i + 4 <= end; i += 4) {
			let word = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
			word = Math.imul(word, 0xcc9e2d51);
			word = (word << 15) | (word >>> 17);
			word = Math.imul(word, 0x1b873593);
			h1 ^= word;
			h1 = (h1 << 13) | (h1 >>> 19);
			h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
			h2 = Math.imul(h2 ^ word, 0x5bd1e995);
			h2 ^= h2 >>> 15;
		}
		for (; i < end; i++) {
			const byte = bytes[i];
			h1 = Math.imul(h1 ^ byte, 0x01000193);
			h2 = Math.imul(h2 ^ byte, 0x5bd1e995);
			h2 ^= h2 >>> 13;
		}
		this.finish(h1, h2, end - start);
	}

	hashText(text: string): void {
		let h1 = this.seed1;
		let h2 = this.seed2;
		for (let i = 0; i < text.length; i++) {
			const code = text.charCodeAt(i);
			h1 = Math.imul(h1 ^ code, 0x01000193);
			h2 = Math.imul(h2 ^ code, 0x5bd1e995);
			h2 ^= h2 >>> 13;
		}
		this.finish(h1, h2, text.length);
	}

	private finish(h1: number, h2: number, length: number): void {
		h1 ^= length;
		h1 ^= h1 >>> 16;
		h1 = Math.imul(h1, 0x85ebca6b);
		h1 ^= h1 >>> 13;
		h1 = Math.imul(h1, 0xc2b2ae35);
		h1 ^= h1 >>> 16;
		h2 ^= length;
		h2 ^= h2 >>> 15;
		h2 = Math.imul(h2, 0x2c1b3c6d) ^ (h2 >>> 12);
		this.h1 = h1 >>> 0;
		this.h2 = (h2 | (h1 === 0 ? 1 : 0)) >>> 0;
	}
}

/**
 * The base's rows by a pair of their hashes (`at` 0: the row's, 2: its sourcedId's): an open-addressing table of
 * their ordinals (the first of rows with the same pair; a pair 0, 0 is never found).
 */
export class BaseRowIndex {
	private readonly slots: Int32Array;

	/** `hashes`: ROW_HASH_WORDS numbers for each base row, in the base's order. */
	constructor(
		private readonly hashes: Uint32Array,
		private readonly at: 0 | 2,
	) {
		let size = 1024;
		while (size < (2 * hashes.length) / ROW_HASH_WORDS) size *= 2;
		this.slots = new Int32Array(size);
		const mask = size - 1;
		for (let ordinal = 0; ordinal < hashes.length / ROW_HASH_WORDS; ordinal++) {
			const h1 = hashes[ROW_HASH_WORDS * ordinal + at];
			const h2 = hashes[ROW_HASH_WORDS * ordinal + at + 1];
			if (h1 === 0 && h2 === 0) continue;
			let slot = h1 & mask;
			for (;;) {
				const entry = this.slots[slot] - 1;
				if (entry < 0) {
					this.slots[slot] = ordinal + 1;
					break;
				}
				if (hashes[ROW_HASH_WORDS * entry + at] === h1 && hashes[ROW_HASH_WORDS * entry + at + 1] === h2) break;
				slot = (slot + 1) & mask;
			}
		}
	}

	get rows(): number {
		return this.hashes.length / ROW_HASH_WORDS;
	}

	/** The ordinal of the (first) base row with this pair; -1 when none has it. */
	find(h1: number, h2: number): number {
		const mask = this.slots.length - 1;
		const at = this.at;
		for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
			const entry = this.slots[slot] - 1;
			if (entry < 0) return -1;
			if (this.hashes[ROW_HASH_WORDS * entry + at] === h1 && this.hashes[ROW_HASH_WORDS * entry + at + 1] === h2) return entry;
		}
	}
}

/** A set of hash pairs (the sourcedIds of the rows a patch checked): an open-addressing table, grown as needed. */
export class HashPairSet {
	private pairs = new Uint32Array(2 * 1024);
	private size = 0;

	add(h1: number, h2: number): void {
		if (this.has(h1, h2)) return;
		if (2 * (this.size + 1) > this.pairs.length / 2) this.grow();
		this.put(h1, h2);
	}

	has(h1: number, h2: number): boolean {
		const mask = this.pairs.length / 2 - 1;
		for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
			const a = this.pairs[2 * slot];
			const b = this.pairs[2 * slot + 1];
			if (a === 0 && b === 0) return false;
			if (a === h1 && b === h2) return true;
		}
	}

	private put(h1: number, h2: number): void {
		const mask = this.pairs.length / 2 - 1;
		let slot = h1 & mask;
		while (this.pairs[2 * slot] !== 0 || this.pairs[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
		this.pairs[2 * slot] = h1;
		this.pairs[2 * slot + 1] = h2;
		this.size++;
	}

	private grow(): void {
		const old = this.pairs;
		this.pairs = new Uint32Array(old.length * 2);
		this.size = 0;
		for (let at = 0; at < old.length; at += 2) if (old[at] !== 0 || old[at + 1] !== 0) this.put(old[at], old[at + 1]);
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
	/** Tonight's row number of each base row taken (0: not taken). */
	private readonly rowOfOrdinal: Int32Array;

	constructor(baseRows: number) {
		this.rowOfOrdinal = new Int32Array(baseRows);
	}

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
		this.rowOfOrdinal[ordinal] = row;
		this.next = ordinal + 1;
		this.lastRow = row;
		this.misses = 0;
		this.kept++;
	}

	/** Tonight's row number of base row `ordinal`, if it was taken (so far). */
	keptRowOf(ordinal: number): number | undefined {
		return this.rowOfOrdinal[ordinal] || undefined;
	}

	/** The segments as (base ordinal, count, tonight's row number of the first) triples. */
	toArray(): Int32Array {
		return this.values.slice(0, this.length);
	}
}

/**
 * A bulk file being staged as a patch over a base (the last whole staging of it): which base row a row of
 * tonight's is, which base rows were taken where (segments), and the sourcedIds of the rows checked instead.
 */
export class PatchOverBase {
	readonly rows: BaseRowIndex;
	readonly segments: PatchSegments;
	private ids: BaseRowIndex | null = null;
	private readonly checkedIds = new HashPairSet();

	/** `hashes`: the base's, ROW_HASH_WORDS a row (StagingSink.baseRowsFor). */
	constructor(
		readonly runId: string,
		private readonly hashes: Uint32Array,
	) {
		this.rows = new BaseRowIndex(hashes, 0);
		this.segments = new PatchSegments(this.rows.rows);
	}

	/** A row with a sourcedId of these hashes was checked (not taken from the base). */
	noteChecked(h1: number, h2: number): void {
		this.checkedIds.add(h1, h2);
	}

	/** Whether a row checked so far had the sourcedId of base row `ordinal`: then that row is checked too, not taken. */
	sourcedIdChecked(ordinal: number): boolean {
		return this.checkedIds.has(this.hashes[ROW_HASH_WORDS * ordinal + 2], this.hashes[ROW_HASH_WORDS * ordinal + 3]);
	}

	/** Tonight's row of the base row taken so far whose sourcedId has these hashes, if any. */
	keptRowWithId(h1: number, h2: number): number | undefined {
		this.ids ??= new BaseRowIndex(this.hashes, 2);
		const ordinal = this.ids.find(h1, h2);
		return ordinal < 0 ? undefined : this.segments.keptRowOf(ordinal);
	}
}
