/**
 * The engine's HttpTransport in n8n: every request goes through `httpRequestWithAuthentication`
 * with the SIS credential, so n8n applies the credential's `authenticate` (Bearer + cookies,
 * OAuth 1.0a signature, Clever token) and its `preAuthentication` (the OAuth 2 token: fetched when
 * missing, and fetched again and the request resent when the SIS answers 401).
 *
 * Every status but 401 comes back to the engine as an answer (`ignoreHttpStatusErrors` with
 * `except: [401]`), so the engine's retries see 429/5xx and their Retry-After; a 401 that survives
 * n8n's refresh becomes a 401 answer too. Network failures keep their code (ECONNRESET, …) so the
 * engine retries them. n8n sets the execution's cancel signal on each request itself.
 *
 * The credential's data, read once by the node, goes with every request (`credentialsDecrypted`):
 * without it n8n reads the credential from its database and decrypts it again for each request,
 * and a pull waits on that ~1,000 times at 100,000 students. The token preAuthentication fetches
 * (first request, or again after a 401) is written into that same data, so later requests send it.
 */
import type { ICredentialDataDecryptedObject, IAdditionalCredentialOptions, IDataObject, IExecuteFunctions, IHttpRequestOptions } from 'n8n-workflow';

import type { HttpTransport } from '../shared/sources/oneroster-rest/http';
import { toHttpResponse } from './sis';

interface RequestFailure {
	httpCode?: string | null;
	description?: string | null;
	message?: string;
	code?: string;
	cause?: { code?: string; name?: string; message?: string; response?: { status?: number; data?: unknown } };
}

export function n8nTransport(
	context: IExecuteFunctions,
	credentialType: string,
	credentialData: ICredentialDataDecryptedObject,
	timeoutMs = 120_000,
): HttpTransport {
	const reference = context.getNode().credentials?.[credentialType];
	const credential: IAdditionalCredentialOptions = {
		// A copy: preAuthentication writes the token into it.
		credentialsDecrypted: { id: reference?.id ?? '', name: reference?.name ?? credentialType, type: credentialType, data: { ...credentialData } },
	};
	return {
		async request(request) {
			const options: IHttpRequestOptions = {
				method: request.method,
				url: request.url,
				headers: request.headers as IDataObject | undefined,
				body: request.body,
				returnFullResponse: true,
				ignoreHttpStatusErrors: { ignore: true, except: [401] },
				disableFollowRedirect: request.followRedirects === false,
				timeout: timeoutMs,
				// The body as bytes: the engine reads a page's JSON when its turn comes (pages fetched ahead wait as
				// bytes, not as objects the garbage collector copies) and reads an all-ASCII page without UTF-8 decoding.
				encoding: 'arraybuffer',
				json: false,
			};
			try {
				const response = (await context.helpers.httpRequestWithAuthentication.call(context, credentialType, options, credential)) as {
					statusCode: number;
					headers: IDataObject;
					body: unknown;
				};
				return toHttpResponse(response);
			} catch (error) {
				const failure = error as RequestFailure;
				const status = Number(failure.httpCode) || failure.cause?.response?.status;
				if (status === 401) return { status: 401, headers: {}, body: failure.cause?.response?.data ?? failure.description ?? failure.message ?? '' };
				const code = failure.cause?.code ?? failure.code;
				const name = failure.cause?.name;
				// Keep what the engine needs to tell a network failure (retried) or a cancellation from the rest.
				throw Object.assign(new Error(failure.message ?? String(error)), { code, name: name === 'CanceledError' ? 'AbortError' : 'Error' });
			}
		},
	};
}
