import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { OAUTH2_HIDDEN_FIELDS, baseUrlField, clientIdField, clientSecretField, oauth2PreAuthenticationFor, schoolIdField, tokenUrlField } from './shared/sis-credential';

const NAME = 'rosterSkywardApi';

/**
 * Skyward OneRoster API (1.1): the API key and secret of a Skyward Contact Access secured user, and the
 * OneRoster API URL. The token is an OAuth 2 client-credentials token (Basic key:secret).
 */
export class RosterSkywardApi implements ICredentialType {
	name = 'rosterSkywardApi';

	displayName = 'Roster Skyward API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#skyward';

	properties: INodeProperties[] = [
		baseUrlField({
			displayName: 'OneRoster API URL',
			placeholder: 'https://skyward.district.org/api',
			description:
				'In Skyward: Product Setup > Skyward Contact Access > District Setup > Configuration > API Configuration, the "OneRoster API URL". The /ims/oneroster/v1p1 part may be left out.',
		}),
		clientIdField({
			displayName: 'API Key',
			description:
				'In Skyward: Product Setup > Skyward Contact Access > Security > Secured User, highlight the application\'s secured user (an active Organization user) and click API, then Generate a New Secret: the Key',
		}),
		clientSecretField({ displayName: 'API Secret', description: 'The Secret shown with the Key when it is generated (copy it as text, not as a screenshot)' }),
		tokenUrlField({ placeholder: 'https://skyward.district.org/api/token', description: 'Leave empty to use the OneRoster API URL followed by /token' }),
		schoolIdField('In Skyward: the school\'s entity/school number as the OneRoster orgs list shows it.'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	preAuthentication = oauth2PreAuthenticationFor(NAME);

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest('1.1');
}
