// Several manifest sources: order, fallback, back-off, and a real unreachable controller with a file:// mirror.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { createManifestSource, FetchError } from '../../agent/adapters/source.js';
import { createSourceList } from '../../agent/adapters/sources.js';
import type { FetchResult, ManifestSource } from '../../agent/ports.js';

function fake(name: string, answers: (FetchResult | Error)[], calls: string[]): ManifestSource {
  return {
    kind: 'http',
    async fetch(etag, wait) {
      calls.push(`${name} etag=${etag ?? '-'} wait=${wait}`);
      const next = answers.shift() ?? { kind: 'none' };
      if (next instanceof Error) throw next;
      return next;
    },
    close: async () => undefined,
  };
}

const manifest = (tag: string): FetchResult => ({ kind: 'manifest', bytes: Buffer.from(tag), etag: `"${tag}"` });

describe('createSourceList', () => {
  it('asks the first source to long-poll and does not touch the mirrors while it answers', async () => {
    const calls: string[] = [];
    const list = createSourceList([fake('ctl', [manifest('a'), { kind: 'unchanged' }], calls), fake('mirror', [], calls)]);
    assert.deepEqual(await list.fetch(null, 30), manifest('a'));
    assert.deepEqual(await list.fetch('"a"', 30), { kind: 'unchanged' });
    assert.deepEqual(calls, ['ctl etag=- wait=30', 'ctl etag="a" wait=30']);
  });

  it('falls back in order, polls mirrors without waiting, and backs off a failed source', async () => {
    const calls: string[] = [];
    let now = 0;
    const list = createSourceList(
      [fake('ctl', [new FetchError('refused'), manifest('c')], calls), fake('m1', [new FetchError('503')], calls), fake('m2', [manifest('b'), { kind: 'unchanged' }], calls)],
      { now: () => now, backoffMs: 1000 },
    );
    assert.deepEqual(await list.fetch(null, 30), manifest('b'));
    now = 500; // both failed sources are still backing off
    assert.deepEqual(await list.fetch(null, 30), { kind: 'unchanged' });
    now = 1500;
    assert.deepEqual(await list.fetch(null, 30), manifest('c'));
    assert.deepEqual(calls, ['ctl etag=- wait=30', 'm1 etag=- wait=0', 'm2 etag=- wait=0', 'm2 etag="b" wait=0', 'ctl etag=- wait=30']);
  });

  it('names every failure when no source answers', async () => {
    const list = createSourceList([fake('a', [new FetchError('x down')], []), fake('b', [new FetchError('y down')], [])]);
    await assert.rejects(list.fetch(null, 0), /no manifest source answered: x down; y down/);
  });

  it('reads the file:// mirror when the controller refuses connections (real sockets)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve)); // nothing listens there now
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-mirror-'));
    await mkdir(join(dir, 'v1/hosts/web-1'), { recursive: true });
    await writeFile(join(dir, 'v1/hosts/web-1/manifest'), '{"signed":"bytes"}');
    const list = createSourceList([
      createManifestSource({ source: `http://127.0.0.1:${port}`, host: 'web-1', timeoutSeconds: 2 }),
      createManifestSource({ source: pathToFileURL(dir).href, host: 'web-1', timeoutSeconds: 2 }),
    ]);
    try {
      const result = await list.fetch(null, 0);
      assert.equal(result.kind, 'manifest');
      assert.equal(result.kind === 'manifest' ? Buffer.from(result.bytes).toString() : '', '{"signed":"bytes"}');
    } finally {
      await list.close();
    }
  });
});
