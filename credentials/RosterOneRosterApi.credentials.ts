import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { CLIENT_AUTHENTICATION_FIELD, OAUTH2_HIDDEN_FIELDS, VERSION_FIELD, baseUrlField, clientIdField, clientSecretField, oauth2PreAuthenticationFor, schoolIdField, scopeField, tokenUrlField } from './shared/sis-credential';

const NAME = 'rosterOneRosterApi';
const OAUTH2 = { show: { authentication: ['oauth2'] } };

/**
 * Any OneRoster 1.1 / 1.2 REST API: OAuth 2 client credentials (token URL, scopes, secret as Basic
 * header or in the body, token cookies resent when asked) or OAuth 1.0a (HMAC-SHA256).
 */
export class RosterOneRosterApi implements ICredentialType {
	name = 'rosterOneRosterApi';

	displayName = 'Roster OneRoster API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#oneroster-api';

	properties: INodeProperties[] = [
		baseUrlField({
			placeholder: 'https://sis.district.org',
			description:
				'The URL to access the OneRoster API of your SIS (your IT department or the SIS vendor gives it with the client ID and secret). The /ims/oneroster/… part may be left out.',
		}),
		VERSION_FIELD,
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			options: [
				{ name: 'OAuth 2 Client Credentials', value: 'oauth2', description: 'A token from the token URL (OneRoster 1.1 and 1.2)' },
				{ name: 'OAuth 1.0a (HMAC-SHA256)', value: 'oauth1', description: 'Every request signed (OneRoster 1.1)' },
			],
			default: 'oauth2',
		},
		tokenUrlField({ placeholder: 'https://sis.district.org/oauth/token', description: 'The OAuth 2 token endpoint of the SIS', displayOptions: OAUTH2 }),
		clientIdField({ description: 'The Client ID (OAuth 1.0a: consumer key) the SIS issued for this application' }),
		clientSecretField({ description: 'The secret generated with the Client ID, to verify a secure connection to the SIS API' }),
		{ ...CLIENT_AUTHENTICATION_FIELD, displayOptions: OAUTH2 },
		scopeField({
			placeholder: 'https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly',
			description: 'Scopes to ask for, space-separated; empty when the SIS needs none',
			displayOptions: OAUTH2,
		}),
		{
			displayName: 'Send Token Cookies Back',
			name: 'resendCookies',
			type: 'boolean',
			default: false,
			description: 'Whether to send the cookies of the token response with every request (some SIS load balancers need them)',
			displayOptions: OAUTH2,
		},
		schoolIdField('The School ID ensures the appropriate roster is requested when several schools share the same SIS.'),
		...OAUTH2_HIDDEN_FIELDS,
	];

	preAuthentication = oauth2PreAuthenticationFor(NAME);

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest();
}
