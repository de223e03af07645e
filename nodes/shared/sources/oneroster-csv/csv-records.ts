/**
 * Reading CSV records (string arrays) from a file of a set, streaming, with strict UTF-8, and
 * CSV errors turned into RosterInputErrors that name file and row. The staged files go through
 * the scanner (csv-scan.ts); manifest.csv, read whole, through csv-parse.
 */
import { CsvError } from 'csv-parse';
import { parse as parseWhole } from 'csv-parse/sync';
import type { Readable } from 'node:stream';

import { RosterInputError } from '../../model/errors';
import { CsvRecordScanner, CsvScanError } from './csv-scan';
import type { CsvFileSet } from './file-set';
import { strictUtf8Chunks } from './utf8';

/** Longest record we accept: beyond this it is almost surely an unclosed quote swallowing the file. */
export const MAX_RECORD_CHARS = 1 << 20;

export const PARSE_OPTIONS = {
	bom: true,
	relax_column_count: true,
	skip_empty_lines: false,
	max_record_size: MAX_RECORD_CHARS,
} as const;

/** What went wrong with a file's CSV, whoever read it (csv-parse or the scanner). */
type CsvFault = 'unclosed-quote' | 'record-too-long' | 'misplaced-quote' | 'other';

/** Rows count like a spreadsheet: the header is row 1, so record n (1-based) is row n. */
function csvFaultAsInputError(fault: CsvFault, detail: string, fileName: string, recordsDone: number): RosterInputError {
	const row = recordsDone + 1;
	switch (fault) {
		case 'unclosed-quote':
			return new RosterInputError(
				`the file ends inside a quoted value that starts in this row: the file is cut off or a quote is never closed`,
				{ file: fileName, row },
				'Check that the export finished and the file was transferred whole; if it was, the SIS wrote an unbalanced quote (") in this row.',
			);
		case 'record-too-long':
			return new RosterInputError(
				`a row is longer than ${MAX_RECORD_CHARS} characters: most likely a quote (") opened in this row is never closed`,
				{ file: fileName, row },
				'Fix the quoting in this row of the export (a quote inside a value must be doubled: "").',
			);
		case 'misplaced-quote':
			return new RosterInputError(
				`a quote (") is in the wrong place: ${detail}`,
				{ file: fileName, row },
				'Values with quotes must be quoted as a whole, with inner quotes doubled (e.g. "5\'10""").',
			);
		default:
			return new RosterInputError(`the file is not valid CSV: ${detail}`, { file: fileName, row });
	}
}

function csvErrorAsInputError(error: CsvError, fileName: string): RosterInputError {
	const recordsDone = typeof error.records === 'number' ? error.records : 0;
	const fault: CsvFault =
		error.code === 'CSV_QUOTE_NOT_CLOSED'
			? 'unclosed-quote'
			: error.code === 'CSV_MAX_RECORD_SIZE'
				? 'record-too-long'
				: error.code === 'INVALID_OPENING_QUOTE' || error.code === 'CSV_INVALID_CLOSING_QUOTE'
					? 'misplaced-quote'
					: 'other';
	return csvFaultAsInputError(fault, error.message, fileName, recordsDone);
}

/** A CsvScanError as the RosterInputError naming the file and the record's row. */
export function scanErrorAsInputError(error: CsvScanError, fileName: string): RosterInputError {
	const fault: CsvFault = error.code === 'unclosed-quote' || error.code === 'record-too-long' ? error.code : 'misplaced-quote';
	return csvFaultAsInputError(fault, error.message, fileName, error.records);
}

/**
 * The records of one file, in order, in batches of up to `batchSize`, each record a string[]
 * (BOM removed), read with the CSV scanner (csv-scan.ts). Batches keep the per-record cost of
 * async iteration away. Throws RosterInputError for unreadable bytes, broken UTF-8 and broken CSV.
 */
export async function* readCsvRecordBatches(
	files: CsvFileSet,
	fileName: string,
	batchSize = 5000,
): AsyncGenerator<string[][]> {
	const source = await files.open(fileName);
	try {
		yield* readCsvRecordBatchesFrom(source as AsyncIterable<Buffer>, fileName, batchSize);
	} finally {
		(source as Readable).destroy?.();
	}
}

/** The same, from the file's bytes as they come (e.g. chunks already read into memory). */
export async function* readCsvRecordBatchesFrom(
	source: AsyncIterable<Buffer | string>,
	fileName: string,
	batchSize = 5000,
): AsyncGenerator<string[][]> {
	const scanner = new CsvRecordScanner(MAX_RECORD_CHARS);
	let records: string[][] = [];
	try {
		for await (const bytes of strictUtf8Chunks(fileName)(source)) {
			scanner.push(bytes.toString('utf8'), records);
			while (records.length >= batchSize) {
				yield records.length === batchSize ? records : records.slice(0, batchSize);
				records = records.length === batchSize ? [] : records.slice(batchSize);
			}
		}
		scanner.finish(records);
		while (records.length > 0) {
			yield records.length <= batchSize ? records : records.slice(0, batchSize);
			records = records.length <= batchSize ? [] : records.slice(batchSize);
		}
	} catch (error) {
		if (error instanceof CsvScanError) throw scanErrorAsInputError(error, fileName);
		throw error;
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
