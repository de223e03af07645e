/**
 * The OneRoster Fetch node's transport in n8n (nodes/adapter/http-transport.ts): every request goes
 * through httpRequestWithAuthentication with the credential data the node read once, so n8n does not
 * read and decrypt the credential again per request, and a token its preAuthentication writes into
 * that data is sent by every later request; bodies come as bytes, read by the engine. (The real n8n, with tokens that expire every 3 requests,
 * is test/e2e/oneroster-fetch.test.ts.)
 */
import type { IAdditionalCredentialOptions, IExecuteFunctions, IHttpRequestOptions, INode } from 'n8n-workflow';

import { n8nTransport } from '../../../nodes/adapter/http-transport';
import { readJson } from '../../../nodes/shared/sources/oneroster-rest/http';

const CREDENTIAL_TYPE = 'rosterOneRosterApi';
const NODE = {
	name: 'Roster OneRoster Fetch',
	type: 'n8n-nodes-rostersync.rosterOneRosterFetch',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
	credentials: { [CREDENTIAL_TYPE]: { id: 'sis-credential-1', name: 'District SIS' } },
} as unknown as INode;

/** A context whose httpRequestWithAuthentication acts as n8n's does with `credentialsDecrypted`: a token fetched when missing, written into the data. */
function fakeN8n() {
	const calls: Array<{ options: IHttpRequestOptions; sentToken: unknown; additional?: IAdditionalCredentialOptions }> = [];
	let tokensFetched = 0;
	let credentialReads = 0;
	const context = {
		getNode: () => NODE,
		getCredentials: async () => {
			credentialReads++;
			return {};
		},
		helpers: {
			async httpRequestWithAuthentication(type: string, options: IHttpRequestOptions, additional?: IAdditionalCredentialOptions) {
				expect(type).toBe(CREDENTIAL_TYPE);
				const data = additional?.credentialsDecrypted?.data;
				if (data && !data.accessToken) {
					tokensFetched++;
					Object.assign(data, { accessToken: `token-${tokensFetched}` });
				}
				calls.push({ options, sentToken: data?.accessToken, additional });
				// encoding 'arraybuffer': n8n hands the body over as bytes.
				return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"users":[]}') };
			},
		},
	} as unknown as IExecuteFunctions;
	return { context, calls, tokensFetched: () => tokensFetched, credentialReads: () => credentialReads };
}

describe('n8nTransport', () => {
	it('sends the credential the node read with every request, and the token fetched first with all later ones', async () => {
		const n8n = fakeN8n();
		const read = { baseUrl: 'https://sis.example.org', clientId: 'district', clientSecret: 'district-secret', accessToken: '' };
		const transport = n8nTransport(n8n.context, CREDENTIAL_TYPE, read, 5000);
		const responses = await Promise.all([1, 2, 3].map(async (page) => {
			if (page > 1) await new Promise((resolve) => setImmediate(resolve));
			return transport.request({ method: 'GET', url: `https://sis.example.org/users?offset=${page}` });
		}));

		expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
		expect(n8n.tokensFetched()).toBe(1);
		expect(n8n.calls.map((call) => call.sentToken)).toEqual(['token-1', 'token-1', 'token-1']);
		// One object for the whole pull, named as the node's credential; n8n never had to read the credential itself.
		const sent = n8n.calls.map((call) => call.additional?.credentialsDecrypted);
		expect(new Set(sent).size).toBe(1);
		expect(sent[0]).toMatchObject({ id: 'sis-credential-1', name: 'District SIS', type: CREDENTIAL_TYPE });
		expect(sent[0]?.data).toMatchObject({ clientId: 'district', clientSecret: 'district-secret' });
		expect(n8n.credentialReads()).toBe(0);
		// The node's own copy of the credential is left as it was read.
		expect(read.accessToken).toBe('');
		expect(n8n.calls[0].options).toMatchObject({ method: 'GET', url: 'https://sis.example.org/users?offset=1', timeout: 5000, returnFullResponse: true, encoding: 'arraybuffer', json: false });
		// The page stays bytes until the engine reads it (readJson), with its headers in lower case.
		expect(Buffer.isBuffer(responses[0].body)).toBe(true);
		expect(readJson(responses[0])).toEqual({ json: { users: [] } });
		expect(responses[0].headers['content-type']).toBe('application/json');
	});

	it('a second transport (the next item) starts from the credential as read, not from another pull’s token', async () => {
		const n8n = fakeN8n();
		const read = { clientId: 'district', clientSecret: 'district-secret', accessToken: '' };
		await n8nTransport(n8n.context, CREDENTIAL_TYPE, read).request({ method: 'GET', url: 'https://sis.example.org/orgs' });
		await n8nTransport(n8n.context, CREDENTIAL_TYPE, read).request({ method: 'GET', url: 'https://sis.example.org/orgs' });
		expect(n8n.calls.map((call) => call.sentToken)).toEqual(['token-1', 'token-2']);
	});
});
