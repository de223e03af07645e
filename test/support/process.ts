/**
 * Running system commands from the test services harness, with errors that show
 * the command's output (so a service that cannot start fails loudly and clearly).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** PATH with the sbin directories, where Debian keeps sshd, useradd and chpasswd. */
export function systemPath(): string {
	const extra = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
	const parts = (process.env.PATH ?? '').split(':').filter(Boolean);
	for (const dir of extra) if (!parts.includes(dir)) parts.push(dir);
	return parts.join(':');
}

export interface RunOptions {
	input?: string;
	uid?: number;
	gid?: number;
	cwd?: string;
	env?: NodeJS.ProcessEnv;
	/** Exit codes that are not an error (default: only 0). */
	okCodes?: number[];
	/** Text that must not appear in error messages (e.g. a password given on stdin). */
	secrets?: string[];
}

export interface RunResult {
	code: number;
	stdout: string;
	stderr: string;
}

export class CommandError extends Error {
	constructor(
		message: string,
		readonly code: number | null,
		readonly stdout: string,
		readonly stderr: string,
	) {
		super(message);
		this.name = 'CommandError';
	}
}

function redact(text: string, secrets: string[] | undefined): string {
	let out = text;
	for (const secret of secrets ?? []) if (secret) out = out.split(secret).join('***');
	return out;
}

/** Runs a command to completion; rejects (with its output) on a non-zero exit. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
	return new Promise((resolve, reject) => {
		const spawnOptions: SpawnOptions = {
			cwd: options.cwd,
			env: { ...process.env, PATH: systemPath(), LC_ALL: 'C', ...options.env },
			stdio: ['pipe', 'pipe', 'pipe'],
		};
		if (options.uid !== undefined) spawnOptions.uid = options.uid;
		if (options.gid !== undefined) spawnOptions.gid = options.gid;
		const child = spawn(command, args, spawnOptions);
		let stdout = '';
		let stderr = '';
		child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
		child.on('error', (error) => {
			reject(new CommandError(`cannot run ${command}: ${error.message}`, null, stdout, stderr));
		});
		child.on('close', (code) => {
			const ok = options.okCodes ?? [0];
			if (code !== null && ok.includes(code)) {
				resolve({ code, stdout, stderr });
			} else {
				const shown = redact(`${command} ${args.join(' ')}`, options.secrets);
				const output = redact(`${stderr}${stdout}`.trim(), options.secrets);
				reject(
					new CommandError(
						`${shown} failed with exit code ${code}${output ? `:\n${output}` : ''}`,
						code,
						stdout,
						stderr,
					),
				);
			}
		});
		child.stdin!.on('error', () => undefined);
		child.stdin!.end(options.input ?? '');
	});
}

export function isRoot(): boolean {
	return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** uid, gid and home of a local account, from /etc/passwd (via getent), or undefined. */
export async function lookupAccount(name: string): Promise<{ uid: number; gid: number; home: string } | undefined> {
	const result = await run('getent', ['passwd', name], { okCodes: [0, 2] });
	if (result.code !== 0) return undefined;
	const fields = result.stdout.trim().split(':');
	return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] };
}

/** Whether a process with this pid exists (EPERM: it does, but belongs to someone else). */
export function processAlive(pid: number): boolean {
	if (!Number.isInteger(pid) || pid <= 0) return false;
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Server processes started by the test harness that are still running. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Sends `child` SIGTERM when this process exits, should it still be running then. */
export function killOnExit(child: ChildProcess): void {
	running.add(child);
	child.once('exit', () => running.delete(child));
	if (exitHookInstalled) return;
	exitHookInstalled = true;
	process.on('exit', () => {
		for (const server of running) server.kill('SIGTERM');
	});
}

/** Stops `child` if it still runs: SIGTERM, then SIGKILL after `killAfterMs`; resolves once it has exited. */
export async function stopProcess(child: ChildProcess, killAfterMs: number): Promise<void> {
	if (child.exitCode === null && child.signalCode === null) {
		const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
		child.kill('SIGTERM');
		const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
		await exit;
		clearTimeout(timer);
	}
	running.delete(child);
}
