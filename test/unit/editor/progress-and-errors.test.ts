/**
 * Progress and errors as the operator sees them: the engine's onProgress events (staging and
 * Normalize, on the Grand Bend sample in a real SQLite store), their throttled telling through
 * n8n's logger and the manual-run UI, and run errors whose details name the credential field.
 */
import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { toNodeError } from '../../../nodes/adapter/errors';
import { schoolIdList } from '../../../nodes/adapter/options';
import { describeProgress, progressReporter } from '../../../nodes/adapter/progress';
import { RosterConnectionError } from '../../../nodes/shared/model/errors';
import type { ProgressEvent } from '../../../nodes/shared/model/progress';
import { normalizeRun } from '../../../nodes/shared/normalize/normalize';
import { openBufferFileSet } from '../../../nodes/shared/sources/oneroster-csv/file-set';
import { oneRosterCsvSource } from '../../../nodes/shared/sources/oneroster-csv/source';
import { StagingFailedError, stageRun } from '../../../nodes/shared/sources/stage-run';
import { openTestStore } from '../../support/engines';
import { SAMPLE_1_1, readFolder } from '../oneroster-csv/helpers';

const NODE = { name: 'Roster CSV Ingest', type: 'n8n-nodes-rostersync.rosterCsvIngest', typeVersion: 1, position: [0, 0], parameters: {} } as unknown as INode;

/** Just what progressReporter uses of IExecuteFunctions, recording what it was told. */
function fakeContext() {
	const logged: Array<{ level: string; message: string }> = [];
	const ui: string[] = [];
	const log = (level: string) => (message: string) => logged.push({ level, message });
	const context = {
		getNode: () => NODE,
		logger: { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') },
		sendMessageToUI: (message: string) => ui.push(message),
	} as unknown as IExecuteFunctions;
	return { context, logged, ui };
}

describe('engine progress events', () => {
	it('staging tells the rows staged per file, and Normalize the rows read per file', async () => {
		const store = await openTestStore('sqlite');
		try {
			const events: ProgressEvent[] = [];
			const files = readFolder(SAMPLE_1_1);
			const source = oneRosterCsvSource('test', () => openBufferFileSet(Object.entries(files).map(([name, data]) => ({ name, data }))));
			const { run } = await stageRun(store.db, source, { onProgress: (event) => events.push(event) });
			const finished = events.filter((event) => event.finished);
			expect(finished.map((event) => [event.stage, event.file, event.done])).toEqual([
				['ingest', 'orgs.csv', 2],
				['ingest', 'academicSessions.csv', 3],
				['ingest', 'courses.csv', 2],
				['ingest', 'classes.csv', 2],
				['ingest', 'users.csv', 10],
				['ingest', 'demographics.csv', 8],
				['ingest', 'enrollments.csv', 24],
			]);
			expect(events.every((event) => event.unit === 'rows')).toBe(true);

			const normalizeEvents: ProgressEvent[] = [];
			await normalizeRun(store.db, run.id, { onProgress: (event) => normalizeEvents.push(event) });
			const users = normalizeEvents.filter((event) => event.file === 'users.csv');
			expect(users.at(-1)).toEqual({ stage: 'normalize', done: 10, unit: 'rows', file: 'users.csv', finished: true });
		} finally {
			await store.close();
		}
	});

	it('a listener that throws does not fail the run', async () => {
		const store = await openTestStore('sqlite');
		try {
			const files = readFolder(SAMPLE_1_1);
			const source = oneRosterCsvSource('test', () => openBufferFileSet(Object.entries(files).map(([name, data]) => ({ name, data }))));
			const { run } = await stageRun(store.db, source, {
				onProgress: () => {
					throw new Error('the listener broke');
				},
			});
			expect(run.stage).toBe('staged');
		} finally {
			await store.close();
		}
	});
});

describe('progressReporter: throttled, to n8n’s logger and the manual-run UI', () => {
	it('tells a big file every 50,000 rows, and when it is done', () => {
		let now = 0;
		const { context, logged, ui } = fakeContext();
		const onProgress = progressReporter(context, { now: () => now });
		for (let done = 5000; done <= 120_000; done += 5000) {
			now += 10;
			onProgress({ stage: 'ingest', done, unit: 'rows', file: 'enrollments.csv' });
		}
		onProgress({ stage: 'ingest', done: 120_000, unit: 'rows', file: 'enrollments.csv', finished: true });
		expect(logged).toEqual([
			{ level: 'info', message: 'Roster CSV Ingest: enrollments.csv: 50,000 rows staged' },
			{ level: 'info', message: 'Roster CSV Ingest: enrollments.csv: 100,000 rows staged' },
			{ level: 'debug', message: 'Roster CSV Ingest: enrollments.csv: 120,000 rows staged (done)' },
		]);
		// The editor prefixes the node's name itself.
		expect(ui).toEqual(['enrollments.csv: 50,000 rows staged', 'enrollments.csv: 100,000 rows staged', 'enrollments.csv: 120,000 rows staged (done)']);
	});

	it('tells a slow file every 2 seconds', () => {
		let now = 0;
		const { context, logged } = fakeContext();
		const onProgress = progressReporter(context, { now: () => now });
		for (let done = 100; done <= 1000; done += 100) {
			now += 700;
			onProgress({ stage: 'fetch', done, total: 1000, unit: 'records', file: 'users' });
		}
		expect(logged.map((entry) => entry.message)).toEqual([
			'Roster CSV Ingest: users: 300 of 1,000 records fetched',
			'Roster CSV Ingest: users: 600 of 1,000 records fetched',
			'Roster CSV Ingest: users: 900 of 1,000 records fetched',
		]);
	});

	it('words: pages with a total, rows without', () => {
		expect(describeProgress({ stage: 'fetch', done: 3, total: 10, unit: 'pages', file: 'users' })).toBe('users: 3 of 10 pages fetched');
		expect(describeProgress({ stage: 'normalize', done: 1234567, unit: 'rows', file: 'users.csv', finished: true })).toBe('users.csv: 1,234,567 rows read (done)');
	});

	it('a manual-run UI that has gone away does not fail the node', () => {
		const { context, logged } = fakeContext();
		(context as unknown as { sendMessageToUI: () => void }).sendMessageToUI = () => {
			throw new Error('no editor');
		};
		const onProgress = progressReporter(context, { everyRows: 1 });
		onProgress({ stage: 'ingest', done: 10, unit: 'rows', file: 'users.csv' });
		expect(logged).toHaveLength(1);
	});
});

describe('run errors name the credential field and the next step', () => {
	it('a connection error (also when staging wrapped it) names the fields in the details', () => {
		const cause = new RosterConnectionError(
			'the SFTP server 10.0.0.5:22 refused the login of user "sis" (tried password)',
			'Check the user name and the password or private key of the SFTP credential.',
			['username', 'password'],
		);
		const error = toNodeError(NODE, new StagingFailedError('20250101T000000000Z-abcdef', cause), 0);
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe(cause.message);
		expect(error.description).toBe(
			"Check Username and Password in the node's credential (and press Test there). Check the user name and the password or private key of the SFTP credential. " +
				'Run 20250101T000000000Z-abcdef was recorded as failed; nothing in the people store changed.',
		);
	});

	it('a store error names the Roster Store credential’s fields', () => {
		const error = toNodeError(NODE, new RosterConnectionError('Cannot open the roster store sqlite:/x: …', 'Set File Path …', ['path']), 0);
		expect(error.description).toMatch(/^Check File Path in the node's credential/);
	});
});

describe('School IDs from the picker or from an expression', () => {
	it.each([
		[['255901001', '255901002'], ['255901001', '255901002']],
		['255901001, 255901002', ['255901001', '255901002']],
		['255901001\n255901002\n255901001', ['255901001', '255901002']],
		['', []],
		[[], []],
		[undefined, []],
		[[255901001], ['255901001']],
	])('%j → %j', (value, expected) => {
		expect(schoolIdList(value)).toEqual(expected);
	});
});
