/**
 * The report's CSV as an email attachment: as it is, or zipped when it is larger than mail servers
 * take (many refuse 10–25 MB; a first night at 100,000 students is ~27 MB of CSV).
 */
import { ZipFile } from 'yazl';

export interface ReportAttachment {
	data: Buffer;
	fileName: string;
	mimeType: string;
}

/** The CSV is zipped when larger than this by default: 5 MB, under the smallest common mail limits (10 MB) once base64 adds a third. */
export const DEFAULT_ZIP_OVER_MB = 5;
export const DEFAULT_ZIP_OVER_BYTES = DEFAULT_ZIP_OVER_MB * 1_000_000;

/** The run's CSV as an attachment: `rostersync-<run>.csv`, or `rostersync-<run>.zip` holding it when larger than `zipOverBytes` (0: never zipped). */
export async function reportAttachment(runId: string, csv: Buffer, zipOverBytes = DEFAULT_ZIP_OVER_BYTES): Promise<ReportAttachment> {
	const csvName = `rostersync-${runId}.csv`;
	if (zipOverBytes <= 0 || csv.length <= zipOverBytes) return { data: csv, fileName: csvName, mimeType: 'text/csv' };
	const zip = new ZipFile();
	zip.addBuffer(csv, csvName);
	zip.end();
	const parts: Buffer[] = [];
	for await (const part of zip.outputStream) parts.push(part as Buffer);
	return { data: Buffer.concat(parts), fileName: `rostersync-${runId}.zip`, mimeType: 'application/zip' };
}
