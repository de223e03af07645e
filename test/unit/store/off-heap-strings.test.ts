/**
 * OffHeapStrings: what goes in comes back out by its number, across chunks, whatever the text holds.
 */
import { OffHeapStrings } from '../../../nodes/shared/store/off-heap-strings';

describe('OffHeapStrings', () => {
	test('strings come back by the number add gave them, in any order', () => {
		const held = new OffHeapStrings();
		const texts = ['', 'plain', 'Zoë Ærøskøbing', '李小龍', 'emoji 👩‍🏫 in a name', '["a",null,1,"\\"q\\""]'];
		const handles = texts.map((text) => held.add(text));
		expect(handles).toEqual([0, 1, 2, 3, 4, 5]);
		expect(held.size).toBe(texts.length);
		for (const i of [5, 0, 3, 1, 4, 2]) expect(held.get(handles[i])).toBe(texts[i]);
	});

	test('a string with a lone surrogate (not UTF-8) comes back exactly, and so do its neighbours', () => {
		const held = new OffHeapStrings();
		const texts = ['before', 'x\uD800y', '\uDC00', 'pair 😀 kept', 'after'];
		const handles = texts.map((text) => held.add(text));
		texts.forEach((text, i) => expect(held.get(handles[i])).toBe(text));
		expect(held.get(handles[1])).not.toBe('x\uFFFDy');
	});

	test('many strings spill into new chunks and none is changed', () => {
		const held = new OffHeapStrings();
		const texts: string[] = [];
		// ~12 MiB of strings of varying width: three or more 4 MiB chunks, and the handle arrays grow.
		for (let i = 0; i < 60_000; i++) texts.push(`${i}:${'x'.repeat(i % 300)}${i % 7 === 0 ? 'ü€𝄞' : ''}`);
		const handles = texts.map((text) => held.add(text));
		expect(held.bytes).toBeGreaterThanOrEqual(3 * 4 * 1024 * 1024);
		for (let i = 0; i < texts.length; i++) expect(held.get(handles[i])).toBe(texts[i]);
	});

	test('a string longer than a chunk gets a chunk of its own', () => {
		const held = new OffHeapStrings();
		const big = 'é'.repeat(3 * 1024 * 1024);
		const before = held.add('before');
		const handle = held.add(big);
		const after = held.add('after');
		expect(held.get(handle)).toBe(big);
		expect(held.get(before)).toBe('before');
		expect(held.get(after)).toBe('after');
	});

	test('an unknown number is an error; clear forgets everything', () => {
		const held = new OffHeapStrings();
		held.add('one');
		expect(() => held.get(1)).toThrow(/has no string 1/);
		expect(() => held.get(-1)).toThrow(RangeError);
		held.clear();
		expect(held.size).toBe(0);
		expect(held.bytes).toBe(0);
		expect(() => held.get(0)).toThrow(RangeError);
		expect(held.get(held.add('again'))).toBe('again');
	});
});
