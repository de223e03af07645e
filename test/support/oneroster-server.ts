/**
 * A OneRoster 1.1 / 1.2 REST server and a Clever v3 API on 127.0.0.1, for the OneRoster Fetch
 * tests. It serves the Ed-Fi Grand Bend 1.1 CSV sample (written by others) as JSON, the way real
 * servers present it, checks authentication for real and injects the faults real servers have.
 *
 * Authentication, checked independently of the client's code:
 *  - `oauth2`: a client-credentials token endpoint (Basic or body secrets, required scopes, optional
 *    cookies the data requests must send back, tokens that expire after N data requests);
 *  - `oauth1`: every data request's RFC 5849 signature recomputed with the `oauth-1.0a` package
 *    (HMAC-SHA256) over the request as received; nonces are single-use;
 *  - `bearer`: a fixed token (Clever district token).
 *
 * Faults (the `faults` object can be changed while the server runs): 429 bursts with Retry-After,
 * 500s, endpoints that always fail, capped `limit`, no X-Total-Count / no Link, slow pages,
 * "no records" as 404, no nested endpoints, `sort`/`filter` refused.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';
import OAuth from 'oauth-1.0a';

import { GRAND_BEND_1_1, sharedDataDir } from './paths';

export type Json = Record<string, unknown>;

export type ServerAuth =
	| {
			kind: 'oauth2';
			clientId: string;
			clientSecret: string;
			/** Where the client must put its secret. */
			clientAuth: 'basic' | 'body' | 'either';
			/** Scopes the token request must ask for (all of them). */
			requiredScopes?: string[];
			/** Set a cookie with the token and require it on data requests (Aeries). */
			cookie?: boolean;
			tokenPath: string;
	  }
	| { kind: 'oauth1'; consumerKey: string; consumerSecret: string }
	| { kind: 'bearer'; token: string };

export interface ServerFaults {
	/** The next `count` data requests answer 429 with this Retry-After (seconds). */
	burst429?: { count: number; retryAfter: string };
	/** The next `count` data requests answer 500. */
	fail500?: number;
	/** Data requests whose path matches always answer 500. */
	alwaysFail?: RegExp;
	/** A token is good for this many data requests, then 401 (OAuth 2). */
	tokenTtlRequests?: number;
	/** `limit` above this is silently lowered to it. */
	maxLimit?: number;
	/** Leave out X-Total-Count (default: sent). */
	noTotalCount?: boolean;
	/** Leave out Link (default: sent). */
	noLink?: boolean;
	/** Each data request waits this long before answering. */
	pageDelayMs?: number;
	/** "No records" (and offsets past the end) as 404 instead of 200 []. */
	emptyAs404?: boolean;
	/** /schools/{id}/… endpoints answer 404. */
	noNested?: boolean;
	/** `sort` answers 400. */
	noSort?: boolean;
	/** `filter` answers 400. */
	noFilter?: boolean;
	/** /schools, /students, /terms answer with their own envelope names instead of the spec's (orgs, users, academicSessions). */
	namedEnvelopes?: boolean;
	/** The token path answers 307 to this path (a token URL that redirects). */
	tokenRedirectTo?: string;
	/** Data pages whose path matches, after the first, answer 200 with only the first half of their JSON (a proxy that cut the answer short). */
	cutShort?: RegExp;
	/** The records with these sourcedIds (Clever: ids) are served as `null` in their page's list (a SIS that lost a record while it rendered). */
	nullRecords?: string[];
}

export interface LoggedRequest {
	method: string;
	path: string;
	query: URLSearchParams;
	status: number;
	/** For token requests: whether a client secret came with it. */
	carriedSecret?: boolean;
}

export interface OneRosterServer {
	url: string;
	host: string;
	port: number;
	/** Token URL (OAuth 2 servers). */
	tokenUrl: string;
	/** The data, in OneRoster 1.1 JSON shape, by collection; change it between pulls. */
	data: Record<string, Json[]>;
	faults: ServerFaults;
	auth: ServerAuth;
	log: LoggedRequest[];
	/** Data requests only (no token requests). */
	dataRequests(): LoggedRequest[];
	tokensIssued(): number;
	/** Marks a record changed now (for delta pulls). */
	touch(record: Json): void;
	stop(): Promise<void>;
}

const T0 = '2024-08-01T00:00:00.000Z';

function readCsv(dir: string, name: string): Array<Record<string, string>> {
	return parse(readFileSync(join(dir, name)), {
		columns: true,
		skip_empty_lines: true,
		relax_column_count: true,
		bom: true,
	}) as Array<Record<string, string>>;
}

const ref = (sourcedId: string, type: string) => (sourcedId ? { href: `/${type}s/${sourcedId}`, sourcedId, type } : null);
const split = (value: string | undefined) => (value ? value.split(',').map((v) => v.trim()).filter(Boolean) : []);

/** The Grand Bend 1.1 CSV sample as OneRoster 1.1 JSON collections. */
export function grandBendJson(): Record<string, Json[]> {
	return csvSetAsJson(sharedDataDir(GRAND_BEND_1_1));
}

/** A OneRoster 1.1 CSV set (a folder) as OneRoster 1.1 JSON collections (also the benchmark's synthetic districts). */
export function csvSetAsJson(dir: string): Record<string, Json[]> {
	const base = (row: Record<string, string>) => ({ sourcedId: row.sourcedId, status: 'active', dateLastModified: T0, metadata: {} });
	const orgs = readCsv(dir, 'orgs.csv').map((row) => ({
		...base(row),
		name: row.name,
		type: row.type,
		identifier: row.identifier,
		parent: ref(row.parentSourcedId, 'org'),
	}));
	const academicSessions = readCsv(dir, 'academicSessions.csv').map((row) => ({
		...base(row),
		title: row.title,
		type: row.type,
		startDate: row.startDate,
		endDate: row.endDate,
		parent: ref(row.parentSourcedId, 'academicSession'),
		schoolYear: row.schoolYear,
	}));
	const courses = readCsv(dir, 'courses.csv').map((row) => ({
		...base(row),
		title: row.title,
		schoolYear: ref(row.schoolYearSourcedId, 'academicSession'),
		courseCode: row.courseCode,
		grades: split(row.grades),
		subjects: [row.subjects].filter(Boolean),
		org: ref(row.orgSourcedId, 'org'),
		subjectCodes: split(row.subjectCodes),
	}));
	const classes = readCsv(dir, 'classes.csv').map((row) => ({
		...base(row),
		title: row.title,
		classCode: row.classCode,
		classType: row.classType,
		location: row.location,
		grades: split(row.grades),
		subjects: [row.subjects].filter(Boolean),
		course: ref(row.courseSourcedId, 'course'),
		school: ref(row.schoolSourcedId, 'org'),
		terms: split(row.termSourcedIds).map((id) => ref(id, 'academicSession')),
		subjectCodes: split(row.subjectCodes),
		periods: split(row.periods),
	}));
	const users = readCsv(dir, 'users.csv').map((row) => ({
		...base(row),
		username: row.username,
		userIds: split(row.userIds).map((entry) => {
			const [type, identifier] = entry.replace(/^\{|\}$/g, '').split(':');
			return { type, identifier };
		}),
		enabledUser: row.enabledUser,
		givenName: row.givenName,
		familyName: row.familyName,
		middleName: row.middleName,
		role: row.role,
		identifier: row.identifier,
		email: row.email,
		sms: row.sms,
		phone: row.phone,
		agents: split(row.agentSourcedIds).map((id) => ref(id, 'user')),
		orgs: split(row.orgSourcedIds).map((id) => ref(id, 'org')),
		grades: split(row.grades),
		password: row.password ?? '',
	}));
	const enrollments = readCsv(dir, 'enrollments.csv').map((row) => ({
		...base(row),
		user: ref(row.userSourcedId, 'user'),
		class: ref(row.classSourcedId, 'class'),
		school: ref(row.schoolSourcedId, 'org'),
		role: row.role,
		primary: row.primary === '' ? 'false' : row.primary,
		beginDate: row.beginDate,
		endDate: row.endDate,
	}));
	const demographics = readCsv(dir, 'demographics.csv').map((row) => {
		const { sourcedId, status, dateLastModified, ...rest } = row;
		void status;
		void dateLastModified;
		return { ...base({ sourcedId }), ...rest };
	});
	return { orgs, academicSessions, courses, classes, users, enrollments, demographics };
}

/** A 1.1 record shown as OneRoster 1.2 JSON (users get `roles`, booleans are booleans). */
function as12(collection: string, record: Json): Json {
	if (collection === 'users') {
		const { role, orgs, ...rest } = record as Json & { role: string; orgs: Json[] };
		return {
			...rest,
			enabledUser: record.enabledUser === 'true' || record.enabledUser === true,
			roles: (orgs ?? []).map((org, i) => ({ roleType: i === 0 ? 'primary' : 'secondary', role, org })),
			primaryOrg: orgs?.[0] ?? null,
			preferredFirstName: record.preferredFirstName ?? '',
		};
	}
	if (collection === 'enrollments') return { ...record, primary: record.primary === 'true' };
	return record;
}

interface Token {
	value: string;
	cookie?: string;
	uses: number;
}

interface Route {
	collection: string;
	envelope: string;
	records: Json[];
}

const CLEVER_PAGE_DEFAULT = 100;

export interface ServerOptions {
	auth: ServerAuth;
	faults?: ServerFaults;
	data?: Record<string, Json[]>;
	/**
	 * The data will not change while the server runs (the benchmark's district): every collection, as is
	 * and sorted by sourcedId, is rendered once at start as OneRoster 1.1 JSON bytes, and a page of it is
	 * answered with a slice of those bytes. Rendering each page on request (and collecting the garbage,
	 * next to ~1 GB of district) cost the benchmark's server ~5 CPU s a 100,000-student pull, on the
	 * client's 2 cores. OneRoster 1.2 pages, filtered or nested lists and `nullRecords` are rendered as usual.
	 */
	frozenData?: boolean;
}

/** A list of records as JSON bytes, `record,record,…`; record i is bytes starts[i] … starts[i + 1] − 1 (its comma). */
interface RenderedList {
	bytes: Buffer;
	starts: Float64Array;
}

function renderList(records: Json[]): RenderedList {
	const texts = records.map((record) => JSON.stringify(record));
	const starts = new Float64Array(records.length + 1);
	for (let i = 0; i < texts.length; i++) starts[i + 1] = starts[i] + Buffer.byteLength(texts[i]) + 1;
	const bytes = Buffer.alloc(Math.max(0, starts[records.length] - 1), ',');
	for (let i = 0; i < texts.length; i++) bytes.write(texts[i], starts[i]);
	return { bytes, starts };
}

export async function startOneRosterServer(options: ServerOptions): Promise<OneRosterServer> {
	const data = options.data ?? grandBendJson();
	const faults: ServerFaults = options.faults ?? {};
	const log: LoggedRequest[] = [];
	const tokens = new Map<string, Token>();
	const nonces = new Set<string>();
	let tokensIssued = 0;
	const auth = options.auth;
	const oauth1 =
		auth.kind === 'oauth1'
			? new OAuth({
					consumer: { key: auth.consumerKey, secret: auth.consumerSecret },
					signature_method: 'HMAC-SHA256',
					hash_function: (base, key) => createHmac('sha256', key).update(base).digest('base64'),
				})
			: undefined;

	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: Error) => {
				send(res, 500, { error: error.message });
			});
		});
	});

	function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) {
		res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
		res.end(body === undefined ? '' : JSON.stringify(body));
	}

	function logRequest(req: http.IncomingMessage, url: URL, status: number, extra: Partial<LoggedRequest> = {}) {
		log.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, status, ...extra });
	}

	async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
		const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
		if (auth.kind === 'oauth2' && (url.pathname === auth.tokenPath || url.pathname === faults.tokenRedirectTo)) {
			return tokenEndpoint(req, res, url, body);
		}
		const failure = authFailure(req, url);
		if (failure) {
			logRequest(req, url, 401);
			return send(res, 401, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_description: failure });
		}
		if (faults.pageDelayMs) await new Promise((resolve) => setTimeout(resolve, faults.pageDelayMs));
		if (faults.burst429 && faults.burst429.count > 0) {
			faults.burst429.count--;
			logRequest(req, url, 429);
			return send(res, 429, { error: 'Too Many Requests' }, { 'Retry-After': faults.burst429.retryAfter });
		}
		if ((faults.fail500 ?? 0) > 0 || faults.alwaysFail?.test(url.pathname)) {
			if (faults.fail500) faults.fail500--;
			logRequest(req, url, 500);
			return send(res, 500, { imsx_codeMajor: 'failure', imsx_description: 'Internal Server Error' });
		}
		const clever = /^\/v3\.[01]\//.exec(url.pathname);
		if (clever) return cleverEndpoint(req, res, url);
		return oneRosterEndpoint(req, res, url);
	}

	function tokenEndpoint(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string) {
		if (auth.kind !== 'oauth2') return send(res, 404, {});
		const form = new URLSearchParams(body);
		let clientId: string | undefined;
		let clientSecret: string | undefined;
		const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
		if (basic) {
			const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
			clientId = decodeURIComponent(id.replace(/\+/g, ' '));
			clientSecret = decodeURIComponent((secret ?? '').replace(/\+/g, ' '));
		}
		const inBody = form.has('client_secret');
		const carriedSecret = Boolean(basic) || inBody;
		if (faults.tokenRedirectTo && url.pathname === auth.tokenPath) {
			logRequest(req, url, 307, { carriedSecret });
			return send(res, 307, undefined, { Location: faults.tokenRedirectTo });
		}
		if (req.method !== 'POST') {
			logRequest(req, url, 405, { carriedSecret });
			return send(res, 405, { error: 'invalid_request', error_description: 'POST only' });
		}
		if (inBody) {
			clientId = form.get('client_id') ?? undefined;
			clientSecret = form.get('client_secret') ?? undefined;
		}
		const where = basic ? 'basic' : inBody ? 'body' : 'none';
		const fail = (status: number, error: string, description: string) => {
			logRequest(req, url, status, { carriedSecret });
			return send(res, status, { error, error_description: description });
		};
		if (form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type', 'client_credentials only');
		if (where === 'none' || (auth.clientAuth !== 'either' && where !== auth.clientAuth)) {
			return fail(401, 'invalid_client', `client authentication must be ${auth.clientAuth}`);
		}
		if (clientId !== auth.clientId || clientSecret !== auth.clientSecret) return fail(401, 'invalid_client', 'unknown client or wrong secret');
		const asked = (form.get('scope') ?? '').split(' ').filter(Boolean);
		const missing = (auth.requiredScopes ?? []).filter((scope) => !asked.includes(scope));
		if (missing.length > 0) return fail(400, 'invalid_scope', `missing scope ${missing.join(' ')}`);
		const token: Token = { value: randomBytes(16).toString('hex'), uses: 0 };
		const headers: Record<string, string | string[]> = { 'Cache-Control': 'no-store' };
		if (auth.cookie) {
			token.cookie = `AeriesSession=${randomBytes(8).toString('hex')}`;
			headers['Set-Cookie'] = [`${token.cookie}; Path=/; HttpOnly`, 'lb=node7; Path=/'];
		}
		tokens.set(token.value, token);
		tokensIssued++;
		logRequest(req, url, 200, { carriedSecret });
		return send(res, 200, { access_token: token.value, token_type: 'bearer', expires_in: 3600, scope: asked.join(' ') }, headers);
	}

	/** Why the request is not authenticated, or undefined when it is. */
	function authFailure(req: http.IncomingMessage, url: URL): string | undefined {
		const authorization = req.headers.authorization ?? '';
		if (auth.kind === 'bearer') return authorization === `Bearer ${auth.token}` ? undefined : 'bad or missing bearer token';
		if (auth.kind === 'oauth2') {
			const bearer = /^Bearer (.+)$/i.exec(authorization)?.[1];
			const token = bearer ? tokens.get(bearer) : undefined;
			if (!token) return 'unknown or missing access token';
			if (faults.tokenTtlRequests !== undefined && token.uses >= faults.tokenTtlRequests) return 'access token expired';
			if (token.cookie && !(req.headers.cookie ?? '').split(/;\s*/).includes(token.cookie)) return 'the session cookie of the token response is missing';
			token.uses++;
			return undefined;
		}
		// OAuth 1.0a: recompute the signature of the request as received, with oauth-1.0a.
		const match = /^OAuth (.+)$/.exec(authorization);
		if (!match || !oauth1) return 'missing OAuth 1.0a Authorization header';
		const params: Record<string, string> = {};
		for (const part of match[1].split(/,\s*/)) {
			const pair = /^([^=]+)="(.*)"$/.exec(part.trim());
			if (pair) params[decodeURIComponent(pair[1])] = decodeURIComponent(pair[2]);
		}
		if (params.oauth_consumer_key !== auth.consumerKey) return 'unknown consumer key';
		if (params.oauth_signature_method !== 'HMAC-SHA256') return `signature method ${params.oauth_signature_method} not accepted`;
		if (Math.abs(Date.now() / 1000 - Number(params.oauth_timestamp)) > 300) return 'timestamp out of range';
		if (nonces.has(params.oauth_nonce)) return 'nonce used before';
		const { oauth_signature: signature, ...oauthData } = params;
		const rawQuery = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?')) : '';
		const expected = oauth1.getSignature(
			{ url: `http://${req.headers.host}${url.pathname}${rawQuery}`, method: req.method ?? 'GET' },
			undefined,
			oauthData as unknown as OAuth.Data,
		);
		if (expected !== signature) return 'signature does not match';
		nonces.add(params.oauth_nonce);
		return undefined;
	}

	function route(pathname: string): Route | { status: number; message: string } {
		const versioned = /^(?:\/[^/]+)*?\/ims\/oneroster\/(v1p1|rostering\/v1p2)\/(.+)$/.exec(pathname);
		if (!versioned) return { status: 404, message: `no such endpoint ${pathname}` };
		const parts = versioned[2].split('/');
		const named = faults.namedEnvelopes;
		const users = (role?: string) => data.users.filter((user) => !role || user.role === role);
		if (parts.length === 1) {
			switch (parts[0]) {
				case 'orgs':
				case 'academicSessions':
				case 'courses':
				case 'classes':
				case 'users':
				case 'enrollments':
				case 'demographics':
					return { collection: parts[0], envelope: parts[0], records: data[parts[0]] };
				case 'schools':
					return { collection: 'orgs', envelope: named ? 'schools' : 'orgs', records: data.orgs.filter((org) => org.type === 'school') };
				case 'terms':
					return { collection: 'academicSessions', envelope: named ? 'terms' : 'academicSessions', records: data.academicSessions.filter((s) => s.type === 'term' || s.type === 'semester') };
				case 'students':
				case 'teachers':
					return { collection: 'users', envelope: named ? parts[0] : 'users', records: users(parts[0].slice(0, -1)) };
			}
		}
		if (parts.length === 3 && parts[0] === 'schools' && !faults.noNested) {
			const school = decodeURIComponent(parts[1]);
			const inSchool = (record: Json) => (record.school as Json | null)?.sourcedId === school;
			switch (parts[2]) {
				case 'classes':
					return { collection: 'classes', envelope: 'classes', records: data.classes.filter(inSchool) };
				case 'enrollments':
					return { collection: 'enrollments', envelope: 'enrollments', records: data.enrollments.filter(inSchool) };
				case 'courses': {
					const courses = new Set(data.classes.filter(inSchool).map((c) => (c.course as Json).sourcedId));
					return { collection: 'courses', envelope: 'courses', records: data.courses.filter((c) => courses.has(c.sourcedId)) };
				}
				case 'students':
				case 'teachers':
					return {
						collection: 'users',
						envelope: 'users',
						records: users(parts[2].slice(0, -1)).filter((u) => (u.orgs as Json[]).some((o) => o.sourcedId === school)),
					};
			}
		}
		return { status: 404, message: `no such endpoint ${pathname}` };
	}

	function applyFilter(records: Json[], filter: string): Json[] | string {
		const predicates = filter.split(/\s+AND\s+/);
		const tests = predicates.map((predicate) => {
			const match = /^\s*([A-Za-z.]+)\s*(>=|<=|!=|=|>|<|~)\s*'([^']*)'\s*$/.exec(predicate);
			if (!match) return undefined;
			const [, fieldName, op, value] = match;
			return (record: Json) => {
				const actual = String(record[fieldName] ?? '');
				const a = Date.parse(actual);
				const b = Date.parse(value);
				const cmp = fieldName === 'dateLastModified' && !Number.isNaN(a) && !Number.isNaN(b) ? a - b : actual.localeCompare(value);
				switch (op) {
					case '=':
						return cmp === 0;
					case '!=':
						return cmp !== 0;
					case '>':
						return cmp > 0;
					case '>=':
						return cmp >= 0;
					case '<':
						return cmp < 0;
					case '<=':
						return cmp <= 0;
					default:
						return actual.includes(value);
				}
			};
		});
		if (tests.some((test) => !test)) return `cannot read filter ${filter}`;
		return records.filter((record) => tests.every((test) => test!(record)));
	}

	/**
	 * A collection sorted by a field, remembered while the collection is the same array of the same
	 * length (re-sorting 600,000 enrollments on every page made the benchmark's pulls measure the sort).
	 */
	const sortedCache = new WeakMap<Json[], { field: string; length: number; sorted: Json[] }>();
	function sortedBy(records: Json[], field: string): Json[] {
		const cached = sortedCache.get(records);
		if (cached && cached.field === field && cached.length === records.length) return cached.sorted;
		const sorted = [...records].sort((a, b) => String(a[field] ?? '').localeCompare(String(b[field] ?? '')));
		sortedCache.set(records, { field, length: records.length, sorted });
		return sorted;
	}

	/** With `frozenData`: the lists rendered at start (see ServerOptions). */
	const renderedLists = new WeakMap<Json[], RenderedList>();
	if (options.frozenData) {
		for (const records of Object.values(data)) {
			renderedLists.set(records, renderList(records));
			const sorted = sortedBy(records, 'sourcedId');
			renderedLists.set(sorted, renderList(sorted));
		}
	}

	function oneRosterEndpoint(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
		const found = route(url.pathname);
		if ('status' in found) {
			logRequest(req, url, found.status);
			return send(res, found.status, { imsx_codeMajor: 'failure', imsx_CodeMinor: 'unknownobject', imsx_description: found.message });
		}
		const v12 = url.pathname.includes('/rostering/v1p2/');
		const query = url.searchParams;
		let records = found.records;
		const filter = query.get('filter');
		if (filter) {
			if (faults.noFilter) {
				logRequest(req, url, 400);
				return send(res, 400, { imsx_codeMajor: 'failure', imsx_CodeMinor: 'invalid_filter_field', imsx_description: 'filter not supported' });
			}
			const filtered = applyFilter(records, filter);
			if (typeof filtered === 'string') {
				logRequest(req, url, 400);
				return send(res, 400, { imsx_codeMajor: 'failure', imsx_description: filtered });
			}
			records = filtered;
		}
		const sort = query.get('sort');
		if (sort) {
			if (faults.noSort) {
				logRequest(req, url, 400);
				return send(res, 400, { imsx_codeMajor: 'failure', imsx_CodeMinor: 'invalid_sort_field', imsx_description: 'sort not supported' });
			}
			records = sortedBy(records, sort);
		}
		const asked = Number(query.get('limit') ?? 100);
		const limit = Math.min(asked, faults.maxLimit ?? Infinity);
		const offset = Number(query.get('offset') ?? 0);
		const page = records
			.slice(offset, offset + limit)
			.map((record) => (faults.nullRecords?.includes(String(record.sourcedId)) ? null : v12 ? as12(found.collection, record) : record));
		const headers: Record<string, string> = {};
		if (!faults.noTotalCount) headers['X-Total-Count'] = String(records.length);
		if (!faults.noLink) {
			const link = (rel: string, at: number) => {
				const target = new URL(url);
				target.searchParams.set('offset', String(at));
				target.searchParams.set('limit', String(limit));
				return `<${target.toString()}>; rel="${rel}"`;
			};
			const lastOffset = Math.max(0, Math.floor((records.length - 1) / limit) * limit);
			const links = [link('first', 0), link('last', lastOffset)];
			if (offset + limit < records.length) links.unshift(link('next', offset + limit));
			headers.Link = links.join(', ');
		}
		if (page.length === 0 && faults.emptyAs404) {
			logRequest(req, url, 404);
			return send(res, 404, { imsx_codeMajor: 'failure', imsx_CodeMinor: 'unknownobject', imsx_description: 'no records' }, headers);
		}
		logRequest(req, url, 200);
		if (offset > 0 && faults.cutShort?.test(url.pathname)) {
			const text = JSON.stringify({ [found.envelope]: page });
			res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
			return res.end(text.slice(0, Math.floor(text.length / 2)));
		}
		const rendered = v12 || faults.nullRecords || !Number.isInteger(offset) || offset < 0 ? undefined : renderedLists.get(records);
		if (rendered) {
			const end = Math.min(offset + limit, records.length);
			const list = offset < end ? rendered.bytes.subarray(rendered.starts[offset], rendered.starts[end] - 1) : Buffer.alloc(0);
			// Written as a view of the rendered bytes: a copy per page (460 MB a pull) made V8 collect its ~1 GB heap every few seconds.
			res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
			res.write(`{${JSON.stringify(found.envelope)}:[`);
			res.write(list);
			return res.end(']}');
		}
		return send(res, 200, { [found.envelope]: page }, headers);
	}

	// ---- Clever v3 -------------------------------------------------------------------------

	function cleverEndpoint(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
		const [, version, resource] = /^\/(v3\.[01])\/([^/]+)$/.exec(url.pathname) ?? [];
		const collections = cleverCollections();
		let records: Json[] | undefined = collections[resource];
		if (!records) {
			logRequest(req, url, 404);
			return send(res, 404, { error: 'Resource not found' });
		}
		const role = url.searchParams.get('role');
		if (resource === 'users' && role) records = records.filter((user) => role in (user.roles as Json));
		const limit = Math.min(Number(url.searchParams.get('limit') ?? CLEVER_PAGE_DEFAULT), faults.maxLimit ?? 10_000);
		const after = url.searchParams.get('starting_after');
		const start = after ? records.findIndex((record) => record.id === after) + 1 : 0;
		const page = records.slice(start, start + limit);
		const links: Json[] = [{ rel: 'self', uri: `${url.pathname}${url.search}` }];
		if (start + limit < records.length) {
			const next = new URLSearchParams(url.searchParams);
			next.set('starting_after', String(page[page.length - 1].id));
			links.push({ rel: 'next', uri: `/${version}/${resource}?${next.toString()}` });
		}
		logRequest(req, url, 200);
		const item = (record: Json) => ({ data: faults.nullRecords?.includes(String(record.id)) ? null : record, uri: `/${version}/${resource}/${record.id}` });
		return send(res, 200, { data: page.map(item), links });
	}

	/** The same roster as Clever v3 would give it (built from the OneRoster data on each request). */
	function cleverCollections(): Record<string, Json[]> {
		const id = (record: Json) => String(record.sourcedId);
		const district = data.orgs.find((org) => org.type === 'district');
		const districtId = district ? id(district) : 'district';
		const grade = (grades: unknown) => {
			const first = (grades as string[] | undefined)?.[0] ?? '';
			return /^\d+$/.test(first) ? String(Number(first)) : first === 'KG' ? 'Kindergarten' : first;
		};
		const demographics = new Map(data.demographics.map((d) => [id(d), d]));
		const enrollments = data.enrollments.filter((e) => e.status !== 'tobedeleted');
		const users = data.users.filter((u) => u.status !== 'tobedeleted').map((user) => {
			const schools = (user.orgs as Json[]).map((org) => String(org.sourcedId));
			const name = { first: user.givenName, middle: user.middleName, last: user.familyName };
			const common = { id: id(user), district: districtId, email: user.email, name, created: T0, last_modified: user.dateLastModified };
			if (user.role === 'student') {
				const demo = demographics.get(id(user));
				const dob = demo?.birthDate ? String(demo.birthDate).replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$2/$3/$1') : undefined;
				return {
					...common,
					roles: {
						student: {
							school: schools[0],
							schools,
							sis_id: id(user),
							student_number: (user.userIds as Json[])[0]?.identifier,
							grade: grade(user.grades),
							dob,
							gender: demo?.sex === 'male' ? 'M' : demo?.sex === 'female' ? 'F' : undefined,
							credentials: { district_username: user.username },
						},
					},
				};
			}
			return { ...common, roles: { teacher: { school: schools[0], schools, sis_id: id(user), teacher_number: id(user), credentials: { district_username: user.username } } } };
		});
		const sections = data.classes.filter((c) => c.status !== 'tobedeleted').map((klass) => {
			const of = (role: string) => [...new Set(enrollments.filter((e) => (e.class as Json).sourcedId === klass.sourcedId && e.role === role).map((e) => String((e.user as Json).sourcedId)))];
			const teachers = of('teacher');
			return {
				id: id(klass),
				district: districtId,
				school: (klass.school as Json).sourcedId,
				course: (klass.course as Json).sourcedId,
				term_id: (klass.terms as Json[])[0]?.sourcedId,
				name: klass.title,
				section_number: klass.classCode,
				sis_id: id(klass),
				subject: 'english/language arts',
				grade: grade(klass.grades),
				period: (klass.periods as string[])[0],
				teacher: teachers[0],
				teachers,
				students: of('student'),
				created: T0,
				last_modified: klass.dateLastModified,
			};
		});
		return {
			districts: district ? [{ id: districtId, name: district.name }] : [],
			schools: data.orgs
				.filter((org) => org.type === 'school')
				.map((org) => ({ id: id(org), district: districtId, name: org.name, sis_id: id(org), school_number: id(org), low_grade: '9', high_grade: '12' })),
			terms: data.academicSessions
				.filter((s) => s.type !== 'schoolYear')
				.map((s) => ({ id: id(s), district: districtId, name: s.title, start_date: s.startDate, end_date: s.endDate })),
			courses: data.courses.map((c) => ({ id: id(c), district: districtId, name: c.title, number: c.courseCode })),
			sections,
			users,
		};
	}

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const { port } = server.address() as AddressInfo;
	const url = `http://127.0.0.1:${port}`;
	return {
		url,
		host: '127.0.0.1',
		port,
		tokenUrl: auth.kind === 'oauth2' ? `${url}${auth.tokenPath}` : '',
		data,
		faults,
		auth,
		log,
		dataRequests: () => log.filter((entry) => auth.kind !== 'oauth2' || entry.path !== auth.tokenPath),
		tokensIssued: () => tokensIssued,
		touch(record) {
			record.dateLastModified = new Date().toISOString();
		},
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
