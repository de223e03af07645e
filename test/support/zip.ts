/**
 * A minimal zip writer for tests (deflate or store, no zip64, no encryption), so tests can
 * build zip exports without the `zip` CLI or an extra npm package. yauzl reads them back.
 */
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

export function crc32(data: Buffer): number {
	let crc = 0xffffffff;
	for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
	return (crc ^ 0xffffffff) >>> 0;
}

function dosDateTime(date: Date): { time: number; date: number } {
	return {
		time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
		date: ((Math.max(date.getFullYear(), 1980) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
	};
}

export interface ZipEntryInput {
	/** Path inside the zip, with `/` separators; a trailing `/` makes a folder entry. */
	name: string;
	data?: string | Buffer;
}

/** Builds a zip archive in memory. `entries` maps paths to contents, or is a list of entries. */
export function buildZip(entries: Record<string, string | Buffer> | ZipEntryInput[], options: { store?: boolean } = {}): Buffer {
	const list: ZipEntryInput[] = Array.isArray(entries)
		? entries
		: Object.entries(entries).map(([name, data]) => ({ name, data }));
	const { time, date } = dosDateTime(new Date());
	const locals: Buffer[] = [];
	const centrals: Buffer[] = [];
	let offset = 0;
	for (const entry of list) {
		const name = Buffer.from(entry.name, 'utf8');
		const raw = entry.name.endsWith('/') ? Buffer.alloc(0) : Buffer.from(entry.data ?? '');
		const compress = !options.store && raw.length > 0;
		const body = compress ? deflateRawSync(raw) : raw;
		const crc = crc32(raw);
		const flags = 0x0800; // names are UTF-8

		const local = Buffer.alloc(30);
		local.writeUInt32LE(0x04034b50, 0);
		local.writeUInt16LE(20, 4);
		local.writeUInt16LE(flags, 6);
		local.writeUInt16LE(compress ? 8 : 0, 8);
		local.writeUInt16LE(time, 10);
		local.writeUInt16LE(date, 12);
		local.writeUInt32LE(crc, 14);
		local.writeUInt32LE(body.length, 18);
		local.writeUInt32LE(raw.length, 22);
		local.writeUInt16LE(name.length, 26);
		local.writeUInt16LE(0, 28);
		locals.push(local, name, body);

		const central = Buffer.alloc(46);
		central.writeUInt32LE(0x02014b50, 0);
		central.writeUInt16LE(0x031e, 4); // made by: unix, 3.0
		central.writeUInt16LE(20, 6);
		central.writeUInt16LE(flags, 8);
		central.writeUInt16LE(compress ? 8 : 0, 10);
		central.writeUInt16LE(time, 12);
		central.writeUInt16LE(date, 14);
		central.writeUInt32LE(crc, 16);
		central.writeUInt32LE(body.length, 20);
		central.writeUInt32LE(raw.length, 24);
		central.writeUInt16LE(name.length, 28);
		central.writeUInt16LE(0, 30); // extra
		central.writeUInt16LE(0, 32); // comment
		central.writeUInt16LE(0, 34); // disk
		central.writeUInt16LE(0, 36); // internal attributes
		const mode = entry.name.endsWith('/') ? 0o40755 : 0o100644;
		central.writeUInt32LE(((mode << 16) | (entry.name.endsWith('/') ? 0x10 : 0)) >>> 0, 38);
		central.writeUInt32LE(offset, 42);
		centrals.push(central, name);

		offset += local.length + name.length + body.length;
	}
	const centralSize = centrals.reduce((sum, b) => sum + b.length, 0);
	const end = Buffer.alloc(22);
	end.writeUInt32LE(0x06054b50, 0);
	end.writeUInt16LE(0, 4);
	end.writeUInt16LE(0, 6);
	end.writeUInt16LE(list.length, 8);
	end.writeUInt16LE(list.length, 10);
	end.writeUInt32LE(centralSize, 12);
	end.writeUInt32LE(offset, 16);
	end.writeUInt16LE(0, 20);
	return Buffer.concat([...locals, ...centrals, end]);
}
