import type { IAuthenticate, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

import { oneRosterTestRequest, sisAuthenticate } from '../nodes/adapter/sis';
import { VERSION_FIELD, baseUrlField, clientIdField, clientSecretField, schoolIdField } from './shared/sis-credential';

const NAME = 'rosterClassLinkApi';

/**
 * ClassLink Roster Server (OneRoster 1.1/1.2): every request is signed with OAuth 1.0a HMAC-SHA256,
 * the query string (filters with quotes as %27) included in the signature. The tenant id is kept
 * with every staged record.
 */
export class RosterClassLinkApi implements ICredentialType {
	name = 'rosterClassLinkApi';

	displayName = 'Roster ClassLink API';

	icon: Icon = { light: 'file:../nodes/icons/rostersync.svg', dark: 'file:../nodes/icons/rostersync.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#classlink';

	properties: INodeProperties[] = [
		baseUrlField({
			displayName: 'Roster Server URL',
			placeholder: 'https://district-vn-v2.rosterserver.com',
			description:
				'The district\'s OneRoster server URL: in the ClassLink developer console (OneRoster module), the key next to the district shows the server URL, client ID and secret. The /ims/oneroster/… part may be left out.',
		}),
		VERSION_FIELD,
		clientIdField({ description: 'The OAuth 1.0a consumer key of the district\'s Roster Server connection' }),
		clientSecretField({ description: 'The consumer secret shown with the client ID' }),
		{
			displayName: 'Tenant ID',
			name: 'tenantId',
			type: 'string',
			default: '',
			placeholder: '2',
			description:
				'The district\'s ClassLink tenant id (the developer console lists it with each district that shares data). Kept with every record of the pull, so ids from two tenants are never mixed up.',
		},
		schoolIdField(
			'In ClassLink Roster Server the application must be given Full Permissions, or Rule Based Permissions that share Classes and Courses, Parent or Guardian info, Student ID, Grade, Name and Email.',
		),
	];

	authenticate: IAuthenticate = sisAuthenticate(NAME);

	test: ICredentialTestRequest = oneRosterTestRequest();
}
