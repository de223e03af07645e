/**
 * OAuth 1.0a request signing (RFC 5849), two-legged as OneRoster 1.1 servers use it
 * (ClassLink Roster Server, OneRoster 1.1 certified servers): consumer key and secret,
 * no token, HMAC-SHA256 (or HMAC-SHA1), the query string part of the signature.
 *
 * Pure functions: the engine's transport and the n8n credential's `authenticate` both call
 * `oauth1AuthorizationHeader` on the exact URL that is then sent.
 */
import { createHmac, randomBytes } from 'node:crypto';

import { percentEncode } from '../http';

export type OAuth1SignatureMethod = 'HMAC-SHA256' | 'HMAC-SHA1';

export interface OAuth1Credentials {
	consumerKey: string;
	consumerSecret: string;
	/** Three-legged only; OneRoster servers leave it out. */
	token?: string;
	tokenSecret?: string;
	signatureMethod?: OAuth1SignatureMethod;
}

export interface OAuth1Request {
	method: string;
	/** The full URL as it will be sent, query included. */
	url: string;
	/** Form parameters of an application/x-www-form-urlencoded body (signed too). */
	formParams?: Array<[string, string]>;
}

/** For tests and reproducible signatures; otherwise random and now. */
export interface OAuth1Nonce {
	nonce?: string;
	timestamp?: number;
}

/** Decodes a query string as application/x-www-form-urlencoded (`+` is a space), RFC 5849 §3.4.1.3.1. */
export function decodeQuery(query: string): Array<[string, string]> {
	if (query === '') return [];
	const decode = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
	return query.split('&').filter((part) => part !== '').map((part) => {
		const eq = part.indexOf('=');
		return eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))];
	});
}

/** The base string URI (RFC 5849 §3.4.1.2): scheme and host in lower case, default port left out, no query. */
export function baseStringUri(url: string): string {
	const parsed = new URL(url);
	const scheme = parsed.protocol.toLowerCase();
	const defaultPort = (scheme === 'http:' && parsed.port === '80') || (scheme === 'https:' && parsed.port === '443');
	const port = parsed.port && !defaultPort ? `:${parsed.port}` : '';
	return `${scheme}//${parsed.hostname.toLowerCase()}${port}${parsed.pathname || '/'}`;
}

/** The normalized request parameters (RFC 5849 §3.4.1.3.2): encoded, sorted by name then value, joined. */
export function normalizedParameters(params: Array<[string, string]>): string {
	return params
		.map(([name, value]) => [percentEncode(name), percentEncode(value)] as const)
		.sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
		.map(([name, value]) => `${name}=${value}`)
		.join('&');
}

export function signatureBaseString(request: OAuth1Request, oauthParams: Array<[string, string]>): string {
	const url = new URL(request.url);
	const query = url.search.startsWith('?') ? url.search.slice(1) : url.search;
	const params = [...decodeQuery(query), ...(request.formParams ?? []), ...oauthParams];
	return [request.method.toUpperCase(), percentEncode(baseStringUri(request.url)), percentEncode(normalizedParameters(params))].join('&');
}

export function sign(baseString: string, credentials: OAuth1Credentials): string {
	const key = `${percentEncode(credentials.consumerSecret)}&${percentEncode(credentials.tokenSecret ?? '')}`;
	const algorithm = (credentials.signatureMethod ?? 'HMAC-SHA256') === 'HMAC-SHA1' ? 'sha1' : 'sha256';
	return createHmac(algorithm, key).update(baseString).digest('base64');
}

/** The oauth_* parameters of a signed request, oauth_signature included. */
export function oauth1Parameters(request: OAuth1Request, credentials: OAuth1Credentials, fixed: OAuth1Nonce = {}): Array<[string, string]> {
	const oauthParams: Array<[string, string]> = [
		['oauth_consumer_key', credentials.consumerKey],
		['oauth_nonce', fixed.nonce ?? randomBytes(16).toString('hex')],
		['oauth_signature_method', credentials.signatureMethod ?? 'HMAC-SHA256'],
		['oauth_timestamp', String(fixed.timestamp ?? Math.floor(Date.now() / 1000))],
		['oauth_version', '1.0'],
	];
	if (credentials.token) oauthParams.push(['oauth_token', credentials.token]);
	const signature = sign(signatureBaseString(request, oauthParams), credentials);
	return [...oauthParams, ['oauth_signature', signature]];
}

/** `OAuth oauth_consumer_key="…", …, oauth_signature="…"` for the request (RFC 5849 §3.5.1). */
export function oauth1AuthorizationHeader(request: OAuth1Request, credentials: OAuth1Credentials, fixed: OAuth1Nonce = {}): string {
	const params = oauth1Parameters(request, credentials, fixed);
	return `OAuth ${params.map(([name, value]) => `${percentEncode(name)}="${percentEncode(value)}"`).join(', ')}`;
}
