import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { CLIENT_AUTHENTICATION_FIELD, OAUTH2_HIDDEN_FIELDS, baseUrlField, clientIdField, clientSecretField, oauth2PreAuthenticationFor, schoolIdField, scopeField, tokenUrlField } from './shared/sis-credential';

const NAME = 'rosterAeriesApi';

/**
 * Aeries OneRoster API (1.1): OAuth 2 client credentials with the OneRoster scopes, the Consumer ID and
 * Secret Key of the application's API Security entry. Aeries answers the token request with cookies
 * that must come back with every request: they are kept with the token and sent again.
 */
export class RosterAeriesApi implements ICredentialType {
	name = 'rosterAeriesApi';

	displayName = 'Roster Aeries API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#aeries';

	properties: INodeProperties[] = [
		baseUrlField({
			displayName: 'OneRoster URL',
			placeholder: 'https://district.aeries.net/aeries/OneRoster',
			description:
				'In the Aeries Administrator Console: Security > API Security, select the application (type OneRoster): the OneRoster URL under Product Information (it is changed under School Options at the district level)',
		}),
		clientIdField({
			displayName: 'Consumer ID',
			description:
				'On the same API Security page, after OneRoster is checked and updated, tick "Display Consumer ID & Secret Keys for OneRoster": the Consumer ID (not the Aeries certificate)',
		}),
		clientSecretField({ displayName: 'Consumer Secret Key', description: 'The Consumer Secret Key shown with the Consumer ID' }),
		tokenUrlField({ placeholder: 'https://district.aeries.net/aeries/OneRoster/token', description: 'Leave empty to use the OneRoster URL followed by /token' }),
		scopeField({
			default:
				'https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly',
			required: true,
			description:
				'The OneRoster scopes the token is asked for, space-separated. Aeries grants them only with READ permission for Student Data, Schools, Terms, Teacher Data, Master Schedule, Course Data and Classes (API Security > Change; an IIS reset makes changes take effect).',
		}),
		{ ...CLIENT_AUTHENTICATION_FIELD, default: 'body' },
		schoolIdField('In Aeries: the school code.'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	preAuthentication = oauth2PreAuthenticationFor(NAME);

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest('1.1');
}
