/**
 * Where the records of a CSV file end, found in its bytes without decoding them: the framing of the
 * records CsvRecordScanner (csv-scan.ts) reads, so that a record can be known by its bytes alone (a bulk
 * file's row that is byte for byte a row of the night before is never decoded: row-patch.ts).
 *
 * A record ends at the first record delimiter outside quotes. The delimiter is found as the scanner
 * finds it: the first line break outside quotes (\r\n, \n or \r). Quotes are paired as they come: in
 * valid CSV a quote opens a value, closes it, or is one of the two of an escaped quote (""), each of
 * which leaves the count of quotes before a delimiter even exactly where the scanner is outside a value.
 * In a record that is not valid CSV the framing may differ from the scanner's; the scanner, reading that
 * record from its start, then reports it with its row.
 */
import { doubled } from '../../store/off-heap-strings';
import { CR, CsvRecordScanner, CsvScanError, LF, QUOTE } from './csv-scan';
import type { RecordDelimiter } from './csv-scan';

/** Whether `bytes` are UTF-8's byte order mark, and nothing else. */
const isByteOrderMark = (bytes: Buffer) => bytes.length === 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;

export class CsvRecordFramer {
	delimiter: RecordDelimiter = 0;
	/**
	 * The records framed by the last frame() or finish(), in the bytes it returned: record i is
	 * bytes[starts[i], ends[i]) without its delimiter; starts[count] is where the framed bytes end
	 * (the next record's start, or the end of the bytes).
	 */
	starts = new Int32Array(1025);
	ends = new Int32Array(1024);
	count = 0;
	private carry: Buffer | null = null;
	/** Set by breakAt: the length of the delimiter it found, and the delimiter (the file's, once one is taken outside quotes). */
	private breakLength = 0;
	private breakDelimiter: RecordDelimiter = 0;
	private nothingFramed = true;

	/** Bytes carried over to the next frame(): the start of a record not complete yet. */
	get carried(): number {
		return this.carry === null ? 0 : this.carry.length;
	}

	/** The carried bytes (for an error report). */
	carriedBytes(): Buffer {
		return this.carry ?? Buffer.alloc(0);
	}

	/** Frames the next bytes of the file (after what was carried): returns the bytes the records found are in. */
	frame(chunk: Buffer): Buffer {
		const bytes = this.carry === null ? chunk : Buffer.concat([this.carry, chunk]);
		const end = this.frameRecords(bytes, false);
		this.carry = end < bytes.length ? Buffer.from(bytes.subarray(end)) : null;
		return bytes;
	}

	/** At the end of the file: the last record, when the bytes did not end with a delimiter (count 0 or 1). */
	finish(): Buffer {
		const bytes = this.carry ?? Buffer.alloc(0);
		this.carry = null;
		this.frameRecords(bytes, true);
		return bytes;
	}

	private frameRecords(bytes: Buffer, final: boolean): number {
		const n = bytes.length;
		let count = 0;
		/** The current record's start. */
		let start = 0;
		/** Where its end is looked for (past its quoted parts so far). */
		let from = 0;
		/** The first quote at or after `from`; -1 when there is none. */
		let quote = bytes.indexOf(QUOTE);
		while (start < n) {
			const at = this.breakAt(bytes, from, final);
			if (quote !== -1 && (at < 0 || quote < at)) {
				// A quoted part first: the record goes on past its closing quote.
				const close = bytes.indexOf(QUOTE, quote + 1);
				if (close === -1) break;
				from = close + 1;
				quote = bytes.indexOf(QUOTE, from);
				continue;
			}
			if (at < 0) break;
			this.delimiter = this.breakDelimiter;
			if (count + 1 >= this.starts.length) this.grow();
			this.starts[count] = start;
			this.ends[count] = at;
			count++;
			start = from = at + this.breakLength;
			if (quote !== -1 && quote < from) quote = bytes.indexOf(QUOTE, from);
		}
		if (final && start < n && !(this.nothingFramed && count === 0 && isByteOrderMark(bytes))) {
			// The last record, without a delimiter (or cut off inside quotes: the scanner reports that). A file
			// of a byte order mark alone has none: the scanner drops the mark, as it does at the start of any file.
			this.starts[count] = start;
			this.ends[count] = n;
			count++;
			start = n;
		}
		this.starts[count] = start;
		this.count = count;
		if (count > 0) this.nothingFramed = false;
		return start;
	}

	/**
	 * Where the next record delimiter from `from` starts (its length in breakLength, which it is in breakDelimiter),
	 * as the scanner decides it: -1 when there is none in the bytes or the bytes end before it is known whether one is.
	 */
	private breakAt(bytes: Buffer, from: number, final: boolean): number {
		const n = bytes.length;
		this.breakDelimiter = this.delimiter;
		if (this.delimiter === LF || this.delimiter === CR) {
			this.breakLength = 1;
			return bytes.indexOf(this.delimiter, from);
		}
		if (this.delimiter === -1) {
			this.breakLength = 2;
			for (let lf = bytes.indexOf(LF, from); lf !== -1; lf = bytes.indexOf(LF, lf + 1)) {
				if (lf - 1 >= from && bytes[lf - 1] === CR) return lf - 1;
			}
			// A CR at the very end may be the first half of a delimiter: the record is not known to end yet.
			return -1;
		}
		// Not found yet: the first line break decides.
		const lf = bytes.indexOf(LF, from);
		const cr = bytes.indexOf(CR, from);
		if (cr === -1 || (lf !== -1 && lf < cr)) {
			if (lf === -1) return -1;
			this.breakDelimiter = LF;
			this.breakLength = 1;
			return lf;
		}
		if (cr + 1 >= n) {
			if (!final) return -1;
			this.breakDelimiter = CR;
			this.breakLength = 1;
			return cr;
		}
		this.breakDelimiter = bytes[cr + 1] === LF ? -1 : CR;
		this.breakLength = this.breakDelimiter === -1 ? 2 : 1;
		return cr;
	}

	private grow(): void {
		this.starts = doubled(this.starts, Int32Array);
		this.ends = doubled(this.ends, Int32Array);
	}
}

/**
 * A file's records framed in its bytes (CsvRecordFramer), each read into cells only when asked for
 * (CsvRecordScanner, which reports CSV errors with the record's row as if it had read the whole file).
 */
export class FramedCsvRecords {
	private readonly framer = new CsvRecordFramer();
	private readonly scanner: CsvRecordScanner;
	/** The bytes the records framed last are in. */
	bytes: Buffer = Buffer.alloc(0);
	private final = false;

	constructor(private readonly maxRecordChars: number) {
		this.scanner = new CsvRecordScanner(maxRecordChars);
	}

	/** The file's record delimiter once known (RecordDelimiter). */
	get delimiter(): RecordDelimiter {
		return this.framer.delimiter;
	}

	/** Records framed last. */
	get count(): number {
		return this.framer.count;
	}

	/** Where record `i` of those framed last starts in `bytes`. */
	start(i: number): number {
		return this.framer.starts[i];
	}

	/** Where it ends, before its delimiter. */
	end(i: number): number {
		return this.framer.ends[i];
	}

	/**
	 * Frames the next bytes of the file; returns the records found (`recordsBefore` records of the file came
	 * before them: for the row of an error in an overlong record).
	 */
	take(chunk: Buffer, recordsBefore: number): number {
		this.bytes = this.framer.frame(chunk);
		this.final = false;
		// A record not ended in 3 bytes a character is longer than the limit: let the scanner say why (too long, or a quote).
		if (this.framer.carried > 3 * this.maxRecordChars) {
			this.scanner.records = recordsBefore + this.framer.count;
			this.scanner.push(this.framer.carriedBytes().toString('utf8'), []);
			throw new CsvScanError('record-too-long', `a record is longer than ${this.maxRecordChars} characters`, this.scanner.records);
		}
		return this.framer.count;
	}

	/** At the end of the file: frames the last record, if the file did not end with a delimiter (0 or 1). */
	finish(): number {
		this.bytes = this.framer.finish();
		this.final = true;
		return this.framer.count;
	}

	/** Appends to `out` the cells of records `from` to `to` - 1 of those framed last; record `from` is the file's record `recordsBefore` + 1. */
	cells(from: number, to: number, recordsBefore: number, out: string[][]): void {
		if (from >= to) return;
		const expected = out.length + (to - from);
		this.scanner.records = recordsBefore;
		this.scanner.knowDelimiter(this.framer.delimiter);
		this.scanner.push(this.bytes.toString('utf8', this.start(from), this.start(to)), out);
		if (this.final && to === this.count) this.scanner.finish(out);
		if (out.length !== expected) {
			// Cannot happen: the framing of a record the scanner reads without error is the scanner's.
			throw new Error(`CSV framing: ${to - from} record(s) framed, ${out.length - expected + (to - from)} read, after record ${recordsBefore}`);
		}
	}
}
