import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { executePerRun } from '../adapter/execute';
import { getGrades, getTerms } from '../adapter/options';
import { runIdParameter } from '../adapter/run-id';
import { rosterStoreConnectionTest, runHandle } from '../adapter/store';
import { runStepInThread } from '../shared/threads/step-thread';

export class RosterBuildLists implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Roster Build Lists',
		name: 'rosterBuildLists',
		icon: { light: 'file:rosterBuildLists.svg', dark: 'file:rosterBuildLists.dark.svg' },
		// The editor's Docs link (a codex link would get n8n's utm query after the #anchor).
		documentationUrl: 'https://github.com/rostersync/n8n-nodes-rostersync#roster-build-lists',
		group: ['transform'],
		version: 1,
		usableAsTool: true,
		subtitle:
			'={{ ($parameter["syncClassRosters"] ? "class rosters · " + $parameter["terms"].length + " term(s)" : "no class rosters") + ([$parameter["autoListsByRole"] ? "role" : "", $parameter["autoListsByGrade"] ? "grade" : "", $parameter["autoListsBySubject"] ? "subject" : "", $parameter["autoListsByTeacher"] ? "teacher" : ""].filter(k => k).length ? " · auto lists by " + [$parameter["autoListsByRole"] ? "role" : "", $parameter["autoListsByGrade"] ? "grade" : "", $parameter["autoListsBySubject"] ? "subject" : "", $parameter["autoListsByTeacher"] ? "teacher" : ""].filter(k => k).join(", ") : "") }}',
		description: 'Turn class rosters into user lists for the selected terms, and keep auto-generated lists by role, grade, subject and teacher',
		defaults: { name: 'Roster Build Lists' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'rosterStoreApi', required: false, testedBy: 'rosterStoreConnectionTest' }],
		properties: [
			runIdParameter,
			{
				displayName: 'Sync Class Rosters as User Lists',
				name: 'syncClassRosters',
				type: 'boolean',
				default: false,
				description:
					"Whether to create one user list per class of the selected terms: the class's students are members, its teachers and co-teachers manage it",
			},
			{
				displayName: 'Term Names or IDs',
				name: 'terms',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getTerms' },
				default: [],
				description:
					'Manage class rosters to be synced: class lists will not roster in unless terms are selected. The list shows the terms of the newest run, with their dates; if a term is missing, check that the SIS shares it. Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				hint: 'The terms of the last run, newest first. Empty before the first run: run the workflow once, then pick.',
				displayOptions: { show: { syncClassRosters: [true] } },
			},
			{
				displayName: 'Grade Names or IDs',
				name: 'grades',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getGrades' },
				default: [],
				description:
					'Only classes of these grades. Best practice is to leave every grade unselected (all grades). Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				displayOptions: { show: { syncClassRosters: [true] } },
			},
			{
				displayName: 'Auto-Generated Lists by Role',
				name: 'autoListsByRole',
				type: 'boolean',
				default: false,
				description: 'Whether to keep one list per role (all students, all teachers, …)',
			},
			{
				displayName: 'Auto-Generated Lists by Grade',
				name: 'autoListsByGrade',
				type: 'boolean',
				default: false,
				description: 'Whether to keep one list of students per grade',
			},
			{
				displayName: 'Auto-Generated Lists by Subject',
				name: 'autoListsBySubject',
				type: 'boolean',
				default: false,
				description: 'Whether to keep one list per subject: the students enrolled in classes of that subject',
			},
			{
				displayName: 'Auto-Generated Lists by Teacher',
				name: 'autoListsByTeacher',
				type: 'boolean',
				default: false,
				description: "Whether to keep one list per teacher: all students of the teacher's classes; the teacher manages it",
			},
			{
				displayName: 'Make New User Lists Public by Default',
				name: 'newListsPublic',
				type: 'boolean',
				default: false,
				description:
					'Whether new lists are visible to all staff (e.g. in MyClass). Off: new lists are private to their owners and managers. Lists that already exist keep the visibility someone set.',
			},
			{
				displayName:
					'New lists will be public: every staff member can see them and their members. Lists that already exist keep the visibility someone set.',
				name: 'newListsPublicNotice',
				type: 'notice',
				default: '',
				displayOptions: { show: { newListsPublic: [true] } },
			},
		],
	};

	methods = {
		credentialTest: { rosterStoreConnectionTest },
		loadOptions: { getTerms, getGrades },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return executePerRun(this, async (store, runId, itemIndex) => {
			const flag = (name: string) => this.getNodeParameter(name, itemIndex) as boolean;
			const syncClassRosters = flag('syncClassRosters');
			const settings = {
				syncClassRosters,
				terms: syncClassRosters ? (this.getNodeParameter('terms', itemIndex, []) as string[]) : [],
				grades: syncClassRosters ? (this.getNodeParameter('grades', itemIndex, []) as string[]) : [],
				autoListsByRole: flag('autoListsByRole'),
				autoListsByGrade: flag('autoListsByGrade'),
				autoListsBySubject: flag('autoListsBySubject'),
				autoListsByTeacher: flag('autoListsByTeacher'),
				newListsPublic: flag('newListsPublic'),
			};
			const { run } = await runStepInThread({ step: 'buildLists', store: store.config, runId, settings });
			return { summary: await runHandle(store, run) };
		});
	}
}
