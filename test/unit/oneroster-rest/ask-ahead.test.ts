/**
 * A pull asks for each collection's first page while the collection before is still being pulled
 * (OneRosterPull.askAhead): beside that one's first page when a slot is to spare, else once every page of
 * it is asked for and a slot is free; never with more than `concurrency` requests open in all. Nothing is
 * asked for twice, the rows are the ones a pull one request at a time stages, and a first page asked for
 * ahead and never taken is dropped.
 */
import type { ApiClient } from '../../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import type { PullPlan } from '../../../nodes/shared/sources/oneroster-rest/delta';
import type { HttpResponse } from '../../../nodes/shared/sources/oneroster-rest/http';
import type { JsonRecord } from '../../../nodes/shared/sources/oneroster-rest/paging';
import type { RestResource } from '../../../nodes/shared/sources/oneroster-rest/source';
import { oneRosterApiSource } from '../../../nodes/shared/sources/oneroster-rest/source';
import { MemoryStagingSink } from '../../support/memory-staging-sink';

const FULL: PullPlan = { mode: 'full', reason: 'test' };
const RESOURCES: RestResource[] = ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments'];
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stamp = { status: 'active', dateLastModified: '2025-01-01T00:00:00Z' };

/** A small district: one school, a term, `n` students each in one of 4 classes. */
function district(n: number): Record<string, JsonRecord[]> {
	const ref = (sourcedId: string, type: string) => ({ sourcedId, type });
	const classes = [0, 1, 2, 3].map((i) => ({ sourcedId: `cls${i}`, ...stamp, title: `Class ${i}`, course: ref('crs1', 'course'), school: ref('org1', 'org'), terms: [ref('term1', 'academicSession')] }));
	const users = Array.from({ length: n }, (_, i) => ({ sourcedId: `u${i}`, ...stamp, enabledUser: true, orgs: [ref('org1', 'org')], role: 'student', username: `u${i}`, givenName: `G${i}`, familyName: 'F' }));
	return {
		orgs: [{ sourcedId: 'org1', ...stamp, name: 'Grand Bend High', type: 'school' }],
		academicSessions: [{ sourcedId: 'term1', ...stamp, title: 'Year', type: 'schoolYear', startDate: '2025-08-01', endDate: '2026-06-30', schoolYear: '2026' }],
		courses: [{ sourcedId: 'crs1', ...stamp, title: 'Course', org: ref('org1', 'org') }],
		classes,
		users,
		enrollments: users.map((u, i) => ({ sourcedId: `e${i}`, ...stamp, class: ref(`cls${i % 4}`, 'class'), user: ref(String(u.sourcedId), 'user'), school: ref('org1', 'org'), role: 'student' })),
	};
}

/** The district over HTTP-less pages answered after `latencyMs`, logging when each request starts and ends and how many are open. */
function slowServer(data: Record<string, JsonRecord[]>, latencyMs: number) {
	const state = { open: 0, maxOpen: 0, aborted: 0, events: [] as string[], requests: [] as string[] };
	const client: ApiClient = {
		authStats: { tokenRequests: 0, tokenRefreshesOn401: 0 },
		async get(url: string, signal?: AbortSignal): Promise<HttpResponse> {
			const parsed = new URL(url);
			const collection = parsed.pathname.split('/').pop() as string;
			const offset = Number(parsed.searchParams.get('offset'));
			const limit = Number(parsed.searchParams.get('limit'));
			const name = `${collection}@${offset}`;
			state.requests.push(name);
			state.events.push(`start ${name}`);
			state.maxOpen = Math.max(state.maxOpen, ++state.open);
			try {
				await wait(latencyMs);
				signal?.throwIfAborted();
			} finally {
				if (signal?.aborted) state.aborted++;
				state.open--;
				state.events.push(`end ${name}`);
			}
			const list = data[collection];
			if (!list) return { status: 404, headers: {}, body: Buffer.from('{}') };
			return { status: 200, headers: { 'x-total-count': String(list.length) }, body: Buffer.from(JSON.stringify({ [collection]: list.slice(offset, offset + limit) })) };
		},
	};
	return { client, state };
}

async function pull(client: ApiClient, concurrency: number, resources: RestResource[] = RESOURCES, schoolIds: string[] = []) {
	const source = oneRosterApiSource(client, { sisName: 'Test SIS', baseUrl: 'https://sis.example', version: '1.1', resources, schoolIds }, FULL, { pageSize: 3, concurrency });
	const sink = new MemoryStagingSink();
	const summary = await source.stage(sink);
	return { sink, summary, fetch: source.fetchSummary };
}

describe('OneRoster pull: the next collection first page asked for ahead', () => {
	test('asked for while the collection before is pulled, never past `concurrency` open, nothing twice, the same rows', async () => {
		const data = district(95);
		const server = slowServer(data, 15);
		const { sink, fetch } = await pull(server.client, 4);
		expect(server.state.maxOpen).toBe(4);
		expect(new Set(server.state.requests).size).toBe(server.state.requests.length);
		expect(fetch?.requests).toBe(server.state.requests.length);
		expect(fetch?.pages).toBe(server.state.requests.length);
		const at = (event: string) => server.state.events.indexOf(event);
		// The pull's first request goes alone (it may fetch the token); then each next first page is asked for before
		// the last page of the collection before is answered: of one page (academicSessions: beside it) or more
		// (classes, users: pages of 3).
		expect(server.state.events.slice(0, 2)).toEqual(['start orgs@0', 'end orgs@0']);
		for (const [last, next] of [
			['academicSessions@0', 'courses@0'],
			['classes@3', 'users@0'],
			['users@93', 'enrollments@0'],
		]) {
			expect(at(`start ${next}`)).toBeGreaterThan(-1);
			expect(at(`start ${next}`)).toBeLessThan(at(`end ${last}`));
		}

		const one = await pull(slowServer(data, 0).client, 1);
		expect(sink.rows).toEqual(one.sink.rows);
		expect(sink.rows.get('enrollments')).toHaveLength(95);
	});

	test.each([1, 2])('with a concurrency of %i: never more open, nothing asked twice, the same rows', async (concurrency) => {
		const data = district(40);
		const server = slowServer(data, 5);
		const { sink } = await pull(server.client, concurrency);
		expect(server.state.maxOpen).toBe(concurrency);
		expect(new Set(server.state.requests).size).toBe(server.state.requests.length);
		const one = await pull(slowServer(data, 0).client, 1);
		expect(sink.rows).toEqual(one.sink.rows);
	});

	test('with School IDs, nothing is asked for ahead before they are resolved (they decide the endpoints)', async () => {
		const server = slowServer(district(12), 5);
		const { fetch, sink } = await pull(server.client, 4, ['orgs', 'courses', 'users'], ['org1']);
		expect(server.state.requests).toContain('courses@0');
		expect(fetch?.requests).toBe(server.state.requests.length);
		expect(fetch?.requests).toBe(fetch?.pages);
		expect(sink.rows.get('users')).toHaveLength(12);
	});

	test('a first page asked for ahead that the pull does not take (it failed before) is dropped, without an unhandled rejection', async () => {
		const data = district(30);
		const server = slowServer(data, 5);
		// The last page of users is not JSON: the pull fails there, with enrollments' first page asked for (slowly).
		const client: ApiClient = {
			authStats: server.client.authStats,
			get: async (url, signal) => {
				if (/\/users\?.*offset=27/.test(url)) return { status: 200, headers: { 'x-total-count': '30' }, body: Buffer.from('{"users": [') };
				if (/\/enrollments\?/.test(url)) await wait(300);
				return server.client.get(url, signal);
			},
		};
		const unhandled: unknown[] = [];
		const onUnhandled = (reason: unknown) => unhandled.push(reason);
		process.on('unhandledRejection', onUnhandled);
		try {
			await expect(pull(client, 2)).rejects.toThrow(/not JSON/);
			await wait(350);
		} finally {
			process.off('unhandledRejection', onUnhandled);
		}
		expect(unhandled).toEqual([]);
		expect(server.state.requests).toContain('enrollments@0');
		expect(server.state.aborted).toBe(1);
		expect(server.state.open).toBe(0);
	});
});
