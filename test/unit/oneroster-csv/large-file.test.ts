/**
 * Files larger than one read chunk: multi-byte characters across chunk borders, row numbers
 * of errors deep in the file, and batches, read from a folder as in production.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { RosterInputError } from '../../../nodes/shared/model/errors';
import { openFolderFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { ingestOneRosterCsv, ROW_BATCH_SIZE } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import { PARSE_CHUNK_BYTES } from '../../../nodes/shared/sources/oneroster-csv/utf8';
import { MemoryStagingSink } from '../../support/memory-staging-sink';
import { minimalSet11 } from './helpers';

const USER_COUNT = 40_000;

function usersCsv(): Buffer {
	const lines = [minimalSet11()['users.csv'].split('\n')[0]];
	for (let i = 0; i < USER_COUNT; i++) {
		lines.push(`U${i},,,true,S1,student,user ${i},"{SIS:${i}},{LDAP:u${i}}",Zoë ${i},李小龍,Øyvind,${i},u${i}@example.org,,,,09,`);
	}
	return Buffer.from(lines.join('\r\n'));
}

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

function writeSet(users: Buffer): string {
	const folder = mkdtempSync(path.join(tmpdir(), 'rostersync-large-'));
	folders.push(folder);
	const files: Record<string, string | Buffer> = { ...minimalSet11(), 'users.csv': users };
	for (const [name, data] of Object.entries(files)) writeFileSync(path.join(folder, name), data);
	return folder;
}

async function ingestFolder(folder: string) {
	const set = await openFolderFileSet(folder);
	const sink = new MemoryStagingSink();
	try {
		return { summary: await ingestOneRosterCsv(set, sink), sink };
	} finally {
		await set.close();
	}
}

test('a users.csv of several read chunks stages every row intact', async () => {
	const users = usersCsv();
	expect(users.length).toBeGreaterThan(3 * PARSE_CHUNK_BYTES);
	const { summary, sink } = await ingestFolder(writeSet(users));
	expect(summary.files.find((file) => file.entity === 'users')).toMatchObject({ rows: USER_COUNT, skipped: 0 });
	expect(summary.problemCount).toBe(0);
	const staged = sink.records('users');
	expect(staged.every((user, i) => user.givenName === `Zoë ${i}` && user.familyName === '李小龍' && user.middleName === 'Øyvind')).toBe(true);
	expect(sink.record('users', `U${USER_COUNT - 1}`)?.userIds).toBe(`{SIS:${USER_COUNT - 1}},{LDAP:u${USER_COUNT - 1}}`);
	expect(ROW_BATCH_SIZE).toBe(1000);
	expect(sink.batchSizes.slice(1, 4)).toEqual([ROW_BATCH_SIZE, ROW_BATCH_SIZE, ROW_BATCH_SIZE]);
});

test('a broken byte deep in the file names its row', async () => {
	const users = usersCsv();
	const row = 30_000;
	let offset = 0;
	for (let line = 1; line < row; line++) offset = users.indexOf('\n', offset) + 1;
	const at = users.indexOf('Zoë', offset) + 2; // the first byte of "ë"
	users[at] = 0xeb; // Latin-1 "ë" followed by a byte that cannot continue it
	const error = await ingestFolder(writeSet(users)).catch((caught) => caught);
	expect(error).toBeInstanceOf(RosterInputError);
	expect(error.location).toEqual({ file: 'users.csv', row });
});
