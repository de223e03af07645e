/**
 * The credentials' "Test connection" (what n8n runs when an operator presses Test), against a
 * REAL sshd and a REAL PostgreSQL: with right values it passes, and with a wrong value in one
 * field it fails with a message that names that field (as the credential form shows it) and
 * says what to do.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { ICredentialDataDecryptedObject, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';

import { rosterSftpConnectionTest } from '../../nodes/adapter/sftp';
import { rosterStoreConnectionTest } from '../../nodes/adapter/store';
import { freePort } from '../support/net';
import { testPostgresConfig, testPostgresServer } from '../support/pg-config';
import type { SshdServer } from '../support/sshd';
import { startSshd } from '../support/sshd';

const testContext = {} as ICredentialTestFunctions;

function sftpTest(data: ICredentialDataDecryptedObject): Promise<INodeCredentialTestResult> {
	return rosterSftpConnectionTest.call(testContext, { id: 'test', name: 'Roster SFTP', type: 'rosterSftpApi', data });
}

function storeTest(data: ICredentialDataDecryptedObject): Promise<INodeCredentialTestResult> {
	return rosterStoreConnectionTest.call(testContext, { id: 'test', name: 'Roster Store', type: 'rosterStoreApi', data });
}

describe('Roster SFTP API: Test connection against a real sshd', () => {
	let sshd: SshdServer;
	let other: SshdServer;
	let passwordLogin: ICredentialDataDecryptedObject;
	let keyLogin: ICredentialDataDecryptedObject;

	beforeAll(async () => {
		[sshd, other] = await Promise.all([startSshd(), startSshd()]);
		passwordLogin = {
			host: sshd.host,
			port: sshd.port,
			username: sshd.username,
			authentication: 'password',
			password: sshd.password,
			hostKeyFingerprint: sshd.hostKeyFingerprint,
		};
		keyLogin = {
			host: sshd.host,
			port: sshd.port,
			username: sshd.username,
			authentication: 'privateKey',
			privateKey: sshd.privateKey,
			passphrase: sshd.passphrase,
			hostKeyFingerprint: sshd.hostKeyFingerprint,
		};
	});

	afterAll(async () => {
		await sshd?.stop();
		await other?.stop();
	});

	const expectFailure = (result: INodeCredentialTestResult, fields: string, detail: RegExp) => {
		expect(result.status).toBe('Error');
		expect(result.message.startsWith(`Check ${fields}: `)).toBe(true);
		expect(result.message).toMatch(detail);
		for (const secret of [sshd.password, sshd.passphrase]) expect(result.message).not.toContain(secret);
	};

	it('passes with the right values (password and private key)', async () => {
		const byPassword = await sftpTest(passwordLogin);
		expect(byPassword).toEqual({
			status: 'OK',
			message: `Logged in to 127.0.0.1:${sshd.port} as ${sshd.username}; the login folder ${sshd.servedRoot} has 0 entries`,
		});
		expect((await sftpTest(keyLogin)).status).toBe('OK');
	});

	it('Host / Port: nothing listens there', async () => {
		const port = await freePort();
		expectFailure(await sftpTest({ ...passwordLogin, port }), 'Host and Port', new RegExp(`127\\.0\\.0\\.1:${port} was refused`));
	});

	it('Host: the name does not resolve', async () => {
		expectFailure(await sftpTest({ ...passwordLogin, host: 'sftp.does-not-exist.invalid' }), 'Host', /"sftp\.does-not-exist\.invalid" was not found/);
	});

	it('Username / Password: the login is refused', async () => {
		expectFailure(await sftpTest({ ...passwordLogin, password: 'not-the-password' }), 'Username and Password', /refused the login of user "rostersync-test"/);
		expectFailure(await sftpTest({ ...passwordLogin, username: 'nobody-here' }), 'Username and Password', /refused the login of user "nobody-here"/);
	});

	it('Username / Private Key: a key the server does not know', async () => {
		const result = await sftpTest({ ...keyLogin, privateKey: other.privateKey, passphrase: other.passphrase });
		expectFailure(result, 'Username and Private Key', /refused the login/);
	});

	it('Passphrase: wrong or missing', async () => {
		expectFailure(await sftpTest({ ...keyLogin, passphrase: 'wrong-passphrase' }), 'Passphrase', /passphrase is wrong/);
		expectFailure(await sftpTest({ ...keyLogin, passphrase: '' }), 'Passphrase', /passphrase is missing/);
	});

	it('Private Key: not a key', async () => {
		expectFailure(await sftpTest({ ...keyLogin, privateKey: 'ssh-ed25519 AAAA… (a public key pasted by mistake)' }), 'Private Key', /could not be read/);
	});

	it('Password: empty', async () => {
		expectFailure(await sftpTest({ ...passwordLogin, password: '' }), 'Password and Private Key', /no password or private key/);
	});

	it('Host Key Fingerprint: another server’s key, or not a fingerprint', async () => {
		const result = await sftpTest({ ...passwordLogin, hostKeyFingerprint: other.hostKeyFingerprint });
		expectFailure(result, 'Host Key Fingerprint', new RegExp(`expected ${other.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}, received ${sshd.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}`));
		expect(result.message).toMatch(/someone may be intercepting/);
		expectFailure(await sftpTest({ ...passwordLogin, hostKeyFingerprint: 'ab:cd' }), 'Host Key Fingerprint', /not in a known format/);
	});
});

describe('Roster Store API: Test connection against a real PostgreSQL and SQLite files', () => {
	let dir: string;
	let postgres: ICredentialDataDecryptedObject;

	beforeAll(async () => {
		dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rostersync-credtest-'));
		const config = await testPostgresConfig();
		postgres = { engine: 'postgres', ...config, ssl: false };
	});

	afterAll(async () => {
		await fs.rm(dir, { recursive: true, force: true });
	});

	const expectFailure = (result: INodeCredentialTestResult, fields: string, detail: RegExp) => {
		expect(result.status).toBe('Error');
		expect(result.message.startsWith(`Check ${fields}: `)).toBe(true);
		expect(result.message).toMatch(detail);
		expect(result.message).not.toContain(String(postgres.password));
	};

	it('SQLite: passes with a new file, and creates the store there', async () => {
		const file = path.join(dir, 'new', 'roster.sqlite');
		expect(await storeTest({ engine: 'sqlite', sqlitePath: file })).toEqual({
			status: 'OK',
			message: `Connected to sqlite:${file}; the store's tables are ready`,
		});
		expect((await fs.stat(file)).isFile()).toBe(true);
	});

	it('SQLite File Path: a folder, a file that is no store, a path under a file, a read-only place', async () => {
		expectFailure(await storeTest({ engine: 'sqlite', sqlitePath: dir }), 'File Path', /cannot be opened \(it is a folder/);
		const notes = path.join(dir, 'notes.txt');
		await fs.writeFile(notes, 'These are not the rosters you are looking for.\n'.repeat(200));
		expectFailure(await storeTest({ engine: 'sqlite', sqlitePath: notes }), 'File Path', /is not a SQLite database file/);
		expectFailure(await storeTest({ engine: 'sqlite', sqlitePath: path.join(notes, 'roster.sqlite') }), 'File Path', /is a file, not a folder/);
		// /sys is not writable, not even by root (sysfs refuses new folders).
		expectFailure(await storeTest({ engine: 'sqlite', sqlitePath: '/sys/rostersync/roster.sqlite' }), 'File Path', /n8n may not write to \/sys\/rostersync\/roster\.sqlite/);
	});

	it('PostgreSQL: passes with the right values', async () => {
		const result = await storeTest(postgres);
		expect(result).toEqual({
			status: 'OK',
			message: `Connected to postgres://${postgres.user}@${postgres.host}:${postgres.port}/${postgres.database}; the store's tables are ready`,
		});
	});

	it('PostgreSQL Host / Port: nothing listens there; Host: the name does not resolve', async () => {
		const port = await freePort();
		expectFailure(await storeTest({ ...postgres, port }), 'Host and Port', new RegExp(`the connection to 127\\.0\\.0\\.1:${port} was refused`));
		expectFailure(await storeTest({ ...postgres, host: 'db.does-not-exist.invalid' }), 'Host', /"db\.does-not-exist\.invalid" was not found/);
	});

	it('PostgreSQL User / Password: the login is refused', async () => {
		expectFailure(await storeTest({ ...postgres, password: 'not-the-password' }), 'User and Password', /refused the password of user/);
		expectFailure(await storeTest({ ...postgres, user: 'nobody_here' }), 'User and Password', /user "nobody_here"/);
	});

	it('PostgreSQL Database: it does not exist', async () => {
		expectFailure(await storeTest({ ...postgres, database: 'no_such_roster_db' }), 'Database', /the database "no_such_roster_db" does not exist/);
	});

	it('PostgreSQL SSL: the server does not offer it', async () => {
		expectFailure(await storeTest({ ...postgres, ssl: true }), 'SSL', /does not accept SSL connections/);
	});

	it('PostgreSQL User: may not create the store’s tables', async () => {
		const server = testPostgresServer();
		// A second role with a password but no rights on the test database's schema.
		const { Client } = await import('pg');
		const admin = new Client({ host: server.host, port: server.port, user: server.adminUser, password: server.adminPassword, database: 'postgres' });
		await admin.connect();
		const role = `rs_readonly_${process.pid}`;
		try {
			await admin.query(`DROP ROLE IF EXISTS ${role}`);
			await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'readonly-pass-1'`);
			const result = await storeTest({ ...postgres, user: role, password: 'readonly-pass-1' });
			expectFailure(result, 'User', new RegExp(`user "${role}" may not create the store's tables`));
		} finally {
			await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
			await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
			await admin.end();
		}
	});
});
