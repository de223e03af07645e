/**
 * Errors that name credential fields: the engine's RosterConnectionError lists the connection
 * settings to check (host, port, password, …); here they become the field names an operator
 * sees on the credential form ("Host", "Port", "Password").
 */
import type { INodeCredentialTestResult, INodeProperties } from 'n8n-workflow';

import { RosterSftpApi } from '../../credentials/RosterSftpApi.credentials';
import { RosterStoreApi } from '../../credentials/RosterStoreApi.credentials';

interface ConnectionFailure extends Error {
	hint?: string;
	fields?: string[];
}

/** Engine setting name → credential property name, where they differ. */
const STORE_FIELD_OF: Record<string, string> = { path: 'sqlitePath' };

/** "Host and Port" / "User, Password and SSL". */
export function joinNames(names: string[]): string {
	return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function displayNames(fields: string[], properties: INodeProperties[], fieldOf: Record<string, string>): string[] {
	const displayName = (setting: string) => {
		const name = fieldOf[setting] ?? setting;
		return properties.find((property) => property.name === name)?.displayName ?? name;
	};
	return [...new Set(fields.map(displayName))];
}

/** The credential fields an error names, as the credential forms show them (store and SFTP). */
export function credentialFieldsOf(error: unknown): string[] {
	const fields = (error as ConnectionFailure | undefined)?.fields ?? [];
	return displayNames(fields, [...new RosterStoreApi().properties, ...new RosterSftpApi().properties], STORE_FIELD_OF);
}

/**
 * A failed "Test connection": "Check Host and Port: <what happened>. <what to do>"
 * `fieldOf` maps an engine setting name to the credential property's name (default: the same).
 */
function connectionTestFailure(error: unknown, properties: INodeProperties[], fieldOf: Record<string, string> = {}): INodeCredentialTestResult {
	const failure = error as ConnectionFailure;
	const names = displayNames(failure.fields ?? [], properties, fieldOf);
	// The form is the store's or server's: "Cannot open the roster store postgres://…:" adds nothing there.
	const what = (failure.message ?? String(error)).replace(/^Cannot open the roster store \S+: /, '').replace(/\.$/, '');
	const message = [names.length ? `Check ${joinNames(names)}: ${what}.` : `${what}.`, failure.hint].filter(Boolean).join(' ');
	return { status: 'Error', message };
}

export function storeTestFailure(error: unknown): INodeCredentialTestResult {
	return connectionTestFailure(error, new RosterStoreApi().properties, STORE_FIELD_OF);
}

export function sftpTestFailure(error: unknown): INodeCredentialTestResult {
	return connectionTestFailure(error, new RosterSftpApi().properties);
}
