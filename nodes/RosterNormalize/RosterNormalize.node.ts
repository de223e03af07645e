import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { errorItem, toNodeError } from '../adapter/errors';
import { runIdParameter, runIdOf } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle, storeConfigFor } from '../adapter/store';
import { normalizeRun } from '../shared/normalize/normalize';
import { withStore } from '../shared/store/store';

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
		const items = this.getInputData();
		const storeConfig = await storeConfigFor(this);
		const output: INodeExecutionData[] = [];
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				const runId = runIdOf(this, itemIndex);
				const schoolIds = (this.getNodeParameter('schoolIds', itemIndex, '') as string)
					.split(',')
					.map((id) => id.trim())
					.filter(Boolean);
				const handle = await withStore(storeConfig, async (store) => {
					const { run } = await normalizeRun(store.db, runId, { schoolIds });
					return runHandle(store, run);
				});
				output.push({ json: handle, pairedItem: { item: itemIndex } });
			} catch (error) {
				if (this.continueOnFail()) {
					output.push(errorItem(error, itemIndex));
					continue;
				}
				throw toNodeError(this.getNode(), error, itemIndex);
			}
		}
		return [output];
	}
}
