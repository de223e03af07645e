/**
 * Checks one OneRoster CSV file against its spec: the header once (file-level errors),
 * then every row (row-level problems; a few harmless flaws of real exports are fixed
 * in place and counted as warnings).
 */
import { DateTime } from 'luxon';

import { RosterInputError } from '../../model/errors';
import type { RecordProblem } from '../../model/errors';
import type { FileMode, OneRosterVersion } from '../../model/roster';
import {
	DATE_LAST_MODIFIED,
	EXTENSION_COLUMN_PREFIXES,
	GRADE,
	SOURCED_ID,
	STATUS,
	STATUS_COLUMN,
} from './spec';
import { OffHeapStrings, doubled } from '../../store/off-heap-strings';
import type { ColumnSpec, FileSpec, Vocabulary } from './spec';

export interface FileContext {
	spec: FileSpec;
	fileName: string;
	version: OneRosterVersion;
	mode: FileMode;
}

/** Values already seen valid are not parsed again: dates in a file repeat a lot. */
const MAX_REMEMBERED_VALUES = 10_000;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const YEAR_PATTERN = /^\d{4}$/;
const SINGLE_DIGIT_GRADE = /^[1-9]$/;

interface VocabularyIndex {
	words: Set<string>;
	byLowerCase: Map<string, string>;
}

const vocabularyIndexes = new WeakMap<Vocabulary, VocabularyIndex>();

function indexOf(vocabulary: Vocabulary): VocabularyIndex {
	let index = vocabularyIndexes.get(vocabulary);
	if (!index) {
		index = {
			words: new Set(vocabulary.words),
			byLowerCase: new Map(vocabulary.words.map((word) => [word.toLowerCase(), word])),
		};
		vocabularyIndexes.set(vocabulary, index);
	}
	return index;
}

/**
 * The first row of every sourcedId seen in a file: an open-addressing hash table of numbers into
 * typed arrays, with the ids themselves held off the V8 heap (OffHeapStrings). A Map of a million
 * string keys cost several times as much CPU and GC (its backing store is rebuilt as it grows and every
 * entry is an object the collector walks); ids kept as strings were still the largest thing live
 * while enrollments.csv was read (~614,000 at 100,000 students), which sets how far V8 lets the heap
 * grow afterwards. Each entry's full hash is kept, so an id is decoded only when its hash matches.
 */
export class FirstRows {
	private readonly ids = new OffHeapStrings();
	private hashes = new Int32Array(1 << 11);
	private rows = new Int32Array(1 << 11);
	/** Slot → entry number + 1 (0: empty). Always at most half full. */
	private slots = new Int32Array(1 << 12);

	/** The row `id` was first seen in; when not seen before, remembers `row` for it and returns undefined. */
	firstRow(id: string, row: number): number | undefined {
		const hash = hashOf(id);
		const slot = this.slotOf(id, hash);
		const entry = this.slots[slot] - 1;
		if (entry >= 0) return this.rows[entry];
		const added = this.ids.add(id);
		if (added === this.rows.length) {
			this.hashes = doubled(this.hashes, Int32Array);
			this.rows = doubled(this.rows, Int32Array);
		}
		this.hashes[added] = hash;
		this.rows[added] = row;
		this.slots[slot] = added + 1;
		if (this.ids.size * 2 > this.slots.length - 1) this.grow();
		return undefined;
	}

	/** The row `id` was first seen in, or undefined when it was not seen (nothing is remembered). */
	rowOf(id: string): number | undefined {
		const entry = this.slots[this.slotOf(id, hashOf(id))] - 1;
		return entry < 0 ? undefined : this.rows[entry];
	}

	/** The slot that holds `id` (its hash `hash`), or the empty slot where it would go. */
	private slotOf(id: string, hash: number): number {
		const mask = this.slots.length - 1;
		for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
			const entry = this.slots[slot] - 1;
			if (entry < 0 || (this.hashes[entry] === hash && this.ids.get(entry) === id)) return slot;
		}
	}

	private grow(): void {
		const slots = new Int32Array(this.slots.length * 2);
		const mask = slots.length - 1;
		for (let entry = 0; entry < this.ids.size; entry++) {
			let slot = this.hashes[entry] & mask;
			while (slots[slot] !== 0) slot = (slot + 1) & mask;
			slots[slot] = entry + 1;
		}
		this.slots = slots;
	}
}

/** FNV-1a over the UTF-16 code units, then mixed so that ids differing only at the end spread out. */
function hashOf(text: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
	hash ^= hash >>> 15;
	return Math.imul(hash, 0x2c1b3c6d) ^ (hash >>> 12);
}

/** Why a value cannot be staged. */
class ValueProblem {
	constructor(readonly message: string) {}
}

/** Values rewritten to the spec's spelling: reported once per file and column as a warning. */
interface Fix {
	column: string;
	kind: 'single-digit grade' | 'letter case';
	vocabulary: string;
	count: number;
	example: string;
	stagedAs: string;
}

function quoteList(values: readonly string[]): string {
	return values.map((value) => `"${value}"`).join(', ');
}

export class FileChecker {
	/** The header as in the file (BOM removed). Staged rows' cells line up with it. */
	readonly columns: string[];
	readonly sourcedIdIndex: number;
	/** Warnings about the header (unknown columns), known once the checker is built. */
	readonly headerWarnings: string[] = [];

	private readonly statusIndex: number;
	private readonly dateLastModifiedIndex: number;
	/** Indexes of status and dateLastModified, where the header has them. */
	private readonly changeColumnIndexes: number[];
	/** Columns with something to check (required or formatted), other than sourcedId, status, dateLastModified. */
	private readonly valueChecks: Array<{ index: number; column: ColumnSpec }> = [];
	private readonly firstRowBySourcedId = new FirstRows();
	private readonly validDates = new Set<string>();
	private readonly validDateTimes = new Set<string>();
	private readonly fixes = new Map<string, Fix>();
	private trailingCommaRows = 0;
	/** Cells rewritten so far (fixed values, trailing commas dropped): a row whose check changed it is staged as something other than its cells. */
	rewrites = 0;
	/**
	 * The row of a row with this sourcedId that this checker does not see (a row of a patch's base, taken as it
	 * was: row-patch.ts), when there is one before: a checked row with its sourcedId is a duplicate of it.
	 */
	uncheckedRowOf?: (sourcedId: string) => number | undefined;

	/** Checks the header; throws RosterInputError when it cannot be read as this file. */
	constructor(
		private readonly context: FileContext,
		header: string[],
	) {
		const { spec, fileName, mode, version } = context;
		const at = (field?: string) => ({ file: fileName, row: 1, field });
		if (header.every((name) => name.trim() === '')) {
			throw new RosterInputError(
				'the first row is empty; it must be the header row naming the columns',
				at(),
				`Export ${fileName} again with its header row.`,
			);
		}

		const specByName = new Map(spec.columns.map((column) => [column.name, column]));
		const specByLowerCase = new Map(spec.columns.map((column) => [column.name.toLowerCase(), column.name]));
		const seen = new Set<string>();
		const unknown: string[] = [];
		let unnamed = 0;
		header.forEach((name, index) => {
			if (name === '') {
				unnamed++;
				return;
			}
			if (seen.has(name)) {
				throw new RosterInputError(`column "${name}" appears twice in the header`, at(name), `Remove the second "${name}" column.`);
			}
			seen.add(name);
			const column = specByName.get(name);
			if (column) {
				if (column.name !== SOURCED_ID && column.name !== STATUS_COLUMN && column.name !== DATE_LAST_MODIFIED) {
					if (column.required || column.format) this.valueChecks.push({ index, column });
				}
				return;
			}
			if (EXTENSION_COLUMN_PREFIXES.some((prefix) => name.startsWith(prefix))) return;
			const expected = specByLowerCase.get(name.trim().toLowerCase());
			if (expected) {
				throw new RosterInputError(
					`column "${name}" must be spelled "${expected}" (OneRoster column names are case-sensitive)`,
					at(name),
					`Rename the column "${name}" to "${expected}" in the export (or its mapping in the SIS).`,
				);
			}
			unknown.push(name);
		});

		const needed = (column: ColumnSpec) =>
			column.required || (mode === 'delta' && (column.name === STATUS_COLUMN || column.name === DATE_LAST_MODIFIED));
		const missing = spec.columns.filter((column) => needed(column) && !seen.has(column.name)).map((column) => column.name);
		if (missing.length > 0) {
			throw new RosterInputError(
				`missing required column${missing.length > 1 ? 's' : ''} ${quoteList(missing)} (OneRoster ${version}${mode === 'delta' ? ', delta' : ''})`,
				at(missing[0]),
				`Add ${missing.length > 1 ? 'these columns' : 'this column'} to the header of ${fileName}; the SIS export may be set to an older OneRoster version or a custom layout.`,
			);
		}
		if (unnamed > 0) {
			this.headerWarnings.push(`${fileName}: the header has ${unnamed} column(s) without a name (e.g. a trailing comma); kept as they are`);
		}
		if (unknown.length > 0) {
			this.headerWarnings.push(
				`${fileName}: column${unknown.length > 1 ? 's' : ''} ${quoteList(unknown)} ${unknown.length > 1 ? 'are' : 'is'} not in OneRoster ${version}; kept as ${unknown.length > 1 ? 'they are' : 'it is'}`,
			);
		}

		this.columns = header;
		this.sourcedIdIndex = header.indexOf(SOURCED_ID);
		this.statusIndex = header.indexOf(STATUS_COLUMN);
		this.dateLastModifiedIndex = header.indexOf(DATE_LAST_MODIFIED);
		this.changeColumnIndexes = [this.statusIndex, this.dateLastModifiedIndex].filter((index) => index >= 0);
	}

	/**
	 * Checks one data row (`row` counts the header as 1). Fixable flaws are fixed in `cells`.
	 * Returns the row's problems (the row is to be skipped), or null when it can be staged.
	 * Throws RosterInputError for a flaw that makes the whole file unusable (bulk rows with status).
	 */
	check(cells: string[], row: number): RecordProblem[] | null {
		if (cells.length !== this.columns.length) {
			const message = this.fitToHeader(cells);
			if (message) return [this.problem(row, cells[this.sourcedIdIndex] ?? '', undefined, message)];
		}
		const sourcedId = cells[this.sourcedIdIndex];
		let problems: RecordProblem[] | null = null;

		if (sourcedId === '') {
			problems = this.add(problems, row, sourcedId, SOURCED_ID, `required value "${SOURCED_ID}" is empty`);
		} else {
			const firstRow = this.firstRowBySourcedId.firstRow(sourcedId, row) ?? this.uncheckedRowOf?.(sourcedId);
			if (firstRow !== undefined) {
				problems = this.add(problems, row, sourcedId, SOURCED_ID, `sourcedId "${sourcedId}" already appears in row ${firstRow}; this row is skipped`);
			}
		}

		let deleting = false;
		if (this.context.mode === 'bulk') {
			this.refuseChangeColumns(cells, row);
		} else {
			problems = this.checkChangeColumns(cells, row, sourcedId, problems);
			deleting = cells[this.statusIndex] === 'tobedeleted';
		}

		for (const { index, column } of this.valueChecks) {
			const value = cells[index];
			if (value === '') {
				if (column.required && !deleting) {
					problems = this.add(problems, row, sourcedId, column.name, `required value "${column.name}" is empty`);
				}
				continue;
			}
			const read = this.readValue(column, value);
			if (read instanceof ValueProblem) problems = this.add(problems, row, sourcedId, column.name, read.message);
			else if (read !== value) {
				cells[index] = read;
				this.rewrites++;
			}
		}
		return problems;
	}

	/** The row a sourcedId was first checked in (the header is row 1), or undefined when no row had it yet. */
	firstRowOf(sourcedId: string): number | undefined {
		return this.firstRowBySourcedId.rowOf(sourcedId);
	}

	/** Warnings about what was fixed in this file; call after the last row. */
	warnings(): string[] {
		const { fileName } = this.context;
		const warnings: string[] = [];
		if (this.trailingCommaRows > 0) {
			warnings.push(
				`${fileName}: ${this.trailingCommaRows} row(s) have more fields than the header, all of them empty (a trailing comma); read without the extra fields`,
			);
		}
		for (const fix of this.fixes.values()) {
			warnings.push(
				fix.kind === 'single-digit grade'
					? `${fileName}: ${fix.count} value(s) in column "${fix.column}" have single-digit grades (e.g. "${fix.example}"); read as two-digit grades (e.g. "${fix.stagedAs}")`
					: `${fileName}: ${fix.count} value(s) in column "${fix.column}" differ from the ${fix.vocabulary} vocabulary only in letter case (e.g. "${fix.example}"); read as "${fix.stagedAs}"`,
			);
		}
		return warnings;
	}

	/** Drops extra fields that are all empty (trailing commas); otherwise says what is wrong with the row's width. */
	private fitToHeader(cells: string[]): string | null {
		const width = this.columns.length;
		if (cells.length < width) {
			return `row has ${cells.length} field(s) but the header has ${width} columns`;
		}
		const extra = cells.slice(width);
		if (extra.every((value) => value === '')) {
			cells.length = width;
			this.trailingCommaRows++;
			this.rewrites++;
			return null;
		}
		return `row has ${cells.length} fields but the header has ${width} columns; extra values: ${quoteList(extra.filter((value) => value !== ''))}`;
	}

	/** Bulk files must leave status and dateLastModified empty: a filled one means the file is really a delta. */
	private refuseChangeColumns(cells: string[], row: number): void {
		for (const index of this.changeColumnIndexes) {
			if (cells[index] !== '') {
				const column = this.columns[index];
				const { fileName, spec } = this.context;
				throw new RosterInputError(
					`${column} is "${cells[index]}", but ${fileName} is declared bulk, and in bulk mode ${STATUS_COLUMN} and ${DATE_LAST_MODIFIED} must be empty`,
					{ file: fileName, row, field: column },
					`If this export holds only changes, declare it delta in manifest.csv (file.${spec.entity},delta); otherwise export ${fileName} again in bulk mode.`,
				);
			}
		}
	}

	/** Delta rows need a status from the version's vocabulary and a dateLastModified. */
	private checkChangeColumns(
		cells: string[],
		row: number,
		sourcedId: string,
		problems: RecordProblem[] | null,
	): RecordProblem[] | null {
		const status = cells[this.statusIndex];
		const statuses = STATUS[this.context.version];
		if (status === '') {
			problems = this.add(problems, row, sourcedId, STATUS_COLUMN, `required value "${STATUS_COLUMN}" is empty (delta file)`);
		} else if (!statuses.words.includes(status)) {
			problems = this.add(problems, row, sourcedId, STATUS_COLUMN, `status "${status}" is not one of ${quoteList(statuses.words)}`);
		}
		const modified = cells[this.dateLastModifiedIndex];
		if (modified === '') {
			problems = this.add(problems, row, sourcedId, DATE_LAST_MODIFIED, `required value "${DATE_LAST_MODIFIED}" is empty (delta file)`);
		} else if (!this.isDateTime(modified)) {
			problems = this.add(
				problems,
				row,
				sourcedId,
				DATE_LAST_MODIFIED,
				`"${modified}" is not an ISO 8601 date and time (e.g. 2024-08-01T12:00:00Z)`,
			);
		}
		return problems;
	}

	private readValue(column: ColumnSpec, value: string): string | ValueProblem {
		const format = column.format;
		switch (format) {
			case undefined:
				return value;
			case 'date':
				return this.isDate(value) ? value : new ValueProblem(`"${value}" is not a date of the form YYYY-MM-DD`);
			case 'dateTime':
				return this.isDateTime(value) ? value : new ValueProblem(`"${value}" is not an ISO 8601 date and time`);
			case 'year':
				return YEAR_PATTERN.test(value) ? value : new ValueProblem(`"${value}" is not a year (YYYY)`);
			case 'grades':
				return this.readGrades(column, value);
			default:
				return this.readWord(column, format, value);
		}
	}

	private readWord(column: ColumnSpec, vocabulary: Vocabulary, value: string): string | ValueProblem {
		const index = indexOf(vocabulary);
		if (index.words.has(value)) return value;
		if (vocabulary.extensible && value.startsWith('ext:')) return value;
		const word = index.byLowerCase.get(value.toLowerCase());
		if (word !== undefined) {
			this.noteFix(column, 'letter case', vocabulary, value, word);
			return word;
		}
		return new ValueProblem(
			`unknown ${vocabulary.name} "${value}"; OneRoster ${this.context.version} allows ${quoteList(vocabulary.words)}${vocabulary.extensible ? ' or an "ext:" extension' : ''}`,
		);
	}

	/** A comma-separated list of grades; single-digit grades are padded ("9" → "09"), as real exports need. */
	private readGrades(column: ColumnSpec, value: string): string | ValueProblem {
		const grades = indexOf(GRADE);
		if (grades.words.has(value)) return value;
		const parts = value.split(',');
		for (let i = 0; i < parts.length; i++) {
			const part = parts[i].trim();
			if (grades.words.has(part)) {
				parts[i] = part;
			} else if (SINGLE_DIGIT_GRADE.test(part)) {
				parts[i] = `0${part}`;
				this.noteFix(column, 'single-digit grade', GRADE, part, parts[i]);
			} else if (grades.byLowerCase.has(part.toLowerCase())) {
				parts[i] = grades.byLowerCase.get(part.toLowerCase()) as string;
				this.noteFix(column, 'letter case', GRADE, part, parts[i]);
			} else {
				return new ValueProblem(`unknown grade "${part}"; OneRoster grades are ${quoteList(GRADE.words)}`);
			}
		}
		return parts.join(',');
	}

	private isDate(value: string): boolean {
		if (this.validDates.has(value)) return true;
		const valid = DATE_PATTERN.test(value) && DateTime.fromISO(value).isValid;
		if (valid && this.validDates.size < MAX_REMEMBERED_VALUES) this.validDates.add(value);
		return valid;
	}

	private isDateTime(value: string): boolean {
		if (this.validDateTimes.has(value)) return true;
		const valid = DATE_PATTERN.test(value.slice(0, 10)) && (DateTime.fromISO(value).isValid || DateTime.fromSQL(value).isValid);
		if (valid && this.validDateTimes.size < MAX_REMEMBERED_VALUES) this.validDateTimes.add(value);
		return valid;
	}

	private noteFix(column: ColumnSpec, kind: Fix['kind'], vocabulary: Vocabulary, example: string, stagedAs: string): void {
		const key = `${column.name}\u0000${kind}`;
		const fix = this.fixes.get(key);
		if (fix) fix.count++;
		else this.fixes.set(key, { column: column.name, kind, vocabulary: vocabulary.name, count: 1, example, stagedAs });
	}

	private problem(row: number, sourcedId: string, field: string | undefined, message: string): RecordProblem {
		const problem: RecordProblem = { file: this.context.fileName, row, message };
		if (field !== undefined) problem.field = field;
		if (sourcedId !== '') problem.sourcedId = sourcedId;
		return problem;
	}

	private add(
		problems: RecordProblem[] | null,
		row: number,
		sourcedId: string,
		field: string,
		message: string,
	): RecordProblem[] {
		const list = problems ?? [];
		list.push(this.problem(row, sourcedId, field, message));
		return list;
	}
}
