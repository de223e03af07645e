/**
 * Helpers for the OneRoster CSV ingest tests: small in-memory sets, zips on disk,
 * and assertions on RosterInputErrors.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { InputLocation, RosterInputError } from '../../../nodes/shared/model/errors';
import { openBufferFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { ingestOneRosterCsv, IngestOptions } from '../../../nodes/shared/sources/oneroster-csv/ingest';
import type { StagingSummary } from '../../../nodes/shared/sources/staging';
import { MemoryStagingSink } from '../../support/memory-staging-sink';
import { GRAND_BEND_1_0, GRAND_BEND_1_1, sharedDataDir } from '../../support/paths';
import { buildZip } from '../../support/zip';

export const SAMPLE_1_1 = sharedDataDir(GRAND_BEND_1_1);
export const SAMPLE_1_0 = sharedDataDir(GRAND_BEND_1_0);
export const FIXTURE_1_2 = path.join(__dirname, '../../fixtures/oneroster-1.2-small');

export type FileContents = Record<string, string | Buffer | null>;

/** A minimal valid OneRoster 1.1 bulk set: manifest, orgs, users, enrollments. */
export function minimalSet11(): Record<string, string> {
	return {
		'manifest.csv': [
			'propertyName,value',
			'manifest.version,1.0',
			'oneroster.version,1.1',
			'file.academicSessions,absent',
			'file.classes,absent',
			'file.courses,absent',
			'file.demographics,absent',
			'file.enrollments,bulk',
			'file.orgs,bulk',
			'file.users,bulk',
			'',
		].join('\n'),
		'orgs.csv': [
			'sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId',
			'D1,,,Test District,district,,',
			'S1,,,Test School,school,,D1',
			'',
		].join('\n'),
		'users.csv': [
			'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password',
			'U1,,,true,S1,student,ann,,Ann,Archer,,1001,ann@example.org,,,,09,',
			'U2,,,true,S1,student,bob,,Bob,Baker,,1002,bob@example.org,,,,10,',
			'T1,,,true,S1,teacher,tess,,Tess,Turner,,T01,tess@example.org,,,,,',
			'',
		].join('\n'),
		'enrollments.csv': [
			'sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate',
			'E1,,,K1,S1,U1,student,false,2024-08-15,2025-06-01',
			'E2,,,K1,S1,U2,student,false,2024-08-15,2025-06-01',
			'E3,,,K1,S1,T1,teacher,true,2024-08-15,2025-06-01',
			'',
		].join('\n'),
	};
}

/** The minimal 1.1 set with some files replaced (null removes a file). */
export function set11(changes: FileContents = {}): FileContents {
	return { ...minimalSet11(), ...changes };
}

export async function ingestFiles(
	files: FileContents,
	options?: IngestOptions,
): Promise<{ summary: StagingSummary; sink: MemoryStagingSink }> {
	const entries = Object.entries(files).filter((entry): entry is [string, string | Buffer] => entry[1] !== null);
	const set = await openBufferFileSet(entries.map(([name, data]) => ({ name, data: Buffer.from(data) })));
	const sink = new MemoryStagingSink();
	try {
		const summary = await ingestOneRosterCsv(set, sink, options);
		return { summary, sink };
	} finally {
		await set.close();
	}
}

/** Runs the ingest and returns the RosterInputError it must throw. */
export async function ingestError(files: FileContents): Promise<RosterInputError> {
	try {
		await ingestFiles(files);
	} catch (error) {
		expect(error).toBeInstanceOf(RosterInputError);
		return error as RosterInputError;
	}
	throw new Error('ingest did not throw');
}

export function expectLocation(error: RosterInputError, location: InputLocation): void {
	expect(error.location).toEqual(location);
	expect(error.hint).toBeTruthy();
}

/** The files of a folder as a FileContents map. */
export function readFolder(folder: string): Record<string, Buffer> {
	return Object.fromEntries(readdirSync(folder).map((name) => [name, readFileSync(path.join(folder, name))]));
}

/** Writes a zip (test/support/zip.ts) to a temporary file and returns its path. */
export async function writeZip(entries: Record<string, string | Buffer>): Promise<string> {
	const zipPath = path.join(mkdtempSync(path.join(tmpdir(), 'rostersync-zip-')), 'set.zip');
	writeFileSync(zipPath, await buildZip(entries));
	return zipPath;
}
