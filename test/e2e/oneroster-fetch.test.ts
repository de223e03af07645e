/**
 * OneRoster Fetch end to end in a REAL n8n (2.40.7): the package built, packed and installed as an
 * operator does it; the SIS credentials imported into n8n; HTTP OneRoster / Clever servers of the test
 * (test/support/oneroster-server.ts) on 127.0.0.1 that check tokens, cookies and OAuth 1.0a signatures.
 *
 * This is what proves the n8n side: every data request goes through `httpRequestWithAuthentication`
 * with the credential's `authenticate`, the OAuth 2 token comes from its `preAuthentication` (and is
 * fetched again by n8n when the server answers 401 mid-run), and each credential's "Test connection"
 * runs in n8n's own credential tester (POST /rest/credentials/test).
 *
 *  - workflows/nightly-sync-api.json as shipped (generic OneRoster credential, OAuth 2 with scopes and
 *    token cookies, tokens that expire every 3 requests, a 429 burst): night 1 full, night 2 delta;
 *  - ClassLink (OAuth 1.0a) and Clever (district token) pulls;
 *  - "Test connection" of all seven SIS credential types, right and wrong secret.
 */
import path from 'node:path';

import { openStore } from '../../nodes/shared/store/store';
import { EMAIL, FETCH, NORMALIZE, RECONCILE, expectSucceeded, readWorkflow, smtpCredentialData, startN8nWithPackage, type N8nWithPackage, type WorkflowJson } from '../support/n8n-e2e';
import type { OneRosterServer, ServerAuth } from '../support/oneroster-server';
import { startOneRosterServer } from '../support/oneroster-server';
import { REPO_ROOT } from '../support/paths';
import type { SmtpServer } from '../support/smtp';
import { startSmtp } from '../support/smtp';
import { nodeOutput, randomOwner, signIn, type CredentialToImport } from './n8n-harness';

const TEMPLATE = path.join(REPO_ROOT, 'workflows', 'nightly-sync-api.json');

/** One SIS credential type, the server that checks it, and its data. */
interface SisCase {
	type: string;
	sis: string;
	auth: ServerAuth;
	data: (server: OneRosterServer) => Record<string, unknown>;
	secretField: string;
}

const SIS_CASES: SisCase[] = [
	{
		type: 'rosterInfiniteCampusApi',
		sis: 'infiniteCampus',
		auth: { kind: 'oauth2', clientId: 'ic-client', clientSecret: 'ic-secret', clientAuth: 'basic', tokenPath: '/campus/oauth2/token' },
		data: (s) => ({
			version: '1.1',
			baseUrl: `${s.url}/campus/api/oneroster/v1p1/grandbend`,
			tokenUrl: `${s.url}/campus/oauth2/token?appName=grandbend`,
			clientId: 'ic-client',
			clientSecret: 'ic-secret',
			clientAuthentication: 'basic',
			scope: '',
			schoolId: '',
		}),
		secretField: 'clientSecret',
	},
	{
		type: 'rosterSkywardApi',
		sis: 'skyward',
		auth: { kind: 'oauth2', clientId: 'sky-key', clientSecret: 'sky-secret', clientAuth: 'basic', tokenPath: '/api/token' },
		data: (s) => ({ baseUrl: `${s.url}/api`, clientId: 'sky-key', clientSecret: 'sky-secret', tokenUrl: '', schoolId: '' }),
		secretField: 'clientSecret',
	},
	{
		type: 'rosterAeriesApi',
		sis: 'aeries',
		auth: {
			kind: 'oauth2',
			clientId: 'aeries-consumer',
			clientSecret: 'aeries-secret-key',
			clientAuth: 'body',
			requiredScopes: ['https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly'],
			cookie: true,
			tokenPath: '/aeries/OneRoster/token',
		},
		data: (s) => ({
			baseUrl: `${s.url}/aeries/OneRoster`,
			clientId: 'aeries-consumer',
			clientSecret: 'aeries-secret-key',
			tokenUrl: '',
			scope: 'https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly',
			clientAuthentication: 'body',
			schoolId: '',
		}),
		secretField: 'clientSecret',
	},
	{
		type: 'rosterPowerSchoolApi',
		sis: 'powerSchool',
		auth: { kind: 'oauth2', clientId: 'ps-client', clientSecret: 'ps-secret', clientAuth: 'basic', tokenPath: '/oauth/access_token' },
		data: (s) => ({ baseUrl: s.url, clientId: 'ps-client', clientSecret: 'ps-secret', tokenUrl: '', schoolId: '' }),
		secretField: 'clientSecret',
	},
	{
		type: 'rosterClassLinkApi',
		sis: 'classLink',
		auth: { kind: 'oauth1', consumerKey: 'b008b35ac38bccb5', consumerSecret: "cl secret!*'()" },
		data: (s) => ({ baseUrl: `${s.url}/ims/oneroster/v1p1/`, version: '1.1', clientId: 'b008b35ac38bccb5', clientSecret: "cl secret!*'()", tenantId: '2', schoolId: '' }),
		secretField: 'clientSecret',
	},
	{
		type: 'rosterCleverApi',
		sis: 'clever',
		auth: { kind: 'bearer', token: 'clever-district-token' },
		data: (s) => ({ token: 'clever-district-token', apiVersion: 'v3.0', baseUrl: s.url, schoolId: '' }),
		secretField: 'token',
	},
	{
		type: 'rosterOneRosterApi',
		sis: 'oneRoster',
		auth: {
			kind: 'oauth2',
			clientId: 'generic',
			clientSecret: 'generic-secret',
			clientAuth: 'body',
			requiredScopes: ['roster.readonly'],
			cookie: true,
			tokenPath: '/oauth/token',
		},
		data: (s) => ({
			baseUrl: s.url,
			version: '1.1',
			authentication: 'oauth2',
			tokenUrl: `${s.url}/oauth/token`,
			clientId: 'generic',
			clientSecret: 'generic-secret',
			clientAuthentication: 'body',
			scope: 'roster.readonly',
			resendCookies: true,
			schoolId: '',
		}),
		secretField: 'clientSecret',
	},
];

/** Manual Trigger → OneRoster Fetch (this SIS) → Normalize, on its own store. */
function fetchWorkflow(id: string, sis: string, credential: { type: string; id: string; name: string }, store: { id: string; name: string }): WorkflowJson {
	const storeRef = { rosterStoreApi: store };
	return {
		id,
		name: `OneRoster Fetch e2e (${sis})`,
		nodes: [
			{ name: 'Run now', type: 'n8n-nodes-base.manualTrigger', parameters: {}, typeVersion: 1, position: [0, 0] } as never,
			{
				name: FETCH,
				type: 'n8n-nodes-rostersync.rosterOneRosterFetch',
				typeVersion: 1,
				position: [250, 0],
				parameters: { sis, resources: ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments'], pull: 'full', options: { pageSize: 4 } },
				credentials: { [credential.type]: { id: credential.id, name: credential.name }, ...storeRef },
			} as never,
			{
				name: NORMALIZE,
				type: 'n8n-nodes-rostersync.rosterNormalize',
				typeVersion: 1,
				position: [500, 0],
				parameters: { runId: '={{ $json.runId }}', schoolIds: '' },
				credentials: storeRef,
			} as never,
		],
		connections: {
			'Run now': { main: [[{ node: FETCH, type: 'main', index: 0 }]] },
			[FETCH]: { main: [[{ node: NORMALIZE, type: 'main', index: 0 }]] },
		},
		active: false,
		settings: { executionOrder: 'v1' },
	};
}

describe('OneRoster Fetch in a real n8n (credentials, httpRequestWithAuthentication, nightly API template)', () => {
	let e2e: N8nWithPackage;
	let smtp: SmtpServer;
	const servers = new Map<string, OneRosterServer>();
	let template: WorkflowJson;
	const credentialIds = new Map<string, { id: string; name: string }>();

	beforeAll(async () => {
		e2e = await startN8nWithPackage();
		smtp = await startSmtp();
		for (const sisCase of SIS_CASES) servers.set(sisCase.type, await startOneRosterServer({ auth: sisCase.auth }));
		const { folder, storePath } = e2e;

		template = readWorkflow(TEMPLATE);
		const fetchNode = template.nodes.find((node) => node.name === FETCH)!;
		const refs = { ...fetchNode.credentials!, ...template.nodes.find((node) => node.name === EMAIL)!.credentials! };
		const credentials: CredentialToImport[] = [
			{ ...refs.rosterStoreApi, type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: storePath } },
			{ id: 'rosterStoreOther', name: 'Roster Store (other SIS)', type: 'rosterStoreApi', data: { engine: 'sqlite', sqlitePath: path.join(folder.root, 'store', 'other.sqlite') } },
			{ ...refs.smtp, type: 'smtp', data: smtpCredentialData(smtp) },
		];
		for (const sisCase of SIS_CASES) {
			const ref = sisCase.type === 'rosterOneRosterApi' ? refs.rosterOneRosterApi : { id: `sis${sisCase.sis}`.slice(0, 16).padEnd(16, '0'), name: `SIS ${sisCase.sis}` };
			credentialIds.set(sisCase.type, ref);
			credentials.push({ ...ref, type: sisCase.type, data: sisCase.data(servers.get(sisCase.type)!) });
		}
		await e2e.importCredentials(credentials);

		// The operator's edits: Dry run off with Auto update on (after the dry runs looked right), who gets the report.
		const parameters = (name: string) => template.nodes.find((node) => node.name === name)!.parameters;
		expect(parameters(FETCH)).toMatchObject({ sis: 'oneRoster', pull: 'delta', fullEveryDays: 7 }); // as shipped
		Object.assign(parameters(RECONCILE), { dryRun: false, autoUpdate: true, archive: true });
		parameters(EMAIL).toEmail = 'ops@district.example.org';
		const other = { id: 'rosterStoreOther', name: 'Roster Store (other SIS)' };
		await e2e.importWorkflow([
			template,
			fetchWorkflow('rsFetchClassLink', 'classLink', { type: 'rosterClassLinkApi', ...credentialIds.get('rosterClassLinkApi')! }, other),
			fetchWorkflow('rsFetchClever0001', 'clever', { type: 'rosterCleverApi', ...credentialIds.get('rosterCleverApi')! }, other),
		]);
	}, 25 * 60_000);

	afterAll(async () => {
		for (const server of servers.values()) await server.stop();
		await smtp?.stop();
		await e2e?.close();
	});

	it('night 1: the shipped API template pulls everything through n8n: OAuth 2 token, cookies, a 429 burst, tokens expiring mid-run', async () => {
		const server = servers.get('rosterOneRosterApi')!;
		server.faults.tokenTtlRequests = 3;
		server.faults.burst429 = { count: 2, retryAfter: '1' };
		const result = await e2e.execute(template.id);
		expectSucceeded(result);
		const fetched = nodeOutput(result.run, FETCH);
		expect(fetched).toHaveLength(1);
		expect(fetched[0]).toMatchObject({
			stage: 'staged',
			source: `OneRoster 1.1 API (OneRoster), ${server.url}/ims/oneroster/v1p1`,
			counts: expect.objectContaining({ files: expect.objectContaining({ orgs: 2, users: 10, enrollments: 24 }) }),
			fetch: expect.objectContaining({ pull: 'full', reason: 'no earlier complete run to apply changes to', rateLimited: 2, retries: 2 }),
		});
		expect(nodeOutput(result.run, NORMALIZE)[0].counts).toMatchObject({ people: { student: 8, teacher: 2, staff: 0, admin: 0 }, enrollments: 24 });
		// n8n's preAuthentication fetched the token, and fetched it again each time the server said 401 (expired).
		const expired = server.log.filter((r) => r.status === 401).length;
		expect(expired).toBeGreaterThanOrEqual(2);
		expect(server.tokensIssued()).toBe(expired + 1);
		process.stderr.write(`[e2e oneroster] night 1: ${server.dataRequests().length} data requests, ${server.tokensIssued()} tokens, ${expired} 401s refreshed by n8n, n8n execute ${result.ms} ms\n`);
		const store = await openStore({ engine: 'sqlite', path: e2e.storePath });
		try {
			const people = await store.db.query('SELECT role, COUNT(*) AS n FROM people WHERE archived_at IS NULL GROUP BY role ORDER BY role');
			expect(people.map((row) => [row.role, Number(row.n)])).toEqual([
				['student', 8],
				['teacher', 2],
			]);
		} finally {
			await store.close();
		}
		expect(result.stdout + result.stderr).not.toContain('generic-secret');
	}, 5 * 60_000);

	it('night 2: only the changes are pulled (delta), and the rename reaches the people store', async () => {
		const server = servers.get('rosterOneRosterApi')!;
		server.faults.tokenTtlRequests = undefined;
		const kyle = server.data.users.find((u) => u.sourcedId === '604874')!;
		kyle.familyName = 'Hughes-Park';
		server.touch(kyle);
		server.log.length = 0;
		const result = await e2e.execute(template.id);
		expectSucceeded(result);
		const fetched = nodeOutput(result.run, FETCH)[0];
		expect(fetched).toMatchObject({
			counts: expect.objectContaining({ files: expect.objectContaining({ users: 1, enrollments: 0 }), modes: expect.objectContaining({ users: 'delta' }) }),
			fetch: expect.objectContaining({ pull: 'delta' }),
		});
		expect(server.dataRequests().some((r) => (r.query.get('filter') ?? '').startsWith("dateLastModified>'"))).toBe(true);
		expect(nodeOutput(result.run, NORMALIZE)[0].counts).toMatchObject({ people: { student: 8, teacher: 2 }, enrollments: 24 });
		const store = await openStore({ engine: 'sqlite', path: e2e.storePath });
		try {
			expect(await store.db.query("SELECT family_name FROM people WHERE sourced_id = '604874'")).toEqual([{ family_name: 'Hughes-Park' }]);
		} finally {
			await store.close();
		}
	}, 5 * 60_000);

	it('ClassLink: OAuth 1.0a signed by the credential in n8n (query string in the signature), tenant kept', async () => {
		const server = servers.get('rosterClassLinkApi')!;
		const result = await e2e.execute('rsFetchClassLink');
		expectSucceeded(result);
		expect(server.dataRequests().length).toBeGreaterThan(7);
		expect(server.dataRequests().every((r) => r.status === 200)).toBe(true);
		const fetched = nodeOutput(result.run, FETCH)[0];
		expect(fetched.source).toBe(`OneRoster 1.1 API (ClassLink), ${server.url}/ims/oneroster/v1p1, tenant 2`);
		expect(nodeOutput(result.run, NORMALIZE)[0].counts).toMatchObject({ people: { student: 8, teacher: 2 }, enrollments: 24 });
	}, 5 * 60_000);

	it('Clever: the district token from the credential, cursors followed, the same people', async () => {
		const result = await e2e.execute('rsFetchClever0001');
		expectSucceeded(result);
		expect(nodeOutput(result.run, FETCH)[0]).toMatchObject({ fetch: expect.objectContaining({ api: 'Clever v3.0' }) });
		expect(nodeOutput(result.run, NORMALIZE)[0].counts).toMatchObject({ people: { student: 8, teacher: 2 }, classes: 2, enrollments: 12 });
	}, 5 * 60_000);

	it('"Test connection" of every SIS credential type in n8n\'s credential tester: OK, and an error with a wrong secret', async () => {
		const server = await e2e.start();
		try {
			const session = await signIn(server, randomOwner());
			const types = await session.request('GET', '/types/credentials.json');
			expect((types.json as Array<{ name: string }>).map((type) => type.name)).toEqual(expect.arrayContaining(SIS_CASES.map((c) => c.type)));
			const nodes = await session.request('GET', '/types/nodes.json');
			expect((nodes.json as Array<{ name: string }>).map((type) => type.name)).toContain('n8n-nodes-rostersync.rosterOneRosterFetch');
			for (const sisCase of SIS_CASES) {
				const sis = servers.get(sisCase.type)!;
				const ref = credentialIds.get(sisCase.type)!;
				const before = sis.dataRequests().length;
				const test = (data: Record<string, unknown>) =>
					session.request('POST', '/rest/credentials/test', { credentials: { ...ref, type: sisCase.type, data } });
				const ok = await test(sisCase.data(sis));
				expect({ type: sisCase.type, result: (ok.json as { data: unknown }).data }).toEqual({ type: sisCase.type, result: { status: 'OK', message: 'Connection successful!' } });
				const tested = sis.dataRequests().slice(before);
				expect(tested.length).toBeGreaterThan(0);
				expect(tested[tested.length - 1]).toMatchObject({ status: 200 });
				expect(tested[tested.length - 1].path).toMatch(/\/(orgs|districts)$/);
				const wrong = await test({ ...sisCase.data(sis), [sisCase.secretField]: 'not-the-secret' });
				const failure = (wrong.json as { data: { status: string; message: string } }).data;
				expect({ type: sisCase.type, status: failure.status }).toEqual({ type: sisCase.type, status: 'Error' });
				expect(failure.message).not.toContain('not-the-secret');
			}
		} finally {
			await server.stop();
		}
	}, 5 * 60_000);
});
