/**
 * Strict UTF-8 for CSV input: bytes pass through unchanged, but a byte sequence that is not
 * UTF-8 stops the read with a file-level error instead of turning into U+FFFD.
 */
import { isUtf8 } from 'node:buffer';

import { RosterInputError } from '../../model/errors';

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** Bytes handed on at once: big enough to keep the CSV scanner's per-piece overhead low, small enough to let its records die young (see ROW_BATCH_SIZE, ingest.ts). */
export const PARSE_CHUNK_BYTES = 256 * 1024;

export function brokenUtf8Error(fileName: string, row: number): RosterInputError {
	return new RosterInputError(
		'the file is not valid UTF-8 (a byte sequence here is no UTF-8 character)',
		{ file: fileName, row },
		'Export the file again as UTF-8 (in Excel: "CSV UTF-8"); OneRoster CSV files must be UTF-8.',
	);
}

/** Bytes at the end of `bytes` that start a character whose remaining bytes are in the next chunk. */
function splitCharacterTail(bytes: Buffer): number {
	const end = bytes.length;
	let lead = end - 1;
	while (lead >= 0 && lead >= end - 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
	if (lead < 0 || lead < end - 4) return 0;
	const byte = bytes[lead];
	const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
	return end - lead < length ? end - lead : 0;
}

/** Offset of the first byte that does not start a valid UTF-8 character (slow; for error reports). */
function firstInvalidOffset(bytes: Buffer): number {
	let offset = 0;
	while (offset < bytes.length) {
		const byte = bytes[offset];
		const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
		if (!isUtf8(bytes.subarray(offset, offset + length))) return offset;
		offset += length;
	}
	return bytes.length;
}

function countNewlines(bytes: Buffer, end = bytes.length): number {
	let count = 0;
	let at = bytes.indexOf(NEWLINE);
	while (at !== -1 && at < end) {
		count++;
		at = bytes.indexOf(NEWLINE, at + 1);
	}
	return count;
}

/**
 * Checks a file's bytes chunk by chunk; a character split across chunks is carried over.
 * Rows in errors are physical lines (newlines before the bad byte + 1).
 */
export class Utf8Check {
	private carry: Buffer = EMPTY;
	private newlines = 0;

	constructor(private readonly fileName: string) {}

	/** The complete characters of `carry + chunk`; throws on bytes that are not UTF-8. */
	take(chunk: Buffer): Buffer {
		const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
		const complete = bytes.length - splitCharacterTail(bytes);
		const checked = bytes.subarray(0, complete);
		if (!isUtf8(checked)) {
			const bad = firstInvalidOffset(checked);
			throw brokenUtf8Error(this.fileName, this.newlines + countNewlines(checked, bad) + 1);
		}
		this.newlines += countNewlines(checked);
		this.carry = complete < bytes.length ? Buffer.from(bytes.subarray(complete)) : EMPTY;
		return checked;
	}

	/** At end of file: a character cut off by the end is broken UTF-8 too. */
	finish(): void {
		if (this.carry.length > 0) throw brokenUtf8Error(this.fileName, this.newlines + 1);
	}
}

/**
 * A stream transform for `stream.pipeline`: gathers the source's chunks into chunks of about
 * PARSE_CHUNK_BYTES and checks them. A failing source becomes a RosterInputError naming the file.
 */
export function strictUtf8Chunks(fileName: string) {
	return async function* (source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
		const check = new Utf8Check(fileName);
		let gathered: Buffer[] = [];
		let gatheredBytes = 0;
		try {
			for await (const chunk of source) {
				const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
				gathered.push(bytes);
				gatheredBytes += bytes.length;
				if (gatheredBytes >= PARSE_CHUNK_BYTES) {
					yield check.take(gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, gatheredBytes));
					gathered = [];
					gatheredBytes = 0;
				}
			}
		} catch (error) {
			if (error instanceof RosterInputError) throw error;
			throw new RosterInputError(
				`cannot read the file: ${(error as Error).message}`,
				{ file: fileName },
				'Check that the export finished and the file (or zip) was transferred whole, then run again.',
			);
		}
		if (gatheredBytes > 0) yield check.take(Buffer.concat(gathered, gatheredBytes));
		check.finish();
	};
}
