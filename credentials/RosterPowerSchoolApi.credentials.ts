import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { OAUTH2_HIDDEN_FIELDS, baseUrlField, clientIdField, clientSecretField, oauth2PreAuthenticationFor, schoolIdField, tokenUrlField } from './shared/sis-credential';

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
		baseUrlField({
			displayName: 'API Endpoint',
			placeholder: 'https://district.powerschool.com',
			description:
				'The address of your PowerSchool server, where the OneRoster plugin is installed (PowerSchool: System > System Settings > Plugin Management Configuration)',
		}),
		clientIdField({ description: 'In PowerSchool: Plugin Management Configuration > the OneRoster plugin > Data Configuration: the Client ID' }),
		clientSecretField({ description: 'The Client Secret shown with the Client ID in the plugin\'s Data Configuration' }),
		tokenUrlField({ placeholder: 'https://district.powerschool.com/oauth/access_token', description: 'Leave empty to use the API Endpoint followed by /oauth/access_token' }),
		schoolIdField('In PowerSchool: the school number (District Office > Schools/School Info).'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	preAuthentication = oauth2PreAuthenticationFor(NAME);

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest('1.1');
}
