/**
 * Files of an item's binary fields, for CSV Ingest's "Binary Input" source.
 */
import type { IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

export async function readBinaryFiles(
	context: IExecuteFunctions,
	itemIndex: number,
	fieldList: string,
): Promise<Array<{ name: string; data: Buffer }>> {
	const binary = context.getInputData()[itemIndex].binary ?? {};
	const fields =
		fieldList.trim() === '*'
			? Object.keys(binary)
			: fieldList.split(',').map((field) => field.trim()).filter(Boolean);
	if (fields.length === 0) {
		throw new NodeOperationError(context.getNode(), 'The item has no binary fields to read the roster from', {
			itemIndex,
			description: 'Put the export in the item first (e.g. with Read Files From Disk), or set Input Binary Fields.',
		});
	}
	const files: Array<{ name: string; data: Buffer }> = [];
	for (const field of fields) {
		const meta = context.helpers.assertBinaryData(itemIndex, field);
		const data = await context.helpers.getBinaryDataBuffer(itemIndex, field);
		files.push({ name: meta.fileName ?? `${field}.csv`, data });
	}
	return files;
}
