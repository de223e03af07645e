/**
 * Offset paging with pages in parallel (pullCollection): the `concurrency` slots are refilled as soon as
 * an answer arrives, also while the previous page is still being staged, never with more than
 * `concurrency` requests open; pages are handed on in order; the end is found without a total too.
 */
import type { ApiClient } from '../../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import type { HttpResponse } from '../../../nodes/shared/sources/oneroster-rest/http';
import type { JsonRecord } from '../../../nodes/shared/sources/oneroster-rest/paging';
import { pullCollection } from '../../../nodes/shared/sources/oneroster-rest/paging';
import { DEFAULT_RETRY, newRequestStats } from '../../../nodes/shared/sources/oneroster-rest/requests';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server of `records` users answering after `latencyMs`, counting the requests open at once. */
function slowServer(records: number, latencyMs: number, withTotal: boolean) {
	const state = { open: 0, maxOpen: 0, requests: 0, openWhileStaging: [] as number[], aheadWhileStaging: [] as number[] };
	const client: ApiClient = {
		authStats: { tokenRequests: 0, tokenRefreshesOn401: 0 },
		async get(url: string): Promise<HttpResponse> {
			const query = new URL(url).searchParams;
			const offset = Number(query.get('offset'));
			const limit = Number(query.get('limit'));
			state.requests++;
			state.open++;
			state.maxOpen = Math.max(state.maxOpen, state.open);
			await wait(latencyMs);
			state.open--;
			const users = Array.from({ length: Math.max(0, Math.min(limit, records - offset)) }, (_, i) => ({ sourcedId: `u${offset + i}` }));
			return { status: 200, headers: withTotal ? { 'x-total-count': String(records) } : {}, body: Buffer.from(JSON.stringify({ users })) };
		},
	};
	return { client, state };
}

async function pull(server: ReturnType<typeof slowServer>, stagingMs: number) {
	const ids: string[] = [];
	const stats = { ...newRequestStats(), pages: 0, overfetchedPages: 0 };
	const result = await pullCollection({
		client: server.client,
		url: 'https://sis.example/ims/oneroster/v1p1/users',
		params: {},
		envelope: ['users'],
		pageSize: 5,
		concurrency: 4,
		policy: DEFAULT_RETRY,
		stats,
		onRecords: async (records: JsonRecord[]) => {
			await wait(stagingMs / 2);
			server.state.openWhileStaging.push(server.state.open);
			// Requests made for the pages after this one (pages of 5).
			server.state.aheadWhileStaging.push(server.state.requests - (ids.length / 5 + 1));
			await wait(stagingMs / 2);
			ids.push(...records.map((record) => String(record.sourcedId)));
		},
	});
	return { ids, result, stats };
}

describe('pullCollection: parallel offset pages', () => {
	test.each([true, false])('slots refilled while a page is staged, never more than `concurrency` open, pages in order (X-Total-Count: %s)', async (withTotal) => {
		const server = slowServer(98, 20, withTotal);
		const { ids, result, stats } = await pull(server, 20);
		expect(ids).toEqual(Array.from({ length: 98 }, (_, i) => `u${i}`));
		expect(result.records).toBe(98);
		expect(server.state.maxOpen).toBe(4);
		// While pages are staged the next ones are already being asked for, all four slots busy.
		expect(Math.max(...server.state.openWhileStaging)).toBe(4);
		// With a total nothing past the end is asked for; without, at most a slot's worth past the short page.
		if (withTotal) expect(stats.overfetchedPages).toBe(0);
		expect(server.state.requests).toBeLessThanOrEqual(20 + (withTotal ? 0 : 4));
		expect(stats.pages).toBe(server.state.requests);
	});

	test('fetched pages waiting to be staged are bounded (2 × concurrency)', async () => {
		const server = slowServer(200, 1, true);
		const { ids } = await pull(server, 10);
		expect(ids).toHaveLength(200);
		// Staging is 10× slower than the server: the requests run ahead of the page being staged, by at most 8 pages.
		expect(Math.max(...server.state.aheadWhileStaging)).toBe(8);
		expect(server.state.requests).toBe(40);
	});
});
