import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

// Self-hosted package (files, SFTP, a database): n8n Cloud support is off, the community rules stay on.
export default [
	...configWithoutCloudSupport,
	{ ignores: ['test/**', 'test-artifacts/**', 'bench/**', 'scripts/**', 'jest.config.js', 'gulpfile.js', '.cache/**'] },
	{
		// The engine imports nothing from n8n (so tests, benchmarks and n8n run the same code): it throws
		// its own errors (RosterInputError names file, row and field), which nodes/adapter turns into
		// NodeOperationError. The n8n error rule therefore applies to the node files only.
		files: ['nodes/shared/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
];
