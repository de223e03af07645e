/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) as OneRoster servers use it: the token request
 * and the reading of its answer, as pure functions. The engine's transport (Node fetch) and the
 * n8n credentials' `preAuthentication` (n8n's httpRequest) both send `tokenRequest(…)` and read
 * the answer with `readTokenResponse(…)`.
 *
 * The request goes straight to the token URL and is never redirected: following a redirect
 * would turn the POST into a GET and drop the client secret (or hand it to another host).
 */
import type { HttpRequest, HttpResponse } from '../http';
import { bodyText, header, headerValues, jsonBody, percentEncode, safeUrl } from '../http';

/** Where the client secret goes: an HTTP Basic header (RFC 6749 §2.3.1, preferred) or the form body. */
export type ClientAuthentication = 'basic' | 'body';

export interface OAuth2ClientCredentials {
	tokenUrl: string;
	clientId: string;
	clientSecret: string;
	/** Space-separated scopes; empty = none asked for. */
	scope?: string;
	clientAuthentication?: ClientAuthentication;
}

export interface AccessToken {
	accessToken: string;
	/** Seconds, when the server says. */
	expiresIn?: number;
	/** `name=value; name2=value2` of the token response's cookies (Aeries wants them back on every request). */
	cookie: string;
}

/** Raised when the token endpoint refuses or answers something that is not a token. Never holds the secret. */
export class TokenRequestError extends Error {
	constructor(
		message: string,
		readonly status?: number,
		readonly hint?: string,
	) {
		super(message);
		this.name = 'TokenRequestError';
	}
}

const form = (pairs: Array<[string, string]>) => pairs.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&');

/** Basic credentials per RFC 6749 §2.3.1: id and secret form-encoded before base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
	const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
	return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export function tokenRequest(config: OAuth2ClientCredentials): HttpRequest {
	const pairs: Array<[string, string]> = [['grant_type', 'client_credentials']];
	const scope = (config.scope ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
	if (scope) pairs.push(['scope', scope]);
	const headers: Record<string, string> = {
		'Content-Type': 'application/x-www-form-urlencoded',
		Accept: 'application/json',
	};
	if ((config.clientAuthentication ?? 'basic') === 'basic') {
		headers.Authorization = basicAuthorization(config.clientId, config.clientSecret);
	} else {
		pairs.push(['client_id', config.clientId], ['client_secret', config.clientSecret]);
	}
	return { method: 'POST', url: config.tokenUrl, headers, body: form(pairs), followRedirects: false };
}

/** The `name=value` parts of Set-Cookie headers, joined for a Cookie header. */
export function cookieHeader(setCookies: string[]): string {
	const cookies = new Map<string, string>();
	for (const setCookie of setCookies) {
		const pair = setCookie.split(';')[0].trim();
		const eq = pair.indexOf('=');
		if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
	}
	return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

/**
 * The token of a token response, or a TokenRequestError that says what went wrong and what to do
 * (`hintInMessage`: the hint appended to the message, for callers that show only the message).
 */
export function readTokenResponse(response: HttpResponse, tokenUrl: string, options: { hintInMessage?: boolean } = {}): AccessToken {
	try {
		return tokenOf(response, tokenUrl);
	} catch (error) {
		const failure = error as TokenRequestError;
		if (!options.hintInMessage || !failure.hint) throw failure;
		throw new TokenRequestError(`${failure.message}. ${failure.hint}`, failure.status);
	}
}

function tokenOf(response: HttpResponse, tokenUrl: string): AccessToken {
	const where = safeUrl(tokenUrl);
	if (response.status >= 300 && response.status < 400) {
		const relative = header(response, 'location');
		const location = relative ? new URL(relative, tokenUrl).toString() : undefined;
		throw new TokenRequestError(
			`The token URL ${where} answered ${response.status} (a redirect${location ? ` to ${safeUrl(location)}` : ''}); the token request is not redirected, so the client secret is not sent elsewhere`,
			response.status,
			location ? `Enter the URL it redirects to (${safeUrl(location)}) as the Token URL.` : 'Check the Token URL.',
		);
	}
	const json = jsonBody(response) as Record<string, unknown> | undefined;
	if (response.status !== 200) {
		const error = typeof json?.error === 'string' ? json.error : undefined;
		const description = typeof json?.error_description === 'string' ? json.error_description : undefined;
		const detail = error ? `${error}${description ? `: ${description}` : ''}` : bodyText(response, 200);
		const hint =
			response.status === 401 || error === 'invalid_client'
				? 'Check the Client ID and Client Secret (and whether the SIS expects them as a Basic header or in the body).'
				: error === 'invalid_scope'
					? 'Check the scopes: the SIS must grant each of them to this client.'
					: response.status === 404
						? 'Check the Token URL.'
						: undefined;
		throw new TokenRequestError(`The token URL ${where} refused the request (HTTP ${response.status}${detail ? `: ${detail}` : ''})`, response.status, hint);
	}
	const accessToken = json?.access_token;
	if (typeof accessToken !== 'string' || accessToken === '') {
		throw new TokenRequestError(
			`The token URL ${where} answered 200 without an access_token (${bodyText(response, 120) || 'empty body'})`,
			response.status,
			'Check that the Token URL is the SIS\'s OAuth 2 token endpoint, not the data URL.',
		);
	}
	const expiresIn = Number(json?.expires_in);
	return {
		accessToken,
		expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : undefined,
		cookie: cookieHeader(headerValues(response, 'set-cookie')),
	};
}
