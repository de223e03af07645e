// Bundles each node and credential entry of dist/ with its libraries (csv-parse, ssh2-sftp-client,
// pg, luxon, yauzl), so the published package has no runtime dependencies: n8n-workflow stays a peer.
// The step thread's entry (nodes/shared/threads/step-worker.ts) is bundled too: a worker thread loads it by its path.
import { existsSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { n8n } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const STEP_WORKER = 'dist/nodes/shared/threads/step-worker.js';
if (!existsSync(STEP_WORKER)) throw new Error(`${STEP_WORKER} was not built`);
const entries = [...n8n.nodes, ...n8n.credentials, STEP_WORKER];

await Promise.all(
	entries.map((file) =>
		build({
			entryPoints: [file],
			outfile: file,
			allowOverwrite: true,
			bundle: true,
			platform: 'node',
			target: 'node20',
			format: 'cjs',
			// Optional native add-ons: the libraries fall back to JavaScript without them.
			external: ['n8n-workflow', 'pg-native', 'cpu-features', '*.node'],
			logLevel: 'warning',
		}),
	),
);
console.log(`bundled ${entries.length} entries`);
