import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * Where RosterSync keeps people, lists, runs and snapshots: an embedded SQLite file
 * (nothing to install) or a PostgreSQL database (production, n8n queue mode).
 */
export class RosterStoreApi implements ICredentialType {
	name = 'rosterStoreApi';

	displayName = 'Roster Store API';

	icon: Icon = { light: 'file:../nodes/icons/rosterStore.svg', dark: 'file:../nodes/icons/rosterStore.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Engine',
			name: 'engine',
			type: 'options',
			options: [
				{
					name: 'SQLite File (Embedded)',
					value: 'sqlite',
					description: 'One file on the n8n machine; nothing to install',
				},
				{
					name: 'PostgreSQL',
					value: 'postgres',
					description: 'A PostgreSQL database; needed when n8n runs in queue mode with workers',
				},
			],
			default: 'sqlite',
		},
		{
			displayName: 'File Path',
			name: 'sqlitePath',
			type: 'string',
			default: '',
			placeholder: '/home/node/.n8n/rostersync/roster.sqlite',
			description:
				'Where the store file lives on the n8n machine. Leave empty for the default: .n8n/rostersync/roster.sqlite in the n8n user folder.',
			displayOptions: { show: { engine: ['sqlite'] } },
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: 'localhost',
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: 'rostersync',
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'boolean',
			default: false,
			description: 'Whether to connect with TLS',
			displayOptions: { show: { engine: ['postgres'] } },
		},
		{
			displayName: 'Ignore SSL Issues (Insecure)',
			name: 'ignoreSslIssues',
			type: 'boolean',
			default: false,
			description: 'Whether to accept a server certificate that does not verify (self-signed)',
			displayOptions: { show: { engine: ['postgres'], ssl: [true] } },
		},
	];
}
