import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/**
 * Sample OneRoster exports written by others (`shared/data/` beside the repository, as on CI and
 * on every developer machine). Tests fail loudly when it is missing.
 */
export function sharedDataDir(name: string): string {
	const dir = resolve(REPO_ROOT, '..', 'shared', 'data', name);
	if (!existsSync(dir)) throw new Error(`Sample data ${dir} is missing: the tests need shared/data beside the repository`);
	return dir;
}

export const GRAND_BEND_1_1 = 'edfi-grand-bend-oneroster-1.1';
export const GRAND_BEND_1_0 = 'edfi-grand-bend-oneroster-1.0';
