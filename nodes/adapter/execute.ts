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

/** What a node's work returns: the run's summary item, and optionally more items after it. */
export interface NodeWorkResult {
	summary: IDataObject;
	more?: IDataObject[];
}

function toItems(result: NodeWorkResult, pairedItem: IPairedItemData[]): INodeExecutionData[] {
	return [result.summary, ...(result.more ?? [])].map((json) => ({ json, pairedItem }));
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
			output.push(...toItems(result, [{ item: itemIndex }]));
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
			output.push(...toItems(result, itemIndexes.map((item) => ({ item }))));
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, first);
			output.push(errorItem(error, first));
		}
	}
	return [output];
}
