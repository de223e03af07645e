/**
 * A CSV record scanner for the large files of a OneRoster set (RFC 4180 as csv-parse reads it with
 * the options csv-records.ts used: BOM removed, rows of any width, empty lines kept as one empty
 * field, a longest-record limit).
 *
 * Why not csv-parse for these files: at 100,000 students (91 MB, 1M rows) csv-parse took ~3.5 s of
 * CPU, a third of the whole ingest and more than the nightly 1 % delta may take in all; this scanner
 * reads the same bytes in ~0.7 s (`npm run bench -- --parsers`, bench/README.md). csv-parse still
 * reads manifest.csv, and its error cases are kept here with the same meaning and row numbers:
 * a quote never closed, a quote inside an unquoted value, a closing quote followed by something
 * other than a comma or the end of the row, and a record longer than the limit.
 *
 * Records end at the line break the file uses, found at its first line break outside quotes
 * (\r\n, \n or \r, as csv-parse discovers it); other line-break characters are part of the value.
 * Rows count like a spreadsheet: record n (1-based, the header is record 1) is row n.
 */

export type CsvScanErrorCode = 'unclosed-quote' | 'invalid-opening-quote' | 'invalid-closing-quote' | 'record-too-long';

export class CsvScanError extends Error {
	constructor(
		readonly code: CsvScanErrorCode,
		message: string,
		/** Records completed before the one with the error. */
		readonly records: number,
	) {
		super(message);
		this.name = 'CsvScanError';
	}
}

export const QUOTE = 0x22;
const COMMA = 0x2c;
export const LF = 0x0a;
export const CR = 0x0d;

/** A file's record delimiter: 0 until found, LF, CR, or -1 for CR LF. */
export type RecordDelimiter = 0 | typeof LF | typeof CR | -1;

/** What a field's value looks like in an error message: at most 40 characters. */
function excerpt(value: string): string {
	return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

export class CsvRecordScanner {
	/** Records completed so far (the header included). */
	records = 0;
	private carry = '';
	private started = false;
	private delimiter: RecordDelimiter = 0;

	constructor(private readonly maxRecordChars: number) {}

	/** Scans the next piece of text; appends the records it completes to `out`. */
	push(text: string, out: string[][]): void {
		if (text.length === 0) return;
		if (!this.started) {
			this.started = true;
			if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
		}
		// The record carried over from the last piece mostly ends at the first record delimiter of this one: it is scanned
		// joined with only that much of it, and the piece itself from there. Joined with all of it (~1 MB), the piece
		// was copied into one new string. Otherwise (a quoted delimiter, or none in the piece) it is joined with all of it.
		let all = text;
		let from = 0;
		const delimiterEnd = this.carry === '' ? -1 : this.afterFirstDelimiter(text);
		if (delimiterEnd !== -1) {
			const head = this.carry + text.slice(0, delimiterEnd);
			const headConsumed = this.scan(head, false, out, 0);
			if (headConsumed === head.length) from = delimiterEnd;
			else all = head.slice(headConsumed) + text.slice(delimiterEnd);
		} else if (this.carry !== '') {
			all = this.carry + text;
		}
		const consumed = this.scan(all, false, out, from);
		this.carry = consumed === all.length ? '' : all.slice(consumed);
		if (this.carry.length > this.maxRecordChars) this.tooLong();
	}

	/** The file's record delimiter, where it was found before this scanner saw it (csv-frame.ts finds it as `delimiterAt` does). */
	knowDelimiter(delimiter: RecordDelimiter): void {
		if (this.delimiter === 0) this.delimiter = delimiter;
	}

	/** At the end of the input: the last record, if the text did not end with a line break. */
	finish(out: string[][]): void {
		if (!this.started) return;
		const all = this.carry;
		this.carry = '';
		if (all.length > 0) this.scan(all, true, out, 0);
	}

	/** Where the first record delimiter in `text` ends, once the file's delimiter is known; -1 when none is (or it is not known yet). */
	private afterFirstDelimiter(text: string): number {
		if (this.delimiter === 0) return -1;
		const delimiter = this.delimiter === LF ? '\n' : this.delimiter === CR ? '\r' : '\r\n';
		const at = text.indexOf(delimiter);
		return at === -1 ? -1 : at + delimiter.length;
	}

	private tooLong(): never {
		throw new CsvScanError('record-too-long', `a record is longer than ${this.maxRecordChars} characters`, this.records);
	}

	/** Is `code` at `at` the start of a record delimiter? Sets the delimiter on the first line break. Returns its length, 0 if none, -1 if undecided (text ends). */
	private delimiterAt(text: string, at: number, code: number, final: boolean): number {
		const d = this.delimiter;
		if (d === LF) return code === LF ? 1 : 0;
		if (d === CR) return code === CR ? 1 : 0;
		if (d === -1) {
			if (code !== CR) return 0;
			if (at + 1 >= text.length) return final ? 0 : -1;
			return text.charCodeAt(at + 1) === LF ? 2 : 0;
		}
		// Not discovered yet: the first line break decides.
		if (code === LF) {
			this.delimiter = LF;
			return 1;
		}
		if (code === CR) {
			if (at + 1 >= text.length) {
				if (!final) return -1;
				this.delimiter = CR;
				return 1;
			}
			if (text.charCodeAt(at + 1) === LF) {
				this.delimiter = -1;
				return 2;
			}
			this.delimiter = CR;
			return 1;
		}
		return 0;
	}

	/** Scans whole records of `text` from `from` (a record's start); returns where they end (the rest is carried). */
	private scan(text: string, final: boolean, out: string[][], from: number): number {
		const n = text.length;
		const max = this.maxRecordChars;
		let recordStart = from;
		let i = from;
		let record: string[] = [];
		for (;;) {
			// One field starts at i.
			if (i >= n) {
				// The text ends right after a comma (or at a record's start).
				if (!final) return recordStart;
				if (i > recordStart || record.length > 0) {
					record.push('');
					this.complete(record, i - recordStart, out);
				}
				return n;
			}
			let code = text.charCodeAt(i);
			let value: string;
			if (code === QUOTE) {
				// A quoted field: up to the closing quote, "" is a quote.
				let from = i + 1;
				let pieces: string | null = null;
				let close: number;
				for (;;) {
					close = text.indexOf('"', from);
					if (close === -1) {
						if (!final) return recordStart;
						throw new CsvScanError('unclosed-quote', 'the file ends inside a quoted value', this.records);
					}
					if (close + 1 >= n && !final) return recordStart;
					if (text.charCodeAt(close + 1) === QUOTE) {
						pieces = (pieces ?? '') + text.slice(from, close + 1);
						from = close + 2;
						continue;
					}
					break;
				}
				value = pieces === null ? text.slice(from, close) : pieces + text.slice(from, close);
				i = close + 1;
				if (i < n) {
					code = text.charCodeAt(i);
					if (code !== COMMA) {
						const length = this.delimiterAt(text, i, code, final);
						if (length === -1) return recordStart;
						if (length === 0) {
							throw new CsvScanError(
								'invalid-closing-quote',
								`the quoted value ${excerpt(value)} in field ${record.length + 1} is followed by ${excerpt(text[i])} instead of a comma or the end of the row`,
								this.records,
							);
						}
					}
				}
			} else {
				// An unquoted field: up to a comma or the record delimiter; a quote inside is an error.
				const start = i;
				for (;;) {
					if (code === COMMA) break;
					if (code === LF || code === CR) {
						const length = this.delimiterAt(text, i, code, final);
						if (length === -1) return recordStart;
						if (length > 0) break;
					} else if (code === QUOTE) {
						throw new CsvScanError(
							'invalid-opening-quote',
							`a quote is found inside the unquoted value ${excerpt(text.slice(start, i + 1))} of field ${record.length + 1}`,
							this.records,
						);
					}
					if (++i >= n) break;
					code = text.charCodeAt(i);
				}
				if (i >= n && !final) return recordStart;
				value = text.slice(start, i);
			}
			record.push(value);
			// i is at a comma, at a record delimiter, or at the end of the text.
			if (i >= n) {
				this.complete(record, i - recordStart, out);
				return n;
			}
			if (code === COMMA) {
				i++;
				if (i - recordStart > max) this.tooLong();
				continue;
			}
			const length = this.delimiterAt(text, i, code, final);
			this.complete(record, i - recordStart, out);
			i += length;
			recordStart = i;
			record = [];
			if (i >= n) return n;
		}
	}

	private complete(record: string[], chars: number, out: string[][]): void {
		if (chars > this.maxRecordChars) this.tooLong();
		out.push(record);
		this.records++;
	}
}
