/**
 * The test server's `frozenData` (the benchmark's): pages answered from JSON rendered once at start are
 * the same, byte for byte and header for header, as pages rendered on request.
 */
import type { Json, OneRosterServer } from '../../support/oneroster-server';
import { grandBendJson, startOneRosterServer } from '../../support/oneroster-server';

const TOKEN = 'frozen-test-token';
let plain: OneRosterServer;
let frozen: OneRosterServer;

beforeAll(async () => {
	plain = await startOneRosterServer({ auth: { kind: 'bearer', token: TOKEN }, data: grandBendJson() });
	frozen = await startOneRosterServer({ auth: { kind: 'bearer', token: TOKEN }, data: grandBendJson(), frozenData: true });
});

afterAll(async () => {
	await plain?.stop();
	await frozen?.stop();
});

async function get(server: OneRosterServer, path: string) {
	const response = await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
	const headers = Object.fromEntries([...response.headers].filter(([name]) => !['date', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)));
	// Link names the server's own address.
	if (headers.link) headers.link = headers.link.split(server.url).join('http://server');
	return { status: response.status, headers, text: await response.text() };
}

const V11 = '/ims/oneroster/v1p1';

test.each([
	`${V11}/users?limit=100&offset=0`,
	`${V11}/users?limit=100&offset=100&sort=sourcedId`,
	`${V11}/enrollments?limit=1000&offset=0&sort=sourcedId`,
	`${V11}/enrollments?limit=7&offset=3`,
	`${V11}/orgs?limit=2&offset=3`,
	`${V11}/orgs?limit=100&offset=500`,
	`${V11}/demographics`,
	`${V11}/students?limit=10&offset=5&sort=sourcedId`,
	`${V11}/classes?limit=5&offset=0&filter=${encodeURIComponent("dateLastModified>'2020-01-01T00:00:00Z'")}`,
	'/ims/oneroster/rostering/v1p2/users?limit=20&offset=10&sort=sourcedId',
])('%s is answered alike', async (path) => {
	const expected = await get(plain, path);
	const answered = await get(frozen, path);
	expect(expected.status).toBe(200);
	expect(answered).toEqual(expected);
	expect(() => JSON.parse(answered.text) as Json).not.toThrow();
});

test('faults still apply to a frozen server', async () => {
	const users = `${V11}/users?limit=5&offset=0&sort=sourcedId`;
	const first = JSON.parse((await get(frozen, users)).text) as { users: Json[] };
	frozen.faults.nullRecords = [String(first.users[1].sourcedId)];
	frozen.faults.maxLimit = 3;
	try {
		const answered = JSON.parse((await get(frozen, users)).text) as { users: Array<Json | null> };
		expect(answered.users).toEqual([first.users[0], null, first.users[2]]);
	} finally {
		delete frozen.faults.nullRecords;
		delete frozen.faults.maxLimit;
	}
	frozen.faults.emptyAs404 = true;
	try {
		expect((await get(frozen, `${V11}/users?limit=5&offset=100000`)).status).toBe(404);
	} finally {
		delete frozen.faults.emptyAs404;
	}
});
