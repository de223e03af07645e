/**
 * The execute loop every RosterSync node shares: open the store once, do the node's work per
 * input item (CSV Ingest) or per run (every later node), pair output items with their inputs,
 * and honour "On Error: Continue".
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData, IPairedItemData } from 'n8n-workflow';

import type { RosterStore } from '../shared/store/store';
import { withStore } from '../shared/store/store';
import { errorItem, toNodeError } from './errors';
import { tellProgress } from './progress';
import { runIdOf } from './run-id';
import { storeConfigFor } from './store';

/** What a node's work returns: the run's summary item, optionally files on it, and more items after it. */
export interface NodeWorkResult {
	summary: IDataObject;
	/** Binary fields of the summary item (e.g. the report's CSV attachment). */
	files?: Record<string, { data: Buffer; fileName: string; mimeType: string }>;
	more?: IDataObject[];
	/** One line for n8n's log and the manual-run UI when the work is done (default: the run and its stage). */
	log?: string;
	/** Which output of a node with several (Reconcile Users: 0 Applied, 1 Held) the items go to; default 0. */
	output?: number;
}

/** Logs the end of one unit of work: "run …: reported (completed) in 0.4 s". */
function tellDone(context: IExecuteFunctions, result: NodeWorkResult, started: number): void {
	const { runId, stage, status } = result.summary;
	const what = result.log ?? (runId ? `run ${String(runId)}: ${String(stage ?? '')}${status && status !== 'running' ? ` (${String(status)})` : ''}` : 'done');
	tellProgress(context, `${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
			const started = Date.now();
			const result = await withStore(storeConfig, (store) => work(store, itemIndex));
			tellDone(context, result, started);
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
 * after it) are worked on once, and the output pairs with all of them. A node with several
 * outputs passes `outputCount`; each result says its output (errors go to the first).
 */
export async function executePerRun(
	context: IExecuteFunctions,
	work: (store: RosterStore, runId: string, itemIndex: number) => Promise<NodeWorkResult>,
	outputCount = 1,
): Promise<INodeExecutionData[][]> {
	const outputs: INodeExecutionData[][] = Array.from({ length: outputCount }, () => []);
	const storeConfig = await storeConfigFor(context);
	const errors = outputs[0];
	const runs = new Map<string, number[]>();
	const count = context.getInputData().length;
	for (let itemIndex = 0; itemIndex < count; itemIndex++) {
		try {
			const runId = runIdOf(context, itemIndex);
			runs.set(runId, [...(runs.get(runId) ?? []), itemIndex]);
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, itemIndex);
			errors.push(errorItem(error, itemIndex));
		}
	}
	for (const [runId, itemIndexes] of runs) {
		const first = itemIndexes[0];
		try {
			const started = Date.now();
			const result = await withStore(storeConfig, (store) => work(store, runId, first));
			tellDone(context, result, started);
			outputs[result.output ?? 0].push(...(await toItems(context, result, itemIndexes.map((item) => ({ item })))));
		} catch (error) {
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, first);
			errors.push(errorItem(error, first));
		}
	}
	return outputs;
}
