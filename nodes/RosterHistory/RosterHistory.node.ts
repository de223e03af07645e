import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerItem, executePerRun } from '../adapter/execute';
import { forOperation } from '../adapter/operations';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import type { AsOfKind } from '../shared/history/as-of';
import { rosterAsOf } from '../shared/history/as-of';
import { rollbackRun } from '../shared/history/rollback';

export class RosterHistory implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster History',
		name: 'rosterHistory',
		icon: { light: 'file:rosterHistory.svg', dark: 'file:rosterHistory.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-history',
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle:
			'={{ $parameter["operation"] === "rollback" ? ($parameter["dryRun"] ? "Preview rollback" : "Roll back a run") : "Roster as of " + ($parameter["date"] || "…") }}',
		description: 'Roll back a whole sync run, or answer who was in a class, grade or user list on a given date',
		defaults: { name: 'Roster History' },
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
						name: 'Roll Back a Run',
						value: 'rollback',
						action: 'Roll back a sync run',
						description: "Revert a whole applied run: people, parent contacts, lists and memberships, from the run's recorded changes",
					},
					{
						name: 'Roster As Of',
						value: 'asOf',
						action: 'Get who was in a class grade or list on a date',
						description: 'Who was in a class or grade (from run snapshots), or on a user list (from the change history), on a given date',
					},
				],
				default: 'rollback',
			},
			...forOperation(['rollback'], [
				{ ...runIdParameter, description: 'The run to roll back. By default the run of the incoming item.' },
				{
					displayName: 'Dry Run',
					name: 'dryRun',
					type: 'boolean',
					default: true,
					description:
						'Whether to only work out what the rollback would revert (recorded as a dry-run rollback for the report) and change nothing. Turn off to roll back.',
				},
				{
					displayName:
						'Changes are reverted only where the store still holds what the run wrote; anything changed since is kept and listed. The rollback is recorded as a run (Publish Report can report it).',
					name: 'rollbackNotice',
					type: 'notice',
					default: '',
				},
			]),
			...forOperation(['asOf'], [
				{
					displayName: 'Roster',
					name: 'kind',
					type: 'options',
					options: [
						{ name: 'Class', value: 'class', description: "A class's students and teachers, from the run snapshot of that date" },
						{ name: 'Grade', value: 'grade', description: 'The students of a grade, from the run snapshot of that date' },
						{ name: 'User List', value: 'list', description: "A user list's members and managers, from the change history" },
					],
					default: 'class',
				},
				{
					displayName: 'Class',
					name: 'classKey',
					type: 'string',
					default: '',
					required: true,
					placeholder: 'ALG1-01',
					description: "The class's OneRoster sourcedId, class code or exact title",
					displayOptions: { show: { kind: ['class'] } },
				},
				{
					displayName: 'Grade',
					name: 'grade',
					type: 'string',
					default: '',
					required: true,
					placeholder: '09',
					description: 'The grade (CEDS: KG, 01 … 12; 9 and 09 are the same)',
					displayOptions: { show: { kind: ['grade'] } },
				},
				{
					displayName: 'User List',
					name: 'listKey',
					type: 'string',
					default: '',
					required: true,
					placeholder: 'Algebra I (ALG1-01, Period 1)',
					description: "The list's ID or exact title",
					displayOptions: { show: { kind: ['list'] } },
				},
				{
					displayName: 'Date',
					name: 'date',
					type: 'dateTime',
					default: '',
					required: true,
					description: 'The day to answer for (its end, UTC), or a date and time',
				},
			]),
		],
	};

	methods = { credentialTest: { rosterStoreConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		if (this.getNodeParameter('operation', 0) === 'rollback') {
			return executePerRun(this, async (store, runId, itemIndex) => {
				const { run, counts } = await rollbackRun(store.db, runId, { dryRun: this.getNodeParameter('dryRun', itemIndex) as boolean });
				return { summary: await runHandle(store, run, { rollbackOf: runId, conflicts: counts.conflicts }) };
			});
		}
		return executePerItem(this, async (store, itemIndex) => {
			const kind = this.getNodeParameter('kind', itemIndex) as AsOfKind;
			const keyParameter = kind === 'class' ? 'classKey' : kind === 'grade' ? 'grade' : 'listKey';
			const answer = await rosterAsOf(store.db, kind, this.getNodeParameter(keyParameter, itemIndex) as string, this.getNodeParameter('date', itemIndex) as string);
			const { members, ...about } = answer;
			return {
				summary: { ...about, count: members.length } as unknown as IDataObject,
				more: members.map((member) => ({ ...member, asOf: answer.asOf, [kind]: answer.title }) as unknown as IDataObject),
			};
		});
	}
}
