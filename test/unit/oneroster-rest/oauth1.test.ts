/**
 * Our OAuth 1.0a Authorization header against an independent implementation (the `oauth-1.0a`
 * package, RFC 5849) for the same request, nonce and timestamp — OneRoster filters with quotes
 * and spaces, values with ! * ( ), secrets with reserved characters — and against the RFC's own
 * signature base string example.
 */
import { createHmac } from 'node:crypto';

import OAuth from 'oauth-1.0a';

import {
	baseStringUri,
	oauth1AuthorizationHeader,
	signatureBaseString,
} from '../../../nodes/shared/sources/oneroster-rest/auth/oauth1';
import { withQuery } from '../../../nodes/shared/sources/oneroster-rest/http';

function reference(consumerKey: string, consumerSecret: string, method: 'HMAC-SHA256' | 'HMAC-SHA1', nonce: string, timestamp: number) {
	const oauth = new OAuth({
		consumer: { key: consumerKey, secret: consumerSecret },
		signature_method: method,
		hash_function: (base, key) => createHmac(method === 'HMAC-SHA1' ? 'sha1' : 'sha256', key).update(base).digest('base64'),
	});
	oauth.getNonce = () => nonce;
	oauth.getTimeStamp = () => timestamp;
	return oauth;
}

/** `OAuth a="1", b="2"` → { a: '1', b: '2' } (values decoded). */
function parseHeader(header: string): Record<string, string> {
	expect(header.startsWith('OAuth ')).toBe(true);
	const params: Record<string, string> = {};
	for (const part of header.slice(6).split(/,\s*/)) {
		const match = /^([^=]+)="([^"]*)"$/.exec(part.trim());
		if (!match) throw new Error(`cannot read ${part}`);
		params[decodeURIComponent(match[1])] = decodeURIComponent(match[2]);
	}
	return params;
}

const BASE = 'https://Roster.Example-District.org:443/ims/oneroster/v1p1';

const CASES: Array<{ name: string; url: string }> = [
	{
		name: 'delta filter with quotes (%27), paging and sort',
		url: withQuery(`${BASE}/users`, { filter: "dateLastModified>'2024-08-01T00:00:00Z'", sort: 'sourcedId', limit: 1000, offset: 2000 }),
	},
	{
		name: 'filter with spaces, AND and a quote inside a value',
		url: withQuery(`${BASE}/users`, { filter: "role='student' AND familyName='O''Brien'", limit: 100, offset: 0 }),
	},
	{
		name: "values with ! * ( ) and a comma list of fields",
		url: withQuery(`${BASE}/schools/255901001/classes`, { filter: "title~'Art (AP)!*'", fields: 'sourcedId,title', limit: 5 }),
	},
	{ name: 'no query at all', url: `${BASE}/orgs` },
	{ name: 'repeated parameter names', url: `${BASE}/users?fields=a&fields=b&limit=1` },
];

describe('OAuth 1.0a header against the oauth-1.0a package (same request, nonce and timestamp)', () => {
	test.each(CASES)('HMAC-SHA256: $name', ({ url }) => {
		const key = 'a1b2c3 classlink key';
		const secret = "s3cr&t=with!*'() reserved/chars";
		const nonce = 'kllo9940pd9333jh';
		const timestamp = 1_723_000_000;
		const ours = parseHeader(
			oauth1AuthorizationHeader({ method: 'GET', url }, { consumerKey: key, consumerSecret: secret, signatureMethod: 'HMAC-SHA256' }, { nonce, timestamp }),
		);
		// oauth-1.0a neither lower-cases the host nor drops the default port: give it the RFC 5849 base URI.
		const parsed = new URL(url);
		const theirs = reference(key, secret, 'HMAC-SHA256', nonce, timestamp).authorize({ url: `${baseStringUri(url)}${parsed.search}`, method: 'GET' });
		expect(ours).toEqual({
			oauth_consumer_key: theirs.oauth_consumer_key,
			oauth_nonce: nonce,
			oauth_signature_method: 'HMAC-SHA256',
			oauth_timestamp: String(timestamp),
			oauth_version: '1.0',
			oauth_signature: theirs.oauth_signature,
		});
	});

	test('HMAC-SHA1 too, and the query sent is the query signed (quotes as %27, spaces as %20)', () => {
		const url = withQuery(`${BASE}/users`, { filter: "status='active' AND givenName='Ann Marie'" });
		expect(url).toContain('filter=status%3D%27active%27%20AND%20givenName%3D%27Ann%20Marie%27');
		const ours = parseHeader(oauth1AuthorizationHeader({ method: 'GET', url }, { consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1' }, { nonce: 'n', timestamp: 1 }));
		const theirs = reference('k', 's', 'HMAC-SHA1', 'n', 1).authorize({ url: `${baseStringUri(url)}${new URL(url).search}`, method: 'GET' });
		expect(ours.oauth_signature).toBe(theirs.oauth_signature);
	});

	test('a fresh nonce and the current time when none are given', () => {
		const a = parseHeader(oauth1AuthorizationHeader({ method: 'GET', url: `${BASE}/orgs` }, { consumerKey: 'k', consumerSecret: 's' }));
		const b = parseHeader(oauth1AuthorizationHeader({ method: 'GET', url: `${BASE}/orgs` }, { consumerKey: 'k', consumerSecret: 's' }));
		expect(a.oauth_nonce).not.toBe(b.oauth_nonce);
		expect(Math.abs(Number(a.oauth_timestamp) - Date.now() / 1000)).toBeLessThan(5);
	});
});

describe('RFC 5849 signature base string', () => {
	test('the example of §3.4.1.1 (query and form parameters, encoded names, token)', () => {
		const base = signatureBaseString(
			{ method: 'POST', url: 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b', formParams: [['c2', ''], ['a3', '2 q']] },
			[
				['oauth_consumer_key', '9djdj82h48djs9d2'],
				['oauth_token', 'kkk9d7dh3k39sjv7'],
				['oauth_signature_method', 'HMAC-SHA1'],
				['oauth_timestamp', '137131201'],
				['oauth_nonce', '7d8f3e4a'],
			],
		);
		expect(base).toBe(
			'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
		);
	});

	test('base string URI: scheme and host lower case, default ports dropped, other ports kept', () => {
		expect(baseStringUri('HTTPS://Roster.Example.org:443/ims/oneroster/v1p1/orgs?limit=1')).toBe('https://roster.example.org/ims/oneroster/v1p1/orgs');
		expect(baseStringUri('http://127.0.0.1:8080/a')).toBe('http://127.0.0.1:8080/a');
	});
});
