import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerRun } from '../adapter/execute';
import { getSchools, schoolIdList } from '../adapter/options';
import { progressReporter } from '../adapter/progress';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import type { DriftCheck } from '../shared/normalize/drift';
import { DEFAULT_DRIFT_SETTINGS, DRIFT_CHECKS } from '../shared/normalize/drift';
import { normalizeRun } from '../shared/normalize/normalize';
import { DEFAULT_KEEP_SNAPSHOTS_DAYS } from '../shared/store/retention';

export class RosterNormalize implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Normalize',
		name: 'rosterNormalize',
		icon: { light: 'file:rosterNormalize.svg', dark: 'file:rosterNormalize.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-normalize',
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle:
			'={{ Array.isArray($parameter["schoolIds"]) ? ($parameter["schoolIds"].length ? "only " + $parameter["schoolIds"].length + " school(s)" : "all schools") : ($parameter["schoolIds"] ? "only the chosen schools" : "all schools") }}',
		description:
			'Turn a staged roster into people (students, teachers, staff, admins), parent contacts, schools, terms, classes and enrollments',
		defaults: { name: 'Roster Normalize' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Normalized', 'Stopped'],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			runIdParameter,
			{
				displayName: 'School Names or IDs',
				name: 'schoolIds',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getSchools' },
				default: [],
				description:
					'School ID scoping: only sync these schools, when several schools share one SIS. Leave empty for every school in the export. Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				hint: 'The list shows the schools of the last run. Before the first run, use an expression with OneRoster sourcedIds or school identifiers, e.g. {{ ["255901001", "255901002"] }}.',
			},
			{
				displayName: 'Pre-Flight Drift Checks',
				name: 'driftChecks',
				type: 'multiOptions',
				options: [
					{ name: 'Empty Emails', value: 'emails', description: 'Every person of a role has an empty email, where the last good run had emails' },
					{ name: 'Encoding', value: 'encoding', description: 'Names look mis-encoded (e.g. "JosÃ©") where the last good run had none' },
					{ name: 'Headers', value: 'headers', description: "A file's columns changed, or a file of the last good run is missing" },
					{ name: 'Row Counts', value: 'rowCounts', description: 'An entity (students, classes, enrollments…) fell by more than the percent below' },
					{ name: 'Schools', value: 'schools', description: 'A school is gone from the export, or nobody is left in it' },
				],
				default: ['emails', 'encoding', 'headers', 'rowCounts', 'schools'],
				description:
					'Compare the export with the last good run before anything is applied. When a check fails the run stops: nothing changes, and the run leaves by the Stopped output with exactly what changed. Turn a check off for one run when the change is intended.',
			},
			{
				displayName: 'Max Row Count Drop (%)',
				name: 'maxRowDropPercent',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 20,
				description: 'Row Counts check: stop when an entity fell by more than this percent since the last good run (entities of fewer than 10 rows are not compared)',
			},
			{
				displayName: 'Keep Snapshots (Days)',
				name: 'keepSnapshotsDays',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 90,
				description:
					'How long to keep each run\'s roster snapshot, for "Roster As Of" questions, and its staged rows (the raw export); 0 = forever. Held runs and the last good run keep theirs regardless.',
			},
		],
	};

	methods = {
		credentialTest: { rosterStoreConnectionTest },
		loadOptions: { getSchools },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerRun(this, async (store, runId, itemIndex) => {
			const schoolIds = schoolIdList(this.getNodeParameter('schoolIds', itemIndex, []));
			const { run, counts } = await normalizeRun(store.db, runId, {
				schoolIds,
				onProgress: progressReporter(this),
				drift: {
					checks: (this.getNodeParameter('driftChecks', itemIndex, DRIFT_CHECKS) as DriftCheck[]) ?? [],
					maxRowDropPercent: this.getNodeParameter('maxRowDropPercent', itemIndex, DEFAULT_DRIFT_SETTINGS.maxRowDropPercent) as number,
				},
				keepSnapshotsDays: this.getNodeParameter('keepSnapshotsDays', itemIndex, DEFAULT_KEEP_SNAPSHOTS_DAYS) as number,
			});
			const people = Object.values(counts.people).reduce((sum, n) => sum + n, 0);
			const log = `run ${run.id}: ${people.toLocaleString('en-US')} people, ${counts.classes.toLocaleString('en-US')} classes, ${counts.enrollments.toLocaleString('en-US')} enrollments in ${counts.schools} school(s)`;
			return { summary: await runHandle(store, run), log, output: run.status === 'stopped' ? 1 : 0 };
		}, 2);
	}
}
