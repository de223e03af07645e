/**
 * The README's commands must set up a fresh machine. `.npmrc` turns install scripts off
 * (ignore-scripts=true), and with it npm skips every `pre…`/`post…` hook of `npm test` and
 * `npm run …` too: a `pretest` that installs sshd, PostgreSQL and Chromium never ran on a fresh machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT } from '../support/paths';

const npmrc = readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8');
const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

test('.npmrc turns scripts off, so no script relies on a pre or post hook npm would skip', () => {
	expect(npmrc).toMatch(/^ignore-scripts\s*=\s*true$/m);
	expect(Object.keys(scripts).filter((name) => /^(pre|post)./.test(name))).toEqual([]);
});

test('npm test lints, type-checks the tests and installs the system packages before jest runs', () => {
	const steps = scripts.test.split('&&').map((step) => step.trim());
	expect(steps[steps.length - 1]).toBe('jest');
	expect(steps).toEqual(expect.arrayContaining(['npm run lint', 'tsc --noEmit -p tsconfig.test.json', 'node test/support/system-packages.mjs']));
	expect(steps.indexOf('node test/support/system-packages.mjs')).toBeLessThan(steps.length - 1);
});
