import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { readBinaryFiles } from '../adapter/binary';
import { executePerItem } from '../adapter/execute';
import { progressReporter } from '../adapter/progress';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import { rosterSftpConnectionTest, sftpOptionsFromCredential } from '../adapter/sftp';
import { openBufferFileSet } from '../shared/sources/oneroster-csv/file-set';
import { openSftpFileSet } from '../shared/sources/oneroster-csv/sftp-file-set';
import { oneRosterCsvSource } from '../shared/sources/oneroster-csv/source';
import { stageRun } from '../shared/sources/stage-run';

export class RosterCsvIngest implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster CSV Ingest',
		name: 'rosterCsvIngest',
		icon: { light: 'file:rosterCsvIngest.svg', dark: 'file:rosterCsvIngest.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-csv-ingest',
		group: ['input'],
		version: 1,
		usableAsTool: true,
		subtitle: '={{ $parameter["source"] === "sftp" ? "from SFTP: " + $parameter["remotePath"] : "from binary: " + $parameter["binaryPropertyNames"] }}',
		description: 'Read a OneRoster 1.1/1.2 CSV export (zip or loose files) from SFTP or binary input, check every row, and stage it as a new sync run',
		defaults: { name: 'Roster CSV Ingest' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'rosterSftpApi',
				required: true,
				testedBy: 'rosterSftpConnectionTest',
				displayOptions: { show: { source: ['sftp'] } },
			},
			{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' },
		],
		properties: [
			{
				displayName: 'Source',
				name: 'source',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'SFTP',
						value: 'sftp',
						description: 'Fetch the export from the SFTP server the SIS drops it on',
					},
					{
						name: 'Binary Input',
						value: 'binary',
						description: 'Use files that an earlier node (e.g. Read Files From Disk, HTTP Request) put in the item',
					},
				],
				default: 'sftp',
			},
			{
				displayName: 'Remote Path',
				name: 'remotePath',
				type: 'string',
				default: '/oneroster',
				required: true,
				placeholder: '/exports/oneroster',
				description:
					'A folder holding the OneRoster CSV files (manifest.csv, users.csv, …), a .zip file, or a folder of .zip files (the newest is used)',
				hint: 'A path without a leading / starts in the SFTP user\'s login folder',
				displayOptions: { show: { source: ['sftp'] } },
			},
			{
				displayName: 'Input Binary Fields',
				name: 'binaryPropertyNames',
				type: 'string',
				default: 'data',
				required: true,
				placeholder: 'data, users, enrollments',
				description:
					'Names of the binary fields that hold the export: one zip, or one field per CSV file (comma-separated). Use * for every binary field of the item.',
				displayOptions: { show: { source: ['binary'] } },
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Max Row Problems Listed',
						name: 'maxRowProblems',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 10000,
						description: 'How many row-level problems to keep for the report (all are counted)',
					},
				],
			},
		],
	};

	methods = {
		credentialTest: { rosterStoreConnectionTest, rosterSftpConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerItem(this, async (store, itemIndex) => {
			const source = this.getNodeParameter('source', itemIndex) as string;
			const options = this.getNodeParameter('options', itemIndex, {}) as { maxRowProblems?: number };
			let rosterSource;
			if (source === 'sftp') {
				const connection = sftpOptionsFromCredential(await this.getCredentials('rosterSftpApi'));
				const remotePath = (this.getNodeParameter('remotePath', itemIndex) as string).trim();
				rosterSource = oneRosterCsvSource(
					`sftp://${connection.username}@${connection.host}:${connection.port}${remotePath}`,
					() => openSftpFileSet(connection, remotePath),
					options,
				);
			} else {
				const fieldList = this.getNodeParameter('binaryPropertyNames', itemIndex) as string;
				const files = await readBinaryFiles(this, itemIndex, fieldList);
				const names = files.map((file) => file.name).join(', ');
				rosterSource = oneRosterCsvSource(`binary input ${names}`, () => openBufferFileSet(files), options);
			}
			const { run, summary } = await stageRun(store.db, rosterSource, { onProgress: progressReporter(this) });
			const rows = summary.files.reduce((sum, file) => sum + file.rows, 0);
			const log = `run ${run.id}: staged ${rows.toLocaleString('en-US')} rows from ${summary.files.length} files (${summary.problemCount} rows skipped)`;
			return { summary: await runHandle(store, run), log };
		});
	}
}
