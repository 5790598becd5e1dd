// Attacks on the controller's HTTP surface: path traversal on every route, method confusion, endless and
// slow requests, too many connections. Every refusal leaves the state directory as it was.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closedByServer, idleConnection, raw } from './raw-http.js';
import {
  closeHttp,
  http,
  manifest,
  post,
  removeTempDirs,
  snapshot,
  assertUnchanged,
  startControllerProcess,
  unchanged,
  type ControllerProcess,
  type Method,
} from './harness.js';

let controller: ControllerProcess;
before(async () => {
  controller = await startControllerProcess();
  assert.equal((await post(`${controller.url}/v1/manifests`, manifest('web-1', 1))).status, 201);
});
after(async () => {
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

/** Sends a raw request line (the path exactly as written) and checks the answer and the state directory. */
async function rawRefused(method: string, path: string, status: number, body = ''): Promise<string> {
  const request = `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const exchange = await unchanged(controller.stateDir, () => raw(controller.port, request));
  assert.equal(exchange.status, status, `${method} ${path}: ${exchange.text.slice(0, 200)}`);
  assert.doesNotMatch(exchange.text, /root:x:0:0|release-1:|"publicKey"/, 'no file content leaks');
  return exchange.text;
}

describe('path traversal on every route', () => {
  const hostSegments: Array<[string, string]> = [
    ['dot-dot', '..'],
    ['encoded dot-dot', '%2e%2e'],
    ['encoded slash', '..%2f..%2fmanifests%2fweb-1'],
    ['double-encoded', '%252e%252e'],
    ['NUL byte', 'web-1%00'],
    ['non-ASCII', 'w%C3%A9b-1'],
    ['a 300-character name', 'a'.repeat(300)],
    ['a backslash', '..%5c..%5cetc'],
  ];
  for (const [name, segment] of hostSegments) {
    it(`GET /v1/hosts/<${name}>/manifest is refused without touching a file`, async () => {
      const text = await rawRefused('GET', `/v1/hosts/${segment}/manifest`, segment === '..' || segment === '%2e%2e' ? 404 : 400);
      assert.doesNotMatch(text, /"payloadType"/);
    });
  }
  it('POST /v1/hosts/<traversal>/reports is refused and writes no report file', async () => {
    await rawRefused('POST', '/v1/hosts/%2e%2e%2fstatus%2fweb-1/reports', 400, '{}');
    await rawRefused('POST', '/v1/hosts/../reports', 404, '{}');
  });
  it('GET /nix-cache/<traversal> reaches nothing outside the cache', async () => {
    for (const path of ['/nix-cache/../manifests/web-1.json', '/nix-cache/%2e%2e/manifests/web-1.json', '/nix-cache/..%2f..%2f..%2fetc%2fpasswd', '/nix-cache/nar/..%2f..%2fcontroller.lock']) {
      await rawRefused('GET', path, 404);
    }
  });
  it('POST /v1/enroll with a host name that is a path is refused (400) and creates no file', async () => {
    for (const host of ['../status/web-1', 'web-1/../../x', '.', 'wëb-1', 'a'.repeat(64)]) {
      const body = JSON.stringify({ host, publicKey: 'x:AAAA' });
      const answer = await unchanged(controller.stateDir, () => post(`${controller.url}/v1/enroll`, body));
      assert.equal(answer.status, 400, `${host}: ${answer.text}`);
    }
  });
  it('a request target that is an absolute URL or has no leading slash is answered without effect', async () => {
    const exchange = await unchanged(controller.stateDir, () =>
      raw(controller.port, 'GET http://evil.example/v1/hosts/web-1/manifest?trusted=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    assert.ok(exchange.status === 200 || exchange.status === 400 || exchange.status === 404, exchange.text.slice(0, 100));
    await rawRefused('GET', 'v1/status', 400);
  });
});

describe('method confusion', () => {
  const cases: Array<[Method, string, string]> = [
    ['PUT', '/v1/hosts/web-1/manifest', 'GET'],
    ['DELETE', '/v1/hosts/web-1/manifest', 'GET'],
    ['POST', '/v1/hosts/web-1/manifest', 'GET'],
    ['PUT', '/v1/manifests', 'POST'],
    ['DELETE', '/v1/manifests', 'POST'],
    ['PATCH', '/v1/enroll', 'POST'],
    ['GET', '/v1/hosts/web-1/reports', 'POST'],
    ['PUT', '/v1/status', 'GET'],
    ['POST', '/healthz', 'GET'],
    ['OPTIONS', '/v1/manifests', 'POST'],
    ['PUT', '/nix-cache/nix-cache-info', 'GET, HEAD'],
  ];
  for (const [method, path, allow] of cases) {
    it(`${method} ${path} is 405 (Allow: ${allow}) and changes nothing`, async () => {
      const answer = await unchanged(controller.stateDir, () => http(`${controller.url}${path}`, { method, body: manifest('web-1', 2) }));
      assert.equal(answer.status, 405, answer.text);
      assert.equal(answer.headers['allow'], allow);
    });
  }
  it('HEAD on GET routes sends no body and changes nothing', async () => {
    for (const path of ['/v1/status', '/v1/hosts/web-1/manifest', '/v1/manifests']) {
      const answer = await unchanged(controller.stateDir, () => http(`${controller.url}${path}`, { method: 'HEAD' }));
      assert.equal(answer.text, '');
      assert.ok(answer.status === 405 || answer.status === 200, `${path}: ${answer.status}`);
    }
  });
  it('OPTIONS * and TRACE are refused', async () => {
    await rawRefused('TRACE', '/v1/status', 405);
    const exchange = await raw(controller.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(exchange.status !== null && exchange.status >= 400, exchange.text.slice(0, 80));
  });
});

describe('endless and slow requests, and connection floods', () => {
  it('test_endless_data_attack: an endless upload is cut off with 413 and nothing stored', async () => {
    const before = await snapshot(controller.stateDir);
    const exchange = await raw(
      controller.port,
      Buffer.concat([
        Buffer.from('POST /v1/manifests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'),
        ...Array.from({ length: 40 }, () => Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`)),
      ]),
    );
    assert.ok(exchange.status === 413 || (exchange.status === null && exchange.closedByServer), exchange.text.slice(0, 120));
    await assertUnchanged(controller.stateDir, before);
  });
  it('a Content-Length far above the cap is refused before any body is read', async () => {
    const request = 'POST /v1/hosts/web-1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{';
    const exchange = await unchanged(controller.stateDir, () => raw(controller.port, request));
    assert.equal(exchange.status, 413, exchange.text.slice(0, 120));
    assert.equal(exchange.closedByServer, true);
  });
});

describe('connection limits', () => {
  const held: Socket[] = [];
  after(() => {
    for (const socket of held) socket.destroy();
  });
  const healthz = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

  it('test_slow_retrieval_attack (server side): a client that never finishes its headers is disconnected', async () => {
    const slow = await startControllerProcess({ config: { limits: { headersTimeoutSeconds: 1, requestTimeoutSeconds: 2 } } });
    try {
      const socket = await idleConnection(slow.port);
      held.push(socket);
      await closedByServer(socket);
    } finally {
      await slow.stop();
    }
  });
  it('refuses connections past limits.maxConnections and serves again once they go', async () => {
    const small = await startControllerProcess({ config: { limits: { maxConnections: 6 } } });
    try {
      for (let i = 0; i < 6; i += 1) held.push(await idleConnection(small.port));
      const extra = await unchanged(small.stateDir, () => raw(small.port, healthz, 3_000));
      assert.equal(extra.status, null, 'no answer past the cap');
      assert.equal(extra.closedByServer, true);
      for (const socket of held.splice(0)) socket.destroy();
      let answer = await raw(small.port, healthz);
      for (let i = 0; i < 20 && answer.status !== 200; i += 1) answer = await raw(small.port, healthz);
      assert.equal(answer.status, 200);
    } finally {
      await small.stop();
    }
  });
});
