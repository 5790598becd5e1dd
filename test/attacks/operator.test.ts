// Attacks on the operator's CLI: publishing without the release key, and a stolen controller that steers the
// version `publish` signs towards exhaustion.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  cli,
  closeHttp,
  manifest,
  removeTempDirs,
  RELEASE,
  ROGUE,
  startControllerProcess,
  storePath,
  tempDir,
  unchanged,
  writeKeyFiles,
  type ControllerProcess,
} from './harness.js';

let controller: ControllerProcess;
let keys: { release: string; releasePublic: string; rogue: string };
before(async () => {
  controller = await startControllerProcess();
  const dir = await tempDir('keys');
  const release = await writeKeyFiles(dir, RELEASE);
  keys = { release: release.secret, releasePublic: release.public, rogue: (await writeKeyFiles(dir, ROGUE)).secret };
});
after(async () => {
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

const publish = (url: string, key: string, extra: readonly string[] = []) =>
  cli('controller', ['publish', '--controller', url, '--key', key, '--host', 'web-1', '--path', storePath(1), '--system', 'x86_64-linux', ...extra]);

describe('publishing without the release key', () => {
  it('test_publish_with_untrusted_key: the controller refuses, publish exits 3 and nothing is stored', async () => {
    const result = await unchanged(controller.stateDir, () => publish(controller.url, keys.rogue));
    assert.equal(result.code, 3, result.stdout);
    assert.match(result.stderr, /web-1: refused \(HTTP 403\): bad or too few signatures/);
  });
  it('a public key given as --key signs nothing (exit 2, a usage error, says so)', async () => {
    const result = await unchanged(controller.stateDir, () => publish(controller.url, keys.releasePublic));
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, /is a public key, not a secret key/);
  });
  it('manifest sign with an untrusted key is refused by the agent rule (verify-manifest exit 3)', async () => {
    const signed = await cli('controller', ['manifest', 'sign', '--key', keys.rogue, '--host', 'web-1', '--path', storePath(1), '--version', '1', '--system', 'x86_64-linux']);
    assert.equal(signed.code, 0, signed.stderr);
    const checked = await cli('agent', ['verify-manifest', '--trusted-key', keys.releasePublic, '--host', 'web-1', '-'], { input: signed.stdout });
    assert.equal(checked.code, 3);
    assert.match(checked.stderr, /rejected: bad or too few signatures/);
  });
});

/** A stolen controller: serves a correctly signed manifest at `version` for web-1 and records every upload. */
async function stolenController(version: number) {
  const uploads: string[] = [];
  const current = manifest('web-1', version, { path: storePath(2) });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/hosts/web-1/manifest') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(current);
      return;
    }
    if (req.method === 'GET') {
      // The fleet status publish reads for its notes: this controller has none to give.
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      uploads.push(body);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    uploads,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

describe('version exhaustion through publish', () => {
  it('test_version_exhaustion: a controller claiming version 9007199254740000 gets no signature', async () => {
    const stolen = await stolenController(9_007_199_254_740_000);
    try {
      const state = join(await tempDir('publish-state'), 'versions.json');
      const result = await publish(stolen.url, keys.release, ['--state', state]);
      assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /web-1: .*9007199254740000/);
      assert.deepEqual(stolen.uploads, [], 'nothing was signed and sent');
    } finally {
      await stolen.close();
    }
  });
  it('a jump far past what this publisher last signed is refused, and --max-jump allows it knowingly', async () => {
    const state = join(await tempDir('publish-state'), 'versions.json');
    const honest = await publish(controller.url, keys.release, ['--state', state]);
    assert.equal(honest.code, 0, honest.stderr);
    assert.match(await readFile(state, 'utf8'), /"web-1"/);
    const stolen = await stolenController(500_000);
    try {
      const refused = await publish(stolen.url, keys.release, ['--state', state]);
      assert.equal(refused.code, 3, refused.stdout);
      assert.match(refused.stderr, /last signed version 1 for web-1.*500000/);
      assert.deepEqual(stolen.uploads, []);
      const allowed = await publish(stolen.url, keys.release, ['--state', state, '--max-jump', '1000000']);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(stolen.uploads.length, 1);
    } finally {
      await stolen.close();
    }
  });
  it('the record is kept beside the first key when no --state is given', async () => {
    const dir = await tempDir('beside');
    const key = (await writeKeyFiles(dir, RELEASE)).secret;
    const fresh = await startControllerProcess();
    try {
      assert.equal((await publish(fresh.url, key)).code, 0);
      assert.match(await readFile(`${key}.versions.json`, 'utf8'), /"web-1": 1/);
    } finally {
      await fresh.stop();
    }
  });
});
