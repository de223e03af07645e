/**
 * Engine errors → n8n errors an operator can act on, and the continueOnFail item.
 */
import type { INode, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { credentialFieldsOf, joinNames } from './credential-test';

interface EngineError extends Error {
	hint?: string;
	runId?: string;
}

export function toNodeError(node: INode, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	const engineError = error as EngineError;
	const fields = credentialFieldsOf((error as { cause?: unknown }).cause ?? error);
	const description = [
		fields.length ? `Check ${joinNames(fields)} in the node's credential (and press Test there).` : undefined,
		engineError.hint,
		engineError.runId ? `Run ${engineError.runId} was recorded as failed; nothing in the people store changed.` : undefined,
	]
		.filter(Boolean)
		.join(' ');
	return new NodeOperationError(node, engineError.message ?? String(error), {
		itemIndex,
		description: description || undefined,
	});
}

/** The item a node outputs in place of a failed one when "On Error: Continue" is set. */
export function errorItem(error: unknown, itemIndex: number): INodeExecutionData {
	const engineError = error as EngineError;
	return {
		json: {
			error: engineError.message ?? String(error),
			...(engineError.hint ? { hint: engineError.hint } : {}),
			...(engineError.runId ? { runId: engineError.runId } : {}),
		},
		pairedItem: { item: itemIndex },
	};
}
