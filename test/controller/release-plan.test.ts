// `publish --plan --cache URL`: a real binary cache (`nix copy --to file://` of lab systems built with nix-build)
// served over HTTP on 127.0.0.1; sizes must equal the cache's own narinfo FileSize sums over the new paths.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPart, parseNarInfo } from '../../controller/bundle/narinfo.js';
import { runCommand } from '../../shared/command.js';
import { writeKeyPair } from '../../shared/keys.js';
import { runProgram } from '../cli/run-cli.js';
import { copyArgs, isCachePath } from '../lab/cache.js';
import { buildSystemPath } from '../lab/systems.js';
import { closeHttp, enrollWithToken, http, post, RELEASE, removeDir, report, signedManifest, signedReport, startController, tempDir, type Running } from './fixtures.js';

/** Serves a file binary cache read-only, as any static HTTP server would. */
function serveCache(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!isCachePath(path)) return void res.writeHead(404).end();
    const stream = createReadStream(join(dir, path));
    stream.once('error', () => res.writeHead(404).end());
    stream.once('open', () => {
      res.writeHead(200);
      stream.pipe(res);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

async function closure(path: string): Promise<string[]> {
  const { stdout } = await runCommand({ argv: ['nix-store', '--query', '--requisites', path], timeoutMs: 60_000 });
  return stdout.trim().split('\n');
}

describe('publish --plan --cache (real nix store, real binary cache over HTTP)', () => {
  let dir: string;
  let cacheDir: string;
  let running: Running;
  let cache: { server: Server; url: string };
  let keyFile: string;
  let releaseFile: string;
  const paths = { old: '', newKernel: '', sameKernel: '' };

  before(async () => {
    dir = await tempDir('release-plan');
    cacheDir = join(dir, 'cache');
    await mkdir(cacheDir);
    paths.old = await buildSystemPath('good', 'plan-old');
    paths.newKernel = await buildSystemPath('good', 'plan-new-kernel', { kernelVersion: '6.2.0-plan' });
    paths.sameKernel = await buildSystemPath('good', 'plan-same-kernel');
    await runCommand({ argv: copyArgs([paths.old, paths.newKernel, paths.sameKernel], cacheDir), timeoutMs: 600_000 });
    cache = await serveCache(cacheDir);
    running = await startController();
    // web-1 and web-3 run the old system (the controller's status says so); web-2 has never reported.
    for (const host of ['web-1', 'web-3']) {
      const pair = await enrollWithToken(running, host);
      assert.equal((await post(`${running.url}/v1/manifests`, signedManifest(host, 1, paths.old))).status, 201);
      const body = report(host, 1, { manifestVersion: 1, phase: 'confirmed', outcome: 'success', currentSystem: paths.old, desiredPath: paths.old });
      assert.equal((await post(`${running.url}/v1/hosts/${host}/reports`, signedReport(pair.secret, body))).status, 202);
    }
    keyFile = (await writeKeyPair(dir, RELEASE)).secretPath;
    releaseFile = join(dir, 'release.json');
    await writeFile(releaseFile, JSON.stringify({ hosts: { 'web-1': paths.newKernel, 'web-2': paths.newKernel, 'web-3': paths.sameKernel } }));
  });
  after(async () => {
    await running?.stop();
    await new Promise((resolve) => cache?.server.close(resolve));
    await closeHttp();
    await removeDir(dir);
  });

  /** The oracle: FileSize of each narinfo in the cache directory for the new closure minus the old (from nix-store -qR). */
  async function expectedBytes(newPath: string, oldPath: string | null): Promise<number> {
    const old = new Set(oldPath === null ? [] : await closure(oldPath));
    let sum = 0;
    for (const path of await closure(newPath)) {
      if (old.has(path)) continue;
      const info = parseNarInfo(await readFile(join(cacheDir, `${hashPart(path)}.narinfo`), 'utf8'));
      assert.ok(info.fileSize !== null, 'nix copy writes FileSize');
      sum += info.fileSize;
    }
    return sum;
  }

  const args = () => ['publish', '--controller', running.url, '--key', keyFile, '--state', join(dir, 'versions.json'), '--release', releaseFile, '--plan', '--cache', cache.url];

  it('refuses off a terminal without --yes (exit 2) and publishes nothing', async () => {
    const run = await runProgram('tsdeploy-controller', args());
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /pass --yes/);
    assert.match(run.stdout, /web-1: .* -> /, 'the plan is shown before the refusal');
    assert.equal((await http(`${running.url}/v1/hosts/web-2/manifest`)).status, 404);
  });

  it('reports old -> new, the reboot verdict and download sizes equal to the narinfo FileSize sums, then publishes', async () => {
    const run = await runProgram('tsdeploy-controller', [...args(), '--yes', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      plan: { hosts: Array<{ host: string; oldPath: string | null; newPath: string; reboot: string; download: { bytes: number; missing: string[] } }>; totalBytes: number };
      hosts: Array<{ host: string; result: string }>;
    };
    const byHost = new Map(out.plan.hosts.map((h) => [h.host, h]));
    assert.deepEqual(byHost.get('web-1')?.oldPath, paths.old);
    assert.equal(byHost.get('web-1')?.newPath, paths.newKernel);
    assert.equal(byHost.get('web-1')?.reboot, 'yes', 'another kernel and initrd');
    assert.equal(byHost.get('web-3')?.reboot, 'no', 'the same kernel and initrd');
    assert.equal(byHost.get('web-2')?.oldPath, null);
    assert.equal(byHost.get('web-2')?.reboot, 'unknown', 'no old system to compare with');
    const expected = {
      'web-1': await expectedBytes(paths.newKernel, paths.old),
      'web-2': await expectedBytes(paths.newKernel, null),
      'web-3': await expectedBytes(paths.sameKernel, paths.old),
    };
    for (const [host, bytes] of Object.entries(expected)) {
      assert.equal(byHost.get(host)?.download.bytes, bytes, `${host}: download size`);
      assert.deepEqual(byHost.get(host)?.download.missing, []);
    }
    assert.ok(expected['web-3'] < (await expectedBytes(paths.sameKernel, null)), 'paths already in the old closure (the same kernel) are not counted');
    assert.equal(out.plan.totalBytes, expected['web-1'] + expected['web-2'] + expected['web-3']);
    assert.deepEqual(out.hosts.map((h) => h.result), ['published', 'published', 'published']);
  });

  it('prints one line per host and a total as text', async () => {
    await writeFile(releaseFile, JSON.stringify({ hosts: { 'web-2': paths.sameKernel } }));
    const run = await runProgram('tsdeploy-controller', [...args(), '--yes']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`web-2: ${paths.newKernel} -> ${paths.sameKernel}; reboot: (yes|unknown); download [0-9.]+ (B|KiB|MiB) in \\d+ path\\(s\\)`));
    assert.match(run.stdout, /total download: .* \(\d+ bytes\) for 1 host\(s\)/);
  });
});
