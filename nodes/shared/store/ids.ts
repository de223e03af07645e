/**
 * Ids of records the sync creates (people, lists): UUIDs in the version 7 layout (RFC 9562),
 * time-ordered and monotonic within the process, so the rows one run creates land next to
 * each other in the store's indexes. A district's first run inserts ~100k people and ~1M list
 * memberships; with random (version 4) ids those inserts cost about twice as much.
 *
 * Layout: 48-bit Unix milliseconds, version 7, a 42-bit counter (in rand_a and the top of
 * rand_b; it starts at a random value each millisecond and counts up within it), variant 10,
 * and 32 random bits.
 */
import { randomBytes, randomInt } from 'node:crypto';

const COUNTER_START_LIMIT = 2 ** 41;
let lastMs = -1;
let counter = 0;
let suffix = '';

const hex = (value: number, length: number) => value.toString(16).padStart(length, '0');

export function newRecordId(): string {
	const now = Date.now();
	if (now > lastMs) {
		lastMs = now;
		counter = randomInt(0, COUNTER_START_LIMIT);
		suffix = randomBytes(4).toString('hex');
	} else {
		// Same millisecond (or the clock stepped back): keep the last time and count on.
		counter++;
	}
	const time = hex(lastMs, 12);
	const high = Math.floor(counter / 2 ** 30); // 12 bits
	const low = counter % 2 ** 30; // 30 bits
	return `${time.slice(0, 8)}-${time.slice(8)}-7${hex(high, 3)}-${hex(0x8000 | (low >>> 16), 4)}-${hex(low & 0xffff, 4)}${suffix}`;
}
