// The agent's fetcher and report queue against real files and a real HTTP server on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runChecks } from '../../agent/health-checks.js';
import { createOutbox } from '../../agent/outbox.js';
import { createManifestSource, FetchError } from '../../agent/source.js';
import { openEnvelope, parsePayload } from '../../shared/accept.js';
import { generateKeyPair } from '../../shared/keys.js';
import { REPORT_PAYLOAD_TYPE, ReportSchema, type Report } from '../../shared/report.js';

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

function draft(phase: Report['phase']): Omit<Report, 'seq'> {
  return {
    host: 'web-1',
    time: new Date().toISOString(),
    kind: 'phase',
    manifestVersion: 1,
    desiredPath: null,
    phase,
    outcome: 'in-progress',
    currentSystem: null,
    bootedSystem: null,
    generation: null,
    health: [],
    error: null,
    facts: null,
  };
}

describe('report outbox', () => {
  const key = generateKeyPair('tsdeploy-agent-web-1');
  it('signs reports with growing sequence numbers and delivers them in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    for (const phase of ['accepted', 'realising', 'realised'] as const) await outbox.enqueue(draft(phase));
    const seen: Array<[number, string]> = [];
    const empty = await outbox.flush(async (envelope) => {
      const { payload } = openEnvelope(Buffer.from(envelope), REPORT_PAYLOAD_TYPE, [key.public], 1, 65536);
      const report = parsePayload(payload, ReportSchema);
      seen.push([report.seq, report.phase]);
      return { kind: 'accepted' };
    });
    assert.equal(empty, true);
    assert.deepEqual(seen, [[1, 'accepted'], [2, 'realising'], [3, 'realised']]);
    assert.equal((await outbox.stats()).queued, 0);
  });
  it('keeps reports while the controller is unreachable and never reuses a sequence number', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    await outbox.enqueue(draft('accepted'));
    assert.equal(await outbox.flush(async () => ({ kind: 'unreachable', error: 'ENETUNREACH' })), false);
    assert.equal((await outbox.stats()).queued, 1);
    const reopened = createOutbox(dir, key.secret, 10);
    assert.equal(await reopened.enqueue(draft('realising')), 2);
  });
  it('drops the oldest reports beyond the limit and counts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 3);
    for (let i = 0; i < 5; i += 1) await outbox.enqueue(draft('idle'));
    const stats = await outbox.stats();
    assert.equal(stats.queued, 3);
    assert.equal(stats.dropped, 2);
    assert.deepEqual(await readdir(join(dir, 'outbox')), ['0000000000000003.json', '0000000000000004.json', '0000000000000005.json']);
  });
  it('drops a report the controller already has (409) and stops at a refusal it may later accept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    await outbox.enqueue(draft('accepted'));
    await outbox.enqueue(draft('realising'));
    let calls = 0;
    const empty = await outbox.flush(async () => {
      calls += 1;
      return calls === 1 ? { kind: 'duplicate' } : { kind: 'refused', status: 403, error: 'host not enrolled' };
    });
    assert.equal(empty, false);
    assert.equal((await outbox.stats()).queued, 1);
  });
});

describe('http and tcp checks against real listeners on loopback', () => {
  const context = { controllerAccepts: async () => ({ ok: false, detail: 'unused' }) };
  it('passes a 2xx answer, fails another status unless it is the expected one', async () => {
    const results = await runChecks(
      [
        { type: 'http', url: `${base}/ok/v1/hosts/web-1/manifest`, timeoutSeconds: 5 },
        { type: 'http', url: `${base}/missing`, timeoutSeconds: 5 },
        { type: 'http', url: `${base}/missing`, expectStatus: 404, timeoutSeconds: 5 },
      ],
      context,
    );
    assert.deepEqual(
      results.map((r) => [r.ok, r.detail]),
      [
        [true, 'HTTP 200'],
        [false, 'HTTP 404'],
        [true, 'HTTP 404'],
      ],
    );
  });
  it('passes when a TCP port accepts and fails when nothing listens', async () => {
    const port = Number(new URL(base).port);
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const [open, shut] = await runChecks(
      [
        { type: 'tcp', host: '127.0.0.1', port, timeoutSeconds: 5 },
        { type: 'tcp', host: '127.0.0.1', port: closedPort, timeoutSeconds: 5 },
      ],
      context,
    );
    assert.equal(open?.ok, true);
    assert.equal(shut?.ok, false);
    assert.match(shut?.detail ?? '', /ECONNREFUSED/);
  });
});
