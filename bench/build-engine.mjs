/**
 * Compiles the engine (nodes/shared/**) to CommonJS for the benchmark, with the TypeScript compiler API,
 * into a cache folder in the OS temp dir keyed by the sources' content hash. Only the modules the
 * benchmark's entry points import are emitted, so unrelated work in progress elsewhere cannot break
 * the build; type errors are reported as a count but do not stop the emit (the tests type-check).
 *
 * The cache folder gets a `node_modules` symlink to the project's, so the compiled modules resolve
 * csv-parse, luxon, yauzl, pg … exactly as in the project.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const projectRoot = dirname(here);
const require = createRequire(import.meta.url);

/** The engine modules the benchmark loads (paths relative to the project root, without .ts). */
export const ENGINE_ENTRY_POINTS = [
	'nodes/shared/store/store',
	'nodes/shared/store/staging',
	'nodes/shared/store/snapshot',
	'nodes/shared/sources/stage-run',
	'nodes/shared/sources/oneroster-csv/source',
	'nodes/shared/sources/oneroster-csv/file-set',
	'nodes/shared/normalize/normalize',
	'nodes/shared/reconcile/apply',
	'nodes/shared/lists/apply',
	'nodes/shared/report/report',
	'nodes/shared/sources/oneroster-rest/source',
	'nodes/shared/sources/oneroster-rest/auth/api-auth',
	'nodes/shared/sources/oneroster-rest/http',
	'nodes/shared/threads/step-thread',
	'nodes/shared/threads/step-worker',
];

function tsFilesUnder(dir) {
	const files = [];
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const full = join(dir, entry.name);
		if (entry.isDirectory()) files.push(...tsFilesUnder(full));
		else if (entry.isFile() && entry.name.endsWith('.ts')) files.push(full);
	}
	return files.sort();
}

/**
 * Builds (or reuses) the compiled engine; returns `{ dir, cached, seconds, typeErrors }` where `dir`
 * mirrors the project (e.g. `${dir}/nodes/shared/store/store.js`).
 */
export function buildEngine({ log = () => {} } = {}) {
	const ts = require('typescript');
	const hash = createHash('sha256');
	hash.update(`typescript ${ts.version}\n`);
	// The project folder too: the cache's node_modules link points into it (a removed worktree's link would dangle).
	hash.update(`${projectRoot}\n`);
	hash.update(readFileSync(fileURLToPath(import.meta.url)));
	for (const file of tsFilesUnder(join(projectRoot, 'nodes', 'shared'))) {
		hash.update(relative(projectRoot, file));
		hash.update(readFileSync(file));
	}
	const key = hash.digest('hex').slice(0, 16);
	const cacheRoot = join(tmpdir(), 'rostersync-bench');
	const dir = join(cacheRoot, `engine-${key}`);
	if (existsSync(join(dir, '.complete'))) return { dir, cached: true, seconds: 0, typeErrors: 0 };

	const started = process.hrtime.bigint();
	const building = `${dir}.${process.pid}.tmp`;
	rmSync(building, { recursive: true, force: true });
	mkdirSync(building, { recursive: true });
	const options = {
		module: ts.ModuleKind.CommonJS,
		moduleResolution: ts.ModuleResolutionKind.Node10,
		target: ts.ScriptTarget.ES2022,
		lib: ['lib.es2022.d.ts'],
		strict: true,
		esModuleInterop: true,
		resolveJsonModule: true,
		skipLibCheck: true,
		useUnknownInCatchVariables: false,
		types: ['node'],
		typeRoots: [join(projectRoot, 'node_modules', '@types')],
		sourceMap: true,
		removeComments: true,
		declaration: false,
		noEmitOnError: false,
		rootDir: projectRoot,
		outDir: building,
	};
	const roots = ENGINE_ENTRY_POINTS.map((entry) => join(projectRoot, `${entry}.ts`));
	const program = ts.createProgram(roots, options);
	const emitted = program.emit();
	if (emitted.emitSkipped) {
		const text = ts.formatDiagnostics(emitted.diagnostics, {
			getCanonicalFileName: (f) => f,
			getCurrentDirectory: () => projectRoot,
			getNewLine: () => '\n',
		});
		throw new Error(`cannot compile the engine:\n${text}`);
	}
	const typeErrors = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
	if (typeErrors.length > 0) {
		log(
			`note: the engine has ${typeErrors.length} type error(s); benchmarking the emitted JavaScript anyway. First: ` +
				ts.flattenDiagnosticMessageText(typeErrors[0].messageText, '\n'),
		);
	}
	symlinkSync(join(projectRoot, 'node_modules'), join(building, 'node_modules'), 'dir');
	writeFileSync(join(building, '.complete'), `${new Date().toISOString()}\n`);
	rmSync(dir, { recursive: true, force: true });
	renameSync(building, dir);
	return { dir, cached: false, seconds: Number(process.hrtime.bigint() - started) / 1e9, typeErrors: typeErrors.length };
}
