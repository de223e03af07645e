/**
 * Content hashes of staged files: the same whether a file is hashed streaming and read again
 * (sets that are cheap to reopen) or held in memory between hashing and parsing (SFTP, zip).
 */
import { Readable } from 'node:stream';

import type { StagedEntity } from '../../../nodes/shared/model/roster';
import type { CsvFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { openBufferFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { ingestOneRosterCsv } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import type { StagedFile } from '../../../nodes/shared/model/roster';
import type { FileOutcome, ReusedFile } from '../../../nodes/shared/sources/staging';
import { MemoryStagingSink } from '../../support/memory-staging-sink';
import { minimalSet11 } from './helpers';

/** Keeps each file's outcome; reuses the files named in `reuse`. */
class HashingSink extends MemoryStagingSink {
	readonly outcomes = new Map<StagedEntity, FileOutcome>();
	constructor(private readonly reuse: Map<string, ReusedFile> = new Map()) {
		super();
	}
	async reuseFile(file: StagedFile & { contentHash: string }): Promise<ReusedFile | null> {
		return this.reuse.get(file.contentHash) ?? null;
	}
	async finishFile(entity: StagedEntity, outcome: FileOutcome): Promise<void> {
		this.outcomes.set(entity, outcome);
	}
}

/** `set` seen through a wrapper that counts opens and may fail the first read of one file. */
function watched(set: CsvFileSet, cheapToReopen: boolean, failFirstReadOf?: string) {
	const opens = new Map<string, number>();
	const wrapper: CsvFileSet = {
		description: set.description,
		list: () => set.list(),
		close: () => set.close(),
		cheapToReopen,
		open: async (name) => {
			const count = (opens.get(name) ?? 0) + 1;
			opens.set(name, count);
			if (name === failFirstReadOf && count === 1) {
				return new Readable({
					read() {
						this.destroy(new Error('connection reset'));
					},
				});
			}
			return set.open(name);
		},
	};
	return { set: wrapper, opens };
}

async function ingest(cheapToReopen: boolean, sink = new HashingSink(), failFirstReadOf?: string) {
	const files = Object.entries(minimalSet11()).map(([name, text]) => ({ name, data: Buffer.from(text) }));
	const { set, opens } = watched(await openBufferFileSet(files), cheapToReopen, failFirstReadOf);
	const summary = await ingestOneRosterCsv(set, sink);
	return { summary, sink, opens };
}

test('a file hashed streaming and read again has the hash of one held in memory', async () => {
	const streamed = await ingest(true);
	const held = await ingest(false);
	expect(streamed.sink.outcomes.size).toBe(3);
	expect(streamed.sink.outcomes).toEqual(held.sink.outcomes);
	expect(streamed.sink.rows).toEqual(held.sink.rows);
	expect(streamed.opens.get('users.csv')).toBe(2);
	expect(held.opens.get('users.csv')).toBe(1);
});

test('an unchanged file hashed streaming is reused, not parsed', async () => {
	const first = await ingest(true);
	const users = first.sink.outcomes.get('users') as FileOutcome;
	const reused: ReusedFile = { fromRunId: 'earlier', columns: [], rows: users.rows, warnings: [] };
	const again = await ingest(true, new HashingSink(new Map([[users.contentHash as string, reused]])));
	expect(again.summary.files.find((file) => file.entity === 'users')).toMatchObject({ rows: users.rows, reusedFrom: 'earlier' });
	expect(again.sink.rows.has('users')).toBe(false);
	expect(again.opens.get('users.csv')).toBe(1);
});

test('a read error while hashing leaves the file unhashed but staged from a second read', async () => {
	const { summary, sink } = await ingest(true, new HashingSink(), 'users.csv');
	expect(summary.files.find((file) => file.entity === 'users')?.rows).toBeGreaterThan(0);
	expect(sink.outcomes.get('users')?.contentHash).toBeNull();
	expect(sink.outcomes.has('orgs')).toBe(true);
});
