#!/usr/bin/env node
/**
 * Makes sure the system packages the integration tests run for real are installed:
 *  - openssh-server (/usr/sbin/sshd, ssh-keygen) for test/support/sshd.ts,
 *  - postgresql (initdb, pg_ctl, postgres under /usr/lib/postgresql/<ver>/bin) for test/support/postgres.ts,
 *  - chromium (/usr/bin/chromium) for the browser test of the n8n editor (test/e2e/browser-editor.test.ts,
 *    driven by playwright-core; Debian's Chromium, so nothing is downloaded from a browser CDN).
 *
 * Idempotent and instant when they are present. When something is missing and we are root
 * on Debian/Ubuntu, runs `apt-get update` and installs them (with services kept from starting:
 * the tests start their own throwaway servers). Otherwise prints what to install and fails.
 *
 * Usage: node test/support/system-packages.mjs   (npm test runs it before jest)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const TAG = '[system-packages]';

function log(message) {
	console.log(`${TAG} ${message}`);
}

function postgresBinDir() {
	const root = '/usr/lib/postgresql';
	if (!existsSync(root)) return undefined;
	const versions = readdirSync(root)
		.filter((v) => /^\d+(\.\d+)?$/.test(v))
		.sort((a, b) => Number(b) - Number(a));
	for (const version of versions) {
		const bin = path.join(root, version, 'bin');
		if (['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(path.join(bin, name)))) return bin;
	}
	return undefined;
}

/** What is missing: a list of [package, reason]. */
function check() {
	const missing = [];
	if (!existsSync('/usr/sbin/sshd')) missing.push(['openssh-server', '/usr/sbin/sshd not found']);
	else if (!existsSync('/usr/bin/ssh-keygen')) missing.push(['openssh-server', '/usr/bin/ssh-keygen not found']);
	if (!postgresBinDir()) missing.push(['postgresql', 'no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin']);
	if (!existsSync('/usr/bin/chromium')) missing.push(['chromium', '/usr/bin/chromium not found']);
	if (!existsSync('/usr/sbin/useradd') || !existsSync('/usr/sbin/chpasswd')) {
		missing.push(['passwd', 'useradd/chpasswd not found']);
	}
	return missing;
}

function runVisible(command, args, env) {
	log(`$ ${command} ${args.join(' ')}`);
	const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
	if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
	if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

function install(packages) {
	const env = { DEBIAN_FRONTEND: 'noninteractive' };
	// Keep the packages' own services (the system sshd on port 22, the main PostgreSQL cluster)
	// from starting: Debian's invoke-rc.d asks /usr/sbin/policy-rc.d, and 101 means "not allowed".
	const policy = '/usr/sbin/policy-rc.d';
	let wrotePolicy = false;
	if (!existsSync(policy)) {
		writeFileSync(policy, '#!/bin/sh\n# temporary, from rostersync test/support/system-packages.mjs\nexit 101\n', {
			mode: 0o755,
		});
		wrotePolicy = true;
	}
	try {
		runVisible('apt-get', ['update'], env);
		runVisible('apt-get', ['install', '-y', '--no-install-recommends', ...packages], env);
	} finally {
		if (wrotePolicy) unlinkSync(policy);
	}
}

function main() {
	const started = Date.now();
	let missing = check();
	if (missing.length === 0) {
		log(`openssh-server, postgresql and chromium are installed (sshd /usr/sbin/sshd, PostgreSQL ${postgresBinDir()}, /usr/bin/chromium) — nothing to do`);
		return 0;
	}
	for (const [pkg, reason] of missing) log(`missing ${pkg}: ${reason}`);
	// Only what is missing: `apt-get install` of an installed package would upgrade it.
	const packages = [...new Set(missing.map(([pkg]) => pkg))];

	const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
	const hasApt = existsSync('/usr/bin/apt-get');
	if (!isRoot || !hasApt) {
		console.error(
			`${TAG} cannot install them: ${!hasApt ? 'apt-get is not available (not Debian/Ubuntu)' : 'not running as root'}.\n` +
				`${TAG} install them yourself, e.g.: sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}\n` +
				`${TAG} the integration tests need a real sshd and PostgreSQL, the browser test Chromium; they fail without them.`,
		);
		return 1;
	}

	log(`installing ${packages.join(' ')} with apt-get`);
	try {
		install(packages);
	} catch (error) {
		console.error(`${TAG} ${error.message}`);
		return 1;
	}
	missing = check();
	if (missing.length > 0) {
		for (const [pkg, reason] of missing) console.error(`${TAG} still missing ${pkg}: ${reason}`);
		return 1;
	}
	log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s (PostgreSQL ${postgresBinDir()})`);
	return 0;
}

process.exitCode = main();
