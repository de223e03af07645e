/**
 * The real sample sets: the Ed-Fi Grand Bend OneRoster 1.1 export ingests (from a folder,
 * a zip and binary input alike); its OneRoster 1.0 twin is refused.
 */
import { readFileSync } from 'node:fs';

import { RosterInputError } from '../../../nodes/shared/model/errors';
import {
	CsvFileSet,
	openBufferFileSet,
	openFolderFileSet,
	openZipFileSet,
} from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { ingestOneRosterCsv } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import { MemoryStagingSink } from '../../support/memory-staging-sink';
import { readFolder, SAMPLE_1_0, SAMPLE_1_1, writeZip } from './helpers';

async function ingestSet(open: () => Promise<CsvFileSet>) {
	const set = await open();
	const sink = new MemoryStagingSink();
	try {
		const summary = await ingestOneRosterCsv(set, sink);
		return { summary, sink };
	} finally {
		await set.close();
	}
}

const STAGED_COUNTS = [
	['orgs', 'orgs.csv', 2],
	['academicSessions', 'academicSessions.csv', 3],
	['courses', 'courses.csv', 2],
	['classes', 'classes.csv', 2],
	['users', 'users.csv', 10],
	['demographics', 'demographics.csv', 8],
	['enrollments', 'enrollments.csv', 24],
] as const;

describe('Grand Bend OneRoster 1.1 sample set', () => {
	let result: Awaited<ReturnType<typeof ingestSet>>;
	beforeAll(async () => {
		result = await ingestSet(() => openFolderFileSet(SAMPLE_1_1));
	});

	test('stages every file, in order, with the row counts of the files', () => {
		expect(result.summary.version).toBe('1.1');
		expect(result.summary.files).toEqual(
			STAGED_COUNTS.map(([entity, fileName, rows]) => ({ entity, fileName, mode: 'bulk', rows, skipped: 0 })),
		);
		expect(result.summary.problemCount).toBe(0);
		expect(result.sink.problems).toEqual([]);
		for (const [entity, , rows] of STAGED_COUNTS) expect(result.sink.rows.get(entity)).toHaveLength(rows);
	});

	test('8 students and 2 teachers; the trailing-comma teacher rows are accepted with one warning', () => {
		const users = result.sink.records('users');
		expect(users.filter((user) => user.role === 'student')).toHaveLength(8);
		expect(users.filter((user) => user.role === 'teacher').map((user) => user.sourcedId)).toEqual(['207270', '207268']);
		expect(result.sink.rows.get('users')?.every((row) => row.cells.length === 18)).toBe(true);
		expect(result.summary.warnings).toEqual([
			'users.csv: 2 row(s) have more fields than the header, all of them empty (a trailing comma); read without the extra fields',
		]);
		const teacher = result.sink.record('users', '207268');
		expect(teacher).toMatchObject({ givenName: 'Sara', familyName: 'Preston', middleName: 'Stacy', password: '' });
	});

	test('cells match the source files', () => {
		const peter = result.sink.record('users', '604918');
		expect(peter).toMatchObject({
			middleName: 'Ivan',
			username: 'Peter Ivan Nash',
			userIds: '{Local:918}',
			email: 'Peter.Nash@studentgps.org',
			grades: '09',
			phone: '(950) 434 7904',
		});
		const row = result.sink.rows.get('users')?.find((staged) => staged.sourcedId === '604918');
		expect(row?.rowNumber).toBe(4);

		const english = result.sink.record('classes', '25590100101Trad120ENG112011');
		expect(english?.termSourcedIds).toBe('255901001_2021_2020-2021_Fall,255901001_2021_2020-2021_Spring');
		expect(english?.title).toBe('ENG-1');

		const lastEnrollment = result.sink.rows.get('enrollments')?.at(-1);
		expect(lastEnrollment).toMatchObject({ rowNumber: 25, sourcedId: '54AFE73B-66E5-451E-B681-013D9865EA27' });
		expect(result.sink.record('demographics', '605015')?.hispanicOrLatinoEthnicity).toBe('true');
	});

	test('metadata.* columns of orgs.csv are kept in the staged file', () => {
		const orgs = result.sink.files.get('orgs');
		expect(orgs).toMatchObject({ entity: 'orgs', fileName: 'orgs.csv', version: '1.1', mode: 'bulk' });
		expect(orgs?.columns).toEqual([
			'sourcedId',
			'status',
			'dateLastModified',
			'name',
			'type',
			'identifier',
			'parentSourcedId',
			'metadata.address1',
			'metadata.address2',
			'metadata.city',
			'metadata.postCode',
			'metadata.state',
		]);
		expect(result.sink.record('orgs', '255901001')).toMatchObject({ name: 'Grand Bend High School', parentSourcedId: '255901', 'metadata.city': '' });
	});

	test('a zip of the set stages the same rows', async () => {
		const zipPath = await writeZip(readFolder(SAMPLE_1_1));
		const zipped = await ingestSet(() => openZipFileSet(zipPath));
		expect(zipped.summary).toEqual(result.summary);
		expect([...zipped.sink.rows]).toEqual([...result.sink.rows]);
	});

	test('a zip with the set in a subfolder (and __MACOSX litter) stages the same rows', async () => {
		const entries: Record<string, Buffer> = {};
		for (const [name, data] of Object.entries(readFolder(SAMPLE_1_1))) {
			entries[`GrandBend_OneRoster/${name}`] = data;
			entries[`__MACOSX/GrandBend_OneRoster/._${name}`] = Buffer.from([0, 5, 22, 7, 0xff]);
		}
		const zipped = await ingestSet(async () => openBufferFileSet([{ name: 'export.zip', data: readFileSync(await writeZip(entries)) }]));
		expect(zipped.summary).toEqual(result.summary);
		expect([...zipped.sink.rows]).toEqual([...result.sink.rows]);
	});

	test('loose CSV buffers (n8n binary input) stage the same rows', async () => {
		const files = Object.entries(readFolder(SAMPLE_1_1)).map(([name, data]) => ({ name, data }));
		const loose = await ingestSet(() => openBufferFileSet(files));
		expect(loose.summary).toEqual(result.summary);
		expect([...loose.sink.rows]).toEqual([...result.sink.rows]);
	});
});

describe('Grand Bend OneRoster 1.0 sample set', () => {
	test('is refused as not OneRoster 1.1/1.2, and nothing is staged', async () => {
		const sink = new MemoryStagingSink();
		const set = await openFolderFileSet(SAMPLE_1_0);
		const ingest = ingestOneRosterCsv(set, sink);
		await expect(ingest).rejects.toThrow(RosterInputError);
		await expect(ingest).rejects.toThrow(/OneRoster 1\.0 CSV set, not OneRoster 1\.1\/1\.2/);
		const error = (await ingest.catch((caught) => caught)) as RosterInputError;
		expect(error.location).toEqual({ file: 'users.csv', row: 1, field: 'userId' });
		expect(error.hint).toMatch(/1\.1 or 1\.2/);
		expect(sink.files.size).toBe(0);
	});
});
