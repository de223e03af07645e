#!/usr/bin/env node
/**
 * A real SMTP server for the tests, run as its own process by test/support/smtp.ts (so it is a
 * separate service, like sshd and PostgreSQL, and the code under test talks to it over TCP).
 *
 *   node test/support/smtp-server-process.mjs --dir MAILDIR [--port 0] [--user U --password P] [--require-auth]
 *
 * Listens on 127.0.0.1 (port 0: the OS picks one) with the `smtp-server` package: plain SMTP, no
 * STARTTLS; AUTH PLAIN and LOGIN accepted for the one test user (optional unless --require-auth).
 * Each message received is written to MAILDIR as `NNNN.eml` (the raw message as sent, CRLF line
 * ends) with `NNNN.json` beside it (envelope: sender, recipients, authenticated user). Files are
 * written under a temporary name and renamed, so a reader never sees half a message.
 *
 * When listening, prints one line to stdout: {"ready":true,"host":"127.0.0.1","port":N}.
 * Stops on SIGTERM/SIGINT, or when its stdin closes (the parent process is gone).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { SMTPServer } from 'smtp-server';

function parseArgs(argv) {
	const args = { port: '0' };
	for (let i = 0; i < argv.length; i++) {
		const key = argv[i];
		if (key === '--require-auth') {
			args.requireAuth = true;
			continue;
		}
		if (!key.startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${key}`);
		args[key.slice(2)] = argv[++i];
	}
	if (!args.dir) throw new Error('--dir is required');
	if (Boolean(args.user) !== Boolean(args.password)) throw new Error('--user and --password go together');
	return args;
}

const args = parseArgs(process.argv.slice(2));
const mailDir = path.resolve(args.dir);
await fs.mkdir(mailDir, { recursive: true });
let sequence = 0;

function log(message) {
	process.stderr.write(`[smtp ${new Date().toISOString()}] ${message}\n`);
}

const server = new SMTPServer({
	name: 'rostersync-test-smtp',
	banner: 'rostersync test SMTP server',
	secure: false,
	disabledCommands: ['STARTTLS'],
	allowInsecureAuth: true, // AUTH without TLS: it is 127.0.0.1 and a throwaway user
	authMethods: ['PLAIN', 'LOGIN'],
	authOptional: !args.requireAuth,
	size: 50 * 1024 * 1024,
	logger: false,
	onAuth(auth, session, callback) {
		if (args.user && auth.username === args.user && auth.password === args.password) {
			log(`AUTH ${auth.method} ok for ${auth.username}`);
			return callback(null, { user: auth.username });
		}
		log(`AUTH ${auth.method} refused for ${auth.username}`);
		return callback(new Error('Invalid username or password'));
	},
	onData(stream, session, callback) {
		const chunks = [];
		stream.on('data', (chunk) => chunks.push(chunk));
		stream.on('error', callback);
		stream.on('end', async () => {
			if (stream.sizeExceeded) {
				const error = new Error('Message too big');
				error.responseCode = 552;
				return callback(error);
			}
			try {
				const id = String(++sequence).padStart(4, '0');
				const envelope = {
					id,
					receivedAt: new Date().toISOString(),
					mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
					rcptTo: session.envelope.rcptTo.map((r) => r.address),
					user: session.user ?? null,
					clientHostname: session.clientHostname,
				};
				const data = Buffer.concat(chunks);
				const eml = path.join(mailDir, `${id}.eml`);
				// The envelope first, the message last: a reader that sees NNNN.eml sees its envelope too.
				await fs.writeFile(path.join(mailDir, `.${id}.json.tmp`), `${JSON.stringify(envelope, null, 2)}\n`);
				await fs.rename(path.join(mailDir, `.${id}.json.tmp`), path.join(mailDir, `${id}.json`));
				await fs.writeFile(path.join(mailDir, `.${id}.eml.tmp`), data);
				await fs.rename(path.join(mailDir, `.${id}.eml.tmp`), eml);
				log(`stored message ${id} (${data.length} bytes) from ${envelope.mailFrom} to ${envelope.rcptTo.join(', ')}`);
				callback(null, `Message ${id} stored`);
			} catch (error) {
				log(`cannot store a message: ${error.message}`);
				callback(error);
			}
		});
	},
});

server.on('error', (error) => log(`server error: ${error.message}`));

let stopping = false;
function stop(reason) {
	if (stopping) return;
	stopping = true;
	log(`stopping (${reason})`);
	const force = setTimeout(() => process.exit(0), 2000);
	force.unref();
	server.close(() => process.exit(0));
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.stdin.on('end', () => stop('parent gone (stdin closed)'));
process.stdin.on('error', () => stop('parent gone (stdin error)'));
process.stdin.resume();

server.listen(Number(args.port), '127.0.0.1', () => {
	const address = server.server.address();
	log(`listening on 127.0.0.1:${address.port}, storing messages in ${mailDir}`);
	process.stdout.write(`${JSON.stringify({ ready: true, host: '127.0.0.1', port: address.port })}\n`);
});
