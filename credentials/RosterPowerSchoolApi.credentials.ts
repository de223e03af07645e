import type {
	IAuthenticate,
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestHelper,
	INodeProperties,
	Icon,
} from 'n8n-workflow';

import { OAUTH2_HIDDEN_FIELDS, oauth2PreAuthentication, oneRosterTestRequest, schoolIdField, sisAuthenticate } from '../nodes/adapter/sis';

const NAME = 'rosterPowerSchoolApi';

/**
 * PowerSchool OneRoster API (1.1, through the PowerSchool OneRoster plugin): the API endpoint, and the
 * plugin's client ID and secret. Tokens come from /oauth/access_token (OAuth 2 client credentials, Basic).
 */
export class RosterPowerSchoolApi implements ICredentialType {
	name = 'rosterPowerSchoolApi';

	displayName = 'Roster PowerSchool API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#powerschool';

	properties: INodeProperties[] = [
		{
			displayName: 'API Endpoint',
			name: 'baseUrl',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://district.powerschool.com',
			description:
				'The address of your PowerSchool server, where the OneRoster plugin is installed (PowerSchool: System > System Settings > Plugin Management Configuration)',
		},
		{
			displayName: 'Client ID',
			name: 'clientId',
			type: 'string',
			default: '',
			required: true,
			description: 'In PowerSchool: Plugin Management Configuration > the OneRoster plugin > Data Configuration: the Client ID',
		},
		{
			displayName: 'Client Secret',
			name: 'clientSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'The Client Secret shown with the Client ID in the plugin\'s Data Configuration',
		},
		{
			displayName: 'Token URL',
			name: 'tokenUrl',
			type: 'string',
			default: '',
			placeholder: 'https://district.powerschool.com/oauth/access_token',
			description: 'Leave empty to use the API Endpoint followed by /oauth/access_token',
		},
		schoolIdField('In PowerSchool: the school number (District Office > Schools/School Info).'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	async preAuthentication(this: IHttpRequestHelper, credentials: ICredentialDataDecryptedObject) {
		return oauth2PreAuthentication(this, NAME, credentials);
	}

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest('1.1');
}
