import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerRun } from '../adapter/execute';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import { previewReconcile, reconcileRun } from '../shared/reconcile/apply';
import type { ReconcileSettings } from '../shared/reconcile/settings';

export class RosterReconcileUsers implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Reconcile Users',
		name: 'rosterReconcileUsers',
		icon: { light: 'file:../icons/rostersync.svg', dark: 'file:../icons/rostersync.dark.svg' },
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle:
			'={{ ($parameter["dryRun"] ? "Dry run" : "Apply") + " · " + [$parameter["rosterStudents"] ? "students" : "", $parameter["rosterTeachers"] ? "teachers" : "", $parameter["rosterStaff"] ? "staff" : "", $parameter["rosterAdmins"] ? "admins" : ""].filter(r => r).join(", ") + ($parameter["archive"] ? " · archive on" : "") }}',
		description:
			"Bring the people store in line with the run's roster under Minga's sync settings: create, update, skip or archive people",
		defaults: { name: 'Roster Reconcile Users' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			runIdParameter,
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
		],
	};

	methods = { credentialTest: { rosterStoreConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerRun(this, async (store, runId, itemIndex) => {
			const flag = (name: keyof ReconcileSettings) => this.getNodeParameter(name, itemIndex) as boolean;
			const { run } = await reconcileRun(store.db, runId, {
				rosterStudents: flag('rosterStudents'),
				rosterTeachers: flag('rosterTeachers'),
				rosterStaff: flag('rosterStaff'),
				rosterAdmins: flag('rosterAdmins'),
				includePrimaryParentContact: flag('includePrimaryParentContact'),
				autoUpdate: flag('autoUpdate'),
				archive: flag('archive'),
				dryRun: flag('dryRun'),
			});
			const summary = await runHandle(store, run);
			if (!(this.getNodeParameter('outputChanges', itemIndex) as boolean)) return { summary };
			const limit = this.getNodeParameter('previewLimit', itemIndex) as number;
			const changes = await previewReconcile(store.db, runId, limit);
			return { summary, more: changes.map((change) => ({ runId, ...change }) as unknown as IDataObject) };
		});
	}
}
