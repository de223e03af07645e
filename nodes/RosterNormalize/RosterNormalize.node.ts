import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerRun } from '../adapter/execute';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import { normalizeRun } from '../shared/normalize/normalize';

export class RosterNormalize implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Normalize',
		name: 'rosterNormalize',
		icon: { light: 'file:../icons/rostersync.svg', dark: 'file:../icons/rostersync.dark.svg' },
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle: '={{ $parameter["schoolIds"] ? "schools " + $parameter["schoolIds"] : "all schools" }}',
		description:
			'Turn a staged roster into people (students, teachers, staff, admins), parent contacts, schools, terms, classes and enrollments',
		defaults: { name: 'Roster Normalize' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			runIdParameter,
			{
				displayName: 'School IDs',
				name: 'schoolIds',
				type: 'string',
				default: '',
				placeholder: '255901001, 255901002',
				description:
					'Only sync these schools, when several schools share one SIS: their OneRoster sourcedIds or school identifiers, comma-separated. Leave empty for every school in the export.',
			},
		],
	};

	methods = { credentialTest: { rosterStoreConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerRun(this, async (store, runId, itemIndex) => {
			const schoolIds = (this.getNodeParameter('schoolIds', itemIndex, '') as string)
				.split(',')
				.map((id) => id.trim())
				.filter(Boolean);
			const { run } = await normalizeRun(store.db, runId, { schoolIds });
			return { summary: await runHandle(store, run) };
		});
	}
}
