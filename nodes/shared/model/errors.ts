/**
 * Errors and per-record problems of a roster run.
 *
 * A `RecordProblem` is a row-level problem: the row is skipped, the run goes on,
 * and the problem is listed in the report. A `RosterInputError` is a file-level
 * problem: the run stops before anything downstream changes.
 */

/** Where in the input a problem was found. `row` counts the header as row 1, like a spreadsheet. */
export interface InputLocation {
	file?: string;
	row?: number;
	field?: string;
}

export interface RecordProblem extends InputLocation {
	/** sourcedId of the record the row describes, when it could be read. */
	sourcedId?: string;
	message: string;
}

export function describeLocation(location: InputLocation): string {
	const parts: string[] = [];
	if (location.file) parts.push(location.file);
	if (location.row !== undefined) parts.push(`row ${location.row}`);
	if (location.field) parts.push(`field "${location.field}"`);
	return parts.join(', ');
}

/** A problem with the input as a whole: the run must stop and nothing may change. */
export class RosterInputError extends Error {
	readonly location: InputLocation;
	/** What the operator can do about it. */
	readonly hint?: string;

	constructor(message: string, location: InputLocation = {}, hint?: string) {
		const where = describeLocation(location);
		super(where ? `${where}: ${message}` : message);
		this.name = 'RosterInputError';
		this.location = location;
		this.hint = hint;
	}
}

/** A roster run cannot go on for a reason that is not the input's fault (wrong stage, missing run, …). */
export class RosterRunError extends Error {
	readonly hint?: string;

	constructor(message: string, hint?: string) {
		super(message);
		this.name = 'RosterRunError';
		this.hint = hint;
	}
}

/**
 * A connection (SFTP server, database, API) could not be made or was refused. `fields` names
 * the connection settings to check, by their option names (e.g. `host`, `port`, `password`),
 * so that a credential test can say which field is wrong.
 */
export class RosterConnectionError extends RosterRunError {
	constructor(
		message: string,
		hint: string | undefined,
		readonly fields: string[],
	) {
		super(message, hint);
		this.name = 'RosterConnectionError';
	}
}
