/**
 * Strict UTF-8 over chunks: characters split between chunks pass, broken bytes name their row.
 */
import { RosterInputError } from '../../../nodes/shared/model/errors';
import { Utf8Check } from '../../../nodes/shared/sources/oneroster-csv/utf8';

test('characters split across chunk borders pass through unchanged', () => {
	const text = 'sourcedId,givenName\n1,Zoë\n2,李小龍\n3,😀\n';
	const bytes = Buffer.from(text);
	for (let cut = 1; cut < bytes.length; cut++) {
		const check = new Utf8Check('users.csv');
		const out = Buffer.concat([check.take(bytes.subarray(0, cut)), check.take(bytes.subarray(cut))]);
		check.finish();
		expect(out.toString('utf8')).toBe(text);
	}
});

test('a bad byte in a later chunk names the row by counting earlier newlines', () => {
	const check = new Utf8Check('users.csv');
	check.take(Buffer.from('header\nrow2\nrow'));
	expect(() => check.take(Buffer.from([0x33, 0x0a, 0x72, 0xff, 0x0a]))).toThrow(
		expect.objectContaining({ location: { file: 'users.csv', row: 4 } }) as unknown as RosterInputError,
	);
});

test('overlong encodings and lone continuation bytes are refused', () => {
	for (const bad of [[0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80]]) {
		const check = new Utf8Check('orgs.csv');
		expect(() => {
			check.take(Buffer.from([0x61, ...bad, 0x62]));
			check.finish();
		}).toThrow(RosterInputError);
	}
});
