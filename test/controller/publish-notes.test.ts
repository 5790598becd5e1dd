// `publish` says what the controller's answer alone does not: a host that already refused the exact version it
// leaves in place, a host with no enrolled agent, and a path the binary cache given by --cache does not have.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeKeyPair } from '../../shared/keys.js';
import { runProgram } from '../cli/run-cli.js';
import { closeHttp, enrollWithToken, post, RELEASE, removeDir, report, signedReport, startController, storePath, tempDir, type Running } from './fixtures.js';

describe('publish notes against a real controller and a real (empty) binary cache over HTTP', () => {
  let running: Running;
  let dir: string;
  let key: string;
  /** A binary cache with no narinfo at all: every GET is a 404, as Nix's own cache answers for a missing path. */
  const cache = createServer((_req, res) => res.writeHead(404).end());
  let cacheUrl: string;

  before(async () => {
    dir = await tempDir('publish-notes');
    running = await startController();
    key = (await writeKeyPair(dir, RELEASE)).secretPath;
    await new Promise<void>((done) => cache.listen(0, '127.0.0.1', done));
    cacheUrl = `http://127.0.0.1:${(cache.address() as AddressInfo).port}`;
  });
  after(async () => {
    await running?.stop();
    await closeHttp();
    await new Promise<void>((done) => cache.close(() => done()));
    await removeDir(dir);
  });

  const publish = (host: string, path: string, extra: string[] = []) =>
    runProgram('tsdeploy-controller', ['publish', '--controller', running.url, '--key', key, '--state', join(dir, 'v.json'), '--host', host, '--path', path, ...extra]);

  it('warns that a host has no enrolled agent, and still publishes (exit 0)', async () => {
    const run = await publish('lonely-1', storePath(1));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^warning: lonely-1 has no enrolled agent \(never seen\).*hosts approve lonely-1\)\n$/);
  });

  it('says the host already refused the version left in place, instead of a bare "unchanged"', async () => {
    const agent = await enrollWithToken(running, 'web-9');
    assert.equal((await publish('web-9', storePath(2))).code, 0);
    const body = report('web-9', 1, { manifestVersion: 1, desiredPath: storePath(2), phase: 'rolled-back', outcome: 'rolled-back', error: 'health check failed: web (HTTP 500)' });
    assert.equal((await post(`${running.url}/v1/hosts/web-9/reports`, signedReport(agent.secret, body))).status, 202);
    const run = await publish('web-9', storePath(2));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^web-9: unchanged/);
    assert.match(run.stderr, /^note: web-9 already refused version 1 of this path \(rolled-back: health check failed: web \(HTTP 500\)\).*--force/m);
    assert.doesNotMatch(run.stderr, /no enrolled agent/);
  });

  it('warns when --cache has no narinfo for the path', async () => {
    const run = await publish('web-9', storePath(3), ['--cache', cacheUrl]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^warning: web-9: ${storePath(3)} is not in the binary cache ${cacheUrl} \\(no narinfo\\): the host cannot realise it$`, 'm'));
  });
});
