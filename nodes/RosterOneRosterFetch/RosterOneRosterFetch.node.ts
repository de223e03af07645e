import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerItem } from '../adapter/execute';
import { n8nTransport } from '../adapter/http-transport';
import { progressReporter } from '../adapter/progress';
import type { SisKind } from '../adapter/sis';
import { SIS_CREDENTIALS, sisApiSettings, splitIds } from '../adapter/sis';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import { cleverApiSource } from '../shared/sources/clever/source';
import { apiClient } from '../shared/sources/oneroster-rest/auth/api-auth';
import { planPull } from '../shared/sources/oneroster-rest/delta';
import { DEFAULT_RETRY } from '../shared/sources/oneroster-rest/requests';
import type { PullOptions, RestResource } from '../shared/sources/oneroster-rest/source';
import { describeOneRosterSource, oneRosterApiSource } from '../shared/sources/oneroster-rest/source';
import { stageRun } from '../shared/sources/stage-run';

interface FetchOptions {
	schoolIds?: string;
	pageSize?: number;
	concurrency?: number;
	sortBySourcedId?: boolean;
	maxRetries?: number;
	timeoutSeconds?: number;
	maxRowProblems?: number;
}

export class RosterOneRosterFetch implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster OneRoster Fetch',
		name: 'rosterOneRosterFetch',
		icon: { light: 'file:rosterOneRosterFetch.svg', dark: 'file:rosterOneRosterFetch.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#sis-apis-roster-oneroster-fetch',
		group: ['input'],
		version: 1,
		usableAsTool: true,
		subtitle: '={{ "from " + $parameter["sis"] + ($parameter["pull"] === "delta" ? " (changes)" : "") }}',
		description:
			'Pull a roster from the SIS API (OneRoster 1.1/1.2: Infinite Campus, Skyward, Aeries, PowerSchool, ClassLink, any OneRoster server; or Clever) and stage it as a new sync run',
		defaults: { name: 'Roster OneRoster Fetch' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'rosterInfiniteCampusApi', required: true, displayOptions: { show: { sis: ['infiniteCampus'] } } },
			{ name: 'rosterSkywardApi', required: true, displayOptions: { show: { sis: ['skyward'] } } },
			{ name: 'rosterAeriesApi', required: true, displayOptions: { show: { sis: ['aeries'] } } },
			{ name: 'rosterPowerSchoolApi', required: true, displayOptions: { show: { sis: ['powerSchool'] } } },
			{ name: 'rosterClassLinkApi', required: true, displayOptions: { show: { sis: ['classLink'] } } },
			{ name: 'rosterCleverApi', required: true, displayOptions: { show: { sis: ['clever'] } } },
			{ name: 'rosterOneRosterApi', required: true, displayOptions: { show: { sis: ['oneRoster'] } } },
			{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' },
		],
		properties: [
			{
				displayName: 'SIS',
				name: 'sis',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Aeries', value: 'aeries', description: 'OneRoster 1.1, OAuth 2 with scopes (Consumer ID and Secret Key)' },
					{ name: 'ClassLink Roster Server', value: 'classLink', description: 'OneRoster 1.1/1.2, OAuth 1.0a signed requests' },
					{ name: 'Clever', value: 'clever', description: 'Clever API v3.0/v3.1 with a district token' },
					{ name: 'Infinite Campus', value: 'infiniteCampus', description: 'OneRoster 1.1/1.2, OAuth 2 (base URL and token URL)' },
					{ name: 'OneRoster (Other SIS)', value: 'oneRoster', description: 'Any OneRoster 1.1/1.2 REST API, OAuth 2 or OAuth 1.0a' },
					{ name: 'PowerSchool', value: 'powerSchool', description: 'OneRoster 1.1 plugin: API endpoint, client ID and secret' },
					{ name: 'Skyward', value: 'skyward', description: 'OneRoster 1.1: API key, secret and OneRoster API URL' },
				],
				default: 'oneRoster',
				description: 'Which SIS to pull from; each has its own credential type',
			},
			{
				displayName: 'Resources',
				name: 'resources',
				type: 'multiOptions',
				options: [
					{ name: 'Academic Sessions (Terms)', value: 'academicSessions' },
					{ name: 'Classes (Sections)', value: 'classes' },
					{ name: 'Courses', value: 'courses' },
					{ name: 'Demographics', value: 'demographics' },
					{ name: 'Enrollments', value: 'enrollments' },
					{ name: 'Orgs (Schools)', value: 'orgs' },
					{ name: 'Users', value: 'users' },
				],
				default: ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments'],
				description:
					'What to pull. Users (and Orgs with them) are always needed; OneRoster 1.2 roles come with Users. Demographics are off unless you need them.',
			},
			{
				displayName: 'Pull',
				name: 'pull',
				type: 'options',
				options: [
					{ name: 'Everything', value: 'full', description: 'Every record, every run' },
					{
						name: 'Changes Since the Last Run',
						value: 'delta',
						description: "Only records changed since the last successful run (filter=dateLastModified>'…'), with a full pull every few days",
					},
				],
				default: 'full',
				description: 'Clever pulls are always full (its API has no change filter)',
			},
			{
				displayName: 'Full Pull Every (Days)',
				name: 'fullEveryDays',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 7,
				description:
					'Pull everything when the last full pull is this many days old, to catch records removed without a "tobedeleted" status (0: always full)',
				displayOptions: { show: { pull: ['delta'] } },
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Concurrency',
						name: 'concurrency',
						type: 'number',
						typeOptions: { minValue: 1, maxValue: 16 },
						default: 4,
						description: 'How many pages of one list are fetched at the same time (lower it if the SIS rate-limits)',
					},
					{
						displayName: 'Max Retries',
						name: 'maxRetries',
						type: 'number',
						typeOptions: { minValue: 0 },
						default: 5,
						description: 'How often a request that got 429, a 5xx or no answer is tried again (with backoff, honouring Retry-After)',
					},
					{
						displayName: 'Max Row Problems Listed',
						name: 'maxRowProblems',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 10000,
						description: 'How many row-level problems to keep for the report (all are counted)',
					},
					{
						displayName: 'Page Size',
						name: 'pageSize',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 1000,
						description: 'Records asked for per page (limit). A SIS that returns fewer per page is noticed and followed.',
					},
					{
						displayName: 'Request Timeout (Seconds)',
						name: 'timeoutSeconds',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 120,
						description: 'How long to wait for one answer of the SIS before the request counts as failed (and is retried)',
					},
					{
						displayName: 'School IDs',
						name: 'schoolIds',
						type: 'string',
						default: '',
						placeholder: '255901001, 255901002',
						description: "Pull only these schools (sourcedIds or school numbers, comma-separated), instead of the credential's School ID",
					},
					{
						displayName: 'Sort by sourcedId',
						name: 'sortBySourcedId',
						type: 'boolean',
						default: true,
						description: 'Whether to ask for sort=sourcedId, so pages stay stable while the SIS changes (dropped if the SIS refuses it)',
					},
				],
			},
		],
	};

	methods = {
		credentialTest: { rosterStoreConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerItem(this, async (store, itemIndex) => {
			const sis = this.getNodeParameter('sis', itemIndex) as SisKind;
			const resources = this.getNodeParameter('resources', itemIndex, []) as RestResource[];
			const pull = this.getNodeParameter('pull', itemIndex, 'full') as 'full' | 'delta';
			const options = this.getNodeParameter('options', itemIndex, {}) as FetchOptions;
			const credentialType = SIS_CREDENTIALS[sis].credential;
			const credentialData = await this.getCredentials(credentialType, itemIndex);
			const settings = sisApiSettings(sis, credentialData);
			const schoolIds = options.schoolIds?.trim() ? splitIds(options.schoolIds) : settings.schoolIds;
			const pullOptions: Partial<PullOptions> = {
				pageSize: options.pageSize ?? 1000,
				concurrency: options.concurrency ?? 4,
				sortBySourcedId: options.sortBySourcedId ?? true,
				retry: { ...DEFAULT_RETRY, maxRetries: options.maxRetries ?? DEFAULT_RETRY.maxRetries },
				maxRowProblems: options.maxRowProblems ?? 10000,
			};
			// The credential authenticates each request (n8n's httpRequestWithAuthentication); stop ends the pull.
			const client = apiClient(n8nTransport(this, credentialType, credentialData, (options.timeoutSeconds ?? 120) * 1000), { kind: 'transport' });
			const signal = this.getExecutionCancelSignal();

			let source;
			if (settings.kind === 'clever') {
				source = cleverApiSource(client, { baseUrl: settings.baseUrl, apiVersion: settings.apiVersion, resources, schoolIds }, pullOptions, signal);
			} else {
				const config = { sisName: settings.sisName, baseUrl: settings.baseUrl, version: settings.version, resources, schoolIds, tenantId: settings.tenantId };
				const fullEveryDays = this.getNodeParameter('fullEveryDays', itemIndex, 7) as number;
				const plan = await planPull(store.db, describeOneRosterSource(config), { enabled: pull === 'delta', fullEveryDays });
				source = oneRosterApiSource(client, config, plan, pullOptions, signal);
			}
			const { run } = await stageRun(store.db, source, { onProgress: progressReporter(this) });
			const fetch = source.fetchSummary;
			const log = fetch
				? `run ${run.id}: ${fetch.pull} pull from ${fetch.sis}, ${fetch.requests} requests, ${fetch.pages} pages, ${fetch.retries} retries`
				: undefined;
			return { summary: await runHandle(store, run, { fetch: { ...(fetch ?? {}) } }), log };
		});
	}
}
