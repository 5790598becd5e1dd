// A controller that hangs on reports, run inside a lab node: it serves the manifests in DIR (as a static mirror
// does) and enrolls every key at once, but accepts each report's connection and never answers it.
// Usage: silent-controller.ts DIR PORT READY_FILE. Each held report is logged as a line "report held".
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';

const [dir, portText, readyFile] = process.argv.slice(2);
if (dir === undefined || portText === undefined || readyFile === undefined) {
  process.stderr.write('usage: silent-controller.ts DIR PORT READY_FILE\n');
  process.exit(2);
}

const held = new Set<ServerResponse>();

async function serveManifest(host: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bytes = await readFile(join(dir ?? '', 'v1', 'hosts', host, 'manifest')).catch(() => null);
  if (bytes === null) {
    res.writeHead(404).end();
    return;
  }
  const etag = `"${createHash('sha256').update(bytes).digest('hex')}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304).end();
    return;
  }
  res.writeHead(200, { etag, 'content-type': 'application/json' }).end(bytes);
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const manifest = /^\/v1\/hosts\/([a-z0-9-]+)\/manifest$/.exec(path);
  if (req.method === 'GET' && manifest !== null) {
    void serveManifest(manifest[1] ?? '', req, res);
  } else if (req.method === 'POST' && path === '/v1/enroll') {
    req.resume();
    req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"status":"enrolled"}'));
  } else if (req.method === 'POST' && /^\/v1\/hosts\/[a-z0-9-]+\/reports$/.test(path)) {
    req.resume();
    held.add(res);
    process.stdout.write(`report held (${held.size} unanswered)\n`);
  } else {
    res.writeHead(404).end();
  }
});
// Never time out a held request from this side: only the agent may give up.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 0;
server.listen(Number(portText), '0.0.0.0', () => void writeFileAtomic(readyFile, `${process.pid}\n`));
process.on('SIGTERM', () => process.exit(0));
