/**
 * The execute loop every RosterSync node shares: open the store once, do the node's work per
 * input item (CSV Ingest) or per run (every later node), pair output items with their inputs,
 * and honour "On Error: Continue".
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData, IPairedItemData } from 'n8n-workflow';

import type { RosterStore } from '../shared/store/store';
import { withStore } from '../shared/store/store';
import { errorItem, toNodeError } from './errors';
import { runIdOf } from './run-id';
import { storeConfigFor } from './store';

/** What a node's work returns: the run's summary item, optionally files on it, and more items after it. */
export interface NodeWorkResult {
	summary: IDataObject;
	/** Binary fields of the summary item (e.g. the report's CSV attachment). */
	files?: Record<string, { data: Buffer; fileName: string; mimeType: string }>;
	more?: IDataObject[];
}

async function toItems(
	context: IExecuteFunctions,
	result: NodeWorkResult,
	pairedItem: IPairedItemData[],
): Promise<INodeExecutionData[]> {
	const summary: INodeExecutionData = { json: result.summary, pairedItem };
	for (const [field, file] of Object.entries(result.files ?? {})) {
		summary.binary ??= {};
		summary.binary[field] = await context.helpers.prepareBinaryData(file.data, file.fileName, file.mimeType);
	}
	return [summary, ...(result.more ?? []).map((json) => ({ json, pairedItem }))];
}

/** One unit of work per input item (a source node starting a run per item). */
export async function executePerItem(
	context: IExecuteFunctions,
	work: (store: RosterStore, itemIndex: number) => Promise<NodeWorkResult>,
): Promise<INodeExecutionData[][]> {
	const storeConfig = await storeConfigFor(context);
	const output: INodeExecutionData[] = [];
	const count = context.getInputData().length;
	for (let itemIndex = 0; itemIndex < count; itemIndex++) {
		try {
			const result = await withStore(storeConfig, (store) => work(store, itemIndex));
			output.push(...(await toItems(context, result, [{ item: itemIndex }])));
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, itemIndex);
			output.push(errorItem(error, itemIndex));
		}
	}
	return [output];
}

/**
 * One unit of work per run: items that name the same run (a summary item and the change items
 * after it) are worked on once, and the output pairs with all of them.
 */
export async function executePerRun(
	context: IExecuteFunctions,
	work: (store: RosterStore, runId: string, itemIndex: number) => Promise<NodeWorkResult>,
): Promise<INodeExecutionData[][]> {
	const storeConfig = await storeConfigFor(context);
	const output: INodeExecutionData[] = [];
	const runs = new Map<string, number[]>();
	const count = context.getInputData().length;
	for (let itemIndex = 0; itemIndex < count; itemIndex++) {
		try {
			const runId = runIdOf(context, itemIndex);
			runs.set(runId, [...(runs.get(runId) ?? []), itemIndex]);
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, itemIndex);
			output.push(errorItem(error, itemIndex));
		}
	}
	for (const [runId, itemIndexes] of runs) {
		const first = itemIndexes[0];
		try {
			const result = await withStore(storeConfig, (store) => work(store, runId, first));
			output.push(...(await toItems(context, result, itemIndexes.map((item) => ({ item })))));
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, first);
			output.push(errorItem(error, first));
		}
	}
	return [output];
}
