/**
 * Summarises a .cpuprofile (V8 / `node --cpu-prof` format): top functions by self time, by total
 * (inclusive) time, and self time per area (engine file, csv-parse, node:sqlite and other natives,
 * GC, Node internals).
 *
 *   node bench/profile-summary.mjs FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function shortUrl(url) {
	if (!url) return '';
	const path = url.replace(/^file:\/\//, '');
	const modules = path.lastIndexOf('/node_modules/');
	if (modules !== -1) return path.slice(modules + '/node_modules/'.length);
	const nodes = path.indexOf('/nodes/');
	if (nodes !== -1) return path.slice(nodes + 1);
	const bench = path.indexOf('/bench/');
	if (bench !== -1) return path.slice(bench + 1);
	return path;
}

function functionKey(frame) {
	const name = frame.functionName || '(anonymous)';
	const url = shortUrl(frame.url);
	return url ? `${name}  ${url}:${frame.lineNumber + 1}` : name;
}

/** Where a frame's self time goes, coarsely. */
function area(frame) {
	const url = frame.url ?? '';
	if (!url) {
		if (frame.functionName === '(garbage collector)') return 'GC';
		if (frame.functionName === '(program)' || frame.functionName === '(idle)') return frame.functionName;
		return 'native (node:sqlite, JSON, Buffer, regexp …)';
	}
	if (url.startsWith('node:')) return 'node internals (streams, fs …)';
	const short = shortUrl(url);
	if (url.includes('/node_modules/')) return short.split('/')[0];
	return short;
}

export function summarizeProfile(profile) {
	const byId = new Map();
	const parent = new Map();
	for (const node of profile.nodes) {
		byId.set(node.id, node);
		for (const child of node.children ?? []) parent.set(child, node.id);
	}
	const { samples = [], timeDeltas = [] } = profile;
	const self = new Map();
	const total = new Map();
	const areas = new Map();
	let all = 0;
	const add = (map, key, micros) => map.set(key, (map.get(key) ?? 0) + micros);
	for (let i = 0; i < samples.length; i++) {
		// Sample i lasts until sample i+1.
		const micros = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : (profile.endTime - profile.startTime) / Math.max(1, samples.length);
		const node = byId.get(samples[i]);
		if (!node || micros <= 0) continue;
		all += micros;
		add(self, functionKey(node.callFrame), micros);
		add(areas, area(node.callFrame), micros);
		const seen = new Set();
		for (let id = node.id; id !== undefined; id = parent.get(id)) {
			const key = functionKey(byId.get(id).callFrame);
			if (seen.has(key)) continue;
			seen.add(key);
			add(total, key, micros);
		}
	}
	const sorted = (map) =>
		[...map.entries()].sort((a, b) => b[1] - a[1]).map(([key, micros]) => ({ key, ms: micros / 1000, share: micros / all }));
	return { totalMs: all / 1000, self: sorted(self), total: sorted(total).filter((row) => row.key !== '(root)'), areas: sorted(areas) };
}

export function formatSummary(summary, { top = 20, title = '' } = {}) {
	const pct = (share) => `${(share * 100).toFixed(1).padStart(5)} %`;
	const ms = (value) => `${value.toFixed(0).padStart(8)} ms`;
	const lines = [];
	if (title) lines.push(`${title} — ${(summary.totalMs / 1000).toFixed(2)} s sampled`);
	lines.push('  self time by area:');
	for (const row of summary.areas.slice(0, 12)) lines.push(`    ${ms(row.ms)} ${pct(row.share)}  ${row.key}`);
	lines.push(`  top ${top} functions by self time:`);
	for (const row of summary.self.slice(0, top)) lines.push(`    ${ms(row.ms)} ${pct(row.share)}  ${row.key}`);
	lines.push(`  top ${top} functions by total time:`);
	for (const row of summary.total.slice(0, top)) lines.push(`    ${ms(row.ms)} ${pct(row.share)}  ${row.key}`);
	return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	const file = process.argv[2];
	if (!file) {
		console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]');
		process.exit(2);
	}
	const topIndex = process.argv.indexOf('--top');
	const top = topIndex !== -1 ? Number(process.argv[topIndex + 1]) : 25;
	console.log(formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8'))), { top, title: file }));
}
