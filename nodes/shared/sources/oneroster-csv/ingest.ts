/**
 * Ingest of a OneRoster 1.1 or 1.2 CSV set into the staging area: reads manifest.csv, frames the
 * records of each staged file in its bytes (csv-frame.ts) and reads them into cells with the CSV
 * scanner (csv-scan.ts), checks header and rows against the spec, and hands valid rows to the sink
 * in batches. Cross-file references are Normalize's job.
 *
 * Each file's content is hashed before it is parsed: a file with exactly the bytes of one an earlier
 * run staged without row problems is not parsed again; the sink copies that staging (the nightly
 * export of a school year's orgs, terms, courses and classes rarely changes). Where opening a file
 * again is cheap (a folder, files in memory) the hash is taken streaming and the file read a second
 * time to parse it; elsewhere (SFTP, zip) the file is held in memory between hashing and parsing.
 *
 * A bulk file that changed is staged as a patch over the last staging of it (row-patch.ts), where the
 * sink has one: a row that is byte for byte a row there is neither decoded, checked nor written again.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

import { RosterInputError } from '../../model/errors';
import type { FileMode, OneRosterVersion, StagedRow } from '../../model/roster';
import type { StagingSink, StagingSummary } from '../staging';
import { ProblemList, ROW_HASH_WORDS } from '../staging';
import { MAX_RECORD_CHARS, readCsvHeader, readSmallCsv, scanErrorAsInputError } from './csv-records';
import { CsvRecordFramer, FramedCsvRecords } from './csv-frame';
import { CsvRecordScanner, CsvScanError } from './csv-scan';
import { FileChecker } from './file-check';
import { PatchOverBase, RowHasher, seedsOf } from './row-patch';
import { strictUtf8Chunks } from './utf8';
import type { CsvFileSet } from './file-set';
import {
	MANIFEST_COLUMNS,
	MANIFEST_FILE,
	ONEROSTER_1_0_COLUMNS,
	REQUIRED_FILES,
	STAGED_FILES,
	UNSTAGED_ONEROSTER_FILES,
} from './spec';
import type { FileSpec } from './spec';

export interface IngestOptions {
	/** Row problems handed to the sink at most (all are counted). Default DEFAULT_MAX_ROW_PROBLEMS. */
	maxRowProblems?: number;
}

export const DEFAULT_MAX_ROW_PROBLEMS = 1000;
/**
 * Rows per sink.writeRows call (one staging chunk). 1,000 rather than 5,000, with PARSE_CHUNK_BYTES and the
 * folder's read size at 256 KiB rather than 1 MiB: fewer rows and pieces are held at once, so fewer of them
 * outlive V8's young generation and fill the old one with garbage (on a bulk day two, whose small files are
 * reused and whose first file parsed is a big one, the scanner's records went to the old generation
 * wholesale). Four interleaved pairs at 100,000 students (staged chunks read 16 to a query, staging.ts): first
 * night peak RSS 506/513/544/514 against 562/638/594/615 MiB, a bulk day two's ingest user CPU 2.29/1.82/1.86/2.33
 * against 2.35/2.18/2.23/2.30 s (its Normalize ~0.1 s more: 5× as many chunks to read). Each alone did less
 * (three pairs): 1,000 rows peaked at 563–573 MiB, 256 KiB at 538–575.
 */
export const ROW_BATCH_SIZE = 1000;

type DeclaredMode = FileMode | 'absent';

interface Manifest {
	version: OneRosterVersion;
	/** file name (e.g. `users.csv`) → what manifest.csv declares for it. */
	declared: Map<string, DeclaredMode>;
	warnings: string[];
}

interface PlannedFile {
	spec: FileSpec;
	mode: FileMode;
}

const EXPORT_AGAIN_HINT = 'Export OneRoster 1.1 or 1.2 CSV from the SIS (the export includes manifest.csv).';

/**
 * Stages every OneRoster file of `files` this node uses, in the order orgs, academicSessions,
 * courses, classes, users, roles, demographics, enrollments. Throws RosterInputError when the
 * set as a whole cannot be used; row-level problems go to `sink.writeProblems`.
 * The caller closes `files`.
 */
export async function ingestOneRosterCsv(
	files: CsvFileSet,
	sink: StagingSink,
	options: IngestOptions = {},
): Promise<StagingSummary> {
	const names = await files.list();
	refuseMisspelledFileNames(names);
	const present = new Set(names);
	const manifest = present.has(MANIFEST_FILE) ? await readManifest(files) : await refuseSetWithoutManifest(files, names);
	const warnings = [...manifest.warnings];
	const plan = planFiles(manifest, present, files.description, warnings);

	const problems = new ProblemList(options.maxRowProblems ?? DEFAULT_MAX_ROW_PROBLEMS);
	const summary: StagingSummary = { version: manifest.version, files: [], problemCount: 0, warnings };
	for (const planned of plan) {
		summary.files.push(await stageFile(files, planned, manifest.version, sink, problems, warnings));
	}
	summary.problemCount = problems.count;
	problems.noteUnlisted(warnings);
	return summary;
}

/** Files up to this size are read whole before parsing, so an unchanged file is known by its hash first. */
const MAX_HASHED_FILE_BYTES = 512 * 2 ** 20;

/**
 * Part of every content hash: change it whenever what staging makes of a file's bytes changes in a
 * way the code below does not show (ingestRules() already covers the checker's, scanner's and spec's code).
 */
export const INGEST_RULES_VERSION = 'oneroster-csv-ingest-1';

let rules: string | undefined;

/**
 * What staging a file depends on besides its bytes: the version above and the very code of the CSV
 * scanner, the checker, this file's staging loop and the spec. A new release that changes any of them
 * never reuses a staging an older one made.
 */
export function ingestRules(): string {
	rules ??= createHash('sha256')
		.update(
			[INGEST_RULES_VERSION, String(CsvRecordScanner), String(CsvRecordFramer), String(FramedCsvRecords), String(FileChecker), String(stageFile), String(readAhead), String(hashStream), String(RowHasher), JSON.stringify(STAGED_FILES)].join('\0'),
		)
		.digest('hex');
	return rules;
}

/** A file's bytes read ahead (whole, when not too big), with its content hash when it was read whole. */
interface ReadAhead {
	contentHash: string | null;
	/** The bytes again, in order, for the parser (then whatever the source still had). */
	replay(): AsyncGenerator<Buffer>;
}

async function readAhead(source: NodeJS.ReadableStream, key: string): Promise<ReadAhead> {
	const chunks: Array<Buffer | undefined> = [];
	const hash = createHash('sha256').update(key);
	const iterator = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
	let size = 0;
	let failure: unknown = null;
	let unread = false;
	try {
		for (;;) {
			const next = await iterator.next();
			if (next.done) break;
			const bytes = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
			chunks.push(bytes);
			hash.update(bytes);
			size += bytes.length;
			if (size > MAX_HASHED_FILE_BYTES) {
				unread = true;
				break;
			}
		}
	} catch (error) {
		failure = error;
	}
	return {
		contentHash: failure === null && !unread ? hash.digest('hex') : null,
		async *replay() {
			for (let i = 0; i < chunks.length; i++) {
				const bytes = chunks[i] as Buffer;
				chunks[i] = undefined; // parsed bytes need not stay in memory
				yield bytes;
			}
			// A read error surfaces here, where the parser's reader turns it into a RosterInputError.
			if (failure !== null) throw failure;
			if (unread) {
				for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
					yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
				}
			}
		},
	};
}

/**
 * The content hash of a whole stream, nothing kept (the same hash readAhead gives the same bytes);
 * null when the stream fails: the parse that follows reads the file again and reports the error.
 */
async function hashStream(source: NodeJS.ReadableStream, key: string): Promise<string | null> {
	const hash = createHash('sha256').update(key);
	try {
		for await (const chunk of source as AsyncIterable<Buffer | string>) hash.update(chunk);
	} catch {
		return null;
	}
	return hash.digest('hex');
}

async function stageFile(
	files: CsvFileSet,
	{ spec, mode }: PlannedFile,
	version: OneRosterVersion,
	sink: StagingSink,
	problems: ProblemList,
	warnings: string[],
): Promise<StagingSummary['files'][number]> {
	const { entity, fileName } = spec;
	const hashKey = `${ingestRules()}\0${fileName}\0${version}\0${mode}\0`;
	let source = await files.open(fileName);
	try {
		// Hashed streaming where the file is cheap to open again for the parse; else held in memory meanwhile.
		const read = files.cheapToReopen ? null : await readAhead(source, hashKey);
		const contentHash = read ? read.contentHash : await hashStream(source, hashKey);
		if (contentHash !== null && sink.reuseFile) {
			// The same bytes as a file an earlier run staged without problems: copy that staging.
			const reused = await sink.reuseFile({ entity, fileName, version, mode, columns: [], contentHash });
			if (reused) {
				warnings.push(...reused.warnings);
				return { entity, fileName, mode, rows: reused.rows, skipped: 0, reusedFrom: reused.fromRunId };
			}
		}

		let bytes: AsyncIterable<Buffer | string>;
		if (read) {
			bytes = read.replay();
		} else {
			(source as Readable).destroy?.();
			source = await files.open(fileName);
			bytes = source as AsyncIterable<Buffer | string>;
		}

		// Whether the bytes read so far hold no U+0000, U+001E or U+001F (one byte each in UTF-8): then no
		// cell of the rows they made does either (RowHints.plain), and the staging need not count them row by row.
		let plain = true;
		const watched = async function* (chunks: AsyncIterable<Buffer | string>) {
			for await (const chunk of chunks) {
				plain &&= chunk.indexOf('\u0000') === -1 && chunk.indexOf('\u001e') === -1 && chunk.indexOf('\u001f') === -1;
				yield chunk;
			}
		};

		let checker: FileChecker | null = null;
		/** Records read so far (the header is row 1). */
		let row = 0;
		let staged = 0;
		let skipped = 0;
		let batch: StagedRow[] = [];
		const fileWarnings: string[] = [];
		// A bulk file's rows are hashed (row-patch.ts): staged as a patch over an earlier staging of the file where
		// the sink has one (only rows not in it are read into cells, checked and written), else whole with the hashes kept.
		let rowHasher: RowHasher | null = null;
		let idHasher: RowHasher | null = null;
		let patch: PatchOverBase | null = null;
		/** A whole bulk staging's batch: ROW_HASH_WORDS numbers a row. */
		let hashes: Uint32Array | null = null;
		const records = new FramedCsvRecords(MAX_RECORD_CHARS);
		const cells: string[][] = [];

		const writeBatch = async () => {
			await sink.writeRows(entity, batch, { plain, ...(hashes ? { hashes: hashes.subarray(0, ROW_HASH_WORDS * batch.length) } : {}) });
			staged += batch.length;
			batch = [];
			await problems.flush(sink);
		};

		/** Checks and stages a row read into cells (`at`: its record among those framed last). */
		const stageRow = async (rowCells: string[], rowNumber: number, at: number) => {
			if (rowCells.length === 1 && rowCells[0] === '') return; // a blank line
			const file = checker as FileChecker;
			const rewrites = file.rewrites;
			const rowProblems = file.check(rowCells, rowNumber);
			const sourcedId = rowCells[file.sourcedIdIndex];
			if (sourcedId && idHasher) idHasher.hashText(sourcedId);
			if (patch && sourcedId && idHasher) patch.noteChecked(idHasher.h1, idHasher.h2);
			if (rowProblems) {
				skipped++;
				problems.add(rowProblems);
				return;
			}
			if (hashes && rowHasher && idHasher) {
				// A row the check rewrote is staged as other than its bytes: never matched.
				const clean = file.rewrites === rewrites;
				if (clean) rowHasher.hashBytes(records.bytes, records.start(at), records.end(at));
				const word = ROW_HASH_WORDS * batch.length;
				hashes[word] = clean ? rowHasher.h1 : 0;
				hashes[word + 1] = clean ? rowHasher.h2 : 0;
				hashes[word + 2] = idHasher.h1;
				hashes[word + 3] = idHasher.h2;
			}
			batch.push({ rowNumber, sourcedId, cells: rowCells });
			if (batch.length >= ROW_BATCH_SIZE) await writeBatch();
		};

		/** Reads records `from` to `to` - 1 of those framed last (the first is row `rowsBefore` + `from` + 1) into cells and stages them. */
		const stageRecords = async (from: number, to: number, rowsBefore: number) => {
			cells.length = 0;
			records.cells(from, to, rowsBefore + from, cells);
			for (let i = from; i < to; i++) await stageRow(cells[i - from], rowsBefore + i + 1, i);
		};

		/** The header: the checker, and how the file's rows are to be staged. */
		const beginFile = async () => {
			cells.length = 0;
			records.cells(0, 1, 0, cells);
			checker = new FileChecker({ spec, fileName, version, mode }, cells[0]);
			fileWarnings.push(...checker.headerWarnings);
			warnings.push(...checker.headerWarnings);
			await sink.beginFile({ entity, fileName, version, mode, columns: checker.columns });
			if (mode !== 'bulk') return;
			const seeds = seedsOf(`${ingestRules()}\0${records.delimiter}`);
			rowHasher = new RowHasher(...seeds);
			idHasher = new RowHasher(...seeds);
			const base = sink.baseRowsFor ? await sink.baseRowsFor(entity) : null;
			if (base) {
				const over = new PatchOverBase(base.runId, base.hashes);
				patch = over;
				const ids = idHasher;
				checker.uncheckedRowOf = (sourcedId) => {
					ids.hashText(sourcedId);
					return over.keptRowWithId(ids.h1, ids.h2);
				};
			} else {
				hashes = new Uint32Array(ROW_HASH_WORDS * ROW_BATCH_SIZE);
			}
		};

		/** Stages the records framed last: the header first; of a patch, only those not taken from the base. */
		const stageFramed = async (count: number) => {
			const rowsBefore = row;
			let first = 0;
			if (checker === null && count > 0) {
				await beginFile();
				first = 1;
			}
			if (patch === null) {
				await stageRecords(first, count, rowsBefore);
			} else {
				const over: PatchOverBase = patch;
				const hasher = rowHasher as RowHasher;
				let checkFrom = first;
				for (let i = first; i < count; i++) {
					const start = records.start(i);
					const end = records.end(i);
					if (start === end) continue; // a blank line
					hasher.hashBytes(records.bytes, start, end);
					const ordinal = over.rows.find(hasher.h1, hasher.h2);
					if (ordinal < 0) {
						over.segments.miss();
						continue;
					}
					if (!over.segments.canKeep(ordinal)) continue;
					// The rows before it are checked first: one with its sourcedId makes it checked too.
					if (checkFrom < i) await stageRecords(checkFrom, i, rowsBefore);
					checkFrom = i;
					if (over.sourcedIdChecked(ordinal)) continue;
					over.segments.keep(ordinal, rowsBefore + i + 1);
					checkFrom = i + 1;
				}
				await stageRecords(checkFrom, count, rowsBefore);
			}
			row = rowsBefore + count;
		};

		try {
			for await (const chunk of strictUtf8Chunks(fileName)(watched(bytes))) await stageFramed(records.take(chunk, row));
			await stageFramed(records.finish());
		} catch (error) {
			if (error instanceof CsvScanError) throw scanErrorAsInputError(error, fileName);
			throw error;
		}
		// Set by the closures above, which TypeScript does not follow.
		const fileChecker = checker as FileChecker | null;
		if (fileChecker === null) {
			throw new RosterInputError(
				'the file is empty; it must have at least its header row',
				{ file: fileName, row: 1 },
				`Export ${fileName} again, or declare it absent in manifest.csv if the SIS has no such data.`,
			);
		}
		if (batch.length > 0) await writeBatch();
		await problems.flush(sink);
		const rowWarnings = fileChecker.warnings();
		fileWarnings.push(...rowWarnings);
		warnings.push(...rowWarnings);
		const over = patch as PatchOverBase | null;
		const kept = over?.segments.kept ?? 0;
		const stagedPatch = over ? { baseRunId: over.runId, segments: over.segments.toArray(), ownRows: staged } : undefined;
		if (sink.finishFile) {
			await sink.finishFile(entity, { contentHash, rows: staged + kept, skipped, warnings: fileWarnings, ...(stagedPatch ? { patch: stagedPatch } : {}) });
		}
		return { entity, fileName, mode, rows: staged + kept, skipped, ...(over ? { patchOver: { runId: over.runId, rowsWritten: staged } } : {}) };
	} finally {
		(source as Readable).destroy?.();
	}
}

/** File names every version knows, for the case check. */
const KNOWN_FILE_NAMES = [
	MANIFEST_FILE,
	...new Set(Object.values(STAGED_FILES).flatMap((specs) => specs.map((spec) => spec.fileName))),
	...UNSTAGED_ONEROSTER_FILES,
];

/** OneRoster file names are case-sensitive: `Users.csv` is not `users.csv`. */
function refuseMisspelledFileNames(names: string[]): void {
	for (const name of names) {
		if (KNOWN_FILE_NAMES.includes(name)) continue;
		const expected = KNOWN_FILE_NAMES.find((known) => known.toLowerCase() === name.toLowerCase());
		if (expected && !names.includes(expected)) {
			throw new RosterInputError(
				`the file "${name}" must be named "${expected}" (OneRoster file names are case-sensitive)`,
				{ file: name },
				`Rename ${name} to ${expected}.`,
			);
		}
	}
}

/** `1.1`, `1.1.0`, `1.2`, `1.2.1` … → the version; anything else → null. */
function parseVersion(value: string): OneRosterVersion | null {
	const match = /^1\.([12])(\.\d+)?$/.exec(value);
	return match ? (`1.${match[1]}` as OneRosterVersion) : null;
}

async function readManifest(files: CsvFileSet): Promise<Manifest> {
	const records = await readSmallCsv(files, MANIFEST_FILE);
	const header = (records[0] ?? []).map((name) => name.trim());
	if (header[0] !== MANIFEST_COLUMNS[0] || header[1] !== MANIFEST_COLUMNS[1]) {
		throw new RosterInputError(
			`the header must be "${MANIFEST_COLUMNS.join(',')}", found "${header.join(',')}"`,
			{ file: MANIFEST_FILE, row: 1 },
			'Use the manifest.csv the SIS export produced.',
		);
	}
	const properties = new Map<string, { value: string; row: number }>();
	records.slice(1).forEach((record, index) => {
		properties.set(record[0].trim(), { value: (record[1] ?? '').trim(), row: index + 2 });
	});

	const warnings: string[] = [];
	const manifestVersion = properties.get('manifest.version');
	if (manifestVersion && !['1', '1.0'].includes(manifestVersion.value)) {
		warnings.push(`${MANIFEST_FILE}: manifest.version is "${manifestVersion.value}", expected "1.0"; read as 1.0`);
	}

	const versionProperty = properties.get('oneroster.version');
	if (!versionProperty) {
		throw new RosterInputError(
			'oneroster.version is missing: the manifest must say which OneRoster version the set is',
			{ file: MANIFEST_FILE },
			'Use the manifest.csv the SIS export produced; it has a row "oneroster.version,1.1" (or 1.2).',
		);
	}
	const version = parseVersion(versionProperty.value);
	if (!version) {
		throw new RosterInputError(
			`oneroster.version is "${versionProperty.value}": this node reads OneRoster 1.1 and 1.2 CSV sets only`,
			{ file: MANIFEST_FILE, row: versionProperty.row, field: 'value' },
			EXPORT_AGAIN_HINT,
		);
	}

	const declared = new Map<string, DeclaredMode>();
	for (const [property, { value, row }] of properties) {
		if (!property.startsWith('file.')) continue;
		const mode = value.toLowerCase();
		if (mode !== 'bulk' && mode !== 'delta' && mode !== 'absent') {
			throw new RosterInputError(
				`${property} is "${value}"; it must be bulk, delta or absent`,
				{ file: MANIFEST_FILE, row, field: 'value' },
				'Fix the manifest.csv entry, or export the set again.',
			);
		}
		declared.set(`${property.slice('file.'.length)}.csv`, mode);
	}
	return { version, declared, warnings };
}

/** Without manifest.csv the set is refused; when its headers show OneRoster 1.0, say so. */
async function refuseSetWithoutManifest(files: CsvFileSet, names: string[]): Promise<never> {
	for (const [fileName, columns1_0] of Object.entries(ONEROSTER_1_0_COLUMNS)) {
		if (!names.includes(fileName)) continue;
		const header = (await readCsvHeader(files, fileName)) ?? [];
		const found = columns1_0.filter((column) => header.includes(column));
		if (found.length > 0) {
			throw new RosterInputError(
				`this is a OneRoster 1.0 CSV set, not OneRoster 1.1/1.2: it has no manifest.csv and ${fileName} has the 1.0 column${found.length > 1 ? 's' : ''} ${found.join(', ')}. This node reads OneRoster 1.1 or 1.2 only`,
				{ file: fileName, row: 1, field: found[0] },
				EXPORT_AGAIN_HINT,
			);
		}
	}
	throw new RosterInputError(
		`manifest.csv is missing from ${files.description}. A OneRoster 1.1/1.2 CSV set must include manifest.csv, which says the OneRoster version and whether each file is bulk, delta or absent (files found: ${names.length > 0 ? names.join(', ') : 'none'})`,
		{ file: MANIFEST_FILE },
		'Deliver the whole export as the SIS produced it, manifest.csv included (it sits next to users.csv).',
	);
}

/** Which files to stage and how, from the manifest and the files present; warns about the rest. */
function planFiles(manifest: Manifest, present: Set<string>, description: string, warnings: string[]): PlannedFile[] {
	const { version, declared } = manifest;
	const plan: PlannedFile[] = [];
	for (const spec of STAGED_FILES[version]) {
		const mode = declared.get(spec.fileName);
		const isPresent = present.has(spec.fileName);
		if (mode === 'bulk' || mode === 'delta') {
			if (!isPresent) {
				throw new RosterInputError(
					`manifest.csv declares ${spec.fileName} as ${mode}, but ${description} has no ${spec.fileName}`,
					{ file: spec.fileName },
					`Deliver ${spec.fileName} with the set, or declare it absent in manifest.csv.`,
				);
			}
			plan.push({ spec, mode });
		} else if (mode === undefined && isPresent) {
			warnings.push(`${spec.fileName} is not declared in manifest.csv; read as bulk`);
			plan.push({ spec, mode: 'bulk' });
		}
	}

	const planned = (entity: string) => plan.find((file) => file.spec.entity === entity);
	const required = [...REQUIRED_FILES[version].always];
	if (planned('users')?.mode === 'bulk') required.push(...REQUIRED_FILES[version].withBulkUsers);
	for (const entity of required) {
		if (planned(entity)) continue;
		const fileName = `${entity}.csv`;
		throw new RosterInputError(
			entity === 'users'
				? `the set has no users.csv (or declares it absent); this node syncs people and needs it`
				: `the set has no ${fileName} (or declares it absent), but users.csv is bulk: a full set of users needs its ${fileName}`,
			{ file: fileName },
			`Include ${fileName} in the export and declare it in manifest.csv.`,
		);
	}

	const stagedNames = new Set(plan.map((file) => file.spec.fileName));
	for (const name of [...present].sort()) {
		if (name === MANIFEST_FILE || stagedNames.has(name)) continue;
		if (declared.get(name) === 'absent') {
			warnings.push(`${name} is present but declared absent in manifest.csv; ignored`);
		} else if (UNSTAGED_ONEROSTER_FILES.includes(name)) {
			warnings.push(`${name} is not used by this node (OneRoster ${version}); ignored`);
		} else if (KNOWN_FILE_NAMES.includes(name)) {
			warnings.push(`${name} is not part of OneRoster ${version}; ignored`);
		} else {
			warnings.push(`${name} is not a OneRoster file; ignored`);
		}
	}
	return plan;
}
