/**
 * What an operator meets in the n8n editor, checked for every node and credential the package
 * registers (package.json "n8n"): its own light and dark icon, a subtitle, a codex with
 * categories whose docs link points at a README section that exists, descriptions on every
 * setting, and pickers that follow n8n's pattern.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { ICredentialType, INodeProperties, INodeType } from 'n8n-workflow';

import { REPO_ROOT } from '../../support/paths';

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
	name: string;
	homepage: string;
	n8n: { nodes: string[]; credentials: string[] };
};
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const REPO_URL = pkg.homepage.replace(/#readme$/, '');

/** GitHub's anchors of a Markdown file: heading slugs and explicit <a id="…">. */
function readmeAnchors(markdown: string): Set<string> {
	const anchors = new Set<string>();
	for (const line of markdown.split('\n')) {
		const heading = /^#{1,6}\s+(.*)$/.exec(line);
		if (heading) {
			anchors.add(
				heading[1]
					.trim()
					.toLowerCase()
					.replace(/[^\p{L}\p{N}\s_-]/gu, '')
					.replace(/\s/g, '-'),
			);
		}
		for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]);
	}
	return anchors;
}
const ANCHORS = readmeAnchors(README);

function expectReadmeLink(url: string, what: string): void {
	expect(url.startsWith(`${REPO_URL}#`)).toBe(true);
	const anchor = url.slice(REPO_URL.length + 1);
	if (!ANCHORS.has(anchor)) throw new Error(`${what} links to #${anchor}, which is no section of README.md`);
}

/** dist/nodes/X/X.node.js → the TypeScript source and the class in it. */
function load<T>(distFile: string): { source: string; instance: T } {
	const source = path.join(REPO_ROOT, distFile.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
	const module = require(source) as Record<string, new () => T>;
	const [Class] = Object.values(module).filter((value) => typeof value === 'function');
	return { source, instance: new Class() };
}

function iconFiles(icon: unknown, dir: string): { light: string; dark: string } {
	const { light, dark } = icon as { light: string; dark: string };
	expect(light).toMatch(/^file:.+\.svg$/);
	expect(dark).toMatch(/^file:.+\.dark\.svg$/);
	return { light: path.resolve(dir, light.slice(5)), dark: path.resolve(dir, dark.slice(5)) };
}

function expectSvg(file: string): void {
	if (!existsSync(file)) throw new Error(`${file} is missing`);
	const svg = readFileSync(file, 'utf8');
	expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 \d+ \d+"/);
	expect(svg).not.toMatch(/<script|<image|href="http/i); // self-contained, nothing to fetch
}

const nodes = pkg.n8n.nodes.map((file) => ({ file, ...load<INodeType>(file) }));
const credentials = pkg.n8n.credentials.map((file) => ({ file, ...load<ICredentialType>(file) }));

function allProperties(properties: INodeProperties[]): INodeProperties[] {
	return properties.flatMap((property) => [
		property,
		...allProperties(((property.options ?? []) as INodeProperties[]).filter((option) => 'displayName' in option && 'type' in option)),
	]);
}

describe.each(nodes.map((node) => [node.instance.description.displayName, node] as const))('node %s', (_name, node) => {
	const { description } = node.instance;
	const dir = path.dirname(node.source);

	it('has its own light and dark SVG icon', () => {
		const { light, dark } = iconFiles(description.icon, dir);
		expectSvg(light);
		expectSvg(dark);
		expect(readFileSync(light, 'utf8')).not.toBe(readFileSync(dark, 'utf8'));
		const others = nodes.filter((other) => other !== node).map((other) => iconFiles(other.instance.description.icon, path.dirname(other.source)).light);
		expect(others).not.toContain(light);
	});

	it('has a display name, a subtitle and a description', () => {
		expect(description.displayName).toMatch(/^Roster [A-Z]/);
		expect(description.subtitle).toMatch(/^=\{\{.+\}\}$/s);
		expect(description.description.length).toBeGreaterThan(30);
	});

	it('has a codex with categories and a docs link to a README section', () => {
		const codexFile = node.source.replace(/\.ts$/, '.json');
		const codex = JSON.parse(readFileSync(codexFile, 'utf8')) as {
			node: string;
			categories: string[];
			resources: { primaryDocumentation: Array<{ url: string }>; credentialDocumentation?: Array<{ url: string }> };
		};
		expect(codex.node).toBe(`${pkg.name}.${description.name}`);
		expect(codex.categories.length).toBeGreaterThan(0);
		expect(codex.resources.primaryDocumentation.length).toBeGreaterThan(0);
		for (const { url } of [...codex.resources.primaryDocumentation, ...(codex.resources.credentialDocumentation ?? [])]) {
			expectReadmeLink(url, `${path.basename(codexFile)}`);
		}
		// The editor's Docs link: n8n appends its utm query to a codex link (after the #anchor, which
		// breaks it), but opens the description's documentationUrl as it is.
		expect(description.documentationUrl).toBe(codex.resources.primaryDocumentation[0].url);
	});

	it('explains every setting, and pickers follow n8n’s pattern', () => {
		for (const property of allProperties(description.properties)) {
			if (property.type === 'notice' || property.type === 'hidden') continue;
			// Like n8n's own nodes: an Operation/Source choice explains each option, an Options collection each field.
			const explainedInside =
				property.type === 'collection' ||
				property.type === 'fixedCollection' ||
				(property.type === 'options' && !property.typeOptions?.loadOptionsMethod && (property.options ?? []).every((option) => 'description' in option && option.description));
			if (!property.description && !explainedInside) throw new Error(`"${property.displayName}" (${property.name}) has no description`);
			if (property.typeOptions?.loadOptionsMethod) {
				expect(property.displayName).toMatch(/Names or IDs$/);
				expect(property.description).toMatch(/Choose from the list, or specify IDs using an <a href="https:\/\/docs\.n8n\.io\/code\/expressions\/">expression<\/a>/);
				const methods = (node.instance.methods?.loadOptions ?? {}) as Record<string, unknown>;
				expect(typeof methods[property.typeOptions.loadOptionsMethod]).toBe('function');
			}
		}
	});
});

describe.each(credentials.map((credential) => [credential.instance.displayName, credential] as const))('credential %s', (_name, credential) => {
	it('has a light and a dark SVG icon and a docs link to a README section', () => {
		const { light, dark } = iconFiles(credential.instance.icon, path.dirname(credential.source));
		expectSvg(light);
		expectSvg(dark);
		expectReadmeLink(String(credential.instance.documentationUrl), credential.instance.name);
	});
});

describe('the editor surface this issue added', () => {
	const byName = (name: string) => nodes.find((node) => node.instance.description.name === name)!.instance;

	it('Normalize picks schools from the store (still open to an expression before the first run)', () => {
		const schoolIds = byName('rosterNormalize').description.properties.find((property) => property.name === 'schoolIds')!;
		expect(schoolIds).toMatchObject({ type: 'multiOptions', default: [], typeOptions: { loadOptionsMethod: 'getSchools' } });
		expect(schoolIds.hint).toMatch(/Before the first run, use an expression/);
	});

	it('Build Lists picks terms and grades from the store, and warns when new lists are public', () => {
		const properties = byName('rosterBuildLists').description.properties;
		expect(properties.find((property) => property.name === 'terms')).toMatchObject({ type: 'multiOptions', typeOptions: { loadOptionsMethod: 'getTerms' } });
		expect(properties.find((property) => property.name === 'grades')).toMatchObject({ type: 'multiOptions', typeOptions: { loadOptionsMethod: 'getGrades' } });
		expect(properties.find((property) => property.name === 'newListsPublicNotice')).toMatchObject({
			type: 'notice',
			displayOptions: { show: { newListsPublic: [true] } },
		});
	});

	it('Reconcile Users warns while Archive is on', () => {
		const notice = byName('rosterReconcileUsers').description.properties.find(
			(property) => property.type === 'notice' && JSON.stringify(property.displayOptions?.show ?? {}).includes('"archive":[true]'),
		);
		expect(notice?.displayName).toMatch(/archive/i);
	});
});
