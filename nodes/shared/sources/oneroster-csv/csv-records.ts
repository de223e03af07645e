/**
 * Reading CSV records (string arrays) from a file of a set, streaming, with strict UTF-8
 * and csv-parse's errors turned into RosterInputErrors that name file and row.
 */
import { CsvError, parse } from 'csv-parse';
import { parse as parseWhole } from 'csv-parse/sync';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { RosterInputError } from '../../model/errors';
import type { CsvFileSet } from './file-set';
import { strictUtf8Chunks } from './utf8';

/** Longest record we accept: beyond this it is almost surely an unclosed quote swallowing the file. */
const MAX_RECORD_CHARS = 1 << 20;

const PARSE_OPTIONS = {
	bom: true,
	relax_column_count: true,
	skip_empty_lines: false,
	max_record_size: MAX_RECORD_CHARS,
} as const;

/** Rows count like a spreadsheet: the header is row 1, so record n (1-based) is row n. */
function csvErrorAsInputError(error: CsvError, fileName: string): RosterInputError {
	const recordsDone = typeof error.records === 'number' ? error.records : 0;
	const row = recordsDone + 1;
	switch (error.code) {
		case 'CSV_QUOTE_NOT_CLOSED':
			return new RosterInputError(
				`the file ends inside a quoted value that starts in this row: the file is cut off or a quote is never closed`,
				{ file: fileName, row },
				'Check that the export finished and the file was transferred whole; if it was, the SIS wrote an unbalanced quote (") in this row.',
			);
		case 'CSV_MAX_RECORD_SIZE':
			return new RosterInputError(
				`a row is longer than ${MAX_RECORD_CHARS} characters: most likely a quote (") opened in this row is never closed`,
				{ file: fileName, row },
				'Fix the quoting in this row of the export (a quote inside a value must be doubled: "").',
			);
		case 'INVALID_OPENING_QUOTE':
		case 'CSV_INVALID_CLOSING_QUOTE':
			return new RosterInputError(
				`a quote (") is in the wrong place: ${error.message}`,
				{ file: fileName, row },
				'Values with quotes must be quoted as a whole, with inner quotes doubled (e.g. "5\'10""").',
			);
		default:
			return new RosterInputError(`the file is not valid CSV: ${error.message}`, { file: fileName, row });
	}
}

/**
 * The records of one file, in order, in batches of up to `batchSize`, each record a string[]
 * as csv-parse gives it (BOM removed). Batches keep the per-record cost of async iteration away.
 * Throws RosterInputError for unreadable bytes, broken UTF-8 and broken CSV.
 */
export async function* readCsvRecordBatches(
	files: CsvFileSet,
	fileName: string,
	batchSize = 5000,
): AsyncGenerator<string[][]> {
	const source = await files.open(fileName);
	const parser = parse(PARSE_OPTIONS);
	const feeding = pipeline(source, strictUtf8Chunks(fileName), parser);
	// Errors of the feeding side also reach the parser, so they surface in the loop below.
	feeding.catch(() => {});
	try {
		for await (const first of parser) {
			const batch: string[][] = [first as string[]];
			let record: string[] | null;
			while (batch.length < batchSize && (record = parser.read() as string[] | null) !== null) batch.push(record);
			yield batch;
		}
		await feeding;
	} catch (error) {
		if (error instanceof CsvError) throw csvErrorAsInputError(error, fileName);
		throw error;
	} finally {
		(source as Readable).destroy?.();
	}
}

/** A small file read whole (manifest.csv), strictly UTF-8, parsed into records. */
export async function readSmallCsv(files: CsvFileSet, fileName: string, maxBytes = 1 << 20): Promise<string[][]> {
	const source = await files.open(fileName);
	const chunks: Buffer[] = [];
	let size = 0;
	try {
		for await (const bytes of strictUtf8Chunks(fileName)(source)) {
			chunks.push(bytes);
			size += bytes.length;
			if (size > maxBytes) {
				throw new RosterInputError(`the file is larger than ${maxBytes} bytes`, { file: fileName });
			}
		}
	} finally {
		(source as Readable).destroy?.();
	}
	const data = Buffer.concat(chunks);
	try {
		return parseWhole(data, { ...PARSE_OPTIONS, skip_empty_lines: true }) as string[][];
	} catch (error) {
		if (error instanceof CsvError) throw csvErrorAsInputError(error, fileName);
		throw error;
	}
}

/** The header row of a file (first record), reading no more of the file than needed; null if empty. */
export async function readCsvHeader(files: CsvFileSet, fileName: string): Promise<string[] | null> {
	for await (const records of readCsvRecordBatches(files, fileName, 1)) return records[0];
	return null;
}
