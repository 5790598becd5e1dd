// The manifest fetcher against a real HTTP server on loopback and real directories.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManifestSource, FetchError } from '../../agent/adapters/source.js';


let server: Server;
let base = '';
const open = new Set<import('node:http').ServerResponse>();

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/ok/v1/hosts/web-1/manifest')) {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { etag: '"v1"' }).end('{"hello":1}');
    } else if (url.startsWith('/big/')) {
      res.writeHead(200);
      res.end(Buffer.alloc(70 * 1024, 'x'));
    } else if (url.startsWith('/endless/')) {
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(8 * 1024, 'x')), 5);
      res.on('close', () => clearInterval(timer));
    } else if (url.startsWith('/slow/')) {
      open.add(res); // never answers
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('manifest source over HTTP', () => {
  it('fetches, then gets a 304 for the same ETag', async () => {
    const source = createManifestSource({ source: `${base}/ok`, host: 'web-1', timeoutSeconds: 5 });
    const first = await source.fetch(null, 0);
    assert.equal(first.kind, 'manifest');
    assert.equal(first.kind === 'manifest' ? first.etag : '', '"v1"');
    assert.deepEqual(await source.fetch('"v1"', 0), { kind: 'unchanged' });
    await source.close();
  });
  it('reports a missing manifest as none', async () => {
    const source = createManifestSource({ source: `${base}/nothing`, host: 'web-1', timeoutSeconds: 5 });
    assert.deepEqual(await source.fetch(null, 0), { kind: 'none' });
    await source.close();
  });
  it('abandons a body over the 64 KiB cap', async () => {
    const source = createManifestSource({ source: `${base}/big`, host: 'web-1', timeoutSeconds: 5 });
    await assert.rejects(source.fetch(null, 0), FetchError);
    await source.close();
  });
  it('abandons an endless body', async () => {
    const source = createManifestSource({ source: `${base}/endless`, host: 'web-1', timeoutSeconds: 5 });
    await assert.rejects(source.fetch(null, 0), /larger than/);
    await source.close();
  });
  it('abandons a server that never answers at the deadline', async () => {
    const source = createManifestSource({ source: `${base}/slow`, host: 'web-1', timeoutSeconds: 1 });
    await assert.rejects(source.fetch(null, 0), FetchError);
    await source.close();
  });
});

describe('manifest source from a directory', () => {
  it('reads <dir>/v1/hosts/<host>/manifest and knows when it is unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-src-'));
    await mkdir(join(dir, 'v1/hosts/web-1'), { recursive: true });
    await writeFile(join(dir, 'v1/hosts/web-1/manifest'), '{"m":1}');
    const source = createManifestSource({ source: `file://${dir}`, host: 'web-1', timeoutSeconds: 5 });
    const first = await source.fetch(null, 0);
    assert.equal(first.kind, 'manifest');
    assert.equal((await source.fetch(first.kind === 'manifest' ? first.etag : null, 0)).kind, 'unchanged');
    const other = createManifestSource({ source: `file://${dir}`, host: 'web-2', timeoutSeconds: 5 });
    assert.equal((await other.fetch(null, 0)).kind, 'none');
  });
  it('ignores a file over the cap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-src-'));
    await mkdir(join(dir, 'v1/hosts/web-1'), { recursive: true });
    await writeFile(join(dir, 'v1/hosts/web-1/manifest'), Buffer.alloc(65 * 1024 + 1));
    const source = createManifestSource({ source: `file://${dir}`, host: 'web-1', timeoutSeconds: 5 });
    await assert.rejects(source.fetch(null, 0), /more than/);
  });
});
