/**
 * What the SIS credential types of OneRoster Fetch share: the fields of their forms (the OneRoster
 * URL, the OAuth 2 client-credentials fields, the hidden fields n8n keeps the token in, the OneRoster
 * version, the School ID) and the OAuth 2 `preAuthentication`. Each credential builds its form from
 * these, with its own labels and help text (where its SIS shows the value); nodes/adapter/sis.ts reads
 * the values by these field names.
 *
 * `name`, `icon`, `documentationUrl`, `test` … stay literal class fields in each credential file:
 * n8n's lint rules read them there.
 */
import type { ICredentialDataDecryptedObject, ICredentialType, IHttpRequestHelper, INodeProperties } from 'n8n-workflow';

import { oauth2PreAuthentication } from '../../nodes/adapter/sis';

/** A credential's own wording of a shared field (at least its help text), and any setting it changes. */
type OwnSettings = Omit<Partial<INodeProperties>, 'name' | 'type'> & { description: string };

/** The OneRoster API root (an /ims/oneroster/… suffix is cut off when the URL is read). */
export function baseUrlField(own: OwnSettings): INodeProperties {
	return { displayName: 'Base URL', name: 'baseUrl', type: 'string', default: '', required: true, ...own };
}

/** The OAuth client ID (OAuth 1.0a: the consumer key). */
export function clientIdField(own: OwnSettings): INodeProperties {
	return { displayName: 'Client ID', name: 'clientId', type: 'string', default: '', required: true, ...own };
}

export function clientSecretField(own: OwnSettings): INodeProperties {
	return { displayName: 'Client Secret', name: 'clientSecret', type: 'string', typeOptions: { password: true }, default: '', required: true, ...own };
}

/** The OAuth 2 token URL; optional where the SIS has a fixed path under the base URL (see OAUTH2_DEFAULTS in sis.ts). */
export function tokenUrlField(own: OwnSettings): INodeProperties {
	return { displayName: 'Token URL', name: 'tokenUrl', type: 'string', default: '', ...own };
}

/** The OAuth 2 scopes, space-separated. */
export function scopeField(own: OwnSettings): INodeProperties {
	return { displayName: 'Scope', name: 'scope', type: 'string', default: '', ...own };
}

export const CLIENT_AUTHENTICATION_FIELD: INodeProperties = {
	displayName: 'Send Client Secret As',
	name: 'clientAuthentication',
	type: 'options',
	options: [
		{ name: 'Basic Auth Header', value: 'basic', description: 'Authorization: Basic base64(client_id:client_secret)' },
		{ name: 'In the Request Body', value: 'body', description: 'The client_id and client_secret as form fields' },
	],
	default: 'basic',
	description: 'How the token request carries the client ID and secret',
};

/** Hidden fields of the OAuth 2 credentials: n8n keeps the token (and the token response's cookies) here. */
export const OAUTH2_HIDDEN_FIELDS: INodeProperties[] = [
	{
		displayName: 'Access Token',
		name: 'accessToken',
		type: 'hidden',
		typeOptions: { expirable: true, password: true },
		default: '',
	},
	{
		displayName: 'Session Cookie',
		name: 'sessionCookie',
		type: 'hidden',
		typeOptions: { password: true },
		default: '',
	},
];

export const VERSION_FIELD: INodeProperties = {
	displayName: 'OneRoster Version',
	name: 'version',
	type: 'options',
	options: [
		{ name: 'OneRoster 1.1', value: '1.1', description: 'Endpoints under /ims/oneroster/v1p1' },
		{ name: 'OneRoster 1.2', value: '1.2', description: 'Endpoints under /ims/oneroster/rostering/v1p2' },
	],
	default: '1.1',
};

export function schoolIdField(whereFound: string): INodeProperties {
	return {
		displayName: 'School ID',
		name: 'schoolId',
		type: 'string',
		default: '',
		placeholder: '255901001',
		description: `Only this school's roster, when several schools share the SIS (several: comma-separated). The school's sourcedId or its identifier (school number). ${whereFound} Leave empty for every school the SIS shares.`,
	};
}

/**
 * `preAuthentication` of an OAuth 2 credential type (n8n calls it with its request helper as `this`
 * whenever the hidden, expirable access token is missing or was refused).
 */
export function oauth2PreAuthenticationFor(credentialType: string): ICredentialType['preAuthentication'] {
	return async function (this: IHttpRequestHelper, credentials: ICredentialDataDecryptedObject) {
		return await oauth2PreAuthentication(this, credentialType, credentials);
	};
}
