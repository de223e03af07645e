/**
 * Running workflows in the real n8n of the e2e setup (test/e2e/n8n-harness.ts; n8n 2.40.7 in .cache/, or in
 * ROSTERSYNC_CACHE_DIR) with `n8n execute`, timed: what the peer (bench/peer.mjs) and our nodes in n8n
 * (bench/in-n8n.mjs) share.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from './build-engine.mjs';
import { loadTypeScript } from './generate.mjs';

/** The e2e harness and n8n itself (installed into the cache on first use). */
export async function loadN8n() {
	// The harness finds the repository (n8n's cache, its installer) from here: it runs from a transpiled copy.
	process.env.ROSTERSYNC_REPO_ROOT ??= projectRoot;
	const harness = loadTypeScript('test/e2e/n8n-harness.ts');
	const n8n = await harness.ensureN8n();
	return { harness, n8n };
}

/** A workflow that does nothing: `n8n execute` of it is n8n's own start-up and shut-down. */
export function nothingWorkflow(id) {
	return {
		id,
		name: 'RosterSync bench: nothing',
		nodes: [{ id: 'bench-nothing', name: 'Run now', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} }],
		connections: {},
		active: false,
		settings: { executionOrder: 'v1' },
	};
}

/** stdout kept for the caller up to this size (our pipeline prints a few kB; the peer hundreds of MB). */
const KEEP_STDOUT_BYTES = 16 * 2 ** 20;

/** The RSS of a process in KiB (VmRSS), or undefined once it is gone. */
function rssKB(pid) {
	try {
		return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
	} catch {
		return undefined;
	}
}

/** The first child of a process (GNU time's: n8n), or undefined (not started yet, or no /proc). */
function childPid(pid) {
	try {
		const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
		return first ? Number(first) : undefined;
	} catch {
		return undefined;
	}
}

/** How often n8n's RSS is sampled, to attribute it to the node running at the time. */
const RSS_SAMPLE_MS = 100;

/**
 * `n8n execute --id` in its own process group, under GNU time for the peak RSS; stdout to a file (the
 * run's JSON can be hundreds of MB). `env` is added to the folder's (e.g. NODE_OPTIONS). Resolves with
 * wall seconds, exit code, peak RSS, the output tails, when it is small the whole stdout, and n8n's RSS
 * sampled every RSS_SAMPLE_MS as [epoch ms, KiB] (a timer: it can miss short peaks, GNU time's cannot).
 */
export async function executeTimed(n8n, folder, workflowId, outDir, timeoutMs, env = {}) {
	// A broker port of its own, so n8n processes of others on this machine (tests, a demo) never collide.
	const { freePort } = loadTypeScript('test/support/net.ts');
	const brokerPort = String(await freePort());
	return new Promise((resolve) => {
		const stdoutPath = join(outDir, `${workflowId}.stdout`);
		const stderrPath = join(outDir, `${workflowId}.stderr`);
		const timePath = join(outDir, `${workflowId}.time`);
		const out = openSync(stdoutPath, 'w');
		const err = openSync(stderrPath, 'w');
		const started = process.hrtime.bigint();
		const child = spawn('/usr/bin/time', ['-f', '%M %e %U %S %O', '-o', timePath, n8n.node, n8n.bin, 'execute', `--id=${workflowId}`, '--rawOutput'], {
			cwd: folder.root,
			env: { ...folder.env, N8N_LOG_LEVEL: 'info', N8N_RUNNERS_BROKER_PORT: brokerPort, ...env },
			stdio: ['ignore', out, err],
			detached: true,
		});
		const rssSamples = [];
		let n8nPid;
		const sampler = setInterval(() => {
			n8nPid ??= childPid(child.pid);
			const kb = n8nPid && rssKB(n8nPid);
			if (kb) rssSamples.push([Date.now(), kb]);
		}, RSS_SAMPLE_MS);
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			try {
				process.kill(-child.pid, 'SIGKILL');
			} catch {
				// gone already
			}
		}, timeoutMs);
		child.on('exit', (code, signal) => {
			clearTimeout(timer);
			clearInterval(sampler);
			closeSync(out);
			closeSync(err);
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			// GNU time: peak RSS (KiB), wall, user and system CPU seconds, and file system writes (512-byte blocks) of the whole process.
			const [maxRssKB, , userSeconds, systemSeconds, blocksWritten] = existsSync(timePath) ? readFileSync(timePath, 'utf8').trim().split('\n').pop().split(' ').map(Number) : [];
			const tail = (path, bytes = 4000) => {
				const size = statSync(path).size;
				const fd = openSync(path, 'r');
				const buffer = Buffer.alloc(Math.min(size, bytes));
				readSync(fd, buffer, 0, buffer.length, Math.max(0, size - buffer.length));
				closeSync(fd);
				return buffer.toString('utf8');
			};
			const stdoutBytes = statSync(stdoutPath).size;
			const result = {
				code,
				signal,
				timedOut,
				seconds,
				maxRssKB,
				cpuSeconds: userSeconds === undefined ? undefined : userSeconds + systemSeconds,
				systemSeconds,
				bytesWritten: blocksWritten === undefined ? undefined : blocksWritten * 512,
				stdoutBytes,
				stderrTail: tail(stderrPath),
				stdoutTail: tail(stdoutPath, 1500),
				stdout: stdoutBytes <= KEEP_STDOUT_BYTES ? readFileSync(stdoutPath, 'utf8') : undefined,
				rssSamples,
			};
			rmSync(stdoutPath, { force: true });
			resolve(result);
		});
	});
}

/** Why a run failed, in a line: n8n's own error message when it printed one. */
export function failureOf(result) {
	const text = `${result.stderrTail}\n${result.stdoutTail}`;
	if (/Invalid string length/.test(text)) return 'n8n execute died printing the run as JSON: RangeError: Invalid string length';
	if (/heap limit|heap out of memory/i.test(text)) return 'out of memory: the V8 heap limit was reached';
	if (result.timedOut) return 'timed out';
	const line = text.split('\n').find((l) => /error/i.test(l) && !/level/.test(l));
	return line ? line.trim().slice(0, 200) : `exit code ${result.code}${result.signal ? `, signal ${result.signal}` : ''}`;
}
