import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { CLIENT_AUTHENTICATION_FIELD, OAUTH2_HIDDEN_FIELDS, VERSION_FIELD, baseUrlField, clientIdField, clientSecretField, oauth2PreAuthenticationFor, schoolIdField, scopeField, tokenUrlField } from './shared/sis-credential';

const NAME = 'rosterInfiniteCampusApi';

/**
 * Infinite Campus OneRoster API (1.1 or 1.2) with OAuth 2 client credentials: the data URL and the
 * token URL (…/campus/oauth2/token?appName=…) are separate, as the OneRoster connection shows them.
 */
export class RosterInfiniteCampusApi implements ICredentialType {
	name = 'rosterInfiniteCampusApi';

	displayName = 'Roster Infinite Campus API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#infinite-campus';

	properties: INodeProperties[] = [
		{
			...VERSION_FIELD,
			description:
				'The OneRoster version of the connection. In Infinite Campus: Instruction > Settings > Digital Learning Application Configuration (Classic: System Administration > Learning Interoperability) > your application > Generate New OneRoster Connection, "OneRoster 1.1 with OAuth 2.0".',
		},
		baseUrlField({
			placeholder: 'https://district.infinitecampus.org/campus/api/oneroster/v1p1/district',
			description:
				'The OneRoster base URL of the connection (shown with the Client ID once the OneRoster connection is generated). The /ims/oneroster/… part may be left out.',
		}),
		tokenUrlField({
			required: true,
			placeholder: 'https://district.infinitecampus.org/campus/oauth2/token?appName=district',
			description: 'The OAuth 2 token URL of the connection: …/campus/oauth2/token?appName=… (the appName is your district\'s)',
		}),
		clientIdField({ description: 'The Client ID of the OneRoster connection' }),
		clientSecretField({ description: 'The Client Secret of the OneRoster connection (shown once, when it is generated)' }),
		CLIENT_AUTHENTICATION_FIELD,
		scopeField({ description: 'Scopes to ask for, space-separated. Infinite Campus needs none; leave empty.' }),
		schoolIdField('In Infinite Campus: the school number of the school (System Administration > Resources > School).'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	preAuthentication = oauth2PreAuthenticationFor(NAME);

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest();
}
