/**
 * A real, throwaway PostgreSQL cluster for the integration tests.
 *
 * `startPostgres()` runs Debian's initdb into a fresh temp dir (as the `postgres` OS
 * account when running as root, since initdb and postgres refuse root), starts it with
 * pg_ctl on 127.0.0.1 at a free port (its unix socket inside the temp dir, fsync off),
 * and creates:
 *  - the superuser `rostersync_admin` (used only by the harness to create databases),
 *  - the login role `rostersync` (what tests connect as; owns the databases it gets),
 *  - the database `rostersync_test`.
 * Every TCP login uses SCRAM passwords, so clients exercise their password path.
 *
 * `createDatabase(server)` makes a fresh empty database owned by `rostersync`, so each
 * test file works in isolation. Jest's global setup starts one server per run (see
 * global-setup.ts and pg-config.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

import { freePort } from './net';
import { isRoot, lookupAccount, processAlive, run, type RunOptions } from './process';

export interface PostgresConnection {
	host: string;
	port: number;
	user: string;
	password: string;
	database: string;
}

export interface PostgresServer extends PostgresConnection {
	/** Superuser of the cluster (the harness uses it to create databases). */
	adminUser: string;
	adminPassword: string;
	/** The temp dir holding the cluster (data/, socket/, postgres.log). */
	baseDir: string;
	/** PostgreSQL server version, e.g. "15.14". */
	version: string;
	stop(): Promise<void>;
}

const DIR_PREFIX = 'rostersync-pg-';
const ADMIN_USER = 'rostersync_admin';
const APP_USER = 'rostersync';
const DEFAULT_DATABASE = 'rostersync_test';

/** The newest Debian PostgreSQL bin directory (/usr/lib/postgresql/<ver>/bin), or one found on PATH. */
export function findPostgresBinDir(): string {
	const root = '/usr/lib/postgresql';
	const versions = existsSync(root)
		? readdirSync(root)
				.filter((v) => /^\d+(\.\d+)?$/.test(v))
				.sort((a, b) => Number(b) - Number(a))
		: [];
	for (const version of versions) {
		const bin = path.join(root, version, 'bin');
		if (['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(path.join(bin, name)))) return bin;
	}
	for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
		if (['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(path.join(dir, name)))) return dir;
	}
	throw new Error(
		'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin: ' +
			'install the Debian package postgresql (npm test does it when run as root: node test/support/system-packages.mjs)',
	);
}

function quoteIdent(name: string): string {
	return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
	return `'${value.replace(/'/g, "''")}'`;
}

/** Stops and removes clusters left behind by test runs that were killed (their owner process is gone). */
async function reapStaleClusters(bin: string, runAs: RunOptions): Promise<void> {
	const tmp = os.tmpdir();
	let names: string[];
	try {
		names = await fs.readdir(tmp);
	} catch {
		return;
	}
	for (const name of names.filter((n) => n.startsWith(DIR_PREFIX))) {
		const dir = path.join(tmp, name);
		try {
			const owner = JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8')) as { pid: number };
			if (processAlive(owner.pid)) continue;
			const pidFile = await fs.readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
			const postmaster = Number(pidFile.split('\n')[0]);
			if (processAlive(postmaster)) {
				await run(path.join(bin, 'pg_ctl'), ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop'], {
					...runAs,
					okCodes: [0, 1, 3],
				}).catch(() => undefined);
			}
			await fs.rm(dir, { recursive: true, force: true });
		} catch {
			// not ours to judge (no owner file yet, or being created): leave it
		}
	}
}

async function adminClient(server: Pick<PostgresServer, 'host' | 'port' | 'adminUser' | 'adminPassword'>, database = 'postgres') {
	const client = new Client({
		host: server.host,
		port: server.port,
		user: server.adminUser,
		password: server.adminPassword,
		database,
		ssl: false,
	});
	await client.connect();
	return client;
}

/**
 * `settings`: server settings over the test defaults (e.g. the benchmark's `shared_buffers`, a
 * production-like 128MB instead of the tests' 32MB), passed as `-c name=value`.
 */
export async function startPostgres(settings: Record<string, string> = {}): Promise<PostgresServer> {
	const bin = findPostgresBinDir();
	let runAs: RunOptions = {};
	let owner: { uid: number; gid: number } | undefined;
	if (isRoot()) {
		const account = await lookupAccount('postgres');
		if (!account) {
			throw new Error('The OS account "postgres" is missing: install the Debian package postgresql (it creates it)');
		}
		owner = { uid: account.uid, gid: account.gid };
		runAs = { uid: account.uid, gid: account.gid, env: { HOME: account.home } };
	}
	await reapStaleClusters(bin, runAs);

	const baseDir = await fs.mkdtemp(path.join(os.tmpdir(), DIR_PREFIX));
	const dataDir = path.join(baseDir, 'data');
	const socketDir = path.join(baseDir, 'socket');
	const logFile = path.join(baseDir, 'postgres.log');
	const adminPassword = `adm-${randomBytes(15).toString('base64url')}`;
	const password = `app-${randomBytes(15).toString('base64url')}`;
	runAs = { ...runAs, cwd: baseDir, secrets: [adminPassword, password] };
	const pgCtl = path.join(bin, 'pg_ctl');

	try {
		await fs.writeFile(path.join(baseDir, 'owner.json'), JSON.stringify({ pid: process.pid }));
		await fs.mkdir(socketDir, { mode: 0o700 });
		const pwFile = path.join(baseDir, 'pwfile');
		await fs.writeFile(pwFile, `${adminPassword}\n`, { mode: 0o600 });
		if (owner) {
			for (const p of [baseDir, socketDir, pwFile]) await fs.chown(p, owner.uid, owner.gid);
		}

		await run(
			path.join(bin, 'initdb'),
			[
				'-D',
				dataDir,
				'-U',
				ADMIN_USER,
				`--pwfile=${pwFile}`,
				'--auth=scram-sha-256',
				'--encoding=UTF8',
				'--locale=C',
				'--no-sync',
			],
			runAs,
		);
		await fs.rm(pwFile, { force: true });

		let port = 0;
		for (let attempt = 1; ; attempt++) {
			port = await freePort();
			const serverOptions = [
				'-c listen_addresses=127.0.0.1',
				`-p ${port}`,
				`-c unix_socket_directories=${socketDir}`,
				'-c fsync=off',
				'-c synchronous_commit=off',
				'-c full_page_writes=off',
				'-c max_connections=200',
				'-c shared_buffers=32MB',
				'-c password_encryption=scram-sha-256',
				...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`),
			].join(' ');
			try {
				await run(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start'], runAs);
				break;
			} catch (error) {
				const log = await fs.readFile(logFile, 'utf8').catch(() => '');
				if (attempt < 5 && /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(log)) {
					await fs.rm(logFile, { force: true });
					continue;
				}
				throw new Error(`${(error as Error).message}\n--- postgres log ---\n${log.trim()}`);
			}
		}

		const server: PostgresServer = {
			host: '127.0.0.1',
			port,
			user: APP_USER,
			password,
			database: DEFAULT_DATABASE,
			adminUser: ADMIN_USER,
			adminPassword,
			baseDir,
			version: '',
			stop: async () => undefined,
		};
		let stopped: Promise<void> | undefined;
		server.stop = () =>
			(stopped ??= (async () => {
				await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { ...runAs, okCodes: [0, 1, 3] });
				await fs.rm(baseDir, { recursive: true, force: true });
			})());

		try {
			const admin = await adminClient(server);
			try {
				server.version = (await admin.query('SHOW server_version')).rows[0].server_version;
				await admin.query(`CREATE ROLE ${quoteIdent(APP_USER)} LOGIN PASSWORD ${quoteLiteral(password)}`);
				await admin.query(`CREATE DATABASE ${quoteIdent(DEFAULT_DATABASE)} OWNER ${quoteIdent(APP_USER)}`);
			} finally {
				await admin.end();
			}
		} catch (error) {
			await server.stop();
			throw error;
		}
		return server;
	} catch (error) {
		await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { ...runAs, okCodes: [0, 1, 3] }).catch(
			() => undefined,
		);
		await fs.rm(baseDir, { recursive: true, force: true });
		throw new Error(`Could not start the test PostgreSQL server: ${(error as Error).message}`);
	}
}

let databaseCounter = 0;

/**
 * Creates a fresh, empty database owned by the server's login role and returns how to
 * connect to it. `name` defaults to a unique one.
 */
export async function createDatabase(
	server: Pick<PostgresServer, 'host' | 'port' | 'user' | 'password' | 'adminUser' | 'adminPassword'>,
	name?: string,
): Promise<PostgresConnection> {
	const database = name ?? `rs_${process.pid}_${++databaseCounter}_${randomBytes(3).toString('hex')}`;
	const admin = await adminClient(server);
	try {
		await admin.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(server.user)}`);
	} finally {
		await admin.end();
	}
	return { host: server.host, port: server.port, user: server.user, password: server.password, database };
}
