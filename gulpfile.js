// Copies what tsc does not emit into dist/: node icons, codex files and the workflow templates.
const { src, dest, parallel } = require('gulp');

function copyIcons() {
	return src(['nodes/**/*.svg', 'credentials/**/*.svg'], { base: '.', encoding: false }).pipe(dest('dist'));
}

function copyCodex() {
	return src('nodes/**/*.node.json', { base: '.' }).pipe(dest('dist'));
}

function copyWorkflows() {
	return src('workflows/*.json', { base: '.' }).pipe(dest('dist'));
}

exports.default = parallel(copyIcons, copyCodex, copyWorkflows);
