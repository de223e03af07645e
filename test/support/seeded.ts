/**
 * Seeded pseudo-random integers for tests (a linear congruential generator): the same sequence on every run,
 * so a test's "random" input is the same input each time.
 */
export function seededInts(seed: number): (below: number) => number {
	let state = seed;
	/** The next integer in [0, below). */
	return (below) => (state = (state * 1103515245 + 12345) % 2147483648) % below;
}
