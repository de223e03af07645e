/**
 * Operations of a node: its parameters shown only for some operations.
 */
import type { INodeProperties } from 'n8n-workflow';

/** `properties`, each shown only when the node's `operation` is one of `operations` (other display rules kept). */
export function forOperation(operations: string[], properties: INodeProperties[]): INodeProperties[] {
	return properties.map((property) => ({
		...property,
		displayOptions: {
			...property.displayOptions,
			show: { ...property.displayOptions?.show, operation: operations },
		},
	}));
}
