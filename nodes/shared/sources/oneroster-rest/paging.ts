/**
 * Reading a whole OneRoster collection page by page, the way real servers allow:
 *
 * - `limit`/`offset` paging; pages are fetched up to `concurrency` at a time and handed on
 *   strictly in order (rows are staged in the order of the pull);
 * - the end is `X-Total-Count` when the server sends it, else the first empty or short page;
 * - a server that silently caps `limit` (500 rows when 1,000 were asked) is noticed from the
 *   first page: its page size is used from then on (a short first page is checked with one
 *   more request before it counts as the end);
 * - `Link: <…>; rel="next"` without an offset (cursor paging) is followed page by page;
 * - 200 with an empty array, or 404 after the first page, is "no more records".
 */
import type { ApiClient } from './auth/api-auth';
import type { HttpResponse } from './http';
import { bodyText, header, jsonBody, nextTurn, readJson, safeUrl, throwIfAborted, withQuery } from './http';
import type { RequestStats, RetryPolicy } from './requests';
import { ApiRequestError, getWithRetry } from './requests';

export type JsonRecord = Record<string, unknown>;

/** Whether a value in a page's list is a record (a JSON object), not null, a list or a single value. */
export function isJsonRecord(value: unknown): value is JsonRecord {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface PageStats {
	pages: number;
	/** Pages fetched past the end while fetching in parallel (their rows are not used). */
	overfetchedPages: number;
}

export interface CollectionOptions {
	client: ApiClient;
	/** The endpoint, e.g. https://sis/ims/oneroster/v1p1/users (no query). */
	url: string;
	/** Extra query parameters (filter, sort). */
	params: Record<string, string | undefined>;
	/** Keys of the response envelope that may hold the records, e.g. ['users', 'students']. */
	envelope: string[];
	pageSize: number;
	concurrency: number;
	policy: RetryPolicy;
	stats: RequestStats & PageStats;
	signal?: AbortSignal;
	/** Receives each page's records, in order. */
	onRecords: (records: JsonRecord[]) => Promise<void>;
	/** The answer to the first page's URL when the caller asked for it already (OneRosterPull.askAhead). */
	askedAlready?: (url: string) => Promise<HttpResponse> | undefined;
	/** How many of the `concurrency` slots the caller's own requests hold now (first pages it asked for ahead). */
	reserved?: () => number;
}

/** The URL of the page at `offset` of a collection (`url` without query, `params` its other parameters). */
export function pageUrl(url: string, params: Record<string, string | undefined>, offset: number, limit: number): string {
	return withQuery(url, { ...params, limit, offset });
}

export interface CollectionResult {
	records: number;
	pages: number;
	/** X-Total-Count of the first page, when sent. */
	total?: number;
	/** The page size the server really used (below `pageSize` when it caps `limit`). */
	pageSize: number;
	warnings: string[];
}

/** The first page of an endpoint answered 404: the endpoint may not exist on this server. */
export class EndpointNotFoundError extends ApiRequestError {
	constructor(
		readonly url: string,
		readonly response: HttpResponse,
	) {
		super(`GET ${safeUrl(url)} answered 404${bodyText(response, 120) ? ` (${bodyText(response, 120)})` : ''}`, 404);
		this.name = 'EndpointNotFoundError';
	}
	/** The server answered like an API (JSON), not with a web server's "no such page". */
	get answeredJson(): boolean {
		return jsonBody(this.response) !== undefined;
	}
}

/** A request the server refused (400/422): e.g. `sort` or `filter` it does not support. */
export class BadRequestError extends ApiRequestError {
	constructor(url: string, response: HttpResponse) {
		super(`GET ${safeUrl(url)} answered ${response.status}${bodyText(response, 160) ? ` (${bodyText(response, 160)})` : ''}`, response.status);
		this.name = 'BadRequestError';
	}
}

interface Page {
	records: JsonRecord[];
	total?: number;
	next?: string;
	/** The server sends pagination links (next/prev/first/last): no `next` then means the last page. */
	hasLinks: boolean;
}

/** The records of a OneRoster response: the first envelope key present, else the only array in the body. */
export function recordsOf(body: unknown, envelope: string[]): JsonRecord[] | undefined {
	if (Array.isArray(body)) return body as JsonRecord[];
	if (!body || typeof body !== 'object') return undefined;
	const object = body as Record<string, unknown>;
	for (const key of envelope) {
		if (key in object) return Array.isArray(object[key]) ? (object[key] as JsonRecord[]) : [];
	}
	const arrays = Object.values(object).filter(Array.isArray);
	return arrays.length === 1 ? (arrays[0] as JsonRecord[]) : undefined;
}

/** The `rel="next"` target of a Link header, resolved against the request URL. */
export function nextLink(response: HttpResponse, requestUrl: string): string | undefined {
	const link = header(response, 'link');
	if (!link) return undefined;
	for (const part of link.split(/,(?=\s*<)/)) {
		const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
		if (match && /rel\s*=\s*"?next"?/i.test(match[2])) return new URL(match[1], requestUrl).toString();
	}
	return undefined;
}

export function failureHint(status: number): string | undefined {
	if (status === 401) return 'The SIS did not accept the credential: check the client ID and secret (or token), and that it is enabled for OneRoster.';
	if (status === 403) return 'The SIS refused access to this data: give the application READ permission for it (e.g. in Aeries: API Security; in ClassLink: Roster Server permissions).';
	return undefined;
}

/**
 * A page's answer, its JSON not read yet. Pages fetched ahead wait as bytes and are read when their
 * turn comes: read on arrival, up to 2 × concurrency pages waited as objects, which the garbage
 * collector copied on every young-generation collection (~0.7 CPU s a 100,000-student pull).
 */
interface Answer {
	url: string;
	/** Undefined: "no records" (404 after the first page). */
	response?: HttpResponse;
	/** The page, once read (readPage). */
	page?: Page;
}

async function requestPage(options: CollectionOptions, url: string, first: boolean): Promise<Answer> {
	const response = await ((first ? options.askedAlready?.(url) : undefined) ?? getWithRetry(options.client, url, options));
	options.stats.pages++;
	if (response.status === 404) {
		if (first) throw new EndpointNotFoundError(url, response);
		return { url };
	}
	if (response.status === 400 || response.status === 422) throw new BadRequestError(url, response);
	if (response.status < 200 || response.status > 299) {
		throw new ApiRequestError(
			`GET ${safeUrl(url)} answered HTTP ${response.status}${bodyText(response, 160) ? ` (${bodyText(response, 160)})` : ''}`,
			response.status,
			failureHint(response.status),
		);
	}
	return { url, response };
}

/** The page of an answer (its JSON read once); throws when the body is not a page of records. */
function readPage(options: CollectionOptions, answer: Answer): Page {
	if (answer.page) return answer.page;
	const { url, response } = answer;
	if (!response) return (answer.page = { records: [], hasLinks: false });
	const body = readJson(response);
	// A page cut short or garbled must fail the pull: read as no records, it would stage a partial roster as the whole one.
	if (body !== undefined && 'notJson' in body) {
		throw new ApiRequestError(
			`GET ${safeUrl(url)} answered HTTP ${response.status} with ${body.notJson}`,
			response.status,
			'The answer may have been cut short on the way (a proxy or a timeout): run the fetch again. Nothing of this pull was staged.',
		);
	}
	const records = response.status === 204 || body === undefined ? [] : recordsOf(body.json, options.envelope);
	if (records === undefined) {
		throw new ApiRequestError(
			`GET ${safeUrl(url)} answered JSON without a "${options.envelope[0]}" list (${bodyText(response, 160)})`,
			response.status,
			'Check the Base URL: it must be the OneRoster API root of the SIS.',
		);
	}
	const totalHeader = header(response, 'x-total-count');
	const total = totalHeader !== undefined && /^\d+$/.test(totalHeader.trim()) ? Number(totalHeader) : undefined;
	const paginationLinks = /rel\s*=\s*"?(next|prev|first|last)"?/i.test(header(response, 'link') ?? '');
	// The bytes are not needed any more (an error message reads them before this point).
	answer.response = undefined;
	return (answer.page = { records, total, next: nextLink(response, url), hasLinks: paginationLinks });
}

async function fetchPage(options: CollectionOptions, url: string, first: boolean): Promise<Page> {
	return readPage(options, await requestPage(options, url, first));
}

export async function pullCollection(options: CollectionOptions): Promise<CollectionResult> {
	const { pageSize, signal } = options;
	const warnings: string[] = [];
	const urlAt = (offset: number, limit: number) => pageUrl(options.url, options.params, offset, limit);
	let delivered = 0;
	let pages = 0;
	const deliver = async (page: Page) => {
		throwIfAborted(signal);
		pages++;
		delivered += page.records.length;
		if (page.records.length > 0) await options.onRecords(page.records);
	};

	const first = await fetchPage(options, urlAt(0, pageSize), true);
	await deliver(first);
	const total = first.total;
	const result = (size: number): CollectionResult => {
		if (total !== undefined && delivered < total) {
			warnings.push(`${safeUrl(options.url)}: the server said ${total} records (X-Total-Count) but ${delivered} came`);
		}
		return { records: delivered, pages, total, pageSize: size, warnings };
	};

	// Cursor paging: follow rel="next" one page at a time.
	if (first.next && !new URL(first.next).searchParams.has('offset')) {
		let next: string | undefined = first.next;
		let last = first;
		while (next && last.records.length > 0) {
			last = await fetchPage(options, next, false);
			await deliver(last);
			next = last.next;
		}
		return result(pageSize);
	}

	const got = first.records.length;
	if (got === 0 || (total !== undefined && got >= total) || (first.hasLinks && !first.next && total === undefined)) {
		return result(pageSize);
	}
	// A short first page: the end, or a server that caps `limit`. With a total we know; without, the next page tells.
	const step = got < pageSize ? got : pageSize;
	let probing = got < pageSize && total === undefined;
	if (got < pageSize && total !== undefined) {
		warnings.push(`${safeUrl(options.url)}: the server returns at most ${got} records per page (asked ${pageSize}); pages of ${got} were used`);
	}

	// Offsets step, 2·step, …: up to `concurrency` requests in flight, handed on in order. A slot is
	// refilled as soon as its answer arrives, not once the page has been staged: staging a page of
	// 1,000 records takes ~10 ms of CPU, so refilling only between pages left a slot idle most of the
	// time (100k students: 13.96 s for an ideal of 7.53 s). At most 2 × concurrency pages are
	// fetched ahead of the one being staged (a few MiB of JSON).
	const controller = new AbortController();
	const inner: CollectionOptions = { ...options, signal: signal ? AbortSignal.any([signal, controller.signal]) : controller.signal };
	const inFlight = new Map<number, Promise<Answer>>();
	let nextToLaunch = step;
	let nextToDeliver = step;
	let answering = 0;
	/** Without a total: the lowest offset whose page ended the collection (nothing past it is asked for). */
	let endOffset = Infinity;
	let done = false;
	const ends = (page: Page) => total === undefined && (page.records.length < step || (page.hasLinks && !page.next));
	const launch = () => {
		const width = probing ? 1 : Math.max(1, options.concurrency - (options.reserved?.() ?? 0));
		while (!done && answering < width && inFlight.size < 2 * width && nextToLaunch < endOffset && (total === undefined || nextToLaunch < total)) {
			const offset = nextToLaunch;
			answering++;
			const promise = requestPage(inner, urlAt(offset, pageSize), false);
			promise.then(
				(answer) => {
					answering--;
					// Without a total, the page's records say whether it ends the collection: read it now.
					if (total === undefined) {
						try {
							if (ends(readPage(inner, answer))) endOffset = Math.min(endOffset, offset);
						} catch {
							// not a page: read again, and thrown, when its turn comes
						}
					}
					launch();
				},
				() => answering--, // awaited below, in order; a page past the end may fail unobserved
			);
			inFlight.set(offset, promise);
			nextToLaunch += step;
		}
	};
	try {
		for (;;) {
			if (total !== undefined && nextToDeliver >= total) break;
			launch();
			const pending = inFlight.get(nextToDeliver);
			if (!pending) break;
			const page = readPage(inner, await pending);
			inFlight.delete(nextToDeliver);
			await deliver(page);
			// Pages already fetched are settled promises: without a turn of the event loop they would be staged
			// back to back without reading a socket, answers would wait and requests go out in bunches.
			await nextTurn();
			if (probing && page.records.length > 0) {
				probing = false;
				warnings.push(`${safeUrl(options.url)}: the server returns at most ${step} records per page (asked ${pageSize}); pages of ${step} were used`);
			}
			if (ends(page)) break;
			nextToDeliver += step;
		}
	} finally {
		done = true;
		options.stats.overfetchedPages += inFlight.size;
		controller.abort();
	}
	return result(step);
}
