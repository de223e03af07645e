/**
 * Small networking helpers for the test services harness.
 */
import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			const port = typeof address === 'object' && address ? address.port : 0;
			server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
		});
	});
}

/**
 * Resolves with the first bytes the server sends after a TCP connect (e.g. an SSH banner),
 * or rejects if the port does not accept connections.
 */
export function readGreeting(host: string, port: number, timeoutMs = 1000): Promise<string> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host, port });
		const timer = setTimeout(() => {
			socket.destroy();
			reject(new Error(`no greeting from ${host}:${port} within ${timeoutMs} ms`));
		}, timeoutMs);
		socket.once('data', (data) => {
			clearTimeout(timer);
			socket.destroy();
			resolve(data.toString('latin1'));
		});
		socket.once('error', (error) => {
			clearTimeout(timer);
			socket.destroy();
			reject(error);
		});
	});
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
