// A static HTTP server for a Nix file binary cache (nix-cache-info, *.narinfo, nar/*), run inside the lab's infra node.
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import { createLogger } from '../../shared/log.js';
import { cacheContentType as contentType, isCachePath } from './cache.js';

const [dir, portText, readyFile, rateText] = process.argv.slice(2);
if (dir === undefined || portText === undefined || readyFile === undefined) {
  process.stderr.write('usage: static-server.ts CACHE_DIR PORT READY_FILE [NAR_BYTES_PER_SECOND]\n');
  process.exit(2);
}
/** A slow link for NAR downloads (each response on its own), so a test can watch a closure arrive; 0: full speed. */
const narBytesPerSecond = rateText === undefined ? 0 : Number(rateText);
const log = createLogger('lab-cache');

const server = createServer((request, response) => {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const done = (status: number): void => {
    log.info({ method: request.method, path, status, remote: request.socket.remoteAddress }, 'request');
  };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return done(405);
  }
  if (!isCachePath(path)) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return done(404);
  }
  const rate = path.startsWith('/nar/') ? narBytesPerSecond : 0;
  void sendFile(join(dir, path), contentType(path), request.method === 'HEAD', response, rate).then((status) => done(status));
  return undefined;
});

/** Streams a file with its length; 404 when it is missing or not a regular file. */
/** Passes chunks on no faster than `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  return new Transform({
    highWaterMark: 64 * 1024,
    transform(chunk: Buffer, _encoding, callback) {
      setTimeout(() => callback(null, chunk), (chunk.length / bytesPerSecond) * 1000);
    },
  });
}

async function sendFile(file: string, type: string, headOnly: boolean, response: ServerResponse, bytesPerSecond: number): Promise<number> {
  const info = await stat(file).catch(() => null);
  if (info === null || !info.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return 404;
  }
  response.writeHead(200, { 'content-type': type, 'content-length': info.size });
  if (headOnly) {
    response.end();
  } else {
    const stream = createReadStream(file, { highWaterMark: 64 * 1024 }).on('error', () => response.destroy());
    (bytesPerSecond > 0 ? stream.pipe(throttle(bytesPerSecond)) : stream).pipe(response);
  }
  return 200;
}

server.listen(Number(portText), '0.0.0.0', () => {
  log.info({ dir, port: Number(portText) }, 'serving binary cache');
  void writeFileAtomic(readyFile, `${process.pid}\n`);
});
process.on('SIGTERM', () => process.exit(0));
