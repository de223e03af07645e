import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * The SFTP server the SIS drops its OneRoster CSV export on (e.g. Skyward's scheduled
 * OneRoster export, Aeries or PowerSchool exports).
 */
export class RosterSftpApi implements ICredentialType {
	name = 'rosterSftpApi';

	displayName = 'Roster SFTP API';

	icon: Icon = { light: 'file:../nodes/icons/rosterSftp.svg', dark: 'file:../nodes/icons/rosterSftp.dark.svg' };

	documentationUrl = 'https://github.com/rostersync/n8n-nodes-rostersync#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'sftp.district.org',
			description: 'The SFTP server the SIS export is delivered to (in Skyward: the SFTP location of the OneRoster export template)',
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 22,
		},
		{
			displayName: 'Username',
			name: 'username',
			type: 'string',
			default: '',
			required: true,
		},
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			options: [
				{ name: 'Password', value: 'password' },
				{ name: 'Private Key', value: 'privateKey' },
			],
			default: 'password',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['password'] } },
		},
		{
			displayName: 'Private Key',
			name: 'privateKey',
			type: 'string',
			typeOptions: { password: true, rows: 4 },
			default: '',
			description: 'The OpenSSH or PEM private key, including its BEGIN and END lines',
			displayOptions: { show: { authentication: ['privateKey'] } },
		},
		{
			displayName: 'Passphrase',
			name: 'passphrase',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'The passphrase of the private key, if it has one',
			displayOptions: { show: { authentication: ['privateKey'] } },
		},
		{
			displayName: 'Host Key Fingerprint',
			name: 'hostKeyFingerprint',
			type: 'string',
			default: '',
			placeholder: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
			description:
				'The server\'s host key fingerprint, as "ssh-keygen -lf" or "ssh-keyscan | ssh-keygen -lf -" prints it. When set, a server with another key is refused. Ask the SFTP server\'s administrator for it.',
		},
	];
}
