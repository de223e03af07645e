/**
 * Scenario 5's OneRoster REST server, in its own process (its JSON collections for a 100,000-student
 * district take ~1 GB, and its CPU must not count as the fetch's): test/support/oneroster-server.ts
 * serving a generated district (as OneRoster 1.1 JSON) on 127.0.0.1 with a bearer token, every data
 * request answered after `latencyMs`. Started by bench/run.mjs with child_process.fork: the first IPC
 * message is `{ district, latencyMs, auth? }` (auth: test/support/oneroster-server.ts's ServerAuth, a bearer token by
 * default); it answers `{ url, token, records }`, answers 'cpu' with its
 * `{ cpuMicros }` so far (user + system: the bench reports the server's CPU during the pull), and stops on 'stop'.
 */
import { loadTypeScript } from './generate.mjs';

process.once('message', async (task) => {
	try {
		const { startOneRosterServer, csvSetAsJson } = loadTypeScript('test/support/oneroster-server.ts');
		const data = csvSetAsJson(task.district);
		const token = 'bench-district-token';
		// A bearer token (the bench's own client), or task.auth (OAuth 2 for n8n's OneRoster credential: bench/in-n8n.mjs).
		const auth = task.auth ?? { kind: 'bearer', token };
		const server = await startOneRosterServer({ auth, faults: { pageDelayMs: task.latencyMs }, data, frozenData: true });
		const records = Object.fromEntries(Object.entries(data).map(([name, list]) => [name, list.length]));
		process.on('message', async (message) => {
			if (message === 'cpu') {
				const { user, system } = process.cpuUsage();
				process.send({ cpuMicros: user + system, userMicros: user, systemMicros: system });
				return;
			}
			if (message !== 'stop') return;
			await server.stop();
			process.exit(0);
		});
		// The district's garbage (CSV rows, rendered text) collected now, not by V8's GC threads during the pull.
		global.gc?.();
		process.send({ ok: true, url: server.url, token, records, requestsSoFar: server.dataRequests().length });
	} catch (error) {
		process.send({ ok: false, error: String(error?.stack ?? error) }, () => process.exit(1));
	}
});
