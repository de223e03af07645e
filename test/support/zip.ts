/**
 * Zip exports for tests, written with yazl (the writing sibling of yauzl, which the ingest reads with).
 */
import { ZipFile } from 'yazl';

export interface ZipEntryInput {
	/** Path inside the zip, with `/` separators; a trailing `/` makes a folder entry. */
	name: string;
	data?: string | Buffer;
}

/** Builds a zip archive in memory. `entries` maps paths to contents, or is a list of entries. */
export async function buildZip(
	entries: Record<string, string | Buffer> | ZipEntryInput[],
	options: { store?: boolean } = {},
): Promise<Buffer> {
	const list: ZipEntryInput[] = Array.isArray(entries)
		? entries
		: Object.entries(entries).map(([name, data]) => ({ name, data }));
	const zip = new ZipFile();
	for (const entry of list) {
		if (entry.name.endsWith('/')) zip.addEmptyDirectory(entry.name);
		else zip.addBuffer(Buffer.from(entry.data ?? ''), entry.name, { compress: !options.store });
	}
	zip.end();
	const chunks: Buffer[] = [];
	for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks);
}
