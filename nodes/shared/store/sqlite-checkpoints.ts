/**
 * A SQLite store's WAL checkpoints on a thread of their own, so the thread that writes never waits for them.
 *
 * In WAL mode a commit appends pages to the WAL file; a checkpoint copies them into the store file and
 * flushes both to disk (two fsyncs, with `synchronous = NORMAL`). SQLite runs one inside the COMMIT that
 * takes the WAL past `wal_autocheckpoint` pages, so the writer's thread copied and flushed ~1 GB over a
 * 100,000-student first night: ~0.6–0.8 s of it was the flush (measured with `synchronous = OFF`, which
 * is not safe to ship). Here the writing connection never checkpoints (`wal_autocheckpoint = 0`) and a
 * worker thread with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` every
 * CHECKPOINT_EVERY_MS: PASSIVE copies what is committed without waiting for, or blocking, the writer. The
 * flushes are the same, so a power loss loses no more than before; they happen on the other core.
 *
 * The cost: the WAL file is only started over when a write begins with every frame copied, which back-to-back
 * transactions rarely allow, so it grows through a night (~480 MB at 100,000 students) until the store is
 * closed (the last connection to close copies what is left and deletes it). The thread is started by
 * the first commit that leaves the WAL larger than SQLite's own checkpoint threshold, or by a close that finds
 * the WAL so large (a store that sees little writing never has one). When the store is closed, the writing
 * connection closes once the thread's connection is `open`, so the thread's is the last: it copies what is
 * left, deletes the WAL and ends, while the caller goes on (in n8n, the next node, which opens the store
 * meanwhile and waits only if it must). Should the thread fail, the writing connection checkpoints itself
 * again, as SQLite does by default.
 *
 * Measured at 100,000 students, interleaved runs: a first night 9.2–9.4 s → 8.6–8.7 s in the engine alone; in
 * n8n 2.40.7, 11.3–11.9 → 11.1–11.2 s of execution (waiting at each close for the thread's last copy, it was
 * 0.3–0.5 s slower than without the thread: every node paid the copy).
 *
 * In n8n each node opens and closes the store, so a close must not be the last connection with a WAL to copy
 * (SqliteDb.close): a thread started by the node's last commit may not be open yet, and a step thread's WAL
 * (Reconcile Users, Build Lists: connections on worker threads start no thread, which would end with them) is
 * the closing connection's to hand over. Before, those closes copied the WAL themselves: 0.3–0.7 s each,
 * ~1.9 s of a first night. Now ~25 ms each; the copy runs beside the next node. Execution, four interleaved runs each: first night
 * 10.7–12.8 → 10.3–11.3 s, bulk day two 6.7–7.5 → 6.7–6.9 s.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** How often the thread copies what was committed since. */
export const CHECKPOINT_EVERY_MS = 50;

/** SQLite's default `wal_autocheckpoint`: for the writing connection when the thread fails, and what starts the thread (sqlite.ts). */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/**
 * The thread's code (a worker from a string: it needs nothing but node:sqlite, and no file to find in a
 * bundled package). `workerData`: { path, everyMs }. It says 'open' once its connection is. Any message stops it:
 * it closes its connection and ends.
 */
const THREAD_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA synchronous = NORMAL');
parentPort.postMessage('open');
let timer;
const checkpoint = () => {
	db.exec('PRAGMA wal_checkpoint(PASSIVE)');
	timer = setTimeout(checkpoint, workerData.everyMs);
};
parentPort.once('message', () => {
	clearTimeout(timer);
	db.exec('PRAGMA wal_checkpoint(PASSIVE)');
	db.close();
	parentPort.close();
});
checkpoint();
`;

/** The WAL file's size in bytes (0 when there is none). */
export function walBytes(path: string): number {
	try {
		return statSync(`${path}-wal`).size;
	} catch {
		return 0;
	}
}

export class BackgroundCheckpoints {
	private readonly worker: Worker;
	private readonly ended: Promise<void>;
	private stopped = false;
	/**
	 * Settles once the thread's connection is open (true), or the thread failed or ended first (false). Until
	 * then, closing the writing connection could make it the store's last: it would copy the WAL itself.
	 */
	readonly open: Promise<boolean>;

	/** Starts the thread for the store at `path`; `onFailure` is called if it fails (not once stopped). */
	constructor(path: string, onFailure: (error: Error) => void) {
		this.worker = new Worker(THREAD_CODE, {
			eval: true,
			workerData: { path, everyMs: CHECKPOINT_EVERY_MS },
			execArgv: ['--disable-warning=ExperimentalWarning'],
		});
		this.worker.once('error', (error) => {
			if (!this.stopped) onFailure(error);
		});
		this.ended = new Promise((resolve) => this.worker.once('exit', () => resolve()));
		this.open = new Promise((resolve) => {
			this.worker.once('message', () => resolve(true));
			void this.ended.then(() => resolve(false));
		});
	}

	/**
	 * Tells the thread to copy what is left and end: it does so after the checkpoint under way (if any).
	 * `ended` settles when it has. Its connection is the last to close when the writing one closed first,
	 * and then deletes the WAL.
	 */
	finish(): { ended: Promise<void> } {
		this.stopped = true;
		this.worker.postMessage('stop');
		return { ended: this.ended };
	}
}
