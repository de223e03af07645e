/**
 * The file sets: folder, zip (path or buffer, set in a subfolder) and loose buffers.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';

import { RosterInputError } from '../../../nodes/shared/model/errors';
import {
	openBufferFileSet,
	openFolderFileSet,
	openZipFileSet,
} from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { PARSE_CHUNK_BYTES } from '../../../nodes/shared/sources/oneroster-csv/utf8';
import { SAMPLE_1_1, writeZip } from './helpers';

async function text(stream: NodeJS.ReadableStream): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream as Readable) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks).toString('utf8');
}

test('a folder lists its files and opens them', async () => {
	const set = await openFolderFileSet(SAMPLE_1_1);
	expect((await set.list()).sort()).toEqual([
		'academicSessions.csv',
		'classes.csv',
		'courses.csv',
		'demographics.csv',
		'enrollments.csv',
		'manifest.csv',
		'orgs.csv',
		'users.csv',
	]);
	expect(await text(await set.open('manifest.csv'))).toContain('oneroster.version,1.1');
	await expect(set.open('../secret.csv')).rejects.toThrow(RosterInputError);
	await set.close();
});

test('a missing folder is a RosterInputError', async () => {
	await expect(openFolderFileSet('/nonexistent/rostersync')).rejects.toThrow(/cannot read the folder/);
});

test('a zip takes the folder holding manifest.csv, ignoring __MACOSX and other folders', async () => {
	const zipPath = await writeZip({
		'export/2024-09-01/manifest.csv': 'propertyName,value\n',
		'export/2024-09-01/users.csv': 'sourcedId\n',
		'export/readme.txt': 'not part of the set',
		'__MACOSX/export/2024-09-01/._users.csv': 'junk',
		'export/2024-09-01/old/users.csv': 'older copy',
	});
	for (const set of [await openZipFileSet(zipPath), await openBufferFileSet([{ name: 'upload.zip', data: readFileSync(zipPath) }])]) {
		expect((await set.list()).sort()).toEqual(['manifest.csv', 'users.csv']);
		expect(set.description).toContain('folder export/2024-09-01');
		expect(await text(await set.open('users.csv'))).toBe('sourcedId\n');
		await set.close();
	}
});

test('a zip without manifest.csv takes the folder holding users.csv, else the top level', async () => {
	const byUsers = await openZipFileSet(await writeZip({ 'a/users.csv': 'x', 'b.csv': 'y' }));
	expect(await byUsers.list()).toEqual(['users.csv']);
	await byUsers.close();
	const top = await openZipFileSet(await writeZip({ 'orgs.csv': 'x', 'sub/other.csv': 'y' }));
	expect(await top.list()).toEqual(['orgs.csv']);
	await top.close();
});

test('bytes that are no zip are a RosterInputError', async () => {
	await expect(openZipFileSet(Buffer.from('PK\u0003\u0004 not really a zip'))).rejects.toThrow(/not a readable zip file/);
});

test('loose buffers: names lose their folders; a zip among other files is refused', async () => {
	const set = await openBufferFileSet([
		{ name: 'C:\\exports\\users.csv', data: Buffer.from('a') },
		{ name: 'orgs.csv', data: Buffer.from('b') },
	]);
	expect(await set.list()).toEqual(['users.csv', 'orgs.csv']);
	expect(await text(await set.open('orgs.csv'))).toBe('b');
	const zip = readFileSync(await writeZip({ 'users.csv': 'x' }));
	const mixed = openBufferFileSet([{ name: 'set.zip', data: zip }, { name: 'orgs.csv', data: Buffer.from('b') }]);
	await expect(mixed).rejects.toThrow('the binary input holds 1 zip file(s) and 1 other file(s); it must be one zip, or CSV files only');
	await expect(mixed).rejects.toHaveProperty('hint', 'Pass either one zip holding the whole OneRoster set, or the loose CSV files.');
	await expect(openBufferFileSet([{ name: 'users.csv', data: Buffer.from('a') }, { name: 'x/users.csv', data: Buffer.from('b') }])).rejects.toThrow(
		/two files named users.csv/,
	);
});

test('a loose buffer is read in chunks of at most PARSE_CHUNK_BYTES (256 KiB), like a file (the parser never gets a whole district file at once)', async () => {
	expect(PARSE_CHUNK_BYTES).toBe(256 * 1024);
	const data = Buffer.alloc(2.5 * PARSE_CHUNK_BYTES + 7);
	for (let i = 0; i < data.length; i++) data[i] = 97 + (i % 26);
	const set = await openBufferFileSet([{ name: 'enrollments.csv', data }]);
	const chunks: Buffer[] = [];
	for await (const chunk of (await set.open('enrollments.csv')) as Readable) chunks.push(chunk as Buffer);
	expect(chunks.map((chunk) => chunk.length)).toEqual([PARSE_CHUNK_BYTES, PARSE_CHUNK_BYTES, 0.5 * PARSE_CHUNK_BYTES + 7]);
	expect(Buffer.concat(chunks).equals(data)).toBe(true);
	// Opened again (the ingest re-reads a file it checks twice), it gives the same bytes.
	expect((await text(await set.open('enrollments.csv'))).length).toBe(data.length);
});
