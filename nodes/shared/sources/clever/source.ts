/**
 * Clever API v3.0 / v3.1 as a roster source: `/districts`, `/schools`, `/terms`, `/courses`,
 * `/sections` and `/users?role=…`, paged with Clever's `starting_after` cursors (the `next` link),
 * mapped to OneRoster 1.1 records (map.ts) and staged like a OneRoster 1.1 pull.
 *
 * Clever has no delta query on these endpoints (its Events API is another product): every pull is
 * full. Pages of one list follow each other (a cursor needs the page before).
 */
import { RosterInputError } from '../../model/errors';
import type { ProgressCallback } from '../../model/progress';
import { reportProgress } from '../../model/progress';
import type { StagedEntity } from '../../model/roster';
import type { RosterSource } from '../stage-run';
import type { StagingSink, StagingSummary } from '../staging';
import { ProblemList } from '../staging';
import type { ApiClient } from '../oneroster-rest/auth/api-auth';
import { fileNameOf, rowFlattener, stagedColumns } from '../oneroster-rest/flatten';
import { bodyText, jsonBody, safeUrl, throwIfAborted, withQuery } from '../oneroster-rest/http';
import type { JsonRecord, PageStats } from '../oneroster-rest/paging';
import { failureHint, isJsonRecord } from '../oneroster-rest/paging';
import type { RequestStats } from '../oneroster-rest/requests';
import { ApiRequestError, getWithRetry, newRequestStats } from '../oneroster-rest/requests';
import type { FetchSummary, PullOptions, RestResource } from '../oneroster-rest/source';
import { checkResources, DEFAULT_PULL_OPTIONS } from '../oneroster-rest/source';
import { StagedFileWriter } from '../oneroster-rest/staged-writer';
import type { CleverRole } from './map';
import {
	CLEVER_ROLES,
	courseToCourse,
	districtToOrg,
	schoolToOrg,
	sectionEnrollments,
	sectionToClass,
	studentDemographics,
	termToSession,
	userSchools,
	userToUser,
} from './map';

export type CleverApiVersion = 'v3.0' | 'v3.1';

export interface CleverApiConfig {
	/** https://api.clever.com (the version path is added). */
	baseUrl: string;
	apiVersion: CleverApiVersion;
	resources: RestResource[];
	/** Clever school ids, SIS ids or school numbers; empty = every school the district shares. */
	schoolIds: string[];
}

export const CLEVER_MAX_PAGE_SIZE = 10_000;

export function describeCleverSource(config: CleverApiConfig): string {
	const parts = [`Clever API ${config.apiVersion}`, safeUrl(config.baseUrl.trim()).replace(/\/+$/, '')];
	if (config.schoolIds.length > 0) parts.push(`schools ${config.schoolIds.join(',')}`);
	return parts.join(', ');
}

export function cleverApiSource(
	client: ApiClient,
	config: CleverApiConfig,
	options: Partial<PullOptions> = {},
	signal?: AbortSignal,
): RosterSource & { readonly fetchSummary: FetchSummary | undefined } {
	checkResources(config.resources);
	const settings = { ...DEFAULT_PULL_OPTIONS, ...options };
	let fetchSummary: FetchSummary | undefined;
	return {
		description: describeCleverSource(config),
		get fetchSummary() {
			return fetchSummary;
		},
		async stage(sink, progress) {
			const started = Date.now();
			const pull = new CleverPull(client, config, settings, signal, progress?.onProgress);
			const summary = await pull.run(sink);
			fetchSummary = pull.summary(Date.now() - started, summary);
			summary.details = fetchSummary as unknown as Record<string, unknown>;
			return summary;
		},
	};
}

class CleverPull {
	private stats: RequestStats & PageStats = { ...newRequestStats(), pages: 0, overfetchedPages: 0 };
	private records: Record<string, number> = {};
	private schools: Set<string> | undefined;
	private readonly root: string;
	private readonly problems: ProblemList;

	constructor(
		private readonly client: ApiClient,
		private readonly config: CleverApiConfig,
		private readonly options: PullOptions,
		private readonly signal?: AbortSignal,
		private readonly onProgress?: ProgressCallback,
	) {
		this.root = `${config.baseUrl.trim().replace(/\/+$/, '').replace(/\/v3\.[01]$/, '')}/${config.apiVersion}`;
		this.problems = new ProblemList(options.maxRowProblems);
	}

	summary(durationMs: number, staged: StagingSummary): FetchSummary {
		return {
			sis: 'Clever',
			api: `Clever ${this.config.apiVersion}`,
			pull: 'full',
			reason: 'Clever pulls are always full',
			...(this.schools ? { schools: [...this.schools] } : {}),
			records: this.records,
			rows: Object.fromEntries(staged.files.map((file) => [file.entity, file.rows])),
			requests: this.stats.requests,
			pages: this.stats.pages,
			overfetchedPages: 0,
			retries: this.stats.retries,
			rateLimited: this.stats.rateLimited,
			serverErrors: this.stats.serverErrors,
			networkErrors: this.stats.networkErrors,
			waitedMs: this.stats.waitedMs,
			tokenRequests: 0,
			tokenRefreshesOn401: 0,
			deletedSkipped: 0,
			durationMs,
		};
	}

	private want(resource: RestResource): boolean {
		return this.config.resources.includes(resource);
	}

	private async writer(sink: StagingSink, entity: StagedEntity): Promise<StagedFileWriter> {
		return StagedFileWriter.begin(sink, { entity, fileName: fileNameOf(entity), version: '1.1', mode: 'bulk', columns: stagedColumns(entity, '1.1') }, this.problems);
	}

	private async stageAll(writer: StagedFileWriter, records: Array<JsonRecord | undefined>): Promise<void> {
		const flatten = rowFlattener(writer.entity, writer.columns);
		const cleared = ['status', 'dateLastModified'].map((name) => writer.columns.indexOf(name));
		for (const record of records) {
			if (!record) continue;
			const cells = flatten(record);
			for (const index of cleared) cells[index] = '';
			writer.add(cells);
			await writer.flushIfFull();
		}
	}

	async run(sink: StagingSink): Promise<StagingSummary> {
		const warnings: string[] = [];
		const files: StagingSummary['files'] = [];

		// Orgs: the district(s), then the schools (needed for School ID scoping in any case).
		const districts = await this.list('districts');
		const schools = await this.list('schools');
		this.schools = this.resolveSchools(schools);
		if (this.want('orgs')) {
			const orgs = await this.writer(sink, 'orgs');
			await this.stageAll(orgs, [...districts.map(districtToOrg), ...schools.map(schoolToOrg)]);
			files.push(await orgs.finish(warnings));
		}
		if (this.want('academicSessions')) {
			const terms = await this.writer(sink, 'academicSessions');
			await this.each('terms', {}, (records) => this.stageAll(terms, records.map(termToSession)));
			files.push(await terms.finish(warnings));
		}
		if (this.want('courses')) {
			const courses = await this.writer(sink, 'courses');
			await this.each('courses', {}, (records) => this.stageAll(courses, records.map(courseToCourse)));
			files.push(await courses.finish(warnings));
		}
		let enrollments: StagedFileWriter | undefined;
		if (this.want('classes') || this.want('enrollments')) {
			const classes = this.want('classes') ? await this.writer(sink, 'classes') : undefined;
			enrollments = this.want('enrollments') ? await this.writer(sink, 'enrollments') : undefined;
			await this.each('sections', {}, async (records) => {
				const inScope = records.filter((section) => !this.schools || this.schools.has(String(section.school)));
				if (classes) await this.stageAll(classes, inScope.map(sectionToClass));
				if (enrollments) await this.stageAll(enrollments, inScope.flatMap(sectionEnrollments));
			});
			if (classes) files.push(await classes.finish(warnings));
		}
		const users = await this.writer(sink, 'users');
		const demographics = this.want('demographics') ? await this.writer(sink, 'demographics') : undefined;
		for (const role of CLEVER_ROLES) {
			await this.each('users', { role }, async (records) => {
				for (const user of records) {
					if (users.has(String(user.id))) continue; // a person with two roles: the first role pulled
					if (!this.userInScope(user, role)) continue;
					await this.stageAll(users, [userToUser(user, role)]);
					if (demographics && role === 'student') await this.stageAll(demographics, [studentDemographics(user)]);
				}
			}, `users?role=${role}`);
		}
		files.push(await users.finish(warnings));
		if (demographics) files.push(await demographics.finish(warnings));
		if (enrollments) files.push(await enrollments.finish(warnings));
		this.problems.noteUnlisted(warnings);
		return { version: '1.1', files, problemCount: this.problems.count, warnings };
	}

	/** School IDs → Clever school ids (by id, SIS id or school number); undefined = all schools. */
	private resolveSchools(schools: JsonRecord[]): Set<string> | undefined {
		if (this.config.schoolIds.length === 0) return undefined;
		const ids = new Set<string>();
		for (const wanted of this.config.schoolIds) {
			const match = schools.find((school) => [school.id, school.sis_id, school.school_number].map(String).includes(wanted));
			if (!match) {
				const known = schools.map((s) => `${String(s.id)} (${String(s.school_number ?? s.sis_id ?? '')}) ${String(s.name ?? '')}`).join('; ');
				throw new RosterInputError(
					`School ID "${wanted}" is not a school this Clever district shares (schools: ${known || 'none'})`,
					{ field: 'School ID' },
					'Fix the School ID, or share the school with the application in Clever.',
				);
			}
			ids.add(String(match.id));
		}
		return ids;
	}

	private userInScope(user: JsonRecord, role: CleverRole): boolean {
		if (!this.schools || role === 'district_admin' || role === 'contact') return true;
		return userSchools(user, role).some((school) => this.schools!.has(school));
	}

	private async list(resource: string): Promise<JsonRecord[]> {
		const all: JsonRecord[] = [];
		await this.each(resource, {}, async (records) => {
			all.push(...records);
		});
		return all;
	}

	/** Every record of a Clever list, page by page (the `next` link), unwrapped from `{ data, uri }`. */
	private async each(
		resource: string,
		params: Record<string, string>,
		onRecords: (records: JsonRecord[]) => Promise<void>,
		label = resource,
	): Promise<void> {
		const pageSize = Math.min(this.options.pageSize, CLEVER_MAX_PAGE_SIZE);
		let url: string | undefined = withQuery(`${this.root}/${resource}`, { ...params, limit: pageSize });
		while (url) {
			throwIfAborted(this.signal);
			const response = await getWithRetry(this.client, url, { policy: this.options.retry, stats: this.stats, signal: this.signal });
			this.stats.pages++;
			if (response.status < 200 || response.status > 299) {
				throw new ApiRequestError(
					`GET ${safeUrl(url)} answered HTTP ${response.status}${bodyText(response, 160) ? ` (${bodyText(response, 160)})` : ''}`,
					response.status,
					response.status === 401 ? 'Clever did not accept the district token: copy it again from the Clever dashboard.' : failureHint(response.status),
				);
			}
			const body = jsonBody(response) as { data?: Array<{ data?: JsonRecord }>; links?: Array<{ rel?: string; uri?: string }> } | undefined;
			if (!body || !Array.isArray(body.data)) {
				throw new ApiRequestError(`GET ${safeUrl(url)} answered without a "data" list (${bodyText(response, 160)})`, response.status, 'Check the Clever API URL (https://api.clever.com).');
			}
			const records = body.data.map((item) => (item && typeof item === 'object' && 'data' in item ? item.data : (item as unknown)));
			const unreadable = records.findIndex((record) => !isJsonRecord(record));
			if (unreadable >= 0) {
				// Left out, the record's person would look gone from the SIS: the pull stops instead.
				throw new ApiRequestError(
					`GET ${safeUrl(url)} answered a "data" list whose item ${unreadable + 1} of ${records.length} is not a record (${records[unreadable] === null ? 'null' : typeof records[unreadable]})`,
					response.status,
					'Run the sync again; if this page stays broken, ask Clever support about the record.',
				);
			}
			this.records[label] = (this.records[label] ?? 0) + records.length;
			if (records.length > 0) await onRecords(records as JsonRecord[]);
			const next = (body.links ?? []).find((link) => link.rel === 'next')?.uri;
			url = next && records.length > 0 ? new URL(next, this.root).toString() : undefined;
			reportProgress(this.onProgress, { stage: 'fetch', done: this.records[label], unit: 'records', file: label, finished: url === undefined });
		}
	}
}
