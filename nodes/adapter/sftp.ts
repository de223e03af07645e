/**
 * The Roster SFTP credential → connection options, and its "Test connection".
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	INodeCredentialTestResult,
} from 'n8n-workflow';

import type { SftpConnectionOptions } from '../shared/sources/oneroster-csv/sftp-file-set';
import { checkSftpLogin } from '../shared/sources/oneroster-csv/sftp-file-set';
import { sftpTestFailure } from './credential-test';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

export function sftpOptionsFromCredential(data: ICredentialDataDecryptedObject): SftpConnectionOptions {
	const usesKey = data.authentication === 'privateKey';
	return {
		host: String(data.host ?? '').trim(),
		port: Number(data.port ?? 22),
		username: String(data.username ?? '').trim(),
		password: usesKey ? undefined : text(data.password),
		privateKey: usesKey ? text(data.privateKey) : undefined,
		passphrase: usesKey ? text(data.passphrase) : undefined,
		hostKeyFingerprint: text(data.hostKeyFingerprint)?.trim(),
	};
}

/** Logs in (checking the host key when a fingerprint is set) and lists the login folder. */
export async function rosterSftpConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	const options = sftpOptionsFromCredential(credential.data ?? {});
	try {
		const login = await checkSftpLogin(options);
		return {
			status: 'OK',
			message: `Logged in to ${options.host}:${options.port} as ${options.username}; the login folder ${login.folder} has ${login.entries} entries`,
		};
	} catch (error) {
		return sftpTestFailure(error);
	}
}
