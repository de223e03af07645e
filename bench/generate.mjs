#!/usr/bin/env node
/**
 * Writes a synthetic OneRoster district (and optionally its "day two") to disk.
 *
 *   node bench/generate.mjs --students 10000 [--schools 13] [--seed 1] --out /tmp/district \
 *        [--day2 /tmp/district-day2] [--version 1.1|1.2] [--changed 1] [--gone 0.5] [--new 0.5]
 *
 * bench/district-generator.ts and the project files it imports (the OneRoster spec) are transpiled on the
 * fly (typescript's transpileModule, no type check) into a cached folder in the OS temp dir and required
 * from there.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = dirname(here);
const require = createRequire(import.meta.url);

/** Relative module specifiers of static `import … from './…'` and `export … from './…'` statements. */
const RELATIVE_IMPORT = /^(?:import|export)\b[^;]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]*)\1/gm;

/** `file` and the project .ts files it imports by relative path, transitively: path → source, `file` first. */
function localModules(file, found = new Map()) {
	if (found.has(file)) return found;
	const source = readFileSync(file, 'utf8');
	found.set(file, source);
	for (const [, , specifier] of source.matchAll(RELATIVE_IMPORT)) {
		const target = resolve(dirname(file), specifier);
		const ts = [`${target}.ts`, join(target, 'index.ts')].find((candidate) => existsSync(candidate));
		if (!ts) throw new Error(`${relative(projectRoot, file)}: cannot find ${specifier}`);
		localModules(ts, found);
	}
	return found;
}

/**
 * Loads a project .ts file (e.g. bench/district-generator.ts, test/support/postgres.ts): it and the project
 * files it imports are transpiled to CommonJS .js files under one cache folder that mirrors the project
 * (cached by their content hash). The folder gets a `node_modules` symlink to the project's, so the
 * transpiled modules resolve pg, typescript … as in the project.
 */
export function loadTypeScript(file) {
	const modules = localModules(resolve(projectRoot, file));
	const hash = createHash('sha256');
	// The project folder too: the cache's node_modules link points into it (a removed worktree's link would dangle).
	hash.update(`${projectRoot}\n`);
	for (const [path, source] of modules) hash.update(`${relative(projectRoot, path)}\n${source}\n`);
	const cacheDir = join(tmpdir(), 'rostersync-bench');
	const base = relative(projectRoot, resolve(projectRoot, file)).replace(/[\/.]/g, '-');
	const dir = join(cacheDir, `${base}-${hash.digest('hex').slice(0, 16)}`);
	const entry = join(dir, relative(projectRoot, resolve(projectRoot, file))).replace(/\.ts$/, '.js');
	if (!existsSync(entry)) {
		const ts = require('typescript');
		const building = `${dir}.${process.pid}.tmp`;
		rmSync(building, { recursive: true, force: true });
		for (const [path, source] of modules) {
			const out = ts.transpileModule(source, {
				fileName: path,
				compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
			});
			const target = join(building, relative(projectRoot, path)).replace(/\.ts$/, '.js');
			mkdirSync(dirname(target), { recursive: true });
			writeFileSync(target, out.outputText);
		}
		writeFileSync(join(building, 'package.json'), '{ "type": "commonjs" }\n');
		symlinkSync(join(projectRoot, 'node_modules'), join(building, 'node_modules'), 'dir');
		try {
			renameSync(building, dir);
		} catch (err) {
			// Another process (bench/run.mjs's children) finished the same folder first: use that one.
			rmSync(building, { recursive: true, force: true });
			if (!existsSync(entry)) throw err;
		}
	}
	return require(entry);
}

/** bench/district-generator.ts, loaded with loadTypeScript. */
export function loadGenerator() {
	return loadTypeScript('bench/district-generator.ts');
}

function parseArgs(argv) {
	const args = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
		const key = a.slice(2);
		const value = argv[i + 1];
		if (value === undefined || value.startsWith('--')) throw new Error(`--${key} needs a value`);
		args[key] = value;
		i++;
	}
	return args;
}

function num(args, key, fallback) {
	if (args[key] === undefined) return fallback;
	const n = Number(args[key]);
	if (!Number.isFinite(n)) throw new Error(`--${key} must be a number`);
	return n;
}

async function main() {
	let args;
	try {
		args = parseArgs(process.argv.slice(2));
		if (!args.out) throw new Error('--out is required');
	} catch (err) {
		console.error(String(err.message ?? err));
		console.error(
			'usage: node bench/generate.mjs --students N --out DIR [--schools K] [--seed S] [--version 1.1|1.2] [--day2 DIR] [--changed PCT] [--gone PCT] [--new PCT]',
		);
		process.exit(2);
	}
	const options = {
		students: num(args, 'students', 10000),
		seed: num(args, 'seed', 1),
		version: args.version ?? '1.1',
	};
	if (args.schools !== undefined) options.schools = num(args, 'schools');

	const gen = loadGenerator();
	const t0 = process.hrtime.bigint();
	const counts = await gen.writeDistrict(args.out, options);
	const t1 = process.hrtime.bigint();
	console.log(JSON.stringify({ out: args.out, options, counts, seconds: Number(t1 - t0) / 1e9 }, null, 2));

	if (args.day2) {
		const t2 = process.hrtime.bigint();
		const r = await gen.writeDayTwo(args.out, args.day2, {
			...options,
			changedPercent: num(args, 'changed', 1),
			gonePercent: num(args, 'gone', 0.5),
			newPercent: num(args, 'new', 0.5),
		});
		const t3 = process.hrtime.bigint();
		console.log(
			JSON.stringify(
				{
					out: args.day2,
					counts: r.counts,
					changed: r.changed.length,
					gone: r.gone.length,
					added: r.added.length,
					goneContacts: r.goneContacts.length,
					addedContacts: r.addedContacts.length,
					seconds: Number(t3 - t2) / 1e9,
				},
				null,
				2,
			),
		);
	}
	const ru = process.resourceUsage();
	console.log(
		JSON.stringify({ wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, maxRssMB: Math.round(ru.maxRSS / 1024) }),
	);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	main().catch((err) => {
		console.error(err);
		process.exit(1);
	});
}
