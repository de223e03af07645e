/**
 * The rows an earlier run staged from a file, matched to tonight's rows of the same file by sourcedId
 * while both are read in file order: what lets Normalize store a whole (bulk) export as its changes
 * over the last snapshot, the rows that are as they were being left alone.
 *
 * An SIS writes its export in the same order night after night, so tonight's next row is nearly always
 * the earlier file's next one. A row removed since is passed over (and kept aside, in case it comes
 * later); a row added since is looked for at most LOOKAHEAD rows ahead and not found, which moves
 * nothing. After LOST_AFTER misses in a row (a block of rows removed or moved away, or of new rows),
 * the next is looked for among all the rows at hand (FAR_AHEAD and more). Only the rows read ahead
 * and the rows passed over are held: tens of thousands, not the file. A file in another order shows
 * as many rows passed over (`passedOver`), and the caller gives up.
 */

import { ownCopy } from '../store/staging';

/** What a row needs to be matched: its sourcedId (the rest is the caller's). */
interface Row {
	sourcedId: string;
}

/** How far ahead of the last match a sourcedId is looked for. */
export const LOOKAHEAD = 1000;
/** Misses in a row after which a sourcedId is looked for further ahead. */
const LOST_AFTER = 32;
/** Rows read ahead of the last match beyond tonight's batch: how far a sourcedId is looked for after LOST_AFTER misses in a row. */
export const FAR_AHEAD = 20 * LOOKAHEAD;

/** How tonight's rows are matched to an earlier file's, one at a time in file order (EarlierRows, EarlierRowsApart). */
export interface EarlierMatch<R extends Row> {
	/** Call before each batch of tonight's rows, with its length. */
	readAhead(count: number): Promise<void>;
	/** The earlier row with this sourcedId, if one is at hand (it is then taken). */
	take(sourcedId: string): R | undefined;
	/** Earlier rows at hand not taken so far. */
	readonly passedOver: number;
	/** Every earlier row never taken, once tonight's rows are all read. */
	untaken(): AsyncGenerator<R>;
}

export class EarlierRows<R extends Row> implements EarlierMatch<R> {
	/** Rows read from the earlier file: `ahead[at]` is the next one in file order not yet passed (those before it are let go in readAhead). */
	private ahead: R[] = [];
	private at = 0;
	/** Rows passed over (a match further on was taken first), by sourcedId. */
	private readonly passed = new Map<string, R>();
	private done = false;
	/** Misses since the last match. */
	private misses = 0;

	/** `batches`: the earlier run's staged rows of the file, in file order. */
	constructor(private readonly batches: AsyncIterator<R[]>) {}

	/** Reads on until `count` + FAR_AHEAD rows past the last match are at hand (or the file ends): call before each batch of tonight's rows, with its length. */
	async readAhead(count: number): Promise<void> {
		// The rows before `at` are let go once they are half of `ahead`, so that a row is copied a few times at most, not
		// once per batch (the ~20,000 rows at hand were copied before each batch: ~50 ms a night at 100,000 students).
		if (this.at > 0 && this.at * 2 >= this.ahead.length) {
			this.ahead = this.ahead.slice(this.at);
			this.at = 0;
		}
		while (!this.done && this.ahead.length - this.at < count + FAR_AHEAD) {
			const next = await this.batches.next();
			if (next.done) {
				this.done = true;
				break;
			}
			if (this.ahead.length === 0) this.ahead = next.value;
			else for (const row of next.value) this.ahead.push(row);
		}
	}

	/**
	 * The earlier row with this sourcedId: one passed over, or one within LOOKAHEAD rows of the last
	 * match, or of the rows at hand after LOST_AFTER misses in a row (the rows before it are then
	 * passed over); undefined when none holds it.
	 */
	take(sourcedId: string): R | undefined {
		const passed = this.passed.get(sourcedId);
		if (passed !== undefined) {
			this.passed.delete(sourcedId);
			return passed;
		}
		const far = this.misses >= LOST_AFTER;
		const end = far ? this.ahead.length : Math.min(this.ahead.length, this.at + LOOKAHEAD);
		for (let i = this.at; i < end; i++) {
			if (this.ahead[i].sourcedId !== sourcedId) continue;
			for (let j = this.at; j < i; j++) this.passed.set(this.ahead[j].sourcedId, ownCopy(this.ahead[j]));
			this.at = i + 1;
			this.misses = 0;
			return this.ahead[i];
		}
		// Not found far ahead either (a block of new rows): the next far look is after LOST_AFTER more misses.
		this.misses = far ? 0 : this.misses + 1;
		return undefined;
	}

	/** How many rows are passed over and not taken so far. */
	get passedOver(): number {
		return this.passed.size;
	}

	/** Every row never taken, once tonight's rows are all read: those passed over, then the rest of the file. */
	async *untaken(): AsyncGenerator<R> {
		yield* this.passed.values();
		this.passed.clear();
		for (let i = this.at; i < this.ahead.length; i++) yield this.ahead[i];
		this.ahead = [];
		this.at = 0;
		if (this.done) return;
		for (let next = await this.batches.next(); !next.done; next = await this.batches.next()) yield* next.value;
		this.done = true;
	}
}

/**
 * The earlier file's rows that tonight's file has not (store/staging.ts readRowsAgainstEarlier: the rows both have are
 * known from the staging, and never looked for here), by sourcedId, matched to tonight's other rows.
 */
export class EarlierRowsApart<R extends Row> implements EarlierMatch<R> {
	/** `rows`: filled as tonight's rows are read (readRowsAgainstEarlier's earlierOnly). */
	constructor(private readonly rows: Map<string, R>) {}

	async readAhead(): Promise<void> {}

	take(sourcedId: string): R | undefined {
		const row = this.rows.get(sourcedId);
		if (row !== undefined) this.rows.delete(sourcedId);
		return row;
	}

	get passedOver(): number {
		return this.rows.size;
	}

	async *untaken(): AsyncGenerator<R> {
		yield* this.rows.values();
		this.rows.clear();
	}
}
