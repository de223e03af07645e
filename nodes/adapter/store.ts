/**
 * n8n side of the store: the Roster Store credential → StoreConfig, and run handles as items.
 */
import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeCredentialTestResult,
} from 'n8n-workflow';

import type { RunHandle } from '../shared/model/handle';
import { HANDLE_PROBLEM_LIMIT } from '../shared/model/handle';
import type { RecordProblem } from '../shared/model/errors';
import type { RunRecord, StoredProblem } from '../shared/store/runs';
import { countProblems, listProblems } from '../shared/store/runs';
import type { RosterStore, StoreConfig } from '../shared/store/store';
import { defaultSqlitePath, withStore } from '../shared/store/store';
import { storeTestFailure } from './credential-test';

export const ROSTER_STORE_CREDENTIAL = 'rosterStoreApi';

/** Every RosterSync node offers this optional credential (name 'rosterStoreApi'); without one, the embedded SQLite file is used. */
export function storeConfigFromCredential(data: ICredentialDataDecryptedObject | undefined): StoreConfig {
	if (!data || data.engine !== 'postgres') {
		const path = typeof data?.sqlitePath === 'string' ? data.sqlitePath.trim() : '';
		return { engine: 'sqlite', path: path || defaultSqlitePath() };
	}
	return {
		engine: 'postgres',
		host: String(data.host ?? 'localhost'),
		port: Number(data.port ?? 5432),
		database: String(data.database ?? ''),
		user: String(data.user ?? ''),
		password: String(data.password ?? ''),
		ssl: data.ssl === true,
		ignoreSslIssues: data.ignoreSslIssues === true,
	};
}

export async function storeConfigFor(context: IExecuteFunctions | ILoadOptionsFunctions): Promise<StoreConfig> {
	const hasCredential = Boolean(context.getNode().credentials?.[ROSTER_STORE_CREDENTIAL]);
	const data = hasCredential ? await context.getCredentials(ROSTER_STORE_CREDENTIAL) : undefined;
	return storeConfigFromCredential(data);
}

/** "Test connection" of the Roster Store credential: opens the store (running migrations) and closes it. */
export async function rosterStoreConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	const config = storeConfigFromCredential(credential.data);
	try {
		const where = await withStore(config, async (store) => {
			await store.db.query('SELECT 1 AS ok');
			return store.description;
		});
		return { status: 'OK', message: `Connected to ${where}; the store's tables are ready` };
	} catch (error) {
		return storeTestFailure(error);
	}
}

function withoutStage(problem: StoredProblem): RecordProblem {
	const { file, row, field, sourcedId, message } = problem;
	return { file, row, field, sourcedId, message };
}

/** The item a RosterSync node outputs for a run. */
export async function runHandle(store: RosterStore, run: RunRecord, extra: IDataObject = {}): Promise<IDataObject> {
	const handle: RunHandle = {
		runId: run.id,
		store: store.description,
		stage: run.stage,
		status: run.status,
		dryRun: run.dryRun,
		source: run.source,
		counts: run.counts[run.stage] ?? {},
		warnings: run.warnings,
		problems: {
			count: await countProblems(store.db, run.id),
			first: (await listProblems(store.db, run.id, HANDLE_PROBLEM_LIMIT)).map(withoutStage),
		},
	};
	return { ...(handle as unknown as IDataObject), ...extra };
}
