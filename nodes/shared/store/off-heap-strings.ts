/**
 * Strings held as UTF-8 bytes outside the V8 heap, each found again by the number `add` gave it.
 *
 * Why: V8 sets the next full collection's limit at up to 4× the heap that was live at the last
 * one, so a stage that holds 100 MB of strings for a while (Normalize's people until they are
 * written, Reconcile's stored people) makes the whole process grow by ~400 MB. Bytes in Buffers
 * are not V8 heap: they count once, as themselves. Holding one costs a few bytes of heap (the
 * caller's key → number map), and `get` decodes a fresh string when it is needed.
 *
 * Append-only: a string that is no longer wanted is forgotten by the caller (its bytes stay until
 * `clear`). Bytes live in chunks of CHUNK_BYTES (a longer string gets a chunk of its own), so
 * growing never copies what is held. Exact for any string: one with a lone surrogate (which UTF-8
 * cannot hold) is kept as UTF-16 code units instead.
 */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

/** Whether `text` is valid UTF-16 (no lone surrogate): String.prototype.isWellFormed, not yet in TypeScript's es2022 lib. */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

export class OffHeapStrings {
	private chunks: Buffer[] = [];
	/** Bytes used in the last chunk. */
	private used = 0;
	/** Per string: its chunk, its first byte, its length in bytes, and 1 when it is held as UTF-16 (a lone surrogate). */
	private chunkOf = new Uint32Array(1024);
	private startOf = new Uint32Array(1024);
	private lengthOf = new Uint32Array(1024);
	private utf16 = new Uint8Array(1024);
	private count = 0;

	/** How many strings were added since the last `clear`. */
	get size(): number {
		return this.count;
	}

	/** Bytes held outside the heap (chunks allocated). */
	get bytes(): number {
		let total = 0;
		for (const chunk of this.chunks) total += chunk.length;
		return total;
	}

	/** Holds `text`; returns the number `get` finds it by (0, 1, 2, … in the order added). */
	add(text: string): number {
		const most = text.length * MAX_BYTES_PER_UNIT;
		let chunk = this.chunks[this.chunks.length - 1];
		if (chunk === undefined || chunk.length - this.used < most) {
			chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, most));
			this.chunks.push(chunk);
			this.used = 0;
		}
		const wellFormed = isWellFormed(text);
		const length = chunk.write(text, this.used, wellFormed ? 'utf8' : 'utf16le');
		const handle = this.count++;
		if (handle === this.chunkOf.length) this.grow();
		this.utf16[handle] = wellFormed ? 0 : 1;
		this.chunkOf[handle] = this.chunks.length - 1;
		this.startOf[handle] = this.used;
		this.lengthOf[handle] = length;
		this.used += length;
		return handle;
	}

	/** The string `add` gave `handle` for. */
	get(handle: number): string {
		if (!(handle >= 0 && handle < this.count)) throw new RangeError(`OffHeapStrings has no string ${handle} (size ${this.count})`);
		const start = this.startOf[handle];
		return this.chunks[this.chunkOf[handle]].toString(this.utf16[handle] ? 'utf16le' : 'utf8', start, start + this.lengthOf[handle]);
	}

	/** Lets go of every string and its bytes. */
	clear(): void {
		this.chunks = [];
		this.used = 0;
		this.count = 0;
		this.chunkOf = new Uint32Array(1024);
		this.startOf = new Uint32Array(1024);
		this.lengthOf = new Uint32Array(1024);
		this.utf16 = new Uint8Array(1024);
	}

	private grow(): void {
		this.chunkOf = doubled(this.chunkOf, Uint32Array);
		this.startOf = doubled(this.startOf, Uint32Array);
		this.lengthOf = doubled(this.lengthOf, Uint32Array);
		this.utf16 = doubled(this.utf16, Uint8Array);
	}
}

/** A typed array twice as long, starting with `array`'s values. */
export function doubled<T extends Uint8Array | Uint32Array | Int32Array>(array: T, make: new (length: number) => T): T {
	const copy = new make(array.length * 2);
	copy.set(array);
	return copy;
}
