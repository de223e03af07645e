/**
 * Each SIS credential type's "Test connection" against the test OneRoster / Clever server, run the way
 * n8n's credential tester runs it: `preAuthentication` (OAuth 2 token) with an httpRequest helper,
 * the `test` request's expressions resolved by n8n-workflow's own expression engine, then the
 * credential's `authenticate`, then the request. The server checks tokens, cookies and OAuth 1.0a
 * signatures for real. A wrong secret must fail. Then the same credential data drives a whole pull.
 *
 * (The same credentials inside a real n8n are exercised by test/e2e/oneroster-fetch.test.ts.)
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialType,
	IDataObject,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeTypes,
} from 'n8n-workflow';
import { Workflow } from 'n8n-workflow';

import { RosterAeriesApi } from '../../credentials/RosterAeriesApi.credentials';
import { RosterClassLinkApi } from '../../credentials/RosterClassLinkApi.credentials';
import { RosterCleverApi } from '../../credentials/RosterCleverApi.credentials';
import { RosterInfiniteCampusApi } from '../../credentials/RosterInfiniteCampusApi.credentials';
import { RosterOneRosterApi } from '../../credentials/RosterOneRosterApi.credentials';
import { RosterPowerSchoolApi } from '../../credentials/RosterPowerSchoolApi.credentials';
import { RosterSkywardApi } from '../../credentials/RosterSkywardApi.credentials';
import type { SisKind } from '../../nodes/adapter/sis';
import { engineAuth, sisApiSettings, SIS_CREDENTIALS } from '../../nodes/adapter/sis';
import { normalizeRun } from '../../nodes/shared/normalize/normalize';
import { cleverApiSource } from '../../nodes/shared/sources/clever/source';
import { apiClient } from '../../nodes/shared/sources/oneroster-rest/auth/api-auth';
import { fetchTransport } from '../../nodes/shared/sources/oneroster-rest/http';
import { oneRosterApiSource } from '../../nodes/shared/sources/oneroster-rest/source';
import { stageRun } from '../../nodes/shared/sources/stage-run';
import type { RosterStore } from '../../nodes/shared/store/store';
import { openTestStore } from '../support/engines';
import type { OneRosterServer, ServerAuth } from '../support/oneroster-server';
import { startOneRosterServer } from '../support/oneroster-server';

/** n8n's `helpers.httpRequest` as preAuthentication uses it (returnFullResponse, ignoreHttpStatusErrors, disableFollowRedirect). */
async function httpRequest(options: IHttpRequestOptions): Promise<unknown> {
	const response = await fetch(options.url, {
		method: options.method ?? 'GET',
		headers: options.headers as Record<string, string>,
		body: options.body as string | undefined,
		redirect: options.disableFollowRedirect ? 'manual' : 'follow',
	});
	const text = await response.text();
	let body: unknown = text;
	try {
		body = JSON.parse(text);
	} catch {
		// not JSON: the text
	}
	if (!options.ignoreHttpStatusErrors && response.status >= 400) throw new Error(`HTTP ${response.status}`);
	const headers: IDataObject = {};
	response.headers.forEach((value, name) => (headers[name] = value));
	headers['set-cookie'] = response.headers.getSetCookie();
	return options.returnFullResponse ? { statusCode: response.status, headers, body } : body;
}

const helper: IHttpRequestHelper = { helpers: { httpRequest: httpRequest as IHttpRequestHelper['helpers']['httpRequest'] } };

/** Resolves `={{ … }}` values of the test request with n8n-workflow's expression engine and `$credentials`. */
function resolve(value: unknown, credentials: ICredentialDataDecryptedObject): unknown {
	const node: INode = { id: 't', name: 'Temp-Node', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [0, 0], parameters: {} };
	const nodeTypes = {
		getByName: () => ({ description: { properties: [] } }),
		getByNameAndVersion: () => ({ description: { name: 'noOp', version: 1, properties: [], inputs: ['main'], outputs: ['main'] } }),
		getKnownTypes: () => ({}),
	} as unknown as INodeTypes;
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	const walk = (v: unknown): unknown => {
		if (typeof v === 'string' && v.startsWith('=')) {
			return workflow.expression.getSimpleParameterValue(node, v, 'internal', { $credentials: credentials } as never, undefined, '');
		}
		if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
		return v;
	};
	return walk(value);
}

/** What n8n's credential tester does: preAuthentication, the test request, authenticate, send. */
async function testCredential(type: ICredentialType, data: ICredentialDataDecryptedObject): Promise<{ status: number; url: string }> {
	const credentials = { ...data };
	const withPreAuth = type as ICredentialType & { preAuthentication?: (this: IHttpRequestHelper, c: ICredentialDataDecryptedObject) => Promise<IDataObject> };
	if (withPreAuth.preAuthentication) Object.assign(credentials, await withPreAuth.preAuthentication.call(helper, credentials));
	const request = resolve(type.test!.request, credentials) as IHttpRequestOptions;
	const authenticate = type.authenticate as (c: ICredentialDataDecryptedObject, o: IHttpRequestOptions) => Promise<IHttpRequestOptions>;
	const options = await authenticate(credentials, { ...request, url: request.url ?? '' });
	let url = options.baseURL ? `${options.baseURL}${options.url}` : options.url;
	const qs = Object.entries(options.qs ?? {});
	if (qs.length > 0) url += `${url.includes('?') ? '&' : '?'}${new URLSearchParams(qs.map(([k, v]) => [k, String(v)] as [string, string])).toString()}`;
	const response = await fetch(url, { method: options.method ?? 'GET', headers: options.headers as Record<string, string> });
	await response.text();
	return { status: response.status, url };
}

interface Case {
	sis: SisKind;
	type: ICredentialType;
	auth: ServerAuth;
	data: (server: OneRosterServer) => ICredentialDataDecryptedObject;
	/** The field holding the secret, to try a wrong one. */
	secretField: string;
	expectPath: string;
}

const CASES: Case[] = [
	{
		sis: 'infiniteCampus',
		type: new RosterInfiniteCampusApi(),
		auth: { kind: 'oauth2', clientId: 'ic-client', clientSecret: 'ic-secret', clientAuth: 'basic', tokenPath: '/campus/oauth2/token' },
		data: (s) => ({
			version: '1.2',
			baseUrl: `${s.url}/campus/api/oneroster/v1p1/grandbend/`,
			tokenUrl: `${s.url}/campus/oauth2/token?appName=grandbend`,
			clientId: 'ic-client',
			clientSecret: 'ic-secret',
			clientAuthentication: 'basic',
			scope: '',
			schoolId: '',
			accessToken: '',
			sessionCookie: '',
		}),
		secretField: 'clientSecret',
		expectPath: '/campus/api/oneroster/v1p1/grandbend/ims/oneroster/rostering/v1p2/orgs',
	},
	{
		sis: 'skyward',
		type: new RosterSkywardApi(),
		auth: { kind: 'oauth2', clientId: 'sky-key', clientSecret: 'sky-secret', clientAuth: 'basic', tokenPath: '/api/token' },
		data: (s) => ({ baseUrl: `${s.url}/api/ims/oneroster/v1p1`, clientId: 'sky-key', clientSecret: 'sky-secret', tokenUrl: '', schoolId: '', accessToken: '' }),
		secretField: 'clientSecret',
		expectPath: '/api/ims/oneroster/v1p1/orgs',
	},
	{
		sis: 'aeries',
		type: new RosterAeriesApi(),
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
			scope: new RosterAeriesApi().properties.find((p) => p.name === 'scope')!.default as string,
			clientAuthentication: 'body',
			schoolId: '',
			accessToken: '',
			sessionCookie: '',
		}),
		secretField: 'clientSecret',
		expectPath: '/aeries/OneRoster/ims/oneroster/v1p1/orgs',
	},
	{
		sis: 'powerSchool',
		type: new RosterPowerSchoolApi(),
		auth: { kind: 'oauth2', clientId: 'ps-client', clientSecret: 'ps-secret', clientAuth: 'basic', tokenPath: '/oauth/access_token' },
		data: (s) => ({ baseUrl: s.url, clientId: 'ps-client', clientSecret: 'ps-secret', tokenUrl: '', schoolId: '', accessToken: '' }),
		secretField: 'clientSecret',
		expectPath: '/ims/oneroster/v1p1/orgs',
	},
	{
		sis: 'classLink',
		type: new RosterClassLinkApi(),
		auth: { kind: 'oauth1', consumerKey: 'b008b35ac38bccb5', consumerSecret: "cl secret!*'()" },
		data: (s) => ({ baseUrl: `${s.url}/`, version: '1.1', clientId: 'b008b35ac38bccb5', clientSecret: "cl secret!*'()", tenantId: '2', schoolId: '' }),
		secretField: 'clientSecret',
		expectPath: '/ims/oneroster/v1p1/orgs',
	},
	{
		sis: 'clever',
		type: new RosterCleverApi(),
		auth: { kind: 'bearer', token: 'clever-district-token' },
		data: (s) => ({ token: 'clever-district-token', apiVersion: 'v3.1', baseUrl: `${s.url}/`, schoolId: '' }),
		secretField: 'token',
		expectPath: '/v3.1/districts',
	},
	{
		sis: 'oneRoster',
		type: new RosterOneRosterApi(),
		auth: { kind: 'oauth2', clientId: 'generic', clientSecret: 'generic-secret', clientAuth: 'body', requiredScopes: ['roster.readonly'], cookie: true, tokenPath: '/oauth/token' },
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
			accessToken: '',
			sessionCookie: '',
		}),
		secretField: 'clientSecret',
		expectPath: '/ims/oneroster/v1p1/orgs',
	},
	{
		sis: 'oneRoster',
		type: new RosterOneRosterApi(),
		auth: { kind: 'oauth1', consumerKey: 'generic-oauth1', consumerSecret: 'generic-oauth1-secret' },
		data: (s) => ({ baseUrl: s.url, version: '1.2', authentication: 'oauth1', clientId: 'generic-oauth1', clientSecret: 'generic-oauth1-secret', schoolId: '' }),
		secretField: 'clientSecret',
		expectPath: '/ims/oneroster/rostering/v1p2/orgs',
	},
];

describe.each(CASES)('$type.displayName ($auth.kind)', ({ sis, type, auth, data, secretField, expectPath }) => {
	let server: OneRosterServer;
	let store: RosterStore;
	beforeEach(async () => {
		server = await startOneRosterServer({ auth });
		store = await openTestStore('sqlite');
	});
	afterEach(async () => {
		await server.stop();
		await store.close();
	});

	test('Test connection succeeds against the SIS, which checks the credential for real', async () => {
		expect(type.name).toBe(SIS_CREDENTIALS[sis].credential);
		const result = await testCredential(type, data(server));
		expect(result.status).toBe(200);
		const requests = server.dataRequests();
		expect(requests.map((r) => r.path)).toEqual([expectPath]);
		expect(requests[0].status).toBe(200);
		if (auth.kind === 'oauth2') expect(server.tokensIssued()).toBe(1);
	});

	test('Test connection fails with a wrong secret', async () => {
		const wrong = { ...data(server), [secretField]: 'not-the-secret' };
		const outcome = await testCredential(type, wrong).catch((error: Error) => error);
		if (outcome instanceof Error) {
			expect(outcome.message).toMatch(/refused the request \(HTTP 401: invalid_client/);
			expect(outcome.message).toMatch(/Check the Client ID and Client Secret/);
			expect(outcome.message).not.toContain('not-the-secret');
		} else {
			expect(outcome.status).toBe(401);
		}
	});

	test('the same credential data pulls the whole roster', async () => {
		const credentialData = data(server);
		const settings = sisApiSettings(sis, credentialData);
		const client = apiClient(fetchTransport(), engineAuth(type.name, credentialData));
		const resources = ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments'] as const;
		const source =
			settings.kind === 'clever'
				? cleverApiSource(client, { ...settings, resources: [...resources] })
				: oneRosterApiSource(client, { ...settings, resources: [...resources] }, { mode: 'full', reason: 'test' });
		const { run } = await stageRun(store.db, source);
		if (settings.kind === 'oneroster' && settings.tenantId) expect(run.source).toContain(`tenant ${settings.tenantId}`);
		const { counts } = await normalizeRun(store.db, run.id);
		expect(counts.people).toMatchObject({ student: 8, teacher: 2 });
		expect(counts.enrollments).toBe(settings.kind === 'clever' ? 12 : 24);
	});
});
