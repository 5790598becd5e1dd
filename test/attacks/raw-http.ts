// Raw HTTP for the attack suite: exact request bytes on a socket (no client normalises them), idle and slow connections.
import { connect, type Socket } from 'node:net';

/** What came back on a raw socket: the bytes read until the server closed it (or the wait ended). */
export interface RawExchange {
  readonly text: string;
  readonly status: number | null;
  readonly closedByServer: boolean;
}

/**
 * Writes `request` byte for byte on a fresh TCP connection (no client normalises the path) and reads
 * until the server closes the connection or `waitMs` passes.
 */
export function raw(port: number, requestText: string | Buffer, waitMs = 5_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: match === null ? null : Number(match[1]), closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(requestText);
  });
}

/** A connection that sends a request line and then nothing: what a slowloris client holds open. */
export function idleConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** Resolves when the server ends `socket` (a hang is caught by the test's own timeout). */
export function closedByServer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) return resolve();
    socket.resume();
    socket.once('close', () => resolve());
    socket.once('end', () => resolve());
  });
}
