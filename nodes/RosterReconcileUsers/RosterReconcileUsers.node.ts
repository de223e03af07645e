import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerRun } from '../adapter/execute';
import { forOperation } from '../adapter/operations';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import type { PersonRole } from '../shared/model/roster';
import { previewReconcile } from '../shared/reconcile/apply';
import { DECISION_LABELS, approveHeldRun, parseDecision } from '../shared/reconcile/approve';
import type { ChangeKind, ChangeLimit, ReconcileSettings, ThresholdOverrides } from '../shared/reconcile/settings';
import { DEFAULT_ROLE_THRESHOLDS, thresholds } from '../shared/reconcile/settings';
import { runStepInThread } from '../shared/threads/step-thread';

/** Output 0 "Applied": the run goes on (applied, or a dry run); output 1 "Held": it waits for a decision, or ends here. */
const APPLIED = 0;
const HELD = 1;

const limitField = (name: string, displayName: string, kind: ChangeKind, unit: keyof ChangeLimit, description: string) => ({
	displayName,
	name,
	type: 'number' as const,
	typeOptions: { minValue: 0 },
	default: DEFAULT_ROLE_THRESHOLDS[kind][unit],
	description,
});

export class RosterReconcileUsers implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Reconcile Users',
		name: 'rosterReconcileUsers',
		icon: { light: 'file:rosterReconcileUsers.svg', dark: 'file:rosterReconcileUsers.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-reconcile-users',
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle:
			'={{ $parameter["operation"] === "approve" ? "Approve held run" : ($parameter["dryRun"] ? "Dry run" : "Apply") + " · " + [$parameter["rosterStudents"] ? "students" : "", $parameter["rosterTeachers"] ? "teachers" : "", $parameter["rosterStaff"] ? "staff" : "", $parameter["rosterAdmins"] ? "admins" : ""].filter(r => r).join(", ") + ($parameter["archive"] ? " · archive on" : "") }}',
		description:
			"Bring the people store in line with the run's roster under Minga's sync settings: create, update, skip or archive people",
		defaults: { name: 'Roster Reconcile Users' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Applied', 'Held'],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Reconcile',
						value: 'reconcile',
						action: 'Reconcile people with the roster of a run',
						description: 'Plan and apply (or hold, or dry-run) the changes the roster makes to the people store',
					},
					{
						name: 'Approve Held Run',
						value: 'approve',
						action: 'Approve or discard a held run',
						description: 'Decide on a run held for mass changes: apply its adds and updates, apply all, or discard it',
					},
				],
				default: 'reconcile',
			},
			runIdParameter,
			...forOperation(['approve'], [
				{
					displayName: 'Decision',
					name: 'decision',
					type: 'options',
					options: [
						{ name: DECISION_LABELS.addsAndUpdates, value: 'addsAndUpdates', description: 'Creates, updates and restores are applied; archives stay held (apply them later with Apply All, or the next run plans them again)' },
						{ name: DECISION_LABELS.all, value: 'all', description: 'Everything the run planned is applied, archives too' },
						{ name: DECISION_LABELS.discard, value: 'discard', description: 'Nothing is applied; the run ends as discarded' },
					],
					default: 'addsAndUpdates',
					description: "What to do with the held run. With an expression, the approval form's answer (the option's name) works too.",
				},
				{
					displayName:
						'The run is planned again against the store as it is now and applied. An approved run leaves by the Applied output (on to Build Lists); a discarded run, or a decision on the held archives of a run that went on, leaves by Held.',
					name: 'approveNotice',
					type: 'notice',
					default: '',
				},
			]),
			...forOperation(['reconcile'], [
			{
				displayName: 'Roster Students',
				name: 'rosterStudents',
				type: 'boolean',
				default: true,
				description: 'Whether to sync students from the SIS',
			},
			{
				displayName: 'Roster Teachers',
				name: 'rosterTeachers',
				type: 'boolean',
				default: true,
				description: 'Whether to sync teachers from the SIS',
			},
			{
				displayName: 'Roster Staff',
				name: 'rosterStaff',
				type: 'boolean',
				default: true,
				description: 'Whether to sync other staff (aides, counselors, proctors) from the SIS',
			},
			{
				displayName: 'Roster Admins',
				name: 'rosterAdmins',
				type: 'boolean',
				default: true,
				description: 'Whether to sync administrators (principals, site and district administrators) from the SIS',
			},
			{
				displayName: 'Include Primary Parent Contact Info',
				name: 'includePrimaryParentContact',
				type: 'boolean',
				default: false,
				description: "Whether to copy each student's primary parent or guardian (name, email, phone) onto the student",
			},
			{
				displayName: 'Auto Update',
				name: 'autoUpdate',
				type: 'boolean',
				default: false,
				description:
					'Whether to update people who are already in the store when the SIS changed them (e.g. a new last name). Off: existing people are skipped. Minga recommends leaving this off until the first runs look right.',
			},
			{
				displayName: 'Archive',
				name: 'archive',
				type: 'boolean',
				default: false,
				description:
					'Whether to archive people who are no longer in the SIS (e.g. a student who left). Archived people are kept, never deleted. Minga recommends leaving this off until the first runs look right.',
			},
			{
				displayName:
					'Archive is on: people the SIS no longer lists will be archived. People whose SIS row had an error, people created by hand and roles with nobody in the roster are never archived.',
				name: 'archiveNotice',
				type: 'notice',
				default: '',
				displayOptions: { show: { archive: [true] } },
			},
			{
				displayName: 'Archive After Missing Runs',
				name: 'graceRuns',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 1,
				description:
					'Grace period: archive people only after they are missing from this many consecutive runs (1 = the first run they are missing, as Minga does). The report lists who is pending.',
				displayOptions: { show: { archive: [true] } },
			},
			{
				displayName: 'Hold Mass Changes',
				name: 'holdMassChanges',
				type: 'boolean',
				default: true,
				description:
					'Whether to hold a run that would archive or update more of a role than the thresholds below: nothing is applied, the plan is kept, and the run leaves by the Held output for approval',
			},
			{ ...limitField('archiveLimitPercent', 'Archive Threshold (%)', 'archive', 'percent', 'Hold the run when more than this percent of a role’s people would be archived (and more than the number of people below)'), displayOptions: { show: { holdMassChanges: [true] } } },
			{ ...limitField('archiveLimitPeople', 'Archive Threshold (People)', 'archive', 'people', 'Hold the run when more than this many people of a role would be archived (and more than the percent above). 0 = the percent alone.'), displayOptions: { show: { holdMassChanges: [true] } } },
			{ ...limitField('updateLimitPercent', 'Update Threshold (%)', 'update', 'percent', 'Hold the run when more than this percent of a role’s people would be updated or restored (and more than the number of people below)'), displayOptions: { show: { holdMassChanges: [true] } } },
			{ ...limitField('updateLimitPeople', 'Update Threshold (People)', 'update', 'people', 'Hold the run when more than this many people of a role would be updated or restored (and more than the percent above). 0 = the percent alone.'), displayOptions: { show: { holdMassChanges: [true] } } },
			{
				displayName: 'Thresholds per Role',
				name: 'roleThresholds',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				placeholder: 'Add Role Thresholds',
				default: {},
				description: 'Other thresholds for one role (e.g. a lower archive percent for teachers); roles not listed use the thresholds above',
				options: [
					{
						displayName: 'Role',
						name: 'values',
						values: [
							{
								displayName: 'Role',
								name: 'role',
								type: 'options',
								options: [
									{ name: 'Admins', value: 'admin' },
									{ name: 'Staff', value: 'staff' },
									{ name: 'Students', value: 'student' },
									{ name: 'Teachers', value: 'teacher' },
								],
								default: 'student',
							},
							limitField('archivePercent', 'Archive Threshold (%)', 'archive', 'percent', 'Percent of the role’s people'),
							limitField('archivePeople', 'Archive Threshold (People)', 'archive', 'people', 'Number of people'),
							limitField('updatePercent', 'Update Threshold (%)', 'update', 'percent', 'Percent of the role’s people'),
							limitField('updatePeople', 'Update Threshold (People)', 'update', 'people', 'Number of people'),
						],
					},
				],
				displayOptions: { show: { holdMassChanges: [true] } },
			},
			{
				displayName: 'Dry Run',
				name: 'dryRun',
				type: 'boolean',
				default: false,
				description:
					'Whether to only plan: every create, update and archive is worked out and recorded for the report, and nothing in the store changes',
			},
			{
				displayName: 'Output Planned Changes',
				name: 'outputChanges',
				type: 'boolean',
				default: false,
				description: 'Whether to output the planned changes as items after the summary item, for a look on the canvas',
			},
			{
				displayName: 'Preview Limit',
				name: 'previewLimit',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 50,
				description: 'Max number of change items to output',
				displayOptions: { show: { outputChanges: [true] } },
			},
			]),
		],
	};

	methods = { credentialTest: { rosterStoreConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		if (this.getNodeParameter('operation', 0, 'reconcile') === 'approve') {
			return executePerRun(
				this,
				async (store, runId, itemIndex) => {
					const decision = parseDecision(this.getNodeParameter('decision', itemIndex));
					const { run, continues } = await approveHeldRun(store.db, runId, decision);
					return { summary: await runHandle(store, run, { decision }), output: continues ? APPLIED : HELD };
				},
				2,
			);
		}
		return executePerRun(
			this,
			async (store, runId, itemIndex) => {
				const flag = (name: keyof ReconcileSettings) => this.getNodeParameter(name, itemIndex) as boolean;
				const holdMassChanges = flag('holdMassChanges');
				const settings = {
					rosterStudents: flag('rosterStudents'),
					rosterTeachers: flag('rosterTeachers'),
					rosterStaff: flag('rosterStaff'),
					rosterAdmins: flag('rosterAdmins'),
					includePrimaryParentContact: flag('includePrimaryParentContact'),
					autoUpdate: flag('autoUpdate'),
					archive: flag('archive'),
					dryRun: flag('dryRun'),
					graceRuns: this.getNodeParameter('graceRuns', itemIndex, 1) as number,
					holdMassChanges,
					thresholds: holdMassChanges ? thresholdParameters(this, itemIndex) : undefined,
				};
				const { run, held } = await runStepInThread({ step: 'reconcile', store: store.config, runId, settings });
				const summary = await runHandle(store, run);
				const output = held ? HELD : APPLIED;
				if (!(this.getNodeParameter('outputChanges', itemIndex) as boolean)) return { summary, output };
				const limit = this.getNodeParameter('previewLimit', itemIndex) as number;
				const changes = await previewReconcile(store.db, runId, limit);
				return { summary, output, more: changes.map((change) => ({ runId, ...change }) as unknown as IDataObject) };
			},
			2,
		);
	}
}

/** The thresholds for every role, then the per-role ones. */
function thresholdParameters(context: IExecuteFunctions, itemIndex: number): ThresholdOverrides {
	const number = (name: string) => context.getNodeParameter(name, itemIndex) as number;
	const base = {
		archive: { percent: number('archiveLimitPercent'), people: number('archiveLimitPeople') },
		update: { percent: number('updateLimitPercent'), people: number('updateLimitPeople') },
	};
	const overrides: ThresholdOverrides = {};
	const perRole = context.getNodeParameter('roleThresholds.values', itemIndex, []) as Array<Record<string, number | string>>;
	for (const entry of perRole) {
		overrides[entry.role as PersonRole] = {
			archive: { percent: Number(entry.archivePercent), people: Number(entry.archivePeople) },
			update: { percent: Number(entry.updatePercent), people: Number(entry.updatePeople) },
		};
	}
	return thresholds(overrides, base);
}
