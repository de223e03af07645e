/**
 * CSV inputs that are awkward to read (quotes, line breaks of each kind, a BOM, broken quoting), and the
 * scanner's reading of a whole text: what every other way of reading CSV records is held to.
 */
import { CsvRecordScanner, CsvScanError } from '../../../nodes/shared/sources/oneroster-csv/csv-scan';

export type Outcome = { records: string[][] } | { error: string; records: number };

/** A CsvScanError as an Outcome's error (both misplaced quotes as one, as csv-parse's codes are read). */
export function scanOutcome(error: unknown): Outcome {
	if (!(error instanceof CsvScanError)) throw error;
	return { error: error.code === 'invalid-opening-quote' || error.code === 'invalid-closing-quote' ? 'misplaced-quote' : error.code, records: error.records };
}

export function withScanner(pieces: string[], maxRecordChars: number): Outcome {
	const scanner = new CsvRecordScanner(maxRecordChars);
	const records: string[][] = [];
	try {
		for (const piece of pieces) scanner.push(piece, records);
		scanner.finish(records);
		return { records };
	} catch (error) {
		return scanOutcome(error);
	}
}

export const AWKWARD = [
	'a,b,c\n1,2,3\n',
	'a,b,c\r\n1,2,3\r\n',
	'a,b\r1,2\r',
	'a,b\n1,2',
	'\ufeffsourcedId,name\nu1,"Zoë, ""Jr"""\n',
	'a,b\n\n1,2\n\n',
	'a,b\n"multi\nline",x\n"with\r\ncrlf",y\n',
	'a,b\r\nx\ny,z\r\n',
	'a,b\nx\ry,z\n',
	'a,b,\n1,2,\n,,\n',
	'a\n""\n"",""\n',
	'a,b\n1,"2"\n3,"4',
	'a,b\n1,x"y\n',
	'a,b\n1,"x"y\n',
	'a,b\n"x" ,y\n',
	'a,b\n ""x,y\n',
	'"a""b",c\n',
	'\n',
	'\r\n',
	'',
	'a',
	'"',
	'a,"b\n',
	'x,"{LDAP:1},{LTI:2}",z\r\ny,"{LDAP:3},{LT',
	'a,b\n1,"x\ny"\n2,"p\nq\nr",s\n3,4\n',
	'a,b\r\n1,"x\r\ny"\r\n2,"p\rq\nr",s\r\n3,4',
];

/** `count` random short texts of CSV's awkward characters (a seeded generator: the same texts every run). */
export function randomCsvTexts(count: number, maxLength: number, seed = 7): { texts: string[]; random: () => number } {
	const random = () => {
		seed = (seed * 1103515245 + 12345) & 0x7fffffff;
		return seed / 0x80000000;
	};
	const alphabet = ['a', 'b', ',', ',', '"', '"', '\n', '\n', '\r', ' ', 'é', '\ufeff'];
	const texts: string[] = [];
	for (let n = 0; n < count; n++) {
		const length = Math.floor(random() * maxLength);
		let text = '';
		for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
		texts.push(text);
	}
	return { texts, random };
}
