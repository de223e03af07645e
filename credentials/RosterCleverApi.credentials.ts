import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { sisAuthenticate } from '../nodes/adapter/sis';
import { schoolIdField } from './shared/sis-credential';

const NAME = 'rosterCleverApi';

/** Clever Data API v3.0 / v3.1 with a district bearer token. */
export class RosterCleverApi implements ICredentialType {
	name = 'rosterCleverApi';

	displayName = 'Roster Clever API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#clever';

	properties: INodeProperties[] = [
		{
			displayName: 'District Token',
			name: 'token',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description:
				'The district token of your Clever application for this district (Clever developer dashboard > the district connection > token). The district admin must first approve the application in Clever and share it by school.',
		},
		{
			displayName: 'API Version',
			name: 'apiVersion',
			type: 'options',
			options: [
				{ name: 'V3.0', value: 'v3.0' },
				{ name: 'V3.1', value: 'v3.1' },
			],
			default: 'v3.0',
			description: 'The Clever Data API version the application uses',
		},
		{
			displayName: 'API URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://api.clever.com',
			description: 'Clever\'s API address; change it only for a test server',
		},
		schoolIdField('In Clever: the school\'s Clever id, SIS id or school number (Clever dashboard > Schools).'),
	];

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = {
		request: {
			method: 'GET',
			url: '={{ $credentials.baseUrl.trim().replace(/\\/+$/, "") + "/" + $credentials.apiVersion + "/districts" }}',
			headers: { Accept: 'application/json' },
		},
	};
}
