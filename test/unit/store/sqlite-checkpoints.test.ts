/**
 * The SQLite store's WAL checkpoints on a thread of their own (store/sqlite-checkpoints.ts): the
 * connection that writes never copies its WAL into the store file itself; a big commit starts a thread
 * that does, a small one does not; once the store is closed the thread leaves it whole, with no WAL; a WAL another
 * connection left is handed to a thread at close; a thread that cannot work says so (SqliteDb then sets the
 * connection to checkpoint itself again, as SQLite does by default).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { BackgroundCheckpoints, CHECKPOINT_EVERY_MS, walBytes } from '../../../nodes/shared/store/sqlite-checkpoints';
import { CHECKPOINT_THREAD_AFTER_BYTES, SqliteDb } from '../../../nodes/shared/store/sqlite';

let dir: string;
beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'rostersync-checkpoints-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const storeBytes = (path: string) => statSync(path).size;

/** The texts of blobs rows making `bytes` in all (16 KiB each). */
function blobTexts(bytes: number): string[] {
	const text = 'x'.repeat(16_384);
	return Array.from({ length: Math.ceil(bytes / 16_384) }, (_, i) => `${i}${text}`);
}

/** Writes `bytes` of rows in one transaction; returns how many. */
async function writeRows(db: SqliteDb, bytes: number): Promise<number> {
	const texts = blobTexts(bytes);
	await db.transaction(async (tx) => {
		for (const text of texts) await tx.execute('INSERT INTO blobs (data) VALUES (?)', [text]);
	});
	return texts.length;
}

/** Whether `condition` holds within `timeoutMs`, looked at every 10 ms. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		if (condition()) return true;
		if (Date.now() > end) return false;
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** Opened again, the store at `path` has `rows` rows of text in blobs, and passes SQLite's integrity check. */
async function expectWholeStore(path: string, rows: number): Promise<void> {
	const again = new SqliteDb(path);
	try {
		expect(await again.query('SELECT COUNT(*) AS n, SUM(LENGTH(data)) > 0 AS filled FROM blobs')).toEqual([{ n: rows, filled: 1 }]);
		expect(await again.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
	} finally {
		await again.close();
	}
}

test('the writing connection never checkpoints: a big commit stays in the WAL until the thread it starts copies it', async () => {
	const path = join(dir, 'roster.sqlite');
	const db = new SqliteDb(path);
	try {
		expect(await db.query('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 0 }]);
		await db.executeScript('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
		const before = storeBytes(path);
		await writeRows(db, 2 * CHECKPOINT_THREAD_AFTER_BYTES);
		// Right after the commit the pages are in the WAL only (SQLite's own checkpoint would have copied them in COMMIT).
		expect(walBytes(path)).toBeGreaterThan(2 * CHECKPOINT_THREAD_AFTER_BYTES);
		expect(storeBytes(path)).toBe(before);
		// The thread the commit started copies them into the store file.
		expect(await until(() => storeBytes(path) > 2 * CHECKPOINT_THREAD_AFTER_BYTES)).toBe(true);
	} finally {
		await db.close();
	}
}, 30_000);

test('a small commit starts no thread: its pages wait in the WAL', async () => {
	const path = join(dir, 'roster.sqlite');
	const db = new SqliteDb(path);
	try {
		await db.executeScript('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
		const before = storeBytes(path);
		await writeRows(db, CHECKPOINT_THREAD_AFTER_BYTES / 4);
		await new Promise((resolve) => setTimeout(resolve, 10 * CHECKPOINT_EVERY_MS));
		expect(storeBytes(path)).toBe(before);
		expect(walBytes(path)).toBeGreaterThan(CHECKPOINT_THREAD_AFTER_BYTES / 4);
	} finally {
		await db.close();
	}
});

test('once the store is closed, the thread copies what is left, and the store file holds every row, with no WAL', async () => {
	const path = join(dir, 'roster.sqlite');
	const db = new SqliteDb(path);
	await db.executeScript('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
	const first = await writeRows(db, 2 * CHECKPOINT_THREAD_AFTER_BYTES);
	const second = await writeRows(db, CHECKPOINT_THREAD_AFTER_BYTES);
	await db.close();
	// The thread's connection closes last: it deletes the WAL once it has copied it.
	await db.checkpointed();
	expect(existsSync(`${path}-wal`)).toBe(false);
	await expectWholeStore(path, first + second);
}, 30_000);

test('a WAL another connection left is handed to a thread at close: close returns before it is copied, and the thread leaves the store whole', async () => {
	const path = join(dir, 'roster.sqlite');
	const db = new SqliteDb(path);
	await db.executeScript('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
	// As a step's thread writes (threads/step-thread.ts): a connection of its own that starts no checkpoint thread
	// and closes while `db` is open (so it is not the last connection, and leaves the WAL as it is).
	const writer = new DatabaseSync(path);
	writer.exec('PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;');
	const texts = blobTexts(4 * CHECKPOINT_THREAD_AFTER_BYTES);
	const insert = writer.prepare('INSERT INTO blobs (data) VALUES (?)');
	writer.exec('BEGIN');
	for (const text of texts) insert.run(text);
	writer.exec('COMMIT');
	writer.close();
	expect(walBytes(path)).toBeGreaterThan(4 * CHECKPOINT_THREAD_AFTER_BYTES);

	await db.close();
	// Had `db` closed as the last connection, it would have copied the WAL and deleted it before returning.
	expect(existsSync(`${path}-wal`)).toBe(true);
	await db.checkpointed();
	expect(existsSync(`${path}-wal`)).toBe(false);
	await expectWholeStore(path, texts.length);
}, 30_000);

test('close() may be called again while it waits for the thread', async () => {
	const path = join(dir, 'roster.sqlite');
	const db = new SqliteDb(path);
	await db.executeScript('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
	await writeRows(db, 2 * CHECKPOINT_THREAD_AFTER_BYTES);
	await Promise.all([db.close(), db.close()]);
	await db.checkpointed();
	expect(existsSync(`${path}-wal`)).toBe(false);
}, 30_000);

test('a thread that cannot open the store reports its failure', async () => {
	const failures: Error[] = [];
	const checkpoints = new BackgroundCheckpoints(join(dir, 'no such folder', 'roster.sqlite'), (error) => failures.push(error));
	expect(await until(() => failures.length > 0)).toBe(true);
	expect(failures[0].message).toMatch(/unable to open/i);
	// A writing connection waiting for it to open (to close after it) is not left waiting.
	expect(await checkpoints.open).toBe(false);
	await checkpoints.finish().ended;
});
