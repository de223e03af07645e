/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) for the integration tests.
 *
 * Each `startSshd()` runs its own sshd on 127.0.0.1 at a free port, with its own
 * config, ed25519 host key, pid file and authorized key, serving SFTP only
 * (`internal-sftp`, no shell, no forwarding). Logins are as a local system account
 * (`rostersync-test`, shell nologin, no home) created on first use; sshd needs a
 * real account for both password and public-key login.
 *
 * The account's password is random, generated once per machine and kept in a
 * root-only file, so that several test runs at the same time agree on it.
 *
 * Needs root (to run sshd and create the account) and the openssh-server package
 * (see system-packages.mjs). When anything is missing it throws: tests fail, never skip.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, readGreeting, sleep } from './net';
import { isRoot, killOnExit, lookupAccount, processAlive, run, stopProcess, systemPath } from './process';

export const SSHD_BINARY = '/usr/sbin/sshd';
export const TEST_SSH_USER = 'rostersync-test';
const DIR_PREFIX = 'rostersync-sshd-';

export interface StartSshdOptions {
	/**
	 * Directory served over SFTP (the SFTP session starts there, so relative paths resolve
	 * against it; absolute paths work too as there is no chroot). It is made readable by the
	 * test account. Default: a fresh directory inside the server's temp dir, removed on stop().
	 */
	servedRoot?: string;
	/** Type of the client key pair: OpenSSH-format ed25519 (default) or PEM ("BEGIN RSA PRIVATE KEY") RSA. */
	clientKeyType?: 'ed25519' | 'rsa-pem';
}

export interface SshdServer {
	host: '127.0.0.1';
	port: number;
	username: string;
	password: string;
	/** The client private key (passphrase protected); its public key is authorized. */
	privateKey: string;
	passphrase: string;
	/** Exactly what `ssh-keygen -lf` prints for the host key, e.g. "SHA256:abc…". */
	hostKeyFingerprint: string;
	/** The host key's MD5 fingerprint, "MD5:aa:bb:…" as `ssh-keygen -E md5 -lf` prints it. */
	hostKeyFingerprintMd5: string;
	/** Absolute path of the served directory (same path locally and over SFTP). */
	servedRoot: string;
	/** sshd's log so far (stderr, LogLevel VERBOSE), for diagnosing a failing test. */
	log(): string;
	stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The test account

const ACCOUNT_STATE_DIR = path.join(os.tmpdir(), 'rostersync-test-account');
const PASSWORD_FILE = path.join(ACCOUNT_STATE_DIR, 'password');
const LOCK_DIR = path.join(ACCOUNT_STATE_DIR, 'lock');

let accountPromise: Promise<{ username: string; password: string }> | undefined;

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
	await fs.mkdir(ACCOUNT_STATE_DIR, { recursive: true, mode: 0o700 });
	await fs.chmod(ACCOUNT_STATE_DIR, 0o700);
	const deadline = Date.now() + 30_000;
	for (;;) {
		try {
			await fs.mkdir(LOCK_DIR);
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const stat = await fs.stat(LOCK_DIR).catch(() => undefined);
			if (stat && Date.now() - stat.mtimeMs > 20_000) {
				await fs.rm(LOCK_DIR, { recursive: true, force: true }); // left by a killed process
				continue;
			}
			if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${LOCK_DIR}`);
			await sleep(50);
		}
	}
	try {
		return await fn();
	} finally {
		await fs.rm(LOCK_DIR, { recursive: true, force: true });
	}
}

/** Runs an account-database command, retrying while another process holds /etc/passwd's lock. */
async function runShadowCommand(command: string, args: string[], input?: string, secrets?: string[]): Promise<void> {
	for (let attempt = 1; ; attempt++) {
		try {
			await run(command, args, { input, secrets });
			return;
		} catch (error) {
			const text = String((error as Error).message);
			if (attempt < 20 && /lock|try again/i.test(text)) {
				await sleep(100);
				continue;
			}
			throw error;
		}
	}
}

async function setupAccount(): Promise<{ username: string; password: string }> {
	if (!isRoot()) {
		throw new Error(
			'The sshd test harness must run as root: it starts /usr/sbin/sshd and creates the local test account ' +
				`"${TEST_SSH_USER}".`,
		);
	}
	return withLock(async () => {
		let created = false;
		if (!(await lookupAccount(TEST_SSH_USER))) {
			await runShadowCommand('useradd', [
				'--system',
				'--no-create-home',
				'--home-dir',
				'/nonexistent',
				'--shell',
				'/usr/sbin/nologin',
				'--comment',
				'rostersync SFTP test account',
				TEST_SSH_USER,
			]);
			created = true;
		}
		let password = await fs.readFile(PASSWORD_FILE, 'utf8').then((s) => s.trim(), () => '');
		if (!password || created) {
			password ||= `Rs-${randomBytes(18).toString('base64url')}`;
			await runShadowCommand('chpasswd', [], `${TEST_SSH_USER}:${password}\n`, [password]);
			await fs.writeFile(PASSWORD_FILE, `${password}\n`, { mode: 0o600 });
		}
		return { username: TEST_SSH_USER, password };
	});
}

/** Makes sure the local test account exists and returns its name and password (cached per process). */
export function ensureTestAccount(): Promise<{ username: string; password: string }> {
	accountPromise ??= setupAccount().catch((error) => {
		accountPromise = undefined;
		throw error;
	});
	return accountPromise;
}

// ---------------------------------------------------------------------------
// Keys

async function generateKey(file: string, type: 'ed25519' | 'rsa-pem', passphrase: string, comment: string) {
	const args = type === 'ed25519' ? ['-t', 'ed25519'] : ['-t', 'rsa', '-b', '2048', '-m', 'PEM'];
	await run('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', comment, '-f', file], { secrets: [passphrase] });
}

/** The fingerprint field of `ssh-keygen -lf file` ("256 SHA256:xyz comment (ED25519)"). */
export async function keyFingerprint(publicKeyFile: string, hash: 'sha256' | 'md5' = 'sha256'): Promise<string> {
	const { stdout } = await run('ssh-keygen', ['-E', hash, '-lf', publicKeyFile]);
	const field = stdout.trim().split(/\s+/)[1];
	if (!field || !/^(SHA256|MD5):/.test(field)) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
	return field;
}

// ---------------------------------------------------------------------------
// Served files

/** chmod a+rx on `dir` and, where needed, a+x on its ancestors inside the temp dir. */
async function makeReachable(dir: string): Promise<void> {
	await fs.chmod(dir, 0o755);
	const tmp = path.resolve(os.tmpdir());
	for (let current = path.dirname(dir); current !== path.dirname(current); current = path.dirname(current)) {
		const stat = await fs.stat(current);
		if ((stat.mode & 0o001) !== 0) continue;
		if (current.startsWith(`${tmp}${path.sep}`)) {
			await fs.chmod(current, (stat.mode & 0o7777) | 0o011);
		} else {
			throw new Error(
				`servedRoot ${dir} is not reachable by the SFTP test account: ${current} is not searchable by others ` +
					'(chmod o+x it, or use a directory under the temp dir)',
			);
		}
	}
}

/** Makes files and directories below `dir` readable by the test account. */
async function makeReadable(dir: string): Promise<void> {
	for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) {
			await fs.chmod(full, 0o755);
			await makeReadable(full);
		} else if (entry.isFile()) {
			await fs.chmod(full, 0o644);
		}
	}
}

/**
 * Writes files into the served area. `files` maps relative paths ("exports/users.csv") to
 * contents. Returns the absolute directory written to (what to give the SFTP client).
 */
export async function writeServedFiles(
	server: Pick<SshdServer, 'servedRoot'>,
	relativeDir: string,
	files: Record<string, string | Buffer>,
): Promise<string> {
	const base = path.resolve(server.servedRoot, relativeDir);
	await fs.mkdir(base, { recursive: true, mode: 0o755 });
	for (const [name, content] of Object.entries(files)) {
		const full = path.resolve(base, name);
		await fs.mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
		await fs.writeFile(full, content);
	}
	await fs.chmod(base, 0o755);
	await makeReadable(base);
	return base;
}

/** Copies a local directory into the served area; returns the absolute remote directory. */
export async function copyIntoServed(
	server: Pick<SshdServer, 'servedRoot'>,
	sourceDir: string,
	relativeDir: string,
): Promise<string> {
	const base = path.resolve(server.servedRoot, relativeDir);
	await fs.mkdir(path.dirname(base), { recursive: true, mode: 0o755 });
	await fs.cp(sourceDir, base, { recursive: true });
	await fs.chmod(base, 0o755);
	await makeReadable(base);
	return base;
}

// ---------------------------------------------------------------------------
// The server

function sshdConfig(dir: string, port: number, servedRoot: string, username: string): string {
	return [
		`Port ${port}`,
		'ListenAddress 127.0.0.1',
		'AddressFamily inet',
		`HostKey ${path.join(dir, 'ssh_host_ed25519_key')}`,
		`PidFile ${path.join(dir, 'sshd.pid')}`,
		`AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
		'StrictModes no',
		'UsePAM no',
		'PasswordAuthentication yes',
		'PermitEmptyPasswords no',
		'KbdInteractiveAuthentication no',
		'PubkeyAuthentication yes',
		'PermitRootLogin no',
		`AllowUsers ${username}`,
		'AllowTcpForwarding no',
		'AllowStreamLocalForwarding no',
		'AllowAgentForwarding no',
		'X11Forwarding no',
		'PermitTunnel no',
		'PermitUserRC no',
		'PrintMotd no',
		'UseDNS no',
		'MaxAuthTries 10',
		'MaxStartups 200',
		'MaxSessions 50',
		'LoginGraceTime 30',
		'LogLevel VERBOSE',
		`Subsystem sftp internal-sftp -d ${servedRoot}`,
		`ForceCommand internal-sftp -d ${servedRoot}`,
		'',
	].join('\n');
}

async function launch(
	dir: string,
	servedRoot: string,
	username: string,
): Promise<{ child: ChildProcess; port: number; log: () => string }> {
	let lastError: Error | undefined;
	for (let attempt = 1; attempt <= 5; attempt++) {
		const port = await freePort();
		const configFile = path.join(dir, 'sshd_config');
		await fs.writeFile(configFile, sshdConfig(dir, port, servedRoot, username), { mode: 0o644 });
		const child = spawn(SSHD_BINARY, ['-D', '-e', '-f', configFile], {
			env: { PATH: systemPath(), LC_ALL: 'C' },
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let log = '';
		child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
			log = (log + chunk).slice(-200_000);
		});
		let exited: string | undefined;
		child.on('exit', (code, signal) => (exited = `sshd exited (code ${code}, signal ${signal})`));
		child.on('error', (error) => (exited = `cannot run ${SSHD_BINARY}: ${error.message}`));
		killOnExit(child);

		const deadline = Date.now() + 5000;
		for (;;) {
			if (exited) break;
			try {
				const greeting = await readGreeting('127.0.0.1', port, 500);
				if (greeting.startsWith('SSH-2.0-OpenSSH')) {
					(child.stderr as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
					child.unref();
					return { child, port, log: () => log };
				}
				lastError = new Error(`port ${port} answered with something else than OpenSSH: ${greeting.slice(0, 80)}`);
				break; // someone else took the port: try another
			} catch {
				if (exited) break;
				if (Date.now() > deadline) {
					exited = 'sshd did not accept connections within 5 s';
					break;
				}
				await sleep(15);
			}
		}
		child.kill('SIGKILL');
		if (exited) {
			lastError = new Error(`${exited}\n--- sshd log ---\n${log.trim()}`);
			// A port stolen between freePort() and sshd's bind: retry; anything else: give up.
			if (!/Address already in use|Cannot bind any address/.test(log)) break;
		}
	}
	throw new Error(`Could not start the test sshd: ${lastError?.message ?? 'unknown error'}`);
}

/** Stops sshd servers (and removes their temp dirs) left behind by test processes that were killed. */
async function reapStaleServers(): Promise<void> {
	const tmp = os.tmpdir();
	const names = await fs.readdir(tmp).catch(() => [] as string[]);
	for (const name of names.filter((n) => n.startsWith(DIR_PREFIX))) {
		const dir = path.join(tmp, name);
		try {
			const owner = JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8')) as { pid: number };
			if (processAlive(owner.pid)) continue;
			const pid = Number((await fs.readFile(path.join(dir, 'sshd.pid'), 'utf8').catch(() => '')).trim());
			if (processAlive(pid)) {
				const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
				if (cmdline.includes(dir)) process.kill(pid, 'SIGTERM');
			}
			await fs.rm(dir, { recursive: true, force: true });
		} catch {
			// no owner file (yet): not ours to judge
		}
	}
}

export async function startSshd(options: StartSshdOptions = {}): Promise<SshdServer> {
	if (!existsSync(SSHD_BINARY)) {
		throw new Error(`${SSHD_BINARY} is missing: install openssh-server (npm test does it when run as root: node test/support/system-packages.mjs)`);
	}
	const { username, password } = await ensureTestAccount();

	// /run/sshd is sshd's privilege separation directory; the Debian service normally creates it.
	await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });

	await reapStaleServers();
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), DIR_PREFIX));
	try {
		await fs.writeFile(path.join(dir, 'owner.json'), JSON.stringify({ pid: process.pid }));
		await fs.chmod(dir, 0o755); // the test account reads authorized_keys (and maybe the served root) from here
		let servedRoot: string;
		if (options.servedRoot) {
			servedRoot = path.resolve(options.servedRoot);
			await fs.mkdir(servedRoot, { recursive: true });
			await makeReachable(servedRoot);
		} else {
			servedRoot = path.join(dir, 'served');
			await fs.mkdir(servedRoot, { mode: 0o755 });
		}
		if (/\s|"/.test(servedRoot)) throw new Error(`servedRoot must not contain spaces or quotes: ${servedRoot}`);

		const passphrase = `pp-${randomBytes(12).toString('base64url')}`;
		const hostKey = path.join(dir, 'ssh_host_ed25519_key');
		const clientKey = path.join(dir, 'client_key');
		await Promise.all([
			generateKey(hostKey, 'ed25519', '', 'rostersync-test-host'),
			generateKey(clientKey, options.clientKeyType ?? 'ed25519', passphrase, 'rostersync-test-client'),
		]);
		await fs.copyFile(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
		await fs.chmod(path.join(dir, 'authorized_keys'), 0o644);
		const [privateKey, hostKeyFingerprint, hostKeyFingerprintMd5] = await Promise.all([
			fs.readFile(clientKey, 'utf8'),
			keyFingerprint(`${hostKey}.pub`, 'sha256'),
			keyFingerprint(`${hostKey}.pub`, 'md5'),
		]);

		const { child, port, log } = await launch(dir, servedRoot, username);

		let stopped: Promise<void> | undefined;
		const stop = () =>
			(stopped ??= (async () => {
				await stopProcess(child, 2000);
				await fs.rm(dir, { recursive: true, force: true });
			})());

		return {
			host: '127.0.0.1',
			port,
			username,
			password,
			privateKey,
			passphrase,
			hostKeyFingerprint,
			hostKeyFingerprintMd5,
			servedRoot,
			log,
			stop,
		};
	} catch (error) {
		await fs.rm(dir, { recursive: true, force: true });
		throw error;
	}
}
