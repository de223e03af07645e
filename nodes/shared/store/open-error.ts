/**
 * Why the store could not be opened, in words an operator can act on, and which connection
 * setting to check (by its StoreConfig name: `path`, `host`, `port`, `database`, `user`,
 * `password`, `ssl`, `ignoreSslIssues`).
 */
import { RosterConnectionError } from '../model/errors';
import type { StoreConfig } from './store';

interface SystemError {
	code?: string;
	errno?: number;
	errcode?: number;
	errstr?: string;
	message?: string;
}

function sqliteError(config: Extract<StoreConfig, { engine: 'sqlite' }>, error: SystemError, where: string): RosterConnectionError {
	const message = error.message ?? String(error);
	const code = error.code ?? '';
	const path = config.path;
	const check = (what: string, hint: string) => new RosterConnectionError(`Cannot open the roster store ${where}: ${what}`, hint, ['path']);
	if (/Node\.js 22\.5 or newer/.test(message)) {
		return new RosterConnectionError(message, 'Use a PostgreSQL Roster Store credential, or run n8n on a newer Node.js.', []);
	}
	if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /readonly database|read-only/i.test(message)) {
		return check(
			`n8n may not write to ${path} (${code || 'read-only'})`,
			'Set File Path to a file in a folder the n8n user may write to, e.g. under the n8n user folder (leave it empty for the default).',
		);
	}
	if (code === 'ENOTDIR' || code === 'EEXIST') {
		return check(`a part of ${path} is a file, not a folder`, 'Set File Path to a file inside an existing or new folder.');
	}
	if (/file is not a database|not a database/i.test(message) || error.errcode === 26) {
		return check(`${path} is not a SQLite database file`, 'Set File Path to a new file name (it is created) or to a roster store made by RosterSync.');
	}
	if (/unable to open database file/i.test(message) || error.errcode === 14) {
		return check(
			`${path} cannot be opened (it is a folder, or its folder may not be written)`,
			'Set File Path to a file, not a folder, in a folder the n8n user may write to.',
		);
	}
	if (/database is locked|busy/i.test(message)) {
		return new RosterConnectionError(
			`Cannot open the roster store ${where}: the file is locked by another program`,
			'Wait for the other run to finish, or close the program that has the file open.',
			[],
		);
	}
	return check(message, 'Set File Path to a file the n8n user may create and write, or leave it empty for the default.');
}

function postgresError(config: Extract<StoreConfig, { engine: 'postgres' }>, error: SystemError, where: string): RosterConnectionError {
	const message = error.message ?? String(error);
	const code = error.code ?? '';
	const at = `${config.host}:${config.port}`;
	const fail = (what: string, hint: string, fields: string[]) =>
		new RosterConnectionError(`Cannot open the roster store ${where}: ${what}`, hint, fields);
	if (code === 'ECONNREFUSED') {
		return fail(`the connection to ${at} was refused`, 'Make sure PostgreSQL is running at that host and port and accepts TCP connections from the n8n machine.', ['host', 'port']);
	}
	if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
		return fail(`the host "${config.host}" was not found`, 'Host is the name or IP address of the PostgreSQL server, as seen from the n8n machine.', ['host']);
	}
	if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /timeout/i.test(message)) {
		return fail(`no answer from ${at} in time`, 'Check also any firewall between n8n and the database.', ['host', 'port']);
	}
	if (code === '28P01') {
		return fail(
			`PostgreSQL refused the password of user "${config.user}"`,
			'They are the database login, not an n8n account.',
			['user', 'password'],
		);
	}
	if (code === '3D000') {
		return fail(
			`the database "${config.database}" does not exist on ${at}`,
			'Put the name of an existing database, or have the database administrator create it (CREATE DATABASE …).',
			['database'],
		);
	}
	if (code === '28000' && /pg_hba/i.test(message)) {
		return fail(
			`PostgreSQL does not allow this connection (${message})`,
			'The server may require SSL; otherwise ask the database administrator to allow this user, database and n8n machine in pg_hba.conf.',
			['ssl', 'user', 'database'],
		);
	}
	if (code === '28000' || /role .* does not exist/i.test(message)) {
		return fail(`the user "${config.user}" does not exist on ${at}`, 'Put a database login that exists on the server.', ['user']);
	}
	if (code === '42501') {
		return fail(
			`user "${config.user}" may not create the store's tables in "${config.database}" (${message})`,
			'Ask the database administrator to let this user create tables (e.g. make it the owner of the database or schema), or use another User.',
			['user'],
		);
	}
	if (/does not support SSL/i.test(message)) {
		return fail('the server does not accept SSL connections', 'Turn SSL off, or enable SSL on the PostgreSQL server.', ['ssl']);
	}
	if (/self[- ]signed|certificate|unable to verify|CERT_/i.test(`${message} ${code}`)) {
		return fail(
			`the server's TLS certificate could not be verified (${message})`,
			'Use a certificate the n8n machine trusts, or turn on Ignore SSL Issues (Insecure) if you trust this network.',
			['ignoreSslIssues'],
		);
	}
	if (/password must be a string|SASL|client password/i.test(message)) {
		return fail(`the server wants a password for user "${config.user}"`, 'Fill in the password of the database login.', ['password']);
	}
	return fail(message, 'Check the Roster Store credential, and that the database is reachable from the n8n machine.', []);
}

/** The error openStore throws: names the setting to check. */
export function storeOpenError(config: StoreConfig, where: string, error: unknown): RosterConnectionError {
	const systemError = (error ?? {}) as SystemError;
	return config.engine === 'sqlite' ? sqliteError(config, systemError, where) : postgresError(config, systemError, where);
}
