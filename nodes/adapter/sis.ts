/**
 * The SIS credentials of OneRoster Fetch, n8n side: which credential type each SIS uses, how its
 * fields become the engine's settings, and the credentials' own `preAuthentication` (OAuth 2
 * client-credentials token, n8n's mechanism with an `expirable` hidden field), `authenticate`
 * (Bearer + cookies, OAuth 1.0a signature, Clever token) and "Test connection" request.
 *
 * The credentials import these (the engine's pure auth functions do the real work; the fields of their
 * forms are in credentials/shared/sis-credential.ts); the node's requests go through
 * `httpRequestWithAuthentication` (see http-transport.ts).
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	IDataObject,
	IHttpRequestHelper,
	IHttpRequestOptions,
} from 'n8n-workflow';

import type { ApiAuth } from '../shared/sources/oneroster-rest/auth/api-auth';
import { oauth1AuthorizationHeader } from '../shared/sources/oneroster-rest/auth/oauth1';
import type { ClientAuthentication, OAuth2ClientCredentials } from '../shared/sources/oneroster-rest/auth/oauth2';
import { readTokenResponse, TokenRequestError, tokenRequest } from '../shared/sources/oneroster-rest/auth/oauth2';
import type { HttpResponse } from '../shared/sources/oneroster-rest/http';
import { percentEncode } from '../shared/sources/oneroster-rest/http';
import type { CleverApiVersion } from '../shared/sources/clever/source';
import type { OneRosterVersion } from '../shared/model/roster';

export const SIS_KINDS = ['infiniteCampus', 'skyward', 'aeries', 'powerSchool', 'classLink', 'clever', 'oneRoster'] as const;
export type SisKind = (typeof SIS_KINDS)[number];

export const SIS_CREDENTIALS: Record<SisKind, { credential: string; name: string }> = {
	infiniteCampus: { credential: 'rosterInfiniteCampusApi', name: 'Infinite Campus' },
	skyward: { credential: 'rosterSkywardApi', name: 'Skyward' },
	aeries: { credential: 'rosterAeriesApi', name: 'Aeries' },
	powerSchool: { credential: 'rosterPowerSchoolApi', name: 'PowerSchool' },
	classLink: { credential: 'rosterClassLinkApi', name: 'ClassLink' },
	clever: { credential: 'rosterCleverApi', name: 'Clever' },
	oneRoster: { credential: 'rosterOneRosterApi', name: 'OneRoster' },
};

const str = (value: unknown): string => (typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value).trim());

/** The API root without a trailing slash or an /ims/oneroster/… suffix. */
export function apiRoot(baseUrl: unknown): string {
	return str(baseUrl).replace(/\/+$/, '').replace(/\/ims\/oneroster(\/.*)?$/i, '');
}

/** Per credential type: the token URL when the field is left empty, the defaults of fixed settings. */
const OAUTH2_DEFAULTS: Record<string, { endpointPath?: string; clientAuthentication: ClientAuthentication; resendCookies: boolean }> = {
	rosterInfiniteCampusApi: { clientAuthentication: 'basic', resendCookies: false },
	rosterSkywardApi: { endpointPath: '/token', clientAuthentication: 'basic', resendCookies: false },
	rosterAeriesApi: { endpointPath: '/token', clientAuthentication: 'body', resendCookies: true },
	rosterPowerSchoolApi: { endpointPath: '/oauth/access_token', clientAuthentication: 'basic', resendCookies: false },
	rosterOneRosterApi: { clientAuthentication: 'basic', resendCookies: false },
};

/** OAuth 2 settings of a credential; the secret stays in the returned object, which is never logged. */
export function oauth2Settings(credentialType: string, data: ICredentialDataDecryptedObject): OAuth2ClientCredentials & { resendCookies: boolean } {
	const defaults = OAUTH2_DEFAULTS[credentialType] ?? OAUTH2_DEFAULTS.rosterOneRosterApi;
	const tokenUrl = str(data.tokenUrl) || (defaults.endpointPath ? `${apiRoot(data.baseUrl)}${defaults.endpointPath}` : '');
	if (!tokenUrl) throw new TokenRequestError('The credential has no Token URL', undefined, 'Enter the Token URL of the SIS.');
	return {
		tokenUrl,
		clientId: str(data.clientId),
		clientSecret: String(data.clientSecret ?? ''),
		scope: str(data.scope),
		clientAuthentication: (str(data.clientAuthentication) || defaults.clientAuthentication) as ClientAuthentication,
		resendCookies: data.resendCookies === undefined ? defaults.resendCookies : data.resendCookies === true,
	};
}

/** How a credential signs its requests. */
export function authKind(credentialType: string, data: ICredentialDataDecryptedObject): 'oauth2' | 'oauth1' | 'bearer' {
	if (credentialType === 'rosterCleverApi') return 'bearer';
	if (credentialType === 'rosterClassLinkApi') return 'oauth1';
	if (credentialType === 'rosterOneRosterApi' && data.authentication === 'oauth1') return 'oauth1';
	return 'oauth2';
}

/** The engine's own authentication for a credential's data (tests, and anything that runs the engine outside n8n). */
export function engineAuth(credentialType: string, data: ICredentialDataDecryptedObject): ApiAuth {
	switch (authKind(credentialType, data)) {
		case 'bearer':
			return { kind: 'bearer', token: String(data.token ?? '') };
		case 'oauth1':
			return { kind: 'oauth1', oauth1: { consumerKey: str(data.clientId), consumerSecret: String(data.clientSecret ?? ''), signatureMethod: 'HMAC-SHA256' } };
		default: {
			const { resendCookies, ...oauth2 } = oauth2Settings(credentialType, data);
			return { kind: 'oauth2', oauth2, resendCookies };
		}
	}
}

/** What the fetch needs from a credential besides authentication. */
export type SisApiSettings =
	| { kind: 'oneroster'; sisName: string; baseUrl: string; version: OneRosterVersion; schoolIds: string[]; tenantId?: string }
	| { kind: 'clever'; baseUrl: string; apiVersion: CleverApiVersion; schoolIds: string[] };

export const splitIds = (value: unknown): string[] =>
	str(value)
		.split(/[,\s]+/)
		.map((id) => id.trim())
		.filter(Boolean);

export function sisApiSettings(sis: SisKind, data: ICredentialDataDecryptedObject): SisApiSettings {
	const schoolIds = splitIds(data.schoolId);
	if (sis === 'clever') {
		return { kind: 'clever', baseUrl: str(data.baseUrl) || 'https://api.clever.com', apiVersion: data.apiVersion === 'v3.1' ? 'v3.1' : 'v3.0', schoolIds };
	}
	const version: OneRosterVersion = data.version === '1.2' ? '1.2' : '1.1';
	return {
		kind: 'oneroster',
		sisName: SIS_CREDENTIALS[sis].name,
		baseUrl: str(data.baseUrl),
		version,
		schoolIds,
		...(sis === 'classLink' && str(data.tenantId) ? { tenantId: str(data.tenantId) } : {}),
	};
}

// ---------------------------------------------------------------------------------------------
// The credentials' n8n functions

/** n8n's response (returnFullResponse) → the engine's HttpResponse. */
export function toHttpResponse(response: { statusCode?: number; headers?: IDataObject; body?: unknown }): HttpResponse {
	const headers: HttpResponse['headers'] = {};
	for (const [name, value] of Object.entries(response.headers ?? {})) {
		headers[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : value === undefined || value === null ? undefined : String(value);
	}
	return { status: Number(response.statusCode ?? 0), headers, body: response.body };
}

/**
 * `preAuthentication` of the OAuth 2 credentials: a client-credentials token straight from the token
 * URL (never redirected: the secret must not be sent on), kept by n8n in the hidden `accessToken`
 * field (`expirable`: fetched again when a request answers 401), with the token response's cookies.
 */
export async function oauth2PreAuthentication(
	helper: IHttpRequestHelper,
	credentialType: string,
	credentials: ICredentialDataDecryptedObject,
): Promise<IDataObject> {
	if (authKind(credentialType, credentials) !== 'oauth2') return {};
	const settings = oauth2Settings(credentialType, credentials);
	const request = tokenRequest(settings);
	const response = (await helper.helpers.httpRequest({
		method: 'POST',
		url: request.url,
		headers: request.headers,
		body: request.body,
		disableFollowRedirect: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		json: false,
	})) as { statusCode: number; headers: IDataObject; body: unknown };
	const token = readTokenResponse(toHttpResponse(response), settings.tokenUrl, { hintInMessage: true });
	return { accessToken: token.accessToken, sessionCookie: settings.resendCookies ? token.cookie : '' };
}

/** The full URL of n8n request options (baseURL + url + qs), the query RFC 3986-encoded as it will be signed and sent. */
export function fullUrl(options: IHttpRequestOptions): string {
	const base = options.baseURL ? `${options.baseURL.replace(/\/+$/, '')}/${options.url.replace(/^\/+/, '')}` : options.url;
	const qs = Object.entries(options.qs ?? {}).filter(([, value]) => value !== undefined && value !== null);
	if (qs.length === 0) return base;
	const query = qs.map(([name, value]) => `${percentEncode(name)}=${percentEncode(String(value))}`).join('&');
	return `${base}${base.includes('?') ? '&' : '?'}${query}`;
}

/** `authenticate` of every SIS credential: Bearer token (+ cookies), Clever token, or an OAuth 1.0a signature. */
export function sisAuthenticate(credentialType: string) {
	return async (credentials: ICredentialDataDecryptedObject, requestOptions: IHttpRequestOptions): Promise<IHttpRequestOptions> => {
		const headers: IDataObject = { ...(requestOptions.headers ?? {}) };
		const kind = authKind(credentialType, credentials);
		if (kind === 'bearer') {
			headers.Authorization = `Bearer ${String(credentials.token ?? '').trim()}`;
			return { ...requestOptions, headers };
		}
		if (kind === 'oauth1') {
			// Signed over the exact URL sent: the query is moved out of `qs` into the URL, encoded once.
			const url = fullUrl(requestOptions);
			headers.Authorization = oauth1AuthorizationHeader(
				{ method: requestOptions.method ?? 'GET', url },
				{ consumerKey: str(credentials.clientId), consumerSecret: String(credentials.clientSecret ?? ''), signatureMethod: 'HMAC-SHA256' },
			);
			return { ...requestOptions, url, baseURL: undefined, qs: undefined, headers };
		}
		headers.Authorization = `Bearer ${String(credentials.accessToken ?? '')}`;
		if (credentials.sessionCookie) headers.Cookie = String(credentials.sessionCookie);
		return { ...requestOptions, headers };
	};
}

/** "Test connection": one organisation from the OneRoster root the credential points at. */
export function oneRosterTestRequest(fixedVersion?: OneRosterVersion): ICredentialTestRequest {
	const root = '$credentials.baseUrl.trim().replace(/\\/+$/, "").replace(/\\/ims\\/oneroster(\\/.*)?$/i, "")';
	const path = fixedVersion
		? `"${fixedVersion === '1.2' ? '/ims/oneroster/rostering/v1p2' : '/ims/oneroster/v1p1'}"`
		: '($credentials.version === "1.2" ? "/ims/oneroster/rostering/v1p2" : "/ims/oneroster/v1p1")';
	return {
		request: {
			method: 'GET',
			url: `={{ ${root} + ${path} }}/orgs`,
			qs: { limit: 1 },
			headers: { Accept: 'application/json' },
		},
	};
}
