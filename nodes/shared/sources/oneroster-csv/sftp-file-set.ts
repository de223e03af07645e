/**
 * A OneRoster CSV set on an SFTP server (ssh2-sftp-client).
 *
 * `remotePath` may name:
 *  - a folder of loose files: they are streamed straight from the server, one SFTP read
 *    stream per file (nothing is held in memory);
 *  - a .zip file: it is downloaded to a temp file and read with openZipFileSet;
 *  - a folder holding no CSV files but one or more .zip files: the zip (the newest by
 *    modification time when there are several, which the description says) is used.
 *
 * The host key is checked against `hostKeyFingerprint` when one is given. Error messages
 * name the host, port, user and path, and never the password, private key or passphrase.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import SftpClient from 'ssh2-sftp-client';

import { RosterConnectionError, RosterInputError, RosterRunError } from '../../model/errors';
import { openZipFileSet, type CsvFileSet } from './file-set';

export type { CsvFileSet } from './file-set';

export interface SftpConnectionOptions {
	host: string;
	port: number;
	username: string;
	password?: string;
	/** Private key text (OpenSSH or PEM), optionally protected by `passphrase`. */
	privateKey?: string;
	passphrase?: string;
	/**
	 * Expected host key fingerprint: `SHA256:…` as `ssh-keygen -lf` prints it, or MD5 as hex
	 * pairs with colons (`aa:bb:…`, optionally prefixed `MD5:`). When empty the key is not checked.
	 */
	hostKeyFingerprint?: string;
	/** How long to wait for the SSH handshake and login (default 20 s). */
	readyTimeoutMs?: number;
}

/** SFTP reads of up to OpenSSH's packet limit: fewer round trips on slow links. */
const READ_CHUNK_BYTES = 256 * 1024;

const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

// ---------------------------------------------------------------------------
// Host key fingerprints

type Fingerprint = { kind: 'sha256'; value: string } | { kind: 'md5'; value: string };

/** Parses an expected fingerprint; undefined when empty. */
export function parseHostKeyFingerprint(text: string | undefined): Fingerprint | undefined {
	const trimmed = (text ?? '').trim();
	if (!trimmed) return undefined;
	const sha = /^SHA256:([A-Za-z0-9+/]{43})=?$/i.exec(trimmed);
	if (sha) return { kind: 'sha256', value: sha[1] };
	const md5 = /^(?:MD5:)?((?:[0-9a-f]{2}:){15}[0-9a-f]{2}|[0-9a-f]{32})$/i.exec(trimmed);
	if (md5) return { kind: 'md5', value: md5[1].replace(/:/g, '').toLowerCase() };
	throw new RosterConnectionError(
		`the SFTP host key fingerprint "${trimmed}" is not in a known format`,
		'Give it as `ssh-keygen -lf` prints it (SHA256:… with 43 base64 characters), or as MD5 hex pairs with colons (aa:bb:…). ' +
			'On a machine that trusts the server, `ssh-keyscan -p PORT HOST | ssh-keygen -lf -` shows it.',
		['hostKeyFingerprint'],
	);
}

/** The fingerprints of an SSH public key blob, formatted as `ssh-keygen -lf` prints them. */
export function hostKeyFingerprints(key: Buffer): { sha256: string; md5: string } {
	const sha256 = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
	const md5Hex = createHash('md5').update(key).digest('hex');
	const md5 = `MD5:${md5Hex.match(/../g)!.join(':')}`;
	return { sha256, md5 };
}

function formatFingerprint(fingerprint: Fingerprint): string {
	return fingerprint.kind === 'sha256' ? `SHA256:${fingerprint.value}` : `MD5:${fingerprint.value.match(/../g)!.join(':')}`;
}

// ---------------------------------------------------------------------------
// Messages without secrets

function secretsOf(conn: SftpConnectionOptions): string[] {
	const secrets = [conn.password, conn.passphrase].filter((s): s is string => !!s && s.length >= 3);
	if (conn.privateKey) {
		secrets.push(conn.privateKey.trim());
		for (const line of conn.privateKey.split(/\r?\n/)) if (line.trim().length >= 16) secrets.push(line.trim());
	}
	return secrets;
}

function redact(text: string, secrets: string[]): string {
	let out = text;
	for (const secret of secrets) out = out.split(secret).join('***');
	return out;
}

function hostPort(conn: SftpConnectionOptions): string {
	const host = conn.host.includes(':') ? `[${conn.host}]` : conn.host;
	return `${host}:${conn.port}`;
}

/** `sftp://user@host:port/path`; a path relative to the login folder is shown as `/~/path`. */
export function sftpLocation(conn: SftpConnectionOptions, remotePath: string): string {
	const relative = remotePath.replace(/^\.(\/|$)/, '').replace(/^~(\/|$)/, '');
	const shown = remotePath.startsWith('/') ? remotePath : relative ? `/~/${relative}` : '/~';
	return `sftp://${encodeURIComponent(conn.username)}@${hostPort(conn)}${shown}`;
}

function errorText(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

function errorCodeOf(error: unknown): unknown {
	return (error as { code?: unknown } | undefined)?.code;
}

// ---------------------------------------------------------------------------
// Connecting

interface Connection {
	client: SftpClient;
	/** Streams handed out and not yet finished, to fail them if the connection drops. */
	streams: Set<NodeJS.ReadableStream & { destroy(error?: Error): void }>;
	closing: boolean;
	end(): Promise<void>;
}

async function connect(conn: SftpConnectionOptions, remotePath: string): Promise<Connection> {
	const secrets = secretsOf(conn);
	const where = `${conn.username}@${hostPort(conn)}`;
	const location = sftpLocation(conn, remotePath);
	const expected = parseHostKeyFingerprint(conn.hostKeyFingerprint);
	if (!conn.host) throw new RosterConnectionError('the SFTP host is empty', 'Fill in the host of the SFTP credential.', ['host']);
	if (!conn.username) throw new RosterConnectionError(`the SFTP user name for ${hostPort(conn)} is empty`, 'Fill in the user of the SFTP credential.', ['username']);
	if (!conn.password && !conn.privateKey) {
		throw new RosterConnectionError(
			`no password or private key is set for ${where}`,
			'Fill in the password or the private key of the SFTP credential.',
			['password', 'privateKey'],
		);
	}

	const state: Connection = {
		client: undefined as unknown as SftpClient,
		streams: new Set(),
		closing: false,
		end: async () => {
			state.closing = true;
			await state.client.end().catch(() => undefined);
		},
	};
	const failStreams = (reason: string) => {
		if (state.closing) return;
		for (const stream of state.streams) stream.destroy(new RosterRunError(`the SFTP connection to ${where} was lost: ${reason}`));
		state.streams.clear();
	};
	state.client = new SftpClient('rostersync', {
		error: (error) => failStreams(redact(errorText(error), secrets)),
		end: () => failStreams('the server ended the connection'),
		close: () => failStreams('the connection closed'),
	});

	let received: { sha256: string; md5: string } | undefined;
	let mismatch = false;
	const options: SftpClient.ConnectOptions = {
		host: conn.host,
		port: conn.port,
		username: conn.username,
		readyTimeout: conn.readyTimeoutMs ?? 20_000,
		// A consumer may pause a stream for a while (backpressure): keep NAT and firewalls from dropping us.
		keepaliveInterval: 15_000,
		keepaliveCountMax: 4,
		hostVerifier: (key: Buffer) => {
			received = hostKeyFingerprints(key);
			if (!expected) return true;
			const actual = expected.kind === 'sha256' ? received.sha256.slice('SHA256:'.length) : received.md5.slice(4).replace(/:/g, '');
			mismatch = actual !== expected.value;
			return !mismatch;
		},
	};
	if (conn.password) options.password = conn.password;
	if (conn.privateKey) {
		options.privateKey = conn.privateKey;
		if (conn.passphrase) options.passphrase = conn.passphrase;
	}

	// Our own socket, to turn Nagle's algorithm off: SFTP is request/response, and with Nagle
	// each round trip waits for a delayed ACK (about 40 ms on Linux, 10× slower listings).
	const socket = net.connect({ host: conn.host, port: conn.port, noDelay: true });
	socket.on('error', () => undefined); // ssh2 reports socket errors through connect()
	options.sock = socket;

	try {
		await state.client.connect(options);
	} catch (error) {
		state.closing = true;
		await state.client.end().catch(() => undefined);
		socket.destroy();
		const message = redact(errorText(error), secrets);
		const code = errorCodeOf(error);
		if (mismatch && received && expected) {
			const got = expected.kind === 'sha256' ? received.sha256 : `${received.md5} (${received.sha256})`;
			throw new RosterConnectionError(
				`the SFTP server ${hostPort(conn)} presented a host key that does not match: expected ${formatFingerprint(expected)}, received ${got}`,
				'If the server was rebuilt or its key rotated on purpose, put the new fingerprint in the SFTP credential; ' +
					'otherwise do not connect: someone may be intercepting the connection.',
				['hostKeyFingerprint'],
			);
		}
		if (/private ?key/i.test(message) && /passphrase/i.test(message)) {
			throw new RosterConnectionError(
				`the private key for ${where} could not be decrypted: the passphrase is ${conn.passphrase ? 'wrong' : 'missing'}`,
				'Check the passphrase of the private key in the SFTP credential.',
				['passphrase'],
			);
		}
		if (/Cannot parse privateKey|does not contain a \(valid\) private key|Unsupported key format/i.test(message)) {
			throw new RosterConnectionError(
				`the private key for ${where} could not be read (${message.replace(/^.*?Cannot parse privateKey:\s*/i, '')})`,
				'Paste the whole private key, including its BEGIN and END lines (OpenSSH or PEM format).',
				['privateKey'],
			);
		}
		if (/authentication methods failed|authentication failed|permission denied/i.test(message)) {
			const how = [conn.password ? 'password' : '', conn.privateKey ? 'private key' : ''].filter(Boolean).join(' and ');
			throw new RosterConnectionError(
				`the SFTP server ${hostPort(conn)} refused the login of user "${conn.username}" (tried ${how})`,
				'Check the user name and the password or private key of the SFTP credential.',
				conn.privateKey ? ['username', 'privateKey'] : ['username', 'password'],
			);
		}
		if (code === 'ECONNREFUSED' || /refused/i.test(message)) {
			throw new RosterConnectionError(
				`cannot connect to ${location}: the connection to ${hostPort(conn)} was refused`,
				'Check the host and port, and that the SFTP server is running and reachable from n8n.',
				['host', 'port'],
			);
		}
		if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /Address lookup failed/i.test(message)) {
			throw new RosterConnectionError(`cannot connect to ${location}: the host "${conn.host}" was not found`, 'Check the host name.', ['host']);
		}
		if (/timed out|timeout|ETIMEDOUT/i.test(`${message} ${String(code)}`)) {
			throw new RosterConnectionError(
				`cannot connect to ${location}: no answer from ${hostPort(conn)} in time`,
				'Check the host and port, and any firewall between n8n and the server.',
				['host', 'port'],
			);
		}
		if (/Connection lost before handshake/i.test(message)) {
			throw new RosterConnectionError(
				`cannot connect to ${location}: ${hostPort(conn)} closed the connection before the SSH handshake`,
				'Check that the host and port are those of the SFTP (SSH) server, and that it allows connections from n8n.',
				['host', 'port'],
			);
		}
		const detail = message.replace(/^(?:connect|getConnection):\s*/, '');
		throw new RosterConnectionError(`cannot connect to ${location}: ${detail}`, 'Check the SFTP credential and that the server is reachable.', []);
	}
	return state;
}

// ---------------------------------------------------------------------------
// The file set

interface RemoteEntry {
	name: string;
	type: 'file' | 'folder' | 'other';
	size: number;
	modifyTime: number;
}

function pathError(conn: SftpConnectionOptions, remotePath: string, error: unknown, secrets: string[]): Error {
	const code = errorCodeOf(error);
	const message = redact(errorText(error), secrets);
	const location = sftpLocation(conn, remotePath);
	if (code === SFTP_NO_SUCH_FILE || code === 'ENOENT' || /no such file/i.test(message)) {
		return new RosterInputError(
			`${location} does not exist (user "${conn.username}")`,
			{},
			'Check the remote path of the CSV Ingest node: a folder of OneRoster CSV files or a .zip file.',
		);
	}
	if (code === SFTP_PERMISSION_DENIED || code === 'EACCES' || /permission denied/i.test(message)) {
		return new RosterInputError(
			`user "${conn.username}" may not read ${location} (permission denied)`,
			{},
			'Ask the SFTP server admin to give this user read access to the folder and files.',
		);
	}
	return new RosterInputError(`cannot read ${location}: ${message}`);
}

async function listFolder(client: SftpClient, folder: string): Promise<RemoteEntry[]> {
	const raw = await client.list(folder);
	const entries: RemoteEntry[] = [];
	for (const item of raw) {
		if (item.name === '.' || item.name === '..') continue;
		let type: RemoteEntry['type'] = item.type === '-' ? 'file' : item.type === 'd' ? 'folder' : 'other';
		let size = item.size;
		let modifyTime = item.modifyTime;
		if (item.type === 'l') {
			// A link: use what it points to.
			const target = await client.stat(path.posix.join(folder, item.name)).catch(() => undefined);
			if (target) {
				type = target.isFile ? 'file' : target.isDirectory ? 'folder' : 'other';
				size = target.size;
				modifyTime = target.modifyTime;
			}
		}
		entries.push({ name: item.name, type, size, modifyTime });
	}
	return entries;
}

const isCsv = (name: string) => /\.csv$/i.test(name);
const isZipName = (name: string) => /\.zip$/i.test(name);

async function openRemoteZip(
	connection: Connection,
	conn: SftpConnectionOptions,
	remoteZip: string,
	label: string,
	secrets: string[],
): Promise<CsvFileSet> {
	let tempDir: string | undefined;
	let localZip: string;
	try {
		tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rostersync-sftp-'));
		localZip = path.join(tempDir, path.posix.basename(remoteZip) || 'roster.zip');
		try {
			await connection.client.fastGet(remoteZip, localZip);
		} catch (error) {
			throw pathError(conn, remoteZip, error, secrets);
		}
	} catch (error) {
		if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
		throw error;
	} finally {
		// The whole zip is here now: the connection is no longer needed.
		await connection.end();
	}
	const downloaded = tempDir;
	try {
		const zipSet = await openZipFileSet(localZip, label);
		return {
			description: zipSet.description,
			list: () => zipSet.list(),
			open: (name) => zipSet.open(name),
			close: async () => {
				try {
					await zipSet.close();
				} finally {
					await fs.rm(downloaded, { recursive: true, force: true });
				}
			},
		};
	} catch (error) {
		await fs.rm(downloaded, { recursive: true, force: true });
		throw error;
	}
}

/**
 * What the credential's "Test connection" does: logs in (checking the host key when a
 * fingerprint is set), lists the login folder and logs out. Needs no roster files there.
 */
export async function checkSftpLogin(conn: SftpConnectionOptions): Promise<{ folder: string; entries: number }> {
	const connection = await connect(conn, '.');
	try {
		const folder = (await connection.client.realPath('.').catch(() => '')) || '.';
		try {
			return { folder, entries: (await listFolder(connection.client, folder)).length };
		} catch (error) {
			throw pathError(conn, folder, error, secretsOf(conn));
		}
	} finally {
		await connection.end();
	}
}

/**
 * Opens the OneRoster CSV set at `remotePath` on an SFTP server: a folder of CSV files, a
 * .zip file, or a folder holding the export as .zip file(s). Call close() when done.
 */
export async function openSftpFileSet(conn: SftpConnectionOptions, remotePath: string): Promise<CsvFileSet> {
	const secrets = secretsOf(conn);
	// SFTP servers do not expand `~`: a path "~/x" means "x" relative to the login folder (the home).
	const requested = remotePath.trim().replace(/^~(\/+|$)/, '') || '.';
	const connection = await connect(conn, requested);
	let handedOver = false;
	try {
		let stat;
		try {
			stat = await connection.client.stat(requested);
		} catch (error) {
			throw pathError(conn, requested, error, secrets);
		}
		const absolute = (await connection.client.realPath(requested).catch(() => '')) || requested;
		const location = sftpLocation(conn, absolute);

		if (!stat.isDirectory) {
			if (!stat.isFile) throw new RosterInputError(`${location} is neither a folder nor a file`);
			if (!isZipName(absolute) && !isCsv(absolute)) {
				throw new RosterInputError(
					`${location} is a file but not a .zip`,
					{},
					'Set the remote path to the folder holding the OneRoster CSV files, or to the .zip of the export.',
				);
			}
			if (isCsv(absolute)) {
				throw new RosterInputError(
					`${location} is a single CSV file, but a OneRoster set is several files`,
					{},
					`Set the remote path to the folder that holds it (${path.posix.dirname(absolute)}).`,
				);
			}
			handedOver = true;
			return await openRemoteZip(connection, conn, absolute, location, secrets);
		}

		let entries: RemoteEntry[];
		try {
			entries = await listFolder(connection.client, absolute);
		} catch (error) {
			throw pathError(conn, absolute, error, secrets);
		}
		const files = entries.filter((entry) => entry.type === 'file');
		const csvFiles = files.filter((entry) => isCsv(entry.name));
		const zips = files.filter((entry) => isZipName(entry.name));

		if (csvFiles.length === 0 && zips.length > 0) {
			zips.sort((a, b) => b.modifyTime - a.modifyTime || (a.name < b.name ? 1 : -1));
			const chosen = zips[0];
			const remoteZip = path.posix.join(absolute, chosen.name);
			let label = sftpLocation(conn, remoteZip);
			if (zips.length > 1) {
				const when = new Date(chosen.modifyTime).toISOString().replace(/\.\d{3}Z$/, 'Z');
				label += ` (the newest of ${zips.length} .zip files in ${absolute}, modified ${when})`;
			}
			handedOver = true;
			return await openRemoteZip(connection, conn, remoteZip, label, secrets);
		}
		if (csvFiles.length === 0) {
			throw new RosterInputError(
				`${location} holds no .csv or .zip files${files.length ? ` (only ${files.slice(0, 5).map((f) => f.name).join(', ')}${files.length > 5 ? ', …' : ''})` : ' (it is empty)'}`,
				{},
				'Check the remote path, and that the SIS export has run and uploaded its files.',
			);
		}

		const names = files.map((entry) => entry.name);
		const set: CsvFileSet = {
			description: location,
			list: async () => [...names],
			open: async (name) => {
				if (!names.includes(name)) throw new RosterInputError(`${name} is not in ${location}`, { file: name });
				const remoteFile = path.posix.join(absolute, name);
				let stream: ReturnType<SftpClient['createReadStream']>;
				try {
					stream = connection.client.createReadStream(remoteFile, { highWaterMark: READ_CHUNK_BYTES });
					// Wait for the remote file to be open, so that a missing or unreadable file rejects here.
					await new Promise<void>((resolve, reject) => {
						const onOpen = () => {
							stream.off('error', onError);
							resolve();
						};
						const onError = (error: Error) => {
							stream.off('open', onOpen);
							reject(error);
						};
						stream.once('open', onOpen);
						stream.once('error', onError);
					});
				} catch (error) {
					throw pathError(conn, remoteFile, error, secrets);
				}
				connection.streams.add(stream);
				const forget = () => connection.streams.delete(stream);
				stream.once('end', forget);
				stream.once('error', forget);
				stream.once('close', forget);
				return stream;
			},
			close: async () => {
				for (const stream of connection.streams) stream.destroy();
				connection.streams.clear();
				await connection.end();
			},
		};
		handedOver = true;
		return set;
	} finally {
		if (!handedOver) await connection.end();
	}
}
