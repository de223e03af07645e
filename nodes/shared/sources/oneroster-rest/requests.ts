/**
 * One GET with retries: 429 and 5xx (and network failures) are tried again with exponential
 * backoff and jitter, honouring Retry-After (seconds or an HTTP date); anything else is the
 * caller's to judge. Stops at once when the run is cancelled.
 */
import type { ApiClient } from './auth/api-auth';
import type { HttpResponse } from './http';
import { bodyText, header, isAbort, safeUrl, sleep, throwIfAborted } from './http';

export interface RetryPolicy {
	/** Tries after the first one. */
	maxRetries: number;
	/** First backoff; doubled each time, with jitter. */
	baseDelayMs: number;
	maxDelayMs: number;
	/** A Retry-After longer than this fails the request instead of waiting. */
	maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 };

/** Counters of one pull, shown on the node's summary item. */
export interface RequestStats {
	requests: number;
	retries: number;
	rateLimited: number;
	serverErrors: number;
	networkErrors: number;
	/** Total time spent waiting before retries. */
	waitedMs: number;
}

export function newRequestStats(): RequestStats {
	return { requests: 0, retries: 0, rateLimited: 0, serverErrors: 0, networkErrors: 0, waitedMs: 0 };
}

/** An API answer the pull cannot use. `status` is the HTTP status (undefined: no answer). */
export class ApiRequestError extends Error {
	constructor(
		message: string,
		readonly status?: number,
		readonly hint?: string,
	) {
		super(message);
		this.name = 'ApiRequestError';
	}
}

const retryable = (status: number) => status === 429 || (status >= 500 && status <= 599);

/** Milliseconds the server asks us to wait (Retry-After: seconds or an HTTP date), if it says. */
export function retryAfterMs(response: HttpResponse, now = Date.now()): number | undefined {
	const value = header(response, 'retry-after')?.trim();
	if (!value) return undefined;
	if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function backoffMs(policy: RetryPolicy, attempt: number): number {
	const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
	return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

export async function getWithRetry(
	client: ApiClient,
	url: string,
	options: { policy: RetryPolicy; stats: RequestStats; signal?: AbortSignal },
): Promise<HttpResponse> {
	const { policy, stats, signal } = options;
	for (let attempt = 0; ; attempt++) {
		throwIfAborted(signal);
		let response: HttpResponse | undefined;
		let failure: Error | undefined;
		stats.requests++;
		try {
			response = await client.get(url, signal);
		} catch (error) {
			if (isAbort(error, signal)) throwIfAborted(signal);
			if (!isNetworkError(error)) throw error;
			failure = error as Error;
			stats.networkErrors++;
		}
		if (response && !retryable(response.status)) return response;
		if (response?.status === 429) stats.rateLimited++;
		else if (response) stats.serverErrors++;

		const asked = response ? retryAfterMs(response) : undefined;
		if (attempt >= policy.maxRetries || (asked !== undefined && asked > policy.maxRetryAfterMs)) {
			const what = response
				? `HTTP ${response.status}${bodyText(response, 160) ? ` (${bodyText(response, 160)})` : ''}`
				: `no answer (${failure?.message ?? 'network error'})`;
			throw new ApiRequestError(
				`GET ${safeUrl(url)} failed after ${attempt + 1} tries: ${what}`,
				response?.status,
				asked !== undefined && asked > policy.maxRetryAfterMs
					? `The server asked to wait ${Math.round(asked / 1000)} s (Retry-After), longer than allowed; try again later.`
					: response?.status === 429
						? 'The SIS is rate-limiting: lower the Concurrency option, or run the pull at another time.'
						: 'The SIS is failing or unreachable; try again later, or raise Max Retries.',
			);
		}
		const wait = asked ?? backoffMs(policy, attempt);
		stats.retries++;
		stats.waitedMs += wait;
		await sleep(wait, signal);
	}
}

/** Failures worth another try: no answer at all (connection refused or reset, DNS, timeout). */
function isNetworkError(error: unknown): boolean {
	if (error instanceof ApiRequestError) return false;
	const e = error as { name?: string; code?: string; cause?: { code?: string }; message?: string };
	if (e?.name === 'TimeoutError') return true;
	if (e?.name === 'TypeError' && /fetch failed/i.test(e.message ?? '')) return true;
	const code = e?.code ?? e?.cause?.code;
	return typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ECONNABORTED|UND_ERR_.*)$/.test(code);
}
