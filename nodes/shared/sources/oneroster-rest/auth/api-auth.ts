/**
 * An authenticated GET for the REST sources: the transport plus the SIS's authentication.
 *
 * - `oauth2`: client-credentials token fetched once (one request even when pages run in
 *   parallel), sent as a Bearer header with the token response's cookies when asked (Aeries);
 *   fetched again before it expires, and once more when the server answers 401 (token expired
 *   mid-run), then the request is sent again.
 * - `oauth1`: every request signed (RFC 5849, HMAC-SHA256), query string included.
 * - `bearer`: a fixed token (Clever district token).
 * - `transport`: the transport authenticates itself (n8n: `httpRequestWithAuthentication` with
 *   the credential's `authenticate` and `preAuthentication`, which also refreshes on 401).
 */
import type { HttpResponse, HttpTransport } from '../http';
import type { OAuth1Credentials } from './oauth1';
import { oauth1AuthorizationHeader } from './oauth1';
import type { AccessToken, OAuth2ClientCredentials } from './oauth2';
import { readTokenResponse, tokenRequest } from './oauth2';

export type ApiAuth =
	| { kind: 'oauth2'; oauth2: OAuth2ClientCredentials; resendCookies?: boolean }
	| { kind: 'oauth1'; oauth1: OAuth1Credentials }
	| { kind: 'bearer'; token: string }
	| { kind: 'transport' };

export interface AuthStats {
	tokenRequests: number;
	/** Tokens fetched again because the server answered 401 with the current one. */
	tokenRefreshesOn401: number;
}

export interface ApiClient {
	get(url: string, signal?: AbortSignal): Promise<HttpResponse>;
	readonly authStats: AuthStats;
}

/** A token is renewed this long before the server says it expires. */
const EXPIRY_MARGIN_MS = 30_000;

export function apiClient(transport: HttpTransport, auth: ApiAuth, options: { now?: () => number } = {}): ApiClient {
	const now = options.now ?? Date.now;
	const authStats: AuthStats = { tokenRequests: 0, tokenRefreshesOn401: 0 };
	const accept = { Accept: 'application/json' };

	if (auth.kind === 'transport') {
		return { authStats, get: (url, signal) => transport.request({ method: 'GET', url, headers: accept, signal }) };
	}
	if (auth.kind === 'bearer') {
		const headers = { ...accept, Authorization: `Bearer ${auth.token}` };
		return { authStats, get: (url, signal) => transport.request({ method: 'GET', url, headers, signal }) };
	}
	if (auth.kind === 'oauth1') {
		return {
			authStats,
			get: (url, signal) =>
				transport.request({
					method: 'GET',
					url,
					headers: { ...accept, Authorization: oauth1AuthorizationHeader({ method: 'GET', url }, auth.oauth1) },
					signal,
				}),
		};
	}

	let current: { token: AccessToken; expiresAt: number } | undefined;
	let pending: Promise<AccessToken> | undefined;
	const fetchToken = (signal?: AbortSignal): Promise<AccessToken> => {
		pending ??= (async () => {
			try {
				authStats.tokenRequests++;
				const response = await transport.request({ ...tokenRequest(auth.oauth2), signal });
				const token = readTokenResponse(response, auth.oauth2.tokenUrl);
				current = { token, expiresAt: token.expiresIn ? now() + token.expiresIn * 1000 - EXPIRY_MARGIN_MS : Infinity };
				return token;
			} finally {
				pending = undefined;
			}
		})();
		return pending;
	};
	const validToken = async (signal?: AbortSignal): Promise<AccessToken> => {
		if (pending) return pending;
		if (current && current.expiresAt > now()) return current.token;
		return fetchToken(signal);
	};
	const send = (url: string, token: AccessToken, signal?: AbortSignal) => {
		const headers: Record<string, string> = { ...accept, Authorization: `Bearer ${token.accessToken}` };
		if (auth.resendCookies && token.cookie) headers.Cookie = token.cookie;
		return transport.request({ method: 'GET', url, headers, signal });
	};
	return {
		authStats,
		async get(url, signal) {
			const token = await validToken(signal);
			const response = await send(url, token, signal);
			if (response.status !== 401) return response;
			// Expired mid-run (or revoked): one new token — shared with requests that failed alongside — and one more try.
			if (current?.token === token) {
				current = undefined;
				authStats.tokenRefreshesOn401++;
			}
			return send(url, await validToken(signal), signal);
		},
	};
}
