/**
 * A OneRoster 1.1 / 1.2 REST API as a roster source: pulls orgs, academic sessions, courses,
 * classes, users (1.2: with their roles), demographics and enrollments, and stages them as the
 * CSV files of the same version would be staged, so Normalize and everything after it work unchanged.
 *
 * - Orgs and academic sessions (small) are always pulled whole; the other resources follow the
 *   pull plan (full, or delta: only records changed since the last successful run).
 * - School IDs: the schools' own endpoints (`/schools/{id}/classes`, …) where the server has them,
 *   else the whole collection filtered here; users are kept when they belong to a chosen school
 *   (or its district); parents and guardians are kept for Normalize to link.
 * - A pull that cannot finish throws: stageRun rolls the staging back and fails the run.
 */
import { RosterInputError } from '../../model/errors';
import type { ProgressCallback } from '../../model/progress';
import { reportProgress } from '../../model/progress';
import type { FileMode, OneRosterVersion, StagedEntity } from '../../model/roster';
import { ONEROSTER_ROLE_MAP } from '../../model/roster';
import type { RosterSource } from '../stage-run';
import type { StagingSink, StagingSummary } from '../staging';
import { ProblemList } from '../staging';
import type { ApiClient } from './auth/api-auth';
import type { PullPlan } from './delta';
import { fileNameOf, refId, rolesOf, rowFlattener, stagedColumns, text, userOrgIds, userRoles } from './flatten';
import type { HttpResponse } from './http';
import { nextTurn, safeUrl, throwIfAborted } from './http';
import type { JsonRecord, PageStats } from './paging';
import { BadRequestError, EndpointNotFoundError, isJsonRecord, pageUrl, pullCollection } from './paging';
import type { RequestStats, RetryPolicy } from './requests';
import { ApiRequestError, DEFAULT_RETRY, getWithRetry, newRequestStats } from './requests';
import { StagedFileWriter } from './staged-writer';

/** What the fetch can pull, in pull order. 1.2 `roles` come with users. */
export const REST_RESOURCES = ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'demographics', 'enrollments'] as const;
export type RestResource = (typeof REST_RESOURCES)[number];

/** Always pulled whole: small, and needed whole (school scoping, term references). */
const ALWAYS_FULL: readonly RestResource[] = ['orgs', 'academicSessions'];

export interface PullOptions {
	pageSize: number;
	concurrency: number;
	/** Ask for `sort=sourcedId` (dropped for the rest of the pull if the server refuses it). */
	sortBySourcedId: boolean;
	retry: RetryPolicy;
	maxRowProblems: number;
}

export const DEFAULT_PULL_OPTIONS: PullOptions = {
	pageSize: 1000,
	concurrency: 4,
	sortBySourcedId: true,
	retry: DEFAULT_RETRY,
	maxRowProblems: 1000,
};

export interface OneRosterApiConfig {
	/** The SIS, for messages and the run's source: "Infinite Campus". */
	sisName: string;
	/** The API root (…/ims/oneroster/v1p1 may be included or not). */
	baseUrl: string;
	version: OneRosterVersion;
	resources: RestResource[];
	/** sourcedIds or identifiers of the schools to pull; empty = the whole district. */
	schoolIds: string[];
	/** ClassLink: the tenant the ids belong to, kept as the `metadata.tenantId` column of every staged row. */
	tenantId?: string;
}

/** What a pull did: the node's summary item and the run's staged counts (`fetch`). */
export interface FetchSummary {
	sis: string;
	api: string;
	pull: 'full' | 'delta';
	since?: string;
	reason: string;
	schools?: string[];
	/** Records received per resource (before checks), and rows staged per staged file. */
	records: Record<string, number>;
	rows: Record<string, number>;
	requests: number;
	pages: number;
	overfetchedPages: number;
	retries: number;
	rateLimited: number;
	serverErrors: number;
	networkErrors: number;
	waitedMs: number;
	tokenRequests: number;
	tokenRefreshesOn401: number;
	/** Deleted records a full pull left out (status tobedeleted/inactive). */
	deletedSkipped: number;
	durationMs: number;
}

export type RestRosterSource = RosterSource & { readonly fetchSummary: FetchSummary | undefined };

const VERSION_PATHS: Record<OneRosterVersion, string> = {
	'1.1': '/ims/oneroster/v1p1',
	'1.2': '/ims/oneroster/rostering/v1p2',
};

/** The rostering root for `version`: the base URL without any /ims/oneroster/… it was given with, plus the version's path. */
export function oneRosterRoot(baseUrl: string, version: OneRosterVersion): string {
	const root = baseUrl.trim().replace(/\/+$/, '').replace(/\/ims\/oneroster(\/.*)?$/i, '');
	return `${root}${VERSION_PATHS[version]}`;
}

export function describeOneRosterSource(config: OneRosterApiConfig): string {
	const parts = [`OneRoster ${config.version} API (${config.sisName})`, safeUrl(oneRosterRoot(config.baseUrl, config.version))];
	if (config.tenantId) parts.push(`tenant ${config.tenantId}`);
	if (config.schoolIds.length > 0) parts.push(`schools ${config.schoolIds.join(',')}`);
	return parts.join(', ');
}

/** Resources that need others to make sense; fails before any request. */
export function checkResources(resources: readonly string[]): void {
	const has = (resource: RestResource) => resources.includes(resource);
	const need = (resource: RestResource, needs: RestResource, why: string) => {
		if (has(resource) && !has(needs)) {
			throw new RosterInputError(`${resource} needs ${needs} in the same pull (${why})`, {}, `Add ${needs} to the Resources to pull.`);
		}
	};
	if (!has('users')) throw new RosterInputError('users must be pulled: this node syncs people', {}, 'Add Users to the Resources to pull.');
	need('users', 'orgs', "people belong to schools");
	need('classes', 'academicSessions', 'classes name their terms');
	need('enrollments', 'classes', 'enrollments name their classes');
}

/**
 * Records staged between two turns of the event loop (~1 ms of work): answers that arrive while a page is
 * staged are read, and their slots refilled, within about a millisecond rather than after the whole page
 * (100k students: requests took 37–40 ms for 30 ms of latency when a page was staged in one go).
 */
const RECORDS_PER_TURN = 250;

const SORT_REFUSED = "The server refused sort=sourcedId; records were pulled in the server's own order";

/** Thrown when the server refuses `filter`: the pull starts again as a full pull. */
class FilterUnsupportedError extends Error {}

const ENVELOPES: Record<string, string[]> = {
	orgs: ['orgs', 'schools'],
	schools: ['orgs', 'schools'],
	academicSessions: ['academicSessions', 'terms'],
	terms: ['academicSessions', 'terms'],
	users: ['users'],
	students: ['users', 'students'],
	teachers: ['users', 'teachers'],
	courses: ['courses'],
	classes: ['classes'],
	enrollments: ['enrollments'],
	demographics: ['demographics'],
};

const CONTACT_ROLES = new Set(Object.entries(ONEROSTER_ROLE_MAP).filter(([, mapped]) => ['parent', 'guardian', 'relative'].includes(mapped)).map(([word]) => word));

interface Scope {
	schools: Set<string>;
	/** The schools and the orgs above them (districts). */
	orgs: Set<string>;
	keptUsers: Set<string>;
	keptClasses: Set<string>;
}

export function oneRosterApiSource(
	client: ApiClient,
	config: OneRosterApiConfig,
	plan: PullPlan,
	options: Partial<PullOptions> = {},
	signal?: AbortSignal,
): RestRosterSource {
	checkResources(config.resources);
	const settings = { ...DEFAULT_PULL_OPTIONS, ...options };
	let fetchSummary: FetchSummary | undefined;
	return {
		description: describeOneRosterSource(config),
		get fetchSummary() {
			return fetchSummary;
		},
		async stage(sink, progress) {
			const started = Date.now();
			const pull = new OneRosterPull(client, config, settings, signal, progress?.onProgress);
			let summary: StagingSummary;
			let used = plan;
			try {
				summary = await pull.run(sink, plan);
			} catch (error) {
				if (!(error instanceof FilterUnsupportedError)) throw error;
				used = { mode: 'full', reason: `the server refused the delta filter (${error.message}); pulled everything` };
				summary = await pull.run(sink, used);
				summary.warnings.unshift(`Delta pull not possible: ${error.message}. A full pull was made instead.`);
			}
			fetchSummary = pull.summary(used, Date.now() - started, summary);
			summary.details = fetchSummary as unknown as Record<string, unknown>;
			return summary;
		},
	};
}

/** The columns a bulk row leaves empty (status and dateLastModified belong to delta files). */
function changeColumns(columns: string[]): number[] {
	return ['status', 'dateLastModified'].map((name) => columns.indexOf(name)).filter((index) => index >= 0);
}

class OneRosterPull {
	private stats: RequestStats & PageStats = { ...newRequestStats(), pages: 0, overfetchedPages: 0 };
	private records: Record<string, number> = {};
	private deletedSkipped = 0;
	private sortRefused = false;
	private scope: Scope | undefined;
	private readonly root: string;
	/**
	 * First pages asked for ahead, by URL (askAhead). A collection's first page gives the total its other
	 * pages are paged by, so it is asked for alone, and the last pages of a collection leave slots free.
	 * With a slot to spare (Concurrency 2 or more), each collection's first page is asked for when the
	 * collection before begins (but the first), beside that one's pages (which then have one slot less until
	 * it is answered), and taken when its turn comes: a round trip less a collection (20,000 students at
	 * 200 ms a request: 11.94-11.97 -> 11.32-11.35 s, 1.18x -> 1.12x the ideal; at 30 ms, where the pull is
	 * CPU-bound, no measurable change).
	 */
	private readonly askedAhead = new Map<string, Promise<HttpResponse>>();
	/** Aborts the requests of askedAhead (dropAskedAhead). */
	private ahead = new AbortController();
	/** Requests of askedAhead not answered yet: the slots of the Concurrency they hold. */
	private askingAhead = 0;

	constructor(
		private readonly client: ApiClient,
		private readonly config: OneRosterApiConfig,
		private readonly options: PullOptions,
		private readonly signal?: AbortSignal,
		private readonly onProgress?: ProgressCallback,
	) {
		this.root = oneRosterRoot(config.baseUrl, config.version);
	}

	summary(plan: PullPlan, durationMs: number, staged: StagingSummary): FetchSummary {
		return {
			sis: this.config.sisName,
			api: `OneRoster ${this.config.version}`,
			pull: plan.mode,
			...(plan.since ? { since: plan.since } : {}),
			reason: plan.reason,
			...(this.scope ? { schools: [...this.scope.schools] } : {}),
			records: this.records,
			rows: Object.fromEntries(staged.files.map((file) => [file.entity, file.rows])),
			requests: this.stats.requests,
			pages: this.stats.pages,
			overfetchedPages: this.stats.overfetchedPages,
			retries: this.stats.retries,
			rateLimited: this.stats.rateLimited,
			serverErrors: this.stats.serverErrors,
			networkErrors: this.stats.networkErrors,
			waitedMs: this.stats.waitedMs,
			tokenRequests: this.client.authStats.tokenRequests,
			tokenRefreshesOn401: this.client.authStats.tokenRefreshesOn401,
			deletedSkipped: this.deletedSkipped,
			durationMs,
		};
	}

	/** Pulls every resource of the plan; the first pages it asked for ahead and did not take are dropped when it ends. */
	async run(sink: StagingSink, plan: PullPlan): Promise<StagingSummary> {
		try {
			return await this.pullResources(sink, plan);
		} finally {
			this.dropAskedAhead();
		}
	}

	private async pullResources(sink: StagingSink, plan: PullPlan): Promise<StagingSummary> {
		this.records = {};
		this.deletedSkipped = 0;
		this.scope = undefined;
		const { version } = this.config;
		const warnings: string[] = [];
		const problems = new ProblemList(this.options.maxRowProblems);
		const files: StagingSummary['files'] = [];
		const extensions = this.config.tenantId ? ['metadata.tenantId'] : [];
		const extra = this.config.tenantId ? { 'metadata.tenantId': this.config.tenantId } : undefined;
		const schoolOrgs: JsonRecord[] = [];
		if (this.sortRefused) warnings.push(SORT_REFUSED);

		const resources = REST_RESOURCES.filter((resource) => this.config.resources.includes(resource));
		let rolesWriter: StagedFileWriter | undefined;
		for (const [index, resource] of resources.entries()) {
			throwIfAborted(this.signal);
			const entity: StagedEntity = resource;
			const mode: FileMode = plan.mode === 'delta' && !ALWAYS_FULL.includes(resource) ? 'delta' : 'bulk';
			const columns = stagedColumns(entity, version, extensions);
			let writer: StagedFileWriter | undefined;
			const open = async () => (writer ??= await StagedFileWriter.begin(sink, { entity, fileName: fileNameOf(entity), version, mode, columns }, problems));
			if (resource === 'users' && version === '1.2') {
				rolesWriter = await StagedFileWriter.begin(
					sink,
					{ entity: 'roles', fileName: fileNameOf('roles'), version, mode, columns: stagedColumns('roles', version, extensions) },
					problems,
				);
			}

			const flatten = rowFlattener(entity, columns, extra);
			const flattenRole = rolesWriter ? rowFlattener('roles', rolesWriter.columns, extra) : undefined;
			const cleared = changeColumns(columns);
			const clearedRoles = rolesWriter ? changeColumns(rolesWriter.columns) : [];
			const handle = async (records: JsonRecord[]) => {
				const out = await open();
				this.records[resource] = (this.records[resource] ?? 0) + records.length;
				reportProgress(this.onProgress, { stage: 'fetch', done: this.records[resource], unit: 'records', file: resource });
				for (let i = 0; i < records.length; i++) {
					if (i % RECORDS_PER_TURN === RECORDS_PER_TURN - 1) await nextTurn();
					const record = records[i];
					if (!isJsonRecord(record)) {
						out.addUnreadable(record);
						continue;
					}
					const status = this.statusOf(record);
					if (mode === 'bulk' && (status === 'tobedeleted' || status === 'inactive')) {
						this.deletedSkipped++;
						continue;
					}
					if (resource === 'orgs' && text(record.type) === 'school') schoolOrgs.push(record);
					const inScope = this.inScope(resource, record);
					if (!inScope) {
						if (mode === 'delta') out.add(this.deletionRow(columns, record, extra));
						continue;
					}
					// The page's records are this pull's own: the status read (1.2 "inactive" → "tobedeleted") is set in place.
					if (record.status !== undefined && text(record.status) !== status) record.status = status;
					const cells = flatten(record);
					if (mode === 'bulk') for (const index of cleared) cells[index] = '';
					out.add(cells);
					if (resource === 'users' && rolesWriter && flattenRole && status !== 'tobedeleted') {
						for (const role of rolesOf(record)) {
							const roleCells = flattenRole(role);
							if (mode === 'bulk') for (const index of clearedRoles) roleCells[index] = '';
							rolesWriter.add(roleCells);
						}
					}
				}
				await out.flushIfFull();
				await rolesWriter?.flushIfFull();
			};

			const pulling = this.pullResource(resource, plan, handle, warnings);
			// With a slot to spare, the next collection's first page is asked for now, beside this one's first page
			// (asked for just above). Not beside the pull's very first request, which may have to fetch the token
			// first (n8n's OAuth 2 fetches one for each request that finds none); and once the School IDs are
			// resolved when there are some (they decide the endpoints).
			const next = resources[index + 1];
			if (index > 0 && next !== undefined && this.options.concurrency >= 2 && (this.scope || this.config.schoolIds.length === 0)) this.askAhead(next, plan);
			const pulled = await pulling;
			if (!pulled) continue;
			reportProgress(this.onProgress, { stage: 'fetch', done: this.records[resource] ?? 0, unit: 'records', file: resource, finished: true });
			files.push(await (await open()).finish(warnings));
			if (resource === 'users' && rolesWriter) files.push(await rolesWriter.finish(warnings));
			if (resource === 'orgs') this.scope = this.resolveScope(schoolOrgs);
		}
		problems.noteUnlisted(warnings);
		// Staging order as in a CSV set: roles right after users, enrollments last.
		return { version, files, problemCount: problems.count, warnings };
	}

	/** 1.2 has no `inactive`: read as `tobedeleted` (what 1.1 servers meant by it). */
	private statusOf(record: JsonRecord): string {
		const status = text(record.status);
		return this.config.version === '1.2' && status === 'inactive' ? 'tobedeleted' : status;
	}

	/** A delta row that removes a record which left the chosen schools. */
	private deletionRow(columns: string[], record: JsonRecord, extra?: Record<string, string>): string[] {
		return columns.map((column) =>
			column === 'sourcedId'
				? text(record.sourcedId)
				: column === 'status'
					? 'tobedeleted'
					: column === 'dateLastModified'
						? text(record.dateLastModified) || new Date().toISOString()
						: (extra?.[column] ?? ''),
		);
	}

	/** School IDs (sourcedId or identifier) → the schools, and the orgs above them. */
	private resolveScope(schoolOrgs: JsonRecord[]): Scope | undefined {
		const wanted = this.config.schoolIds;
		if (wanted.length === 0) return undefined;
		const schools = new Set<string>();
		for (const id of wanted) {
			const match = schoolOrgs.find((org) => text(org.sourcedId) === id || text(org.identifier) === id);
			if (!match) {
				const known = schoolOrgs.map((org) => `${text(org.sourcedId)}${text(org.identifier) ? ` (${text(org.identifier)})` : ''} ${text(org.name)}`).join('; ');
				throw new RosterInputError(
					`School ID "${id}" is not a school the SIS shares (schools: ${known || 'none'})`,
					{ field: 'School ID' },
					'Fix the School ID in the credential (or the node), or check that the SIS shares this school with the application.',
				);
			}
			schools.add(text(match.sourcedId));
		}
		const parents = new Map(schoolOrgs.map((org) => [text(org.sourcedId), refId(org.parent)]));
		const orgs = new Set(schools);
		for (const school of schools) {
			const parent = parents.get(school);
			if (parent) orgs.add(parent);
		}
		return { schools, orgs, keptUsers: new Set(), keptClasses: new Set() };
	}

	/** Whether a record belongs to the chosen schools (always, without School IDs). Remembers kept users and classes. */
	private inScope(resource: RestResource, record: JsonRecord): boolean {
		const scope = this.scope;
		if (!scope) return true;
		const id = text(record.sourcedId);
		switch (resource) {
			case 'courses': {
				const org = refId(record.org);
				return org === '' || scope.orgs.has(org);
			}
			case 'classes': {
				const kept = scope.schools.has(refId(record.school));
				if (kept) scope.keptClasses.add(id);
				return kept;
			}
			case 'users': {
				const roles = userRoles(record);
				const kept = roles.some((role) => CONTACT_ROLES.has(role)) || userOrgIds(record).some((org) => scope.orgs.has(org));
				if (kept) scope.keptUsers.add(id);
				return kept;
			}
			case 'demographics':
				return !this.config.resources.includes('users') || scope.keptUsers.has(id);
			case 'enrollments':
				return scope.schools.has(refId(record.school)) || scope.keptClasses.has(refId(record.class));
			default:
				return true;
		}
	}

	/** Endpoint alternatives, tried in order when one answers 404: each is a list of paths whose records add up. */
	private endpoints(resource: RestResource): string[][] {
		const schools = this.scope ? [...this.scope.schools] : [];
		const nested = (name: string) => schools.map((school) => `schools/${encodeURIComponent(school)}/${name}`);
		switch (resource) {
			case 'orgs':
				return [['orgs'], ['schools']];
			case 'academicSessions':
				return [['academicSessions'], ['terms']];
			case 'users':
				return [['users'], ['students', 'teachers']];
			case 'courses':
			case 'classes':
			case 'enrollments':
				return schools.length > 0 ? [nested(resource), [resource]] : [[resource]];
			default:
				return [[resource]];
		}
	}

	/** Pulls one resource into `handle`; false when the server has no such endpoint and the resource may be left out. */
	private async pullResource(
		resource: RestResource,
		plan: PullPlan,
		handle: (records: JsonRecord[]) => Promise<void>,
		warnings: string[],
	): Promise<boolean> {
		const since = this.sinceFor(resource, plan);
		const alternatives = this.endpoints(resource);
		for (let a = 0; a < alternatives.length; a++) {
			let delivered = 0;
			try {
				for (const path of alternatives[a]) {
					await this.pullPath(path, since, warnings, async (records) => {
						delivered += records.length;
						await handle(records);
					});
				}
				if (a > 0) warnings.push(`${resource}: ${alternatives[a - 1].map((p) => `/${p}`).join(', ')} not found on this server; read ${alternatives[a].map((p) => `/${p}`).join(', ')} instead`);
				return true;
			} catch (error) {
				if (!(error instanceof EndpointNotFoundError) || delivered > 0) throw error;
				if (a < alternatives.length - 1) continue;
				if (resource === 'demographics') {
					warnings.push(`demographics: the server has no /demographics endpoint (404); not pulled`);
					return false;
				}
				if (error.answeredJson) {
					warnings.push(`${resource}: ${safeUrl(error.url)} answered 404 with a JSON body; read as "no records"`);
					await handle([]);
					return true;
				}
				throw new ApiRequestError(error.message, 404, `Check the Base URL: ${safeUrl(this.root)}/${alternatives[0][0]} should be the OneRoster ${this.config.version} ${resource} endpoint.`);
			}
		}
		return true;
	}

	/** The delta pull's `since` for a resource (undefined: every record). */
	private sinceFor(resource: RestResource, plan: PullPlan): string | undefined {
		return plan.mode === 'delta' && !ALWAYS_FULL.includes(resource) ? plan.since : undefined;
	}

	/** The query of an endpoint's pages besides limit and offset. */
	private pathParams(since: string | undefined): Record<string, string | undefined> {
		return {
			filter: since ? `dateLastModified>'${since}'` : undefined,
			sort: this.options.sortBySourcedId && !this.sortRefused ? 'sourcedId' : undefined,
		};
	}

	/** Asks for the first page of `resource`'s first endpoint now (see askedAhead): pullCollection takes the answer when it asks for that URL. */
	private askAhead(resource: RestResource, plan: PullPlan): void {
		const url = pageUrl(`${this.root}/${this.endpoints(resource)[0][0]}`, this.pathParams(this.sinceFor(resource, plan)), 0, this.options.pageSize);
		if (this.askedAhead.has(url)) return;
		const signal = this.signal ? AbortSignal.any([this.signal, this.ahead.signal]) : this.ahead.signal;
		const answer = getWithRetry(this.client, url, { policy: this.options.retry, stats: this.stats, signal });
		this.askingAhead++;
		// A failure is seen when the answer is taken, as if asked for then; one never taken is dropped.
		const answered = () => void this.askingAhead--;
		answer.then(answered, answered);
		this.askedAhead.set(url, answer);
	}

	/** Drops (and aborts) the first pages asked for ahead and not taken (the next collection asked for another URL, or the pull failed). */
	private dropAskedAhead(): void {
		this.ahead.abort();
		this.ahead = new AbortController();
		this.askedAhead.clear();
	}

	/** Pulls one endpoint (a refused `sort` is dropped and the endpoint read again; a refused `filter` ends the delta pull). */
	private async pullPath(path: string, since: string | undefined, warnings: string[], onRecords: (records: JsonRecord[]) => Promise<void>): Promise<void> {
		const envelope = ENVELOPES[path.split('/').pop() ?? path] ?? [path];
		for (;;) {
			const params = this.pathParams(since);
			let received = 0;
			try {
				const result = await pullCollection({
					client: this.client,
					url: `${this.root}/${path}`,
					params,
					envelope,
					pageSize: this.options.pageSize,
					concurrency: this.options.concurrency,
					policy: this.options.retry,
					stats: this.stats,
					signal: this.signal,
					reserved: () => this.askingAhead,
					askedAlready: (url) => {
						const answer = this.askedAhead.get(url);
						this.askedAhead.delete(url);
						return answer;
					},
					onRecords: async (records) => {
						received += records.length;
						await onRecords(records);
					},
				});
				warnings.push(...result.warnings);
				return;
			} catch (error) {
				if (!(error instanceof BadRequestError) || received > 0) throw error;
				if (params.sort) {
					this.sortRefused = true;
					warnings.push(`${SORT_REFUSED} (${error.message})`);
					continue;
				}
				if (params.filter) throw new FilterUnsupportedError(error.message);
				throw error;
			}
		}
	}
}
