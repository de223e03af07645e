import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerItem, executePerRun } from '../adapter/execute';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest } from '../adapter/store';
import { DEFAULT_ZIP_OVER_MB, reportAttachment } from '../shared/report/attachment';
import { buildReport, listHistory, publishRun } from '../shared/report/report';

export class RosterPublishReport implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Publish Report',
		name: 'rosterPublishReport',
		icon: { light: 'file:rosterPublishReport.svg', dark: 'file:rosterPublishReport.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-publish-report',
		group: ['output'],
		version: 1,
		usableAsTool: true,
		subtitle: '={{ $parameter["operation"] === "history" ? "History · last " + $parameter["limit"] + " runs" : "Results report" }}',
		description:
			"Publish a run's results report (email-ready subject, text and HTML, with a CSV of every change and problem), or the history of past runs",
		defaults: { name: 'Roster Publish Report' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Results Report',
						value: 'report',
						action: 'Publish the results report of a run',
						description: "The run's summary for an email, and a CSV of its changes and problems; records the run in the history",
					},
					{
						name: 'History',
						value: 'history',
						action: 'List the last sync runs',
						description: 'The OneRoster History report: the last runs with their status and counts',
					},
				],
				default: 'report',
			},
			{ ...runIdParameter, displayOptions: { show: { operation: ['report'] } } },
			{
				displayName: 'Attach CSV',
				name: 'attachCsv',
				type: 'boolean',
				default: true,
				description: 'Whether to add a CSV of every change and problem as a binary field, for the email attachment',
				displayOptions: { show: { operation: ['report'] } },
			},
			{
				displayName: 'Put CSV in Field',
				name: 'binaryPropertyName',
				type: 'string',
				default: 'attachment',
				description: 'Name of the binary field for the CSV (the Send Email node attaches it by this name)',
				displayOptions: { show: { operation: ['report'], attachCsv: [true] } },
			},
			{
				displayName: 'Zip CSV Over (MB)',
				name: 'zipOverMb',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: DEFAULT_ZIP_OVER_MB,
				description:
					'Attach the CSV zipped when it is larger than this, so that mail servers take it (a first night at 100,000 students is ~27 MB of CSV, ~3 MB zipped); 0 = never zipped',
				displayOptions: { show: { operation: ['report'], attachCsv: [true] } },
			},
			{
				displayName: 'Limit',
				name: 'limit',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 50,
				description: 'Max number of results to return',
				displayOptions: { show: { operation: ['history'] } },
			},
		],
	};

	methods = { credentialTest: { rosterStoreConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		if (this.getNodeParameter('operation', 0) === 'history') {
			return executePerItem(this, async (store, itemIndex) => {
				const runs = await listHistory(store.db, this.getNodeParameter('limit', itemIndex) as number);
				const [first, ...rest] = runs.map((run) => run as unknown as IDataObject);
				return { summary: first ?? { runs: 0 }, more: rest };
			});
		}
		return executePerRun(this, async (store, runId, itemIndex) => {
			await publishRun(store.db, runId);
			const report = await buildReport(store.db, runId);
			const summary = { subject: report.subject, text: report.text, html: report.html, ...report.summary };
			if (!(this.getNodeParameter('attachCsv', itemIndex) as boolean)) return { summary };
			const field = this.getNodeParameter('binaryPropertyName', itemIndex) as string;
			const zipOverMb = this.getNodeParameter('zipOverMb', itemIndex, DEFAULT_ZIP_OVER_MB) as number;
			return { summary, files: { [field]: await reportAttachment(runId, report.csv, zipOverMb * 1_000_000) } };
		});
	}
}
