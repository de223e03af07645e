/**
 * openSftpFileSet against a real OpenSSH server (test/support/sshd.ts): logins, loose files,
 * zips, host key checks and error messages that never show secrets.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import {
	hostKeyFingerprints,
	openSftpFileSet,
	parseHostKeyFingerprint,
	sftpLocation,
	type CsvFileSet,
	type SftpConnectionOptions,
} from '../../nodes/shared/sources/oneroster-csv/sftp-file-set';
import { freePort } from '../support/net';
import { copyIntoServed, startSshd, writeServedFiles, type SshdServer } from '../support/sshd';
import { GRAND_BEND_1_1, sharedDataDir } from '../support/paths';
import { buildZip } from '../support/zip';

const SAMPLE = sharedDataDir(GRAND_BEND_1_1);

let server: SshdServer;
let sampleNames: string[];
let sampleFiles: Record<string, Buffer>;

beforeAll(async () => {
	server = await startSshd();
	sampleNames = (await fs.readdir(SAMPLE)).filter((name) => name.endsWith('.csv')).sort();
	sampleFiles = {};
	for (const name of sampleNames) sampleFiles[name] = await fs.readFile(path.join(SAMPLE, name));
});

afterAll(async () => {
	await server?.stop();
});

function passwordLogin(extra: Partial<SftpConnectionOptions> = {}): SftpConnectionOptions {
	return { host: server.host, port: server.port, username: server.username, password: server.password, ...extra };
}

function keyLogin(extra: Partial<SftpConnectionOptions> = {}): SftpConnectionOptions {
	return {
		host: server.host,
		port: server.port,
		username: server.username,
		privateKey: server.privateKey,
		passphrase: server.passphrase,
		...extra,
	};
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
	return Buffer.concat(chunks);
}

async function withSet<T>(set: CsvFileSet, fn: (set: CsvFileSet) => Promise<T>): Promise<T> {
	try {
		return await fn(set);
	} finally {
		await set.close();
	}
}

async function expectSameFiles(set: CsvFileSet, expected: Record<string, Buffer>) {
	expect((await set.list()).sort()).toEqual(Object.keys(expected).sort());
	for (const [name, content] of Object.entries(expected)) {
		expect((await readAll(await set.open(name))).equals(content)).toBe(true);
	}
}

/** The error openSftpFileSet rejects with (fails the test if it resolves). */
async function failure(conn: SftpConnectionOptions, remotePath: string): Promise<Error> {
	try {
		const set = await openSftpFileSet(conn, remotePath);
		await set.close();
	} catch (error) {
		return error as Error;
	}
	throw new Error('expected openSftpFileSet to fail');
}

function expectNoSecrets(error: Error) {
	const text = `${error.message}\n${(error as { hint?: string }).hint ?? ''}\n${error.stack ?? ''}`;
	expect(text).not.toContain(server.password);
	expect(text).not.toContain(server.passphrase);
	for (const line of server.privateKey.split('\n')) if (line.length > 20) expect(text).not.toContain(line);
}

describe('the test sshd', () => {
	test('reports the host key fingerprint as ssh-keygen -lf prints it', () => {
		expect(server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
		expect(server.hostKeyFingerprintMd5).toMatch(/^MD5:([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
		expect(server.privateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
	});
});

describe('loose CSV files in a folder', () => {
	let folder: string;
	beforeAll(async () => {
		folder = await copyIntoServed(server, SAMPLE, 'exports/loose');
	});

	test('password login lists and streams every file, byte for byte', async () => {
		const set = await openSftpFileSet(passwordLogin({ hostKeyFingerprint: server.hostKeyFingerprint }), folder);
		await withSet(set, async () => {
			expect(set.description).toBe(`sftp://${server.username}@127.0.0.1:${server.port}${folder}`);
			await expectSameFiles(set, sampleFiles);
		});
	});

	test('public key login with a passphrase-protected key (and an MD5 host fingerprint)', async () => {
		const md5Colons = server.hostKeyFingerprintMd5.slice('MD5:'.length);
		const set = await openSftpFileSet(keyLogin({ hostKeyFingerprint: md5Colons }), folder);
		await withSet(set, () => expectSameFiles(set, sampleFiles));
	});

	test('a path relative to the login folder works and is shown absolute', async () => {
		const set = await openSftpFileSet(passwordLogin(), 'exports/loose');
		await withSet(set, async () => {
			expect(set.description).toContain(`${server.port}${folder}`);
			expect((await set.list()).sort()).toEqual(sampleNames);
		});
	});

	test('file names keep their case; other files are listed too; unknown names are rejected', async () => {
		const dir = await writeServedFiles(server, 'exports/mixed-case', {
			'Users.CSV': 'sourcedId\n1\n',
			'orgs.csv': 'sourcedId\n2\n',
			'readme.txt': 'hello',
			'sub/ignored.csv': 'not part of the set',
		});
		const set = await openSftpFileSet(passwordLogin(), dir);
		await withSet(set, async () => {
			expect((await set.list()).sort()).toEqual(['Users.CSV', 'orgs.csv', 'readme.txt']);
			expect((await readAll(await set.open('Users.CSV'))).toString()).toBe('sourcedId\n1\n');
			await expect(set.open('users.csv')).rejects.toThrow(/users\.csv is not in sftp:\/\//);
		});
	});

	test('a large file is streamed in many chunks, not read whole', async () => {
		const big = randomBytes(6 * 1024 * 1024);
		const dir = await writeServedFiles(server, 'exports/big', { 'users.csv': big });
		const set = await openSftpFileSet(passwordLogin(), dir);
		await withSet(set, async () => {
			const stream = await set.open('users.csv');
			const hash = createHash('sha256');
			let chunks = 0;
			let largest = 0;
			for await (const chunk of stream) {
				chunks++;
				largest = Math.max(largest, (chunk as Buffer).length);
				hash.update(chunk as Buffer);
			}
			expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
			expect(chunks).toBeGreaterThan(10);
			expect(largest).toBeLessThanOrEqual(256 * 1024);
		});
	});

	test('several files can be read at the same time over one connection', async () => {
		const set = await openSftpFileSet(passwordLogin(), folder);
		await withSet(set, async () => {
			const contents = await Promise.all(sampleNames.map(async (name) => readAll(await set.open(name))));
			contents.forEach((content, i) => expect(content.equals(sampleFiles[sampleNames[i]])).toBe(true));
		});
	});
});

describe('zip exports', () => {
	test('a .zip file path is downloaded and read', async () => {
		const dir = await writeServedFiles(server, 'exports/zipfile', { 'oneroster.zip': await buildZip(sampleFiles) });
		const zipPath = path.join(dir, 'oneroster.zip');
		const set = await openSftpFileSet(keyLogin({ hostKeyFingerprint: server.hostKeyFingerprint }), zipPath);
		await withSet(set, async () => {
			expect(set.description).toContain(`sftp://${server.username}@127.0.0.1:${server.port}${zipPath}`);
			await expectSameFiles(set, sampleFiles);
		});
	});

	test('a zip whose files sit in a folder inside it', async () => {
		const nested: Record<string, Buffer> = {};
		for (const [name, data] of Object.entries(sampleFiles)) nested[`GrandBend/${name}`] = data;
		const dir = await writeServedFiles(server, 'exports/nested-zip', { 'export.zip': await buildZip(nested) });
		const set = await openSftpFileSet(passwordLogin(), path.join(dir, 'export.zip'));
		await withSet(set, () => expectSameFiles(set, sampleFiles));
	});

	test('a folder holding one zip uses it', async () => {
		const dir = await writeServedFiles(server, 'exports/one-zip', { 'roster-2024-09-01.zip': await buildZip(sampleFiles) });
		const set = await openSftpFileSet(passwordLogin(), dir);
		await withSet(set, async () => {
			expect(set.description).toContain(`${dir}/roster-2024-09-01.zip`);
			expect(set.description).not.toMatch(/newest/);
			await expectSameFiles(set, sampleFiles);
		});
	});

	test('a folder holding several zips uses the newest and says so', async () => {
		const newest = { 'users.csv': sampleFiles['users.csv'], 'orgs.csv': sampleFiles['orgs.csv'] };
		const dir = await writeServedFiles(server, 'exports/many-zips', {
			'a-newest.zip': await buildZip(newest),
			'b-old.zip': await buildZip({ 'users.csv': 'old' }),
			'c-older.zip': await buildZip({ 'users.csv': 'older' }),
		});
		const now = Date.now() / 1000;
		await fs.utimes(path.join(dir, 'a-newest.zip'), now - 60, now - 60);
		await fs.utimes(path.join(dir, 'b-old.zip'), now - 86_400, now - 86_400);
		await fs.utimes(path.join(dir, 'c-older.zip'), now - 2 * 86_400, now - 2 * 86_400);
		const set = await openSftpFileSet(passwordLogin(), dir);
		await withSet(set, async () => {
			expect(set.description).toContain(`${dir}/a-newest.zip`);
			expect(set.description).toContain(`newest of 3 .zip files in ${dir}`);
			await expectSameFiles(set, newest);
		});
	});

	test('a damaged zip is reported as such', async () => {
		const dir = await writeServedFiles(server, 'exports/bad-zip', { 'broken.zip': Buffer.from('PK\u0003\u0004 not really a zip') });
		const error = await failure(passwordLogin(), path.join(dir, 'broken.zip'));
		expect(error.message).toMatch(/broken\.zip is not a readable zip file/);
	});
});

describe('host key checks', () => {
	test('parses the usual fingerprint formats', () => {
		expect(parseHostKeyFingerprint(server.hostKeyFingerprint)).toEqual({
			kind: 'sha256',
			value: server.hostKeyFingerprint.slice(7),
		});
		expect(parseHostKeyFingerprint(`${server.hostKeyFingerprint}=`)?.kind).toBe('sha256');
		expect(parseHostKeyFingerprint(server.hostKeyFingerprintMd5)?.kind).toBe('md5');
		expect(parseHostKeyFingerprint('AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99')).toEqual({
			kind: 'md5',
			value: 'aabbccddeeff00112233445566778899',
		});
		expect(parseHostKeyFingerprint('  ')).toBeUndefined();
		expect(() => parseHostKeyFingerprint('nonsense')).toThrow(/not in a known format/);
		expect(hostKeyFingerprints(Buffer.from('x')).sha256).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
	});

	test('a SHA256 mismatch is refused, naming both fingerprints, before any password is sent', async () => {
		const wrong = `SHA256:${createHash('sha256').update('another server').digest('base64').replace(/=+$/, '')}`;
		const logBefore = server.log().length;
		const error = await failure(passwordLogin({ hostKeyFingerprint: wrong }), '.');
		expect(error.message).toContain(wrong);
		expect(error.message).toContain(server.hostKeyFingerprint);
		expect(error.message).toContain(`127.0.0.1:${server.port}`);
		expectNoSecrets(error);
		expect(server.log().slice(logBefore)).not.toMatch(/Accepted password|Failed password/);
	});

	test('an MD5 mismatch is refused, naming both fingerprints', async () => {
		const wrong = '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff';
		const error = await failure(keyLogin({ hostKeyFingerprint: wrong }), '.');
		expect(error.message).toContain(`MD5:${wrong}`);
		expect(error.message).toContain(server.hostKeyFingerprintMd5);
		expectNoSecrets(error);
	});
});

describe('errors name host, port, user and path, never secrets', () => {
	test('wrong password', async () => {
		const badPassword = `${server.password}-wrong`;
		const error = await failure(passwordLogin({ password: badPassword }), '/exports');
		expect(error.message).toMatch(/refused the login/);
		expect(error.message).toContain(`127.0.0.1:${server.port}`);
		expect(error.message).toContain(server.username);
		expect(error.message).not.toContain(badPassword);
		expectNoSecrets(error);
	});

	test('wrong passphrase of the private key', async () => {
		const error = await failure(keyLogin({ passphrase: 'not-the-passphrase' }), '.');
		expect(error.message).toMatch(/could not be decrypted: the passphrase is wrong/);
		expect(error.message).toContain(`${server.username}@127.0.0.1:${server.port}`);
		expect(error.message).not.toContain('not-the-passphrase');
		expectNoSecrets(error);
	});

	test('missing passphrase of the private key', async () => {
		const error = await failure(keyLogin({ passphrase: undefined }), '.');
		expect(error.message).toMatch(/passphrase is missing/);
		expectNoSecrets(error);
	});

	test('a key that is not authorized', async () => {
		const other = await startSshd();
		try {
			// The other server's client key is not in this server's authorized_keys.
			const error = await failure(keyLogin({ privateKey: other.privateKey, passphrase: other.passphrase }), '.');
			expect(error.message).toMatch(/refused the login of user "rostersync-test" \(tried private key\)/);
			expect(error.message).not.toContain(other.passphrase);
		} finally {
			await other.stop();
		}
	});

	test('connection refused', async () => {
		const port = await freePort();
		const error = await failure(passwordLogin({ port }), '/exports/oneroster');
		expect(error.message).toContain(`sftp://${server.username}@127.0.0.1:${port}/exports/oneroster`);
		expect(error.message).toMatch(/refused/);
		expectNoSecrets(error);
	});

	test('unknown path', async () => {
		const missing = path.join(server.servedRoot, 'no', 'such', 'folder');
		const error = await failure(passwordLogin(), missing);
		expect(error.message).toBe(
			`sftp://${server.username}@127.0.0.1:${server.port}${missing} does not exist (user "${server.username}")`,
		);
		expectNoSecrets(error);
	});

	test('a folder without CSV or zip files', async () => {
		const dir = await writeServedFiles(server, 'exports/nothing', { 'notes.txt': 'x' });
		const error = await failure(passwordLogin(), dir);
		expect(error.message).toMatch(/holds no \.csv or \.zip files \(only notes\.txt\)/);
	});

	test('a folder the user may not read', async () => {
		const dir = await writeServedFiles(server, 'exports/locked', { 'users.csv': 'x' });
		await fs.chmod(dir, 0o700);
		const error = await failure(passwordLogin(), dir);
		expect(error.message).toMatch(/may not read .*permission denied/);
		expectNoSecrets(error);
	});
});

describe('other key formats', () => {
	test('a PEM RSA key with a passphrase', async () => {
		const rsa = await startSshd({ clientKeyType: 'rsa-pem' });
		try {
			expect(rsa.privateKey).toMatch(/BEGIN RSA PRIVATE KEY/);
			expect(rsa.privateKey).toMatch(/ENCRYPTED/);
			const dir = await copyIntoServed(rsa, SAMPLE, 'loose');
			const set = await openSftpFileSet(
				{
					host: rsa.host,
					port: rsa.port,
					username: rsa.username,
					privateKey: rsa.privateKey,
					passphrase: rsa.passphrase,
					hostKeyFingerprint: rsa.hostKeyFingerprint,
				},
				dir,
			);
			await withSet(set, () => expectSameFiles(set, sampleFiles));

			const wrong = await openSftpFileSet(
				{ host: rsa.host, port: rsa.port, username: rsa.username, privateKey: rsa.privateKey, passphrase: 'wrong-one' },
				dir,
			).then(
				() => undefined,
				(error: Error) => error,
			);
			expect(wrong?.message).toMatch(/could not be (decrypted|read)/);
			expect(wrong?.message).not.toContain('wrong-one');
			expect(wrong?.message).not.toContain(rsa.passphrase);
		} finally {
			await rsa.stop();
		}
	});
});

describe('display of locations', () => {
	test('relative and ~ paths are shown relative to the login folder', () => {
		const conn = { host: 'sis.example.org', port: 22, username: 'district', password: 'x' };
		expect(sftpLocation(conn, '/exports/oneroster')).toBe('sftp://district@sis.example.org:22/exports/oneroster');
		expect(sftpLocation(conn, 'exports')).toBe('sftp://district@sis.example.org:22/~/exports');
		expect(sftpLocation(conn, '~/exports')).toBe('sftp://district@sis.example.org:22/~/exports');
		expect(sftpLocation(conn, '.')).toBe('sftp://district@sis.example.org:22/~');
		expect(sftpLocation({ ...conn, host: '::1' }, '/x')).toBe('sftp://district@[::1]:22/x');
	});

	test('a ~/ path is read relative to the login folder', async () => {
		const dir = await writeServedFiles(server, 'home-relative', { 'users.csv': 'a\n' });
		const set = await openSftpFileSet(passwordLogin(), '~/home-relative');
		await withSet(set, async () => {
			expect(set.description).toContain(`${server.port}${dir}`);
			expect(await set.list()).toEqual(['users.csv']);
		});
	});
});
