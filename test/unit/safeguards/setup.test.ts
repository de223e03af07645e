/**
 * The safeguards' store migration (version 2 on a store made by version 1) and their node
 * settings: outputs, and defaults that are the engine's defaults.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { INodeProperties } from 'n8n-workflow';

import { RosterHistory } from '../../../nodes/RosterHistory/RosterHistory.node';
import { RosterNormalize } from '../../../nodes/RosterNormalize/RosterNormalize.node';
import { RosterReconcileUsers } from '../../../nodes/RosterReconcileUsers/RosterReconcileUsers.node';
import { DEFAULT_DRIFT_SETTINGS } from '../../../nodes/shared/normalize/drift';
import { DECISION_LABELS } from '../../../nodes/shared/reconcile/approve';
import { DEFAULT_RECONCILE_SETTINGS, DEFAULT_ROLE_THRESHOLDS } from '../../../nodes/shared/reconcile/settings';
import { DEFAULT_KEEP_SNAPSHOTS_DAYS } from '../../../nodes/shared/store/retention';
import { createRun, getRun } from '../../../nodes/shared/store/runs';
import { MIGRATIONS, migrate } from '../../../nodes/shared/store/schema';
import type { SqlDb } from '../../../nodes/shared/store/sql';
import { ENGINES, openStoreBeforeMigration } from '../../support/engines';
import { REPO_ROOT } from '../../support/paths';

describe.each(ENGINES)('migration 2 on a store made by version 1 (%s)', (engine) => {
	let db: SqlDb;
	let close: () => Promise<void>;
	beforeEach(async () => {
		// A store as version 1 of the package left it.
		({ db, close } = await openStoreBeforeMigration(engine, 2));
	});
	afterEach(async () => close());

	test('runs once, keeps the data', async () => {
		const run = await createRun(db, { source: 'version 1' });

		expect(await migrate(db)).toBe(MIGRATIONS.length - 1);
		expect(await migrate(db)).toBe(0);
		const versions = await db.query('SELECT version FROM schema_migrations ORDER BY version');
		expect(versions.map((row) => Number(row.version))).toEqual(MIGRATIONS.map((migration) => migration.version));
		expect((await getRun(db, run.id)).source).toBe('version 1');
	});
});

const property = (properties: INodeProperties[], name: string) => properties.find((p) => p.name === name)!;

test('Reconcile Users: Applied and Held outputs, an Approve Held Run operation, safeguard defaults from the engine', () => {
	const { description } = new RosterReconcileUsers();
	expect(description.outputNames).toEqual(['Applied', 'Held']);
	expect((property(description.properties, 'operation').options as Array<{ value: string }>).map((o) => o.value)).toEqual(['reconcile', 'approve']);
	expect(property(description.properties, 'holdMassChanges').default).toBe(DEFAULT_RECONCILE_SETTINGS.holdMassChanges);
	expect(property(description.properties, 'graceRuns').default).toBe(DEFAULT_RECONCILE_SETTINGS.graceRuns);
	expect(property(description.properties, 'archiveLimitPercent').default).toBe(DEFAULT_ROLE_THRESHOLDS.archive.percent);
	expect(property(description.properties, 'archiveLimitPeople').default).toBe(DEFAULT_ROLE_THRESHOLDS.archive.people);
	expect(property(description.properties, 'updateLimitPercent').default).toBe(DEFAULT_ROLE_THRESHOLDS.update.percent);
	expect(property(description.properties, 'updateLimitPeople').default).toBe(DEFAULT_ROLE_THRESHOLDS.update.people);
	const decision = property(description.properties, 'decision');
	expect((decision.options as Array<{ name: string; value: string }>).map((o) => [o.value, o.name])).toEqual(Object.entries(DECISION_LABELS));
	// The reconcile settings only show for the Reconcile operation.
	expect(property(description.properties, 'archive').displayOptions?.show?.operation).toEqual(['reconcile']);
});

test('Normalize: Normalized and Stopped outputs; drift checks and snapshot retention default to the engine’s', () => {
	const { description } = new RosterNormalize();
	expect(description.outputNames).toEqual(['Normalized', 'Stopped']);
	expect([...(property(description.properties, 'driftChecks').default as string[])].sort()).toEqual([...DEFAULT_DRIFT_SETTINGS.checks].sort());
	expect(property(description.properties, 'maxRowDropPercent').default).toBe(DEFAULT_DRIFT_SETTINGS.maxRowDropPercent);
	expect(property(description.properties, 'keepSnapshotsDays').default).toBe(DEFAULT_KEEP_SNAPSHOTS_DAYS);
});

test('Roster History: Roll Back a Run (dry run by default) and Roster As Of; registered in package.json', () => {
	const { description } = new RosterHistory();
	expect((property(description.properties, 'operation').options as Array<{ value: string }>).map((o) => o.value)).toEqual(['rollback', 'asOf']);
	expect(property(description.properties, 'dryRun').default).toBe(true);
	const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { n8n: { nodes: string[] } };
	expect(pkg.n8n.nodes).toContain('dist/nodes/RosterHistory/RosterHistory.node.js');
});
