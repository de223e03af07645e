/**
 * OneRoster Fetch engine against a real HTTP OneRoster server on 127.0.0.1 (test/support/oneroster-server.ts)
 * serving the Ed-Fi Grand Bend 1.1 sample: fetch → stage → normalize on both store engines gives the
 * same roster as the CSV sample, over OneRoster 1.1 and 1.2, OAuth 2 and OAuth 1.0a; delta pulls;
 * nothing partial when a pull cannot finish; cancellation between pages.
 */
import type { ApiAuth } from '../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import { apiClient } from '../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import type { PullPlan } from '../../nodes/shared/sources/oneroster-rest/delta';
import { planPull } from '../../nodes/shared/sources/oneroster-rest/delta';
import { fetchTransport } from '../../nodes/shared/sources/oneroster-rest/http';
import type { OneRosterApiConfig, PullOptions, RestResource } from '../../nodes/shared/sources/oneroster-rest/source';
import { describeOneRosterSource, oneRosterApiSource } from '../../nodes/shared/sources/oneroster-rest/source';
import { cleverApiSource } from '../../nodes/shared/sources/clever/source';
import { normalizeRun, readSnapshot } from '../../nodes/shared/normalize/normalize';
import { reconcileRun } from '../../nodes/shared/reconcile/apply';
import { stageRun, StagingFailedError } from '../../nodes/shared/sources/stage-run';
import { getRun, listProblems } from '../../nodes/shared/store/runs';
import { readStagedFiles, readStagedRows } from '../../nodes/shared/store/staging';
import type { SqlDb } from '../../nodes/shared/store/sql';
import type { RosterStore } from '../../nodes/shared/store/store';
import { ENGINES, openTestStore } from '../support/engines';
import type { Json, OneRosterServer, ServerAuth } from '../support/oneroster-server';
import { grandBendJson, startOneRosterServer } from '../support/oneroster-server';

const ALL: RestResource[] = ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments', 'demographics'];
const FULL: PullPlan = { mode: 'full', reason: 'test' };
const FAST = { retry: { maxRetries: 5, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5000 } };

const OAUTH2: ServerAuth = {
	kind: 'oauth2',
	clientId: 'minga-client',
	clientSecret: "s3cr3t:with/odd chars!*'()",
	clientAuth: 'basic',
	tokenPath: '/campus/oauth2/token',
};

function clientFor(server: OneRosterServer): ReturnType<typeof apiClient> {
	const auth: ApiAuth =
		server.auth.kind === 'oauth2'
			? {
					kind: 'oauth2',
					oauth2: {
						tokenUrl: `${server.tokenUrl}?appName=grandbend`,
						clientId: server.auth.clientId,
						clientSecret: server.auth.clientSecret,
						clientAuthentication: server.auth.clientAuth === 'body' ? 'body' : 'basic',
						scope: (server.auth.requiredScopes ?? []).join(' '),
					},
					resendCookies: server.auth.cookie,
				}
			: server.auth.kind === 'oauth1'
				? { kind: 'oauth1', oauth1: { consumerKey: server.auth.consumerKey, consumerSecret: server.auth.consumerSecret } }
				: { kind: 'bearer', token: server.auth.token };
	return apiClient(fetchTransport(), auth);
}

function configFor(server: OneRosterServer, overrides: Partial<OneRosterApiConfig> = {}): OneRosterApiConfig {
	return { sisName: 'Test SIS', baseUrl: `${server.url}/campus/api/oneroster/v1p1/grandbend`, version: '1.1', resources: ALL, schoolIds: [], ...overrides };
}

async function pull(
	db: SqlDb,
	server: OneRosterServer,
	overrides: Partial<OneRosterApiConfig> = {},
	options: Partial<PullOptions> = {},
	plan: PullPlan = FULL,
	signal?: AbortSignal,
) {
	const source = oneRosterApiSource(clientFor(server), configFor(server, overrides), plan, { ...FAST, ...options }, signal);
	const staged = await stageRun(db, source);
	return { ...staged, fetch: source.fetchSummary! };
}

/** Everything staged for a run: its files and rows (through the store's own staging reader). */
async function stagedCount(db: SqlDb, runId: string): Promise<{ files: number; rows: number }> {
	const files = await readStagedFiles(db, runId);
	let rows = 0;
	for (const file of files) for await (const batch of readStagedRows(db, runId, file.entity)) rows += batch.length;
	return { files: files.length, rows };
}

async function expectGrandBend(db: SqlDb, runId: string) {
	const { counts } = await normalizeRun(db, runId);
	expect(counts.people).toEqual({ student: 8, teacher: 2, staff: 0, admin: 0 });
	expect(counts).toMatchObject({ schools: 1, orgs: 2, terms: 3, courses: 2, classes: 2, enrollments: 24, skippedRows: 0 });
	const snapshot = await readSnapshot(db, runId);
	expect(snapshot.people.find((p) => p.sourcedId === '604918')).toMatchObject({
		role: 'student',
		givenName: 'Peter',
		middleName: 'Ivan',
		familyName: 'Nash',
		email: 'Peter.Nash@studentgps.org',
		username: 'Peter Ivan Nash',
		grade: '09',
		schoolIds: ['255901001'],
		phone: '(950) 434 7904',
	});
	expect(snapshot.classes.find((c) => c.sourcedId === '25590100101Trad120ENG112011')).toMatchObject({
		termIds: ['255901001_2021_2020-2021_Fall', '255901001_2021_2020-2021_Spring'],
		schoolId: '255901001',
		courseId: 'ENG-1',
	});
	return counts;
}

describe.each(ENGINES)('OneRoster Fetch → stage → normalize on %s', (engine) => {
	let store: RosterStore;
	let server: OneRosterServer;
	beforeEach(async () => {
		store = await openTestStore(engine);
	});
	afterEach(async () => {
		await server?.stop();
		await store.close();
	});

	test('OneRoster 1.1, OAuth 2 (Basic secret, Infinite Campus token URL): the same roster as the CSV sample', async () => {
		server = await startOneRosterServer({ auth: OAUTH2 });
		const { run, fetch } = await pull(store.db, server);
		expect(run.stage).toBe('staged');
		expect(run.counts.staged).toMatchObject({
			version: '1.1',
			files: { orgs: 2, academicSessions: 3, courses: 2, classes: 2, users: 10, demographics: 8, enrollments: 24 },
			modes: { users: 'bulk' },
		});
		expect(fetch).toMatchObject({ pull: 'full', tokenRequests: 1, retries: 0, records: { users: 10, enrollments: 24 } });
		await expectGrandBend(store.db, run.id);
		// The token request went to …/token?appName=…, and every data request used sort=sourcedId and a page size.
		const data = server.dataRequests();
		expect(data.every((request) => request.query.get('sort') === 'sourcedId' && request.query.get('limit') === '1000')).toBe(true);
		expect(data.map((request) => request.path)).toContain('/campus/api/oneroster/v1p1/grandbend/ims/oneroster/v1p1/users');
	});

	test('OneRoster 1.2 (roles, booleans, rostering/v1p2 path), OAuth 2 secret in the body with scopes and cookies (Aeries)', async () => {
		server = await startOneRosterServer({
			auth: {
				kind: 'oauth2',
				clientId: 'aeries-consumer',
				clientSecret: 'aeries-secret',
				clientAuth: 'body',
				requiredScopes: ['https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly'],
				cookie: true,
				tokenPath: '/token',
			},
		});
		const { run } = await pull(store.db, server, { version: '1.2', baseUrl: `${server.url}/ims/oneroster/rostering/v1p2/` });
		expect(run.counts.staged).toMatchObject({ version: '1.2', files: { users: 10, roles: 10, enrollments: 24 } });
		await expectGrandBend(store.db, run.id);
		expect(server.dataRequests().every((request) => request.status === 200)).toBe(true);
		expect(server.dataRequests().every((request) => request.path.startsWith('/ims/oneroster/rostering/v1p2/'))).toBe(true);
		expect(server.dataRequests()[0].path).toBe('/ims/oneroster/rostering/v1p2/orgs');
	});

	test('OAuth 1.0a HMAC-SHA256 (ClassLink): every request signed, query string included; tenant id kept with every row', async () => {
		server = await startOneRosterServer({ auth: { kind: 'oauth1', consumerKey: 'classlink-key', consumerSecret: 'classlink secret!' } });
		const { run } = await pull(store.db, server, { baseUrl: server.url, tenantId: '2' });
		await expectGrandBend(store.db, run.id);
		expect(server.dataRequests().every((request) => request.status === 200)).toBe(true);
		const users = (await readStagedFiles(store.db, run.id)).find((file) => file.entity === 'users')!;
		const tenantColumn = users.columns.indexOf('metadata.tenantId');
		for await (const batch of readStagedRows(store.db, run.id, 'users')) {
			expect(batch.every((row) => row.cells[tenantColumn] === '2')).toBe(true);
		}
		expect(run.source).toContain('tenant 2');
	});

	test('a pull that cannot finish (enrollments always 500) fails the run and keeps nothing staged', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { alwaysFail: /enrollments$/ } });
		const error = await pull(store.db, server, {}, { retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 10, maxRetryAfterMs: 1000 } }).catch((e: Error) => e);
		expect(error).toBeInstanceOf(StagingFailedError);
		expect((error as Error).message).toMatch(/enrollments failed after 3 tries: HTTP 500/);
		const runId = (error as StagingFailedError).runId;
		expect(await getRun(store.db, runId)).toMatchObject({ status: 'failed', stage: 'created' });
		expect(await stagedCount(store.db, runId)).toEqual({ files: 0, rows: 0 });
		await expect(normalizeRun(store.db, runId)).rejects.toThrow(/failed earlier/);
	});

	test('a page cut short (200, half its JSON) fails the run and keeps nothing staged: a partial roster is never staged as the whole', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { cutShort: /users$/ } });
		const error = await pull(store.db, server, {}, { pageSize: 5 }).catch((e: Error) => e);
		expect(error).toBeInstanceOf(StagingFailedError);
		expect((error as Error).message).toMatch(/users answered HTTP 200 with [\d,]+ characters that are not JSON/);
		expect((error as Error).message).not.toMatch(/sourcedId|givenName/);
		const runId = (error as StagingFailedError).runId;
		expect(await getRun(store.db, runId)).toMatchObject({ status: 'failed', stage: 'created' });
		expect(await stagedCount(store.db, runId)).toEqual({ files: 0, rows: 0 });
	});

	test('a null record among the users is a row problem naming file and row; with Archive on, nobody is archived that night', async () => {
		server = await startOneRosterServer({ auth: OAUTH2 });
		const day1 = await pull(store.db, server);
		await normalizeRun(store.db, day1.run.id);
		await reconcileRun(store.db, day1.run.id, { archive: true });
		server.faults.nullRecords = ['604918'];
		const day2 = await pull(store.db, server);
		// Its demographics record shares the sourcedId, so it is null too.
		const problems = await listProblems(store.db, day2.run.id);
		expect(problems.map((p) => [p.file, p.message])).toEqual([
			['users.csv', 'the record is not a JSON object (null); skipped'],
			['demographics.csv', 'the record is not a JSON object (null); skipped'],
		]);
		expect(problems[0].row).toBeGreaterThan(1);
		await normalizeRun(store.db, day2.run.id, { drift: { checks: [] } });
		const result = await reconcileRun(store.db, day2.run.id, { archive: true, holdMassChanges: false });
		expect(result.counts).toMatchObject({ archived: 0, archiveBlocked: 1 });
		expect(result.warnings).toContain('1 users row could not be read (no sourcedId); archiving skipped');
		const peter = await store.db.query("SELECT archived_at FROM people WHERE sourced_id = '604918'");
		expect(peter).toEqual([{ archived_at: null }]);
	});

	test('delta: only records changed since the last good run, tobedeleted removes; then a full pull after N days', async () => {
		server = await startOneRosterServer({ auth: OAUTH2 });
		const config = configFor(server);
		const source = describeOneRosterSource(config);
		const settings = { enabled: true, fullEveryDays: 7 };
		expect(await planPull(store.db, source, settings)).toMatchObject({ mode: 'full', reason: 'no earlier complete run to apply changes to' });
		const first = await pull(store.db, server);
		await expectGrandBend(store.db, first.run.id);

		// Night 2 in the SIS: Kyle renamed, Micheal Turner and his enrollments deleted, Ada Byron new in English.
		const users = server.data.users;
		const kyle = users.find((u) => u.sourcedId === '604874')!;
		kyle.familyName = 'Hughes-Park';
		server.touch(kyle);
		const micheal = users.find((u) => u.sourcedId === '605015')!;
		micheal.status = 'tobedeleted';
		server.touch(micheal);
		for (const enrollment of server.data.enrollments.filter((e) => (e.user as Json).sourcedId === '605015')) {
			enrollment.status = 'tobedeleted';
			server.touch(enrollment);
		}
		const ada: Json = { ...kyle, sourcedId: '609999', givenName: 'Ada', familyName: 'Byron', username: 'Ada Byron', email: 'Ada.Byron@studentgps.org' };
		users.push(ada);
		server.touch(ada);
		const enrollment = server.data.enrollments[0];
		const adaEnrollment: Json = { ...enrollment, sourcedId: 'NEW-ADA-ENG', user: { sourcedId: '609999' }, status: 'active' };
		server.data.enrollments.push(adaEnrollment);
		server.touch(adaEnrollment);

		const plan = await planPull(store.db, source, settings);
		expect(plan).toMatchObject({ mode: 'delta' });
		server.log.length = 0;
		const second = await pull(store.db, server, {}, {}, plan);
		expect(second.run.counts.staged).toMatchObject({
			files: { orgs: 2, academicSessions: 3, users: 3, enrollments: 3, courses: 0, classes: 0 },
			modes: { orgs: 'bulk', users: 'delta', enrollments: 'delta' },
			fetch: { pull: 'delta' },
		});
		const filters = server.dataRequests().map((r) => r.query.get('filter'));
		expect(filters).toContain(`dateLastModified>'${plan.since}'`);
		const { counts } = await normalizeRun(store.db, second.run.id);
		expect(counts).toMatchObject({ people: { student: 8, teacher: 2 }, enrollments: 23, deltaFrom: first.run.id });
		const snapshot = await readSnapshot(store.db, second.run.id);
		expect(snapshot.people.find((p) => p.sourcedId === '604874')?.familyName).toBe('Hughes-Park');
		expect(snapshot.people.find((p) => p.sourcedId === '605015')).toBeUndefined();

		// Eight days later the plan is a full pull again (deletions without tombstones are caught).
		const later = await planPull(store.db, source, settings, Date.now() + 8 * 24 * 3600_000);
		expect(later).toMatchObject({ mode: 'full' });
		expect(later.reason).toMatch(/7 or more days old/);
		// Another source's run in between: full.
		expect(await planPull(store.db, 'OneRoster CSV, elsewhere', settings)).toMatchObject({ mode: 'full' });
	});
});

describe('OneRoster Fetch against faults real servers have (SQLite)', () => {
	let store: RosterStore;
	let server: OneRosterServer;
	beforeEach(async () => {
		store = await openTestStore('sqlite');
	});
	afterEach(async () => {
		await server?.stop();
		await store.close();
	});

	test('429 bursts with Retry-After and 500s are retried; the roster is complete', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { burst429: { count: 3, retryAfter: '1' }, fail500: 2 } });
		const started = Date.now();
		const { run, fetch } = await pull(store.db, server, {}, { pageSize: 5 });
		expect(fetch).toMatchObject({ rateLimited: 3, serverErrors: 2, retries: 5 });
		// Three Retry-After: 1 waits, one after the other: the first request (orgs) goes alone.
		expect(fetch.waitedMs).toBeGreaterThanOrEqual(3000);
		expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
		await expectGrandBend(store.db, run.id);
	});

	test('a token that expires mid-run (401) is fetched again and the pull goes on', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { tokenTtlRequests: 4 } });
		const { run, fetch } = await pull(store.db, server, {}, { pageSize: 3, concurrency: 3 });
		expect(fetch.tokenRefreshesOn401).toBeGreaterThanOrEqual(2);
		expect(server.tokensIssued()).toBe(fetch.tokenRequests);
		await expectGrandBend(store.db, run.id);
	});

	test('a server that caps limit silently, sends no X-Total-Count and no Link: every record, the cap learned from page 1', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { maxLimit: 5, noTotalCount: true, noLink: true } });
		const { run, summary } = await pull(store.db, server, {}, { pageSize: 10, concurrency: 3 });
		await expectGrandBend(store.db, run.id);
		expect(summary.warnings.join('\n')).toMatch(/enrollments: the server returns at most 5 records per page \(asked 10\)/);
		const offsets = server.dataRequests().filter((r) => r.path.endsWith('/enrollments')).map((r) => Number(r.query.get('offset')));
		expect(offsets.slice(0, 5)).toEqual([0, 5, 10, 15, 20]);
	});

	test('no records as 404 past the end, no nested endpoints, named envelopes: School ID still scopes the pull', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { emptyAs404: true, noNested: true, namedEnvelopes: true } });
		const { run, summary, fetch } = await pull(store.db, server, { schoolIds: ['255901001'] }, { pageSize: 4 });
		expect(summary.warnings.join('\n')).toMatch(/classes: \/schools\/255901001\/classes not found on this server; read \/classes instead/);
		expect(fetch.schools).toEqual(['255901001']);
		await expectGrandBend(store.db, run.id);
	});

	test('School ID by identifier over nested endpoints; an unknown School ID fails with the schools the SIS shares', async () => {
		server = await startOneRosterServer({ auth: OAUTH2 });
		server.data.orgs[1].identifier = 'GBHS';
		const { run } = await pull(store.db, server, { schoolIds: ['GBHS'] });
		expect(server.dataRequests().map((r) => r.path)).toContain('/campus/api/oneroster/v1p1/grandbend/ims/oneroster/v1p1/schools/255901001/enrollments');
		await expectGrandBend(store.db, run.id);
		const error = await pull(store.db, server, { schoolIds: ['999'] }).catch((e: Error) => e);
		expect((error as Error).message).toMatch(/School ID "999" is not a school the SIS shares \(schools: 255901001 \(GBHS\) Grand Bend High School\)/);
	});

	test('sort refused: dropped with a warning; filter refused on a delta: a full pull instead', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { noSort: true, noFilter: true } });
		const { run, summary, fetch } = await pull(store.db, server, {}, {}, { mode: 'delta', since: '2024-01-01T00:00:00Z', reason: 'test' });
		expect(summary.warnings.join('\n')).toMatch(/refused sort=sourcedId/);
		expect(summary.warnings[0]).toMatch(/Delta pull not possible/);
		expect(fetch.pull).toBe('full');
		expect(run.counts.staged).toMatchObject({ modes: { users: 'bulk' } });
		await expectGrandBend(store.db, run.id);
	});

	test('slow pages: parallel pages cut the time; stop (cancellation) ends the pull between pages and keeps nothing', async () => {
		server = await startOneRosterServer({ auth: OAUTH2, faults: { pageDelayMs: 100 } });
		const t1 = Date.now();
		const sequential = await pull(store.db, server, {}, { pageSize: 2, concurrency: 1 });
		const sequentialMs = Date.now() - t1;
		const t2 = Date.now();
		const parallel = await pull(store.db, server, {}, { pageSize: 2, concurrency: 4 });
		const parallelMs = Date.now() - t2;
		process.stderr.write(
			`[oneroster-fetch] slow pages (100 ms each), page size 2: concurrency 1 → ${sequential.fetch.requests} requests, ${sequentialMs} ms; ` +
				`concurrency 4 → ${parallel.fetch.requests} requests (${parallel.fetch.overfetchedPages} past the end), ${parallelMs} ms\n`,
		);
		expect(parallelMs).toBeLessThan(sequentialMs * 0.7);
		await expectGrandBend(store.db, parallel.run.id);

		const controller = new AbortController();
		setTimeout(() => controller.abort(), 450);
		const error = await pull(store.db, server, {}, { pageSize: 2, concurrency: 1 }, FULL, controller.signal).catch((e: Error) => e);
		expect((error as Error).message).toMatch(/stopped before it finished/);
		const runId = (error as StagingFailedError).runId;
		expect(await getRun(store.db, runId)).toMatchObject({ status: 'failed' });
		expect(await stagedCount(store.db, runId)).toEqual({ files: 0, rows: 0 });
	});

	test('a bigger district (3,000 students, 6,000 enrollments) over 40 ms pages: time by concurrency', async () => {
		const data = grandBendJson();
		const peter = data.users.find((u) => u.sourcedId === '604918')!;
		const english = data.enrollments.find((e) => (e.class as Json).sourcedId === '25590100101Trad120ENG112011')!;
		const algebra = data.enrollments.find((e) => (e.class as Json).sourcedId === '25590100102Trad220ALG112011')!;
		for (let i = 0; i < 3000; i++) {
			const id = `S${String(i).padStart(5, '0')}`;
			data.users.push({ ...peter, sourcedId: id, username: `student ${i}`, email: `${id}@studentgps.org` });
			data.enrollments.push({ ...english, sourcedId: `E-${id}`, user: { sourcedId: id } }, { ...algebra, sourcedId: `A-${id}`, user: { sourcedId: id } });
		}
		server = await startOneRosterServer({ auth: OAUTH2, data, faults: { pageDelayMs: 40 } });
		const lines: string[] = [];
		const times: number[] = [];
		for (const concurrency of [1, 4, 8]) {
			server.log.length = 0;
			const started = Date.now();
			const { run, fetch } = await pull(store.db, server, {}, { pageSize: 250, concurrency });
			const ms = Date.now() - started;
			expect(run.counts.staged).toMatchObject({ files: { users: 3010, enrollments: 6024 } });
			lines.push(`concurrency ${concurrency}: ${fetch.requests} requests, ${fetch.pages} pages (${fetch.overfetchedPages} past the end), ${ms} ms`);
			times.push(ms);
		}
		expect(times[2]).toBeLessThan(times[0]);
		const { counts } = await normalizeRun(store.db, (await store.db.query("SELECT id FROM sync_runs WHERE status <> 'failed' ORDER BY id DESC LIMIT 1"))[0].id as string);
		expect(counts.people.student).toBe(3008);
		process.stderr.write(`[oneroster-fetch] 3,010 users + 6,024 enrollments, page size 250, 40 ms per page, SQLite:\n  ${lines.join('\n  ')}\n`);
	}, 120_000);

	test('the token request is never redirected: a 307 fails clearly and the secret does not follow it', async () => {
		server = await startOneRosterServer({ auth: { ...OAUTH2, tokenPath: '/oauth/token' } as ServerAuth, faults: { tokenRedirectTo: '/elsewhere/token' } });
		const error = await pull(store.db, server).catch((e: Error) => e);
		expect((error as Error).message).toMatch(/answered 307 \(a redirect to http:\/\/127\.0\.0\.1:\d+\/elsewhere\/token\)/);
		expect(server.log.filter((r) => r.path === '/elsewhere/token')).toHaveLength(0);
		expect((error as Error).message).not.toContain((OAUTH2 as { clientSecret: string }).clientSecret);
	});

	test('wrong secret, missing scope: the token endpoint\'s answer and a hint, never the secret', async () => {
		server = await startOneRosterServer({ auth: { ...OAUTH2, requiredScopes: ['roster-core.readonly'] } as ServerAuth });
		const stage = (oauth2: Partial<{ clientSecret: string; scope: string }>) => {
			const client = apiClient(fetchTransport(), {
				kind: 'oauth2',
				oauth2: { tokenUrl: server.tokenUrl, clientId: 'minga-client', clientSecret: 'wrong-secret', ...oauth2 },
			});
			return stageRun(store.db, oneRosterApiSource(client, configFor(server), FULL, FAST)).then(
				() => new Error('the pull should have failed') as StagingFailedError,
				(e: StagingFailedError) => e,
			);
		};
		const wrongSecret = await stage({ scope: 'roster-core.readonly' });
		expect(wrongSecret.message).toMatch(/refused the request \(HTTP 401: invalid_client: unknown client or wrong secret\)/);
		expect((wrongSecret as StagingFailedError).hint).toMatch(/Check the Client ID and Client Secret/);
		expect(wrongSecret.message).not.toContain('wrong-secret');
		const noScope = await stage({ clientSecret: (OAUTH2 as { clientSecret: string }).clientSecret });
		expect(noScope.message).toMatch(/refused the request \(HTTP 400: invalid_scope: missing scope roster-core\.readonly\)/);
		expect((noScope as StagingFailedError).hint).toMatch(/scopes/);
	});
});

describe.each(ENGINES)('Clever v3 → stage → normalize on %s', (engine) => {
	let store: RosterStore;
	let server: OneRosterServer;
	beforeEach(async () => {
		store = await openTestStore(engine);
		server = await startOneRosterServer({ auth: { kind: 'bearer', token: 'district-token-123' } });
	});
	afterEach(async () => {
		await server.stop();
		await store.close();
	});

	test.each(['v3.0', 'v3.1'] as const)('Clever %s: schools, terms, courses, sections (+ their students and teachers), users by role', async (apiVersion) => {
		const client = apiClient(fetchTransport(), { kind: 'bearer', token: 'district-token-123' });
		const source = cleverApiSource(client, { baseUrl: server.url, apiVersion, resources: ALL, schoolIds: [] }, { ...FAST, pageSize: 3 });
		const { run } = await stageRun(store.db, source);
		expect(run.counts.staged).toMatchObject({ version: '1.1', files: { orgs: 2, academicSessions: 2, courses: 2, classes: 2, users: 10, demographics: 8, enrollments: 12 } });
		expect(source.fetchSummary).toMatchObject({ api: `Clever ${apiVersion}`, pull: 'full', records: { 'users?role=student': 8, 'users?role=teacher': 2 } });
		// Cursor paging: starting_after from the next link.
		expect(server.log.some((r) => r.path === `/${apiVersion}/users` && r.query.get('starting_after') !== null)).toBe(true);
		const { counts } = await normalizeRun(store.db, run.id);
		expect(counts).toMatchObject({ people: { student: 8, teacher: 2, staff: 0, admin: 0 }, schools: 1, classes: 2, enrollments: 12, skippedRows: 0 });
		const snapshot = await readSnapshot(store.db, run.id);
		expect(snapshot.people.find((p) => p.sourcedId === '604918')).toMatchObject({
			givenName: 'Peter',
			familyName: 'Nash',
			grade: '09',
			schoolIds: ['255901001'],
			username: 'Peter Ivan Nash',
			sisId: '918',
		});
		expect(snapshot.enrollments.filter((e) => e.role === 'teacher').every((e) => e.primary)).toBe(true);
		expect(snapshot.classes.find((c) => c.sourcedId === '25590100101Trad120ENG112011')).toMatchObject({ termIds: ['255901001_2021_2020-2021_Fall'], courseId: 'ENG-1' });
	});

	test('a null record in a Clever page fails the pull with nothing staged (left out, its person would look gone)', async () => {
		server.faults.nullRecords = ['604918'];
		const client = apiClient(fetchTransport(), { kind: 'bearer', token: 'district-token-123' });
		const source = cleverApiSource(client, { baseUrl: server.url, apiVersion: 'v3.0', resources: ALL, schoolIds: [] }, { ...FAST, pageSize: 3 });
		const error = (await stageRun(store.db, source).catch((e: Error) => e)) as StagingFailedError;
		expect(error).toBeInstanceOf(StagingFailedError);
		expect(error.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v3\.0\/users answered a "data" list whose item \d of 3 is not a record \(null\)$/);
		expect(await stagedCount(store.db, error.runId)).toEqual({ files: 0, rows: 0 });
	});

	test('a wrong district token fails with Clever\'s hint; School ID scopes by SIS id', async () => {
		const bad = cleverApiSource(apiClient(fetchTransport(), { kind: 'bearer', token: 'nope' }), { baseUrl: server.url, apiVersion: 'v3.0', resources: ALL, schoolIds: [] }, FAST);
		const error = (await stageRun(store.db, bad).catch((e: Error) => e)) as StagingFailedError;
		expect(error.message).toMatch(/answered HTTP 401/);
		expect(error.hint).toMatch(/district token/);
		const scoped = cleverApiSource(apiClient(fetchTransport(), { kind: 'bearer', token: 'district-token-123' }), { baseUrl: server.url, apiVersion: 'v3.0', resources: ALL, schoolIds: ['255901001'] }, FAST);
		const { run } = await stageRun(store.db, scoped);
		expect(run.source).toBe(`Clever API v3.0, ${server.url}, schools 255901001`);
		expect((await normalizeRun(store.db, run.id)).counts.people.student).toBe(8);
	});
});
