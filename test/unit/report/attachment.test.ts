/**
 * The report CSV as an email attachment: as it is while small, zipped (one entry, the same bytes)
 * when larger than the limit, never zipped with limit 0.
 */
import { fromBuffer, type Entry, type ZipFile } from 'yauzl';

import { DEFAULT_ZIP_OVER_BYTES, reportAttachment } from '../../../nodes/shared/report/attachment';

const RUN = '20261123T020000000Z-abc123';

/** A report-like CSV of `rows` rows, names outside Latin-1 included. */
const csvOf = (rows: number) =>
	Buffer.from(['action,role,name,sourcedId', ...Array.from({ length: rows }, (_, i) => `create,student,Zoë Łukasz ${i},stu-${i}`)].join('\n'), 'utf8');

async function unzip(data: Buffer): Promise<Array<{ name: string; data: Buffer }>> {
	const zip = await new Promise<ZipFile>((resolve, reject) => fromBuffer(data, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))));
	const entries: Array<{ name: string; data: Buffer }> = [];
	await new Promise<void>((resolve, reject) => {
		zip.on('entry', (entry: Entry) => {
			zip.openReadStream(entry, async (error, stream) => {
				if (error) return reject(error);
				const parts: Buffer[] = [];
				for await (const part of stream) parts.push(part as Buffer);
				entries.push({ name: entry.fileName, data: Buffer.concat(parts) });
				zip.readEntry();
			});
		});
		zip.on('end', () => resolve());
		zip.on('error', reject);
		zip.readEntry();
	});
	return entries;
}

test('a CSV up to the limit is attached as it is', async () => {
	const csv = csvOf(100);
	expect(await reportAttachment(RUN, csv, csv.length)).toEqual({ data: csv, fileName: `rostersync-${RUN}.csv`, mimeType: 'text/csv' });
	expect(DEFAULT_ZIP_OVER_BYTES).toBe(5_000_000);
	expect((await reportAttachment(RUN, csv)).mimeType).toBe('text/csv');
});

test('a CSV over the limit is attached zipped: one entry, the same bytes, much smaller', async () => {
	const csv = csvOf(20_000);
	const attachment = await reportAttachment(RUN, csv, 100_000);
	expect(attachment).toMatchObject({ fileName: `rostersync-${RUN}.zip`, mimeType: 'application/zip' });
	expect(attachment.data.length).toBeLessThan(csv.length / 4);
	const entries = await unzip(attachment.data);
	expect(entries.map((entry) => entry.name)).toEqual([`rostersync-${RUN}.csv`]);
	expect(entries[0].data.equals(csv)).toBe(true);
});

test('limit 0: never zipped', async () => {
	const csv = csvOf(20_000);
	expect((await reportAttachment(RUN, csv, 0)).data).toBe(csv);
});
