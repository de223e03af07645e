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
 * growing never copies what is held.
 */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

export class OffHeapStrings {
	private chunks: Buffer[] = [];
	/** Bytes used in the last chunk. */
	private used = 0;
	/** Per string: its chunk, its first byte, its length in bytes. */
	private chunkOf = new Uint32Array(1024);
	private startOf = new Uint32Array(1024);
	private lengthOf = new Uint32Array(1024);
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
		const length = chunk.write(text, this.used, 'utf8');
		const handle = this.count++;
		if (handle === this.chunkOf.length) this.grow();
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
		return this.chunks[this.chunkOf[handle]].toString('utf8', start, start + this.lengthOf[handle]);
	}

	/** Lets go of every string and its bytes. */
	clear(): void {
		this.chunks = [];
		this.used = 0;
		this.count = 0;
		this.chunkOf = new Uint32Array(1024);
		this.startOf = new Uint32Array(1024);
		this.lengthOf = new Uint32Array(1024);
	}

	private grow(): void {
		const larger = (array: Uint32Array) => {
			const copy = new Uint32Array(array.length * 2);
			copy.set(array);
			return copy;
		};
		this.chunkOf = larger(this.chunkOf);
		this.startOf = larger(this.startOf);
		this.lengthOf = larger(this.lengthOf);
	}
}
