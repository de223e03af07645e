/**
 * What a OneRoster pull stages, pinned against the row staging on its own (StagedFileWriter over
 * rowFlattener, as Clever runs it) for the same records: rows, row numbers, records seen twice staged
 * once, problems naming file, row and field. A page that is not JSON fails the pull; a record
 * that is not a JSON object is a row problem. (Written for a page-worker experiment, so that a change of
 * where this work runs can be checked against them.)
 */
import type { ApiClient } from '../../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import type { PullPlan } from '../../../nodes/shared/sources/oneroster-rest/delta';
import { fileNameOf, rowFlattener, stagedColumns } from '../../../nodes/shared/sources/oneroster-rest/flatten';
import type { HttpResponse } from '../../../nodes/shared/sources/oneroster-rest/http';
import type { JsonRecord } from '../../../nodes/shared/sources/oneroster-rest/paging';
import { oneRosterApiSource } from '../../../nodes/shared/sources/oneroster-rest/source';
import { StagedFileWriter } from '../../../nodes/shared/sources/oneroster-rest/staged-writer';
import { ProblemList } from '../../../nodes/shared/sources/staging';
import { MemoryStagingSink } from '../../support/memory-staging-sink';

const FULL: PullPlan = { mode: 'full', reason: 'test' };
const ORG = { sourcedId: 'org1', status: 'active', dateLastModified: '2025-01-01T00:00:00Z', name: 'Grand Bend High', type: 'school' };

function user(i: number, overrides: JsonRecord = {}): JsonRecord {
	return {
		sourcedId: `u${i}`,
		status: 'active',
		dateLastModified: '2025-01-01T00:00:00Z',
		enabledUser: true,
		orgs: [{ sourcedId: 'org1', type: 'org' }],
		role: 'student',
		username: `user${i}`,
		userIds: [{ type: 'Local', identifier: String(i) }],
		givenName: `Given ${i}`,
		familyName: 'Family',
		identifier: String(i),
		email: `u${i}@school.example`,
		grades: ['09'],
		...overrides,
	};
}

/** A server of orgs and users (as JSON pages of `pageSize`, or the raw text a test gives for an offset), with X-Total-Count. */
function server(users: unknown[], pageSize: number, rawPages: Record<number, string> = {}, onRequest?: (url: URL) => void): ApiClient {
	return {
		authStats: { tokenRequests: 0, tokenRefreshesOn401: 0 },
		async get(url: string): Promise<HttpResponse> {
			const parsed = new URL(url);
			onRequest?.(parsed);
			const offset = Number(parsed.searchParams.get('offset'));
			const limit = Number(parsed.searchParams.get('limit'));
			const list = parsed.pathname.endsWith('/orgs') ? [ORG] : users;
			const name = parsed.pathname.endsWith('/orgs') ? 'orgs' : 'users';
			const text = rawPages[offset] ?? JSON.stringify({ [name]: list.slice(offset, offset + limit) });
			return { status: 200, headers: { 'x-total-count': String(list.length) }, body: Buffer.from(text) };
		},
	};
}

async function pull(client: ApiClient, signal?: AbortSignal, onProgress?: () => void) {
	const source = oneRosterApiSource(
		client,
		{ sisName: 'Test SIS', baseUrl: 'https://sis.example', version: '1.1', resources: ['orgs', 'users'], schoolIds: [] },
		FULL,
		{ pageSize: 3, concurrency: 2 },
		signal,
	);
	const sink = new MemoryStagingSink();
	const summary = await source.stage(sink, { onProgress });
	return { sink, summary };
}

/** What the in-thread staging makes of the same users: StagedFileWriter over rowFlattener, bulk (status and dateLastModified cleared). */
async function stagedInThread(users: JsonRecord[]) {
	const sink = new MemoryStagingSink();
	const problems = new ProblemList(1000);
	const columns = stagedColumns('users', '1.1');
	const writer = await StagedFileWriter.begin(sink, { entity: 'users', fileName: fileNameOf('users'), version: '1.1', mode: 'bulk', columns }, problems);
	const flatten = rowFlattener('users', columns);
	const cleared = ['status', 'dateLastModified'].map((name) => columns.indexOf(name));
	for (const record of users) {
		const cells = flatten(record);
		for (const index of cleared) cells[index] = '';
		writer.add(cells);
	}
	const warnings: string[] = [];
	const file = await writer.finish(warnings);
	return { sink, file, warnings };
}

describe('OneRoster pull: what is staged', () => {
	test('stages what the in-thread staging stages: rows, row numbers, a record seen twice once, problems with file/row/field', async () => {
		const users = [
			user(1),
			user(2, { role: 'wizard' }),
			user(3),
			user(2), // seen twice: paged again while the SIS changed
			user(4, { username: '' }),
			user(5),
			user(6, { enabledUser: 'maybe' }),
			user(7),
		];
		const { sink, summary } = await pull(server(users, 3));
		const expected = await stagedInThread(users);

		expect(sink.rows.get('users')).toEqual(expected.sink.rows.get('users'));
		expect(sink.problems).toEqual(expected.sink.problems);
		expect(sink.problems.map((problem) => [problem.file, problem.row, problem.field])).toEqual([
			['users.csv', 3, 'role'],
			['users.csv', 5, 'username'],
			['users.csv', 7, 'enabledUser'],
		]);
		expect(sink.rows.get('users')!.map((row) => [row.rowNumber, row.sourcedId])).toEqual([
			[2, 'u1'],
			[4, 'u3'],
			[6, 'u5'],
			[8, 'u7'],
		]);
		expect(summary.files.find((file) => file.entity === 'users')).toEqual({ ...expected.file, mode: 'bulk' });
		for (const warning of expected.warnings) expect(summary.warnings).toContain(warning);
		expect(summary.warnings.join('\n')).toContain('users.csv: 1 record(s) came twice');
	});

	test('a page that is not JSON (cut short) fails the pull with a clear error that quotes none of its content', async () => {
		const users = Array.from({ length: 9 }, (_, i) => user(i + 1));
		const failed = pull(server(users, 3, { 3: '{"users": [{"sourcedId": "u4", "givenName": "Secretia", ' }));
		await expect(failed).rejects.toThrow(
			/^GET https:\/\/sis\.example\/ims\/oneroster\/v1p1\/users answered HTTP 200 with 56 characters that are not JSON: /,
		);
		await expect(failed).rejects.not.toThrow(/Secretia/);
	});

	test('a record that is not a JSON object (null, a number, a list) is a row problem naming the file and row; the rest is staged', async () => {
		const { sink, summary } = await pull(server([user(1), null, user(3), 7, [user(9)], user(6)], 3));
		expect(sink.rows.get('users')!.map((row) => [row.rowNumber, row.sourcedId])).toEqual([
			[2, 'u1'],
			[4, 'u3'],
			[7, 'u6'],
		]);
		expect(sink.problems).toEqual([
			{ file: 'users.csv', row: 3, message: 'the record is not a JSON object (null); skipped' },
			{ file: 'users.csv', row: 5, message: 'the record is not a JSON object (a number); skipped' },
			{ file: 'users.csv', row: 6, message: 'the record is not a JSON object (a list); skipped' },
		]);
		expect(summary.files.find((file) => file.entity === 'users')).toMatchObject({ rows: 3, skipped: 3 });
		expect(summary.problemCount).toBe(3);
	});
});
