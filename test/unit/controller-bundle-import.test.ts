// The site side on loopback and temp dirs: where imported manifests and reports go (state directory or the
// running server's API), and the controller's read-only /nix-cache/ with real HTTP exchanges.
import assert from 'node:assert/strict';
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { openIntake, ServerRunningError } from '../../controller/bundle/intake.js';
import { LockBusyError } from '../../controller/storage/file-lock.js';
import { createController } from '../../controller/http/server.js';
import { createFileStore } from '../../controller/storage/store.js';
import { generateKeyPair } from '../../shared/keys.js';
import { silentLogger } from '../../shared/log.js';
import {
  closeHttp,
  http,
  OTHER_RELEASE,
  publicText,
  RELEASE,
  removeDir,
  report,
  signedManifest,
  signedReport,
  startController,
  storePath,
  tempDir,
  testConfig,
  type KeyPair,
} from '../controller/fixtures.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
  await closeHttp();
});

async function stateDir(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  dirs.push(dir);
  return dir;
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const keys = [RELEASE.public];

async function enrolledAgent(store: ReturnType<typeof createFileStore>, host: string): Promise<KeyPair> {
  const pair = generateKeyPair(`${host}-agent`);
  const now = new Date().toISOString();
  await store.writeHost({
    host,
    status: 'enrolled',
    publicKey: publicText(pair),
    requestedAt: now,
    enrolledAt: now,
    enrolledVia: 'approval',
    revokedAt: null,
    revokedKeys: [],
  });
  return pair;
}

async function outcomes(steps: Array<() => Promise<{ kind: string }>>): Promise<string[]> {
  const out: string[] = [];
  for (const step of steps) out.push((await step()).kind);
  return out;
}

describe('imports into a state directory with no server running', () => {
  it('take the server lock, apply the API rules to manifests and reports, and release it', async () => {
    const dir = await stateDir('intake-direct');
    const store = createFileStore(dir, { maxLogBytes: 1024 * 1024, keepRotated: 1 });
    const agent = await enrolledAgent(store, 'ship-1');
    const intake = await openIntake({ store, trustedKeys: keys, threshold: 1, controllerUrl: null, now: () => new Date() });
    assert.equal(intake.mode, 'direct');
    await assert.rejects(createController({ config: testConfig(dir), store, logger: silentLogger() }), LockBusyError, 'no server starts meanwhile');
    const v1 = signedManifest('ship-1', 1, storePath(1));
    const first = report('ship-1', 1);
    assert.deepEqual(
      await outcomes([
        () => intake.publishManifest(bytes(v1)),
        () => intake.publishManifest(bytes(v1)),
        () => intake.publishManifest(bytes(signedManifest('ship-1', 1, storePath(2)))),
        () => intake.publishManifest(bytes(signedManifest('ship-1', 2, storePath(2), { keys: [OTHER_RELEASE.secret] }))),
        () => intake.submitReport('ship-1', bytes(signedReport(agent.secret, first))),
        () => intake.submitReport('ship-1', bytes(signedReport(agent.secret, first))),
        () => intake.submitReport('ship-1', bytes(signedReport(generateKeyPair('rogue').secret, report('ship-1', 2)))),
        () => intake.submitReport('ship-2', bytes(signedReport(agent.secret, report('ship-2', 1)))),
      ]),
      ['stored', 'same', 'refused', 'refused', 'stored', 'duplicate', 'refused', 'refused'],
    );
    await intake.close();
    assert.deepEqual(await store.readManifest('ship-1'), bytes(v1));
    assert.equal((await store.readReports('ship-1')).entries.length, 1);
    assert.equal((await store.readHostStatus('ship-1'))?.lastSeq, 1);
    const running = await createController({ config: testConfig(dir), store, logger: silentLogger() });
    await running.close();
  });

  it(
    'give files they create to the owner of a state directory run as root, so the server can append to them',
    { skip: typeof process.getuid !== 'function' || process.getuid() !== 0 ? 'needs root to chown' : false },
    async () => {
      const dir = await stateDir('intake-owner');
      await chown(dir, 4242, 4242);
      const store = createFileStore(dir, { maxLogBytes: 1024 * 1024, keepRotated: 1 }, { owner: { uid: 4242, gid: 4242 } });
      const agent = await enrolledAgent(store, 'ship-1');
      const intake = await openIntake({ store, trustedKeys: keys, threshold: 1, controllerUrl: null, now: () => new Date() });
      assert.equal((await intake.submitReport('ship-1', bytes(signedReport(agent.secret, report('ship-1', 1))))).kind, 'stored');
      await intake.close();
      for (const path of ['reports', 'reports/ship-1.log', 'status', 'status/ship-1.json', 'manifests']) {
        assert.equal((await stat(join(dir, path))).uid, 4242, path);
      }
    },
  );
});

describe('imports into a state directory a server holds', () => {
  it('go through its API, so its manifests and long-polls learn of them at once', async () => {
    const running = await startController({ stateDir: await stateDir('intake-server') });
    try {
      const agent = await enrolledAgent(running.store, 'ship-1');
      await assert.rejects(
        openIntake({ store: running.store, trustedKeys: keys, threshold: 1, controllerUrl: null, now: () => new Date() }),
        ServerRunningError,
      );
      const intake = await openIntake({ store: running.store, trustedKeys: keys, threshold: 1, controllerUrl: running.url, now: () => new Date() });
      assert.equal(intake.mode, 'server');
      const v1 = signedManifest('ship-1', 1, storePath(1));
      const first = report('ship-1', 1);
      assert.deepEqual(
        await outcomes([
          () => intake.publishManifest(bytes(v1)),
          () => intake.publishManifest(bytes(v1)),
          () => intake.publishManifest(bytes(signedManifest('ship-1', 1, storePath(2)))),
          () => intake.submitReport('ship-1', bytes(signedReport(agent.secret, first))),
          () => intake.submitReport('ship-1', bytes(signedReport(agent.secret, first))),
          () => intake.submitReport('ship-1', bytes(signedReport(generateKeyPair('rogue').secret, report('ship-1', 2)))),
        ]),
        ['stored', 'same', 'refused', 'stored', 'duplicate', 'refused'],
      );
      await intake.close();
      assert.equal((await http(`${running.url}/v1/hosts/ship-1/manifest`)).text, v1);
      assert.equal((await running.controller.status()).hosts.find((h) => h.host === 'ship-1')?.phase, 'idle');
    } finally {
      await running.stop();
    }
  });
});

describe('GET and HEAD /nix-cache/', () => {
  const narinfo = `${'a'.repeat(32)}.narinfo`;
  const nar = `nar/${'1'.repeat(52)}.nar.xz`;

  it('serves only the cache files, with their content types and sizes, and streams NARs', async () => {
    const dir = await stateDir('nix-cache');
    const cacheDir = join(dir, 'served-cache');
    await mkdir(join(cacheDir, 'nar'), { recursive: true });
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    await writeFile(join(cacheDir, narinfo), 'StorePath: x\n');
    await writeFile(join(cacheDir, nar), big);
    await writeFile(join(dir, 'secret.json'), '{}');
    const running = await startController({ stateDir: dir, config: { cacheDir } });
    try {
      const empty = await http(`${running.url}/nix-cache/nix-cache-info`);
      assert.deepEqual([empty.status, empty.headers['content-type'], empty.text], [200, 'text/x-nix-cache-info', 'StoreDir: /nix/store\n']);
      const info = await http(`${running.url}/nix-cache/${narinfo}`);
      assert.deepEqual([info.status, info.headers['content-type'], info.text], [200, 'text/x-nix-narinfo', 'StorePath: x\n']);
      const file = await request(`${running.url}/nix-cache/${nar}`);
      assert.deepEqual([file.statusCode, file.headers['content-type'], file.headers['content-length']], [200, 'application/x-nix-nar', String(big.length)]);
      assert.ok(Buffer.from(await file.body.arrayBuffer()).equals(big));
      const head = await request(`${running.url}/nix-cache/${nar}`, { method: 'HEAD' });
      assert.deepEqual([head.statusCode, head.headers['content-length'], (await head.body.text()).length], [200, String(big.length), 0]);
      const refused = [
        `/nix-cache/${'b'.repeat(32)}.narinfo`,
        '/nix-cache/%2e%2e/secret.json',
        '/nix-cache/..%2fsecret.json',
        '/nix-cache/nar/',
        `/nix-cache/nar/${'1'.repeat(52)}.nar.xz/x`,
        '/nix-cache/log/x',
      ];
      for (const path of refused) assert.equal((await http(`${running.url}${path}`)).status, 404, path);
      assert.equal((await http(`${running.url}/nix-cache/nix-cache-info`, { method: 'POST', body: '' })).status, 405);
    } finally {
      await running.stop();
    }
  });
});
