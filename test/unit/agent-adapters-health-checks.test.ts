// Health checks: systemctl output parsing, timeouts, and http/tcp checks against real listeners on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { judgeSystemd, parseFailedUnits, parseSystemRunning, runChecks } from '../../agent/adapters/health-checks.js';



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

describe('systemd check (parsing real systemctl output; no systemd as PID 1 on the test machine)', () => {
  it('reads is-system-running states', () => {
    assert.equal(parseSystemRunning('running\n'), 'running');
    assert.equal(parseSystemRunning('degraded\n'), 'degraded');
    assert.equal(parseSystemRunning('offline\n'), 'offline');
  });
  it('reads failed units from list-units --plain --no-legend, with or without the bullet', () => {
    const out = [
      'nginx.service      loaded failed failed A high performance web server',
      '● postgresql.service loaded failed failed PostgreSQL Server',
      '',
    ].join('\n');
    assert.deepEqual(parseFailedUnits(out), ['nginx.service', 'postgresql.service']);
    assert.deepEqual(parseFailedUnits(''), []);
    assert.deepEqual(parseFailedUnits('0 loaded units listed.\n'), []);
  });
  it('passes running with no failed units, and degraded only when allowed', () => {
    assert.equal(judgeSystemd('running', [], false).ok, true);
    assert.equal(judgeSystemd('degraded', ['a.service'], false).ok, false);
    assert.equal(judgeSystemd('degraded', ['a.service'], true).ok, true);
    assert.equal(judgeSystemd('starting', [], true).ok, false);
    assert.match(judgeSystemd('degraded', ['a.service'], false).detail, /failed units: a.service/);
  });
});

describe('running checks', () => {
  it('fails a check that overruns its own timeout, whatever it waits on', async () => {
    const results = await runChecks([{ type: 'controller', timeoutSeconds: 0.2 }], {
      controllerAccepts: () => new Promise(() => undefined),
    });
    assert.deepEqual(results, [{ name: 'controller', type: 'controller', ok: false, detail: 'no answer within 0.2s' }]);
  });
  it('runs a command check as argv and fails it on a non-zero exit', async () => {
    const never = { controllerAccepts: async () => ({ ok: false, detail: 'unused' }) };
    const [ok, bad] = await runChecks(
      [
        { type: 'command', argv: ['/bin/sh', '-c', 'exit 0'], timeoutSeconds: 5 },
        { type: 'command', argv: ['/bin/sh', '-c', 'echo broken >&2; exit 3'], timeoutSeconds: 5, name: 'broken' },
      ],
      never,
    );
    assert.equal(ok?.ok, true);
    assert.equal(bad?.ok, false);
    assert.match(bad?.detail ?? '', /exited with code 3: broken/);
  });
});
