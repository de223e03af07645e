/**
 * The "Run ID" parameter every downstream node has: by default the runId of the incoming handle.
 */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

export const runIdParameter: INodeProperties = {
	displayName: 'Run ID',
	name: 'runId',
	type: 'string',
	default: '={{ $json.runId }}',
	required: true,
	description: 'The run to work on. By default the run of the incoming item (from the node before).',
};

export function runIdOf(context: IExecuteFunctions, itemIndex: number): string {
	const runId = String(context.getNodeParameter('runId', itemIndex, '') ?? '').trim();
	if (!runId) {
		throw new NodeOperationError(context.getNode(), 'No run to work on: the incoming item has no runId', {
			itemIndex,
			description: 'Connect this node after CSV Ingest or OneRoster Fetch, or type a Run ID.',
		});
	}
	return runId;
}
