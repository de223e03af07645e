/**
 * The test SMTP server (test/support/smtp.ts) on its own: a real process on 127.0.0.1 that stores
 * each message it accepts as an .eml file. Talked to here over a raw socket, the way any SMTP
 * client (n8n's Send Email node uses nodemailer) does.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';

import type { SmtpServer } from '../support/smtp';
import { startSmtp } from '../support/smtp';

/** A minimal SMTP client: one command at a time, multi-line replies joined. */
class SmtpClient {
	private buffer = '';
	private waiting: Array<(reply: { code: number; text: string }) => void> = [];
	private replies: Array<{ code: number; text: string }> = [];
	private lines: string[] = [];

	private constructor(private readonly socket: net.Socket) {
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			this.buffer += chunk;
			let index: number;
			while ((index = this.buffer.indexOf('\r\n')) >= 0) {
				const line = this.buffer.slice(0, index);
				this.buffer = this.buffer.slice(index + 2);
				this.lines.push(line.slice(4));
				if (line[3] === '-') continue;
				const reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
				this.lines = [];
				const next = this.waiting.shift();
				if (next) next(reply);
				else this.replies.push(reply);
			}
		});
	}

	static async connect(host: string, port: number): Promise<{ client: SmtpClient; greeting: { code: number; text: string } }> {
		const socket = await new Promise<net.Socket>((resolve, reject) => {
			const s = net.connect({ host, port }, () => resolve(s));
			s.once('error', reject);
		});
		const client = new SmtpClient(socket);
		return { client, greeting: await client.reply() };
	}

	reply(): Promise<{ code: number; text: string }> {
		const ready = this.replies.shift();
		if (ready) return Promise.resolve(ready);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('no SMTP reply within 5 s')), 5000);
			this.waiting.push((reply) => {
				clearTimeout(timer);
				resolve(reply);
			});
		});
	}

	async command(line: string): Promise<{ code: number; text: string }> {
		this.socket.write(`${line}\r\n`);
		return this.reply();
	}

	/** DATA with dot-stuffing; the message's lines are joined with CRLF. */
	async data(message: string): Promise<{ code: number; text: string }> {
		const start = await this.command('DATA');
		if (start.code !== 354) return start;
		const body = message
			.replace(/\r?\n/g, '\r\n')
			.split('\r\n')
			.map((line) => (line.startsWith('.') ? `.${line}` : line))
			.join('\r\n');
		this.socket.write(`${body}\r\n.\r\n`);
		return this.reply();
	}

	close(): void {
		this.socket.end();
	}
}

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

function message(subject: string, body: string): string {
	return [
		'From: RosterSync <rostersync@district.test>',
		'To: Operations <ops@district.test>',
		`Subject: ${subject}`,
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		'',
		body,
	].join('\r\n');
}

/** Headers (unfolded, lower-case names) and body of a raw message. */
function parse(raw: string): { headers: Record<string, string>; body: string } {
	const split = raw.indexOf('\r\n\r\n');
	const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
	const headers: Record<string, string> = {};
	for (const line of head.split('\r\n')) {
		const colon = line.indexOf(':');
		headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	return { headers, body: raw.slice(split + 4) };
}

describe('test SMTP server (a real process)', () => {
	let smtp: SmtpServer;
	beforeAll(async () => {
		smtp = await startSmtp();
	});
	afterAll(async () => smtp?.stop());

	it('listens on 127.0.0.1, offers AUTH PLAIN and LOGIN, and no STARTTLS', async () => {
		expect(smtp.host).toBe('127.0.0.1');
		expect(smtp.port).toBeGreaterThan(0);
		const { client, greeting } = await SmtpClient.connect(smtp.host, smtp.port);
		expect(greeting.code).toBe(220);
		const ehlo = await client.command('EHLO tests.local');
		expect(ehlo.code).toBe(250);
		expect(ehlo.text).toMatch(/AUTH PLAIN LOGIN/);
		expect(ehlo.text).not.toMatch(/STARTTLS/);
		await client.command('QUIT');
		client.close();
	});

	it('stores a message sent without AUTH as an .eml file, with its envelope', async () => {
		const before = (await smtp.messages()).length;
		const { client } = await SmtpClient.connect(smtp.host, smtp.port);
		await client.command('EHLO tests.local');
		expect((await client.command('MAIL FROM:<rostersync@district.test>')).code).toBe(250);
		expect((await client.command('RCPT TO:<ops@district.test>')).code).toBe(250);
		expect((await client.command('RCPT TO:<it@district.test>')).code).toBe(250);
		const sent = await client.data(message('Roster sync: 8 students', 'Created 8 students.\n.a line that starts with a dot\nBye'));
		expect(sent.code).toBe(250);
		await client.command('QUIT');
		client.close();

		const all = await smtp.waitForMessages(before + 1);
		const { headers, body } = parse(all[before]);
		expect(headers.subject).toBe('Roster sync: 8 students');
		expect(headers.to).toBe('Operations <ops@district.test>');
		expect(body).toBe('Created 8 students.\r\n.a line that starts with a dot\r\nBye\r\n');
		const envelope = (await smtp.envelopes())[before];
		expect(envelope).toMatchObject({ mailFrom: 'rostersync@district.test', rcptTo: ['ops@district.test', 'it@district.test'], user: null });
	});

	it('accepts AUTH PLAIN for the test user and refuses a wrong password', async () => {
		const before = (await smtp.messages()).length;
		const { client } = await SmtpClient.connect(smtp.host, smtp.port);
		await client.command('EHLO tests.local');
		expect((await client.command(`AUTH PLAIN ${plain(smtp.user, 'wrong')}`)).code).toBe(535);
		expect((await client.command(`AUTH PLAIN ${plain(smtp.user, smtp.password)}`)).code).toBe(235);
		await client.command('MAIL FROM:<rostersync@district.test>');
		await client.command('RCPT TO:<ops@district.test>');
		expect((await client.data(message('authenticated', 'hello'))).code).toBe(250);
		await client.command('QUIT');
		client.close();

		await smtp.waitForMessages(before + 1);
		expect((await smtp.envelopes())[before]).toMatchObject({ user: smtp.user, rcptTo: ['ops@district.test'] });
	});
});

describe('test SMTP server with requireAuth', () => {
	it('refuses mail from a client that did not log in, and removes its folder on stop()', async () => {
		const smtp = await startSmtp({ requireAuth: true });
		try {
			const { client } = await SmtpClient.connect(smtp.host, smtp.port);
			await client.command('EHLO tests.local');
			expect((await client.command('MAIL FROM:<rostersync@district.test>')).code).toBe(530);
			await client.command('QUIT');
			client.close();
			expect(await smtp.messages()).toEqual([]);
		} finally {
			await smtp.stop();
		}
		expect(existsSync(smtp.mailDir)).toBe(false);
	});
});
