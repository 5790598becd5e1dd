import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeKeyPair } from '../../shared/keys.js';
import {
  closeHttp,
  http,
  OTHER_RELEASE,
  RELEASE,
  removeDir,
  startController,
  storePath,
  tempDir,
  type Running,
} from './fixtures.js';

import { cli, ROOT } from './cli-harness.js';

let running: Running;
let work: string;
let releaseKey: string;
let otherKey: string;

before(async () => {
  running = await startController();
  work = await tempDir('cli');
  releaseKey = (await writeKeyPair(join(work, 'keys'), RELEASE)).secretPath;
  otherKey = (await writeKeyPair(join(work, 'keys'), OTHER_RELEASE)).secretPath;
});
after(async () => {
  await running.stop();
  await removeDir(running.stateDir);
  await removeDir(work);
  await closeHttp();
});

const manifestVersion = async (host: string): Promise<number | null> => {
  const answer = await http(`${running.url}/v1/hosts/${host}/manifest`);
  if (answer.status === 404) return null;
  const envelope = JSON.parse(answer.text) as { payload: string };
  return (JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { version: number }).version;
};

describe('publish', () => {
  it('signs version 1 for a new host, uploads it and prints "none -> 1"', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--host', 'web-1', '--path', storePath(1)]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `web-1: none -> 1 ${storePath(1)}\n`);
    assert.equal(await manifestVersion('web-1'), 1);
  });
  it('prints "unchanged" and uploads nothing when the path is already desired', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--host', 'web-1', '--path', storePath(1)]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^web-1: unchanged \(version 1 already has/);
    assert.equal(await manifestVersion('web-1'), 1);
  });
  it('publishes the same path again as the next version with --force', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--host', 'web-1', '--path', storePath(1), '--force']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `web-1: 1 -> 2 ${storePath(1)}\n`);
  });
  it('publishes a release file with one signed manifest per host, bumping each version', async () => {
    const release = join(work, 'release.json');
    await writeFile(release, JSON.stringify({ hosts: { 'web-1': storePath(2), 'web-2': storePath(3), 'web-3': storePath(4) } }));
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--release', release]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, [`web-1: 2 -> 3 ${storePath(2)}`, `web-2: none -> 1 ${storePath(3)}`, `web-3: none -> 1 ${storePath(4)}`, ''].join('\n'));
  });
  it('prints JSON with --json', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--host', 'web-2', '--path', storePath(5), '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { hosts: [{ host: 'web-2', result: 'published', from: 1, version: 2, storePath: storePath(5) }] });
  });
  it('exits 3 with the reason on one line when the controller refuses the signature', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', otherKey, '--host', 'web-2', '--path', storePath(6)]);
    assert.equal(run.code, 3);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^web-2: refused \(HTTP 403\): bad or too few signatures.*\n(warning: web-2 has no enrolled agent.*\n)?$/);
  });
  it('refuses a release file with an invalid store path before uploading anything, in one line', async () => {
    const release = join(work, 'bad-release.json');
    await writeFile(release, JSON.stringify({ hosts: { 'web-1': storePath(9), 'web-2': '/tmp/not-a-store-path' } }));
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--release', release]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.match(run.stderr, /release file .*hosts\.web-2: not a Nix store path/);
    assert.equal(await manifestVersion('web-1'), 3);
  });
  it('exits 2 naming a missing option', async () => {
    const run = await cli(['publish', '--controller', running.url, '--key', releaseKey, '--host', 'web-1']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'tsdeploy-controller: missing required option --path\n');
  });
  it('exits 1 with one line when the controller cannot be reached', async () => {
    const gone = await startController();
    await gone.stop();
    await removeDir(gone.stateDir);
    const run = await cli(['publish', '--controller', gone.url, '--key', releaseKey, '--host', 'web-1', '--path', storePath(1)]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^tsdeploy-controller: cannot reach the controller at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\n$/);
  });
  it('refuses a secret key file that others can read', async () => {
    const loose = join(work, 'loose.secret');
    await writeFile(loose, await readFile(releaseKey));
    await chmod(loose, 0o644);
    const run = await cli(['publish', '--controller', running.url, '--key', loose, '--host', 'web-1', '--path', storePath(1)]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /chmod 600/);
  });
});

describe('status', () => {
  it('prints the fleet table', async () => {
    const run = await cli(['status', '--controller', running.url]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^HOST\s+STATE\s+ENROLLED\s+DESIRED/);
    assert.match(lines.find((l) => l.startsWith('web-1')) ?? '', /^web-1\s+never-seen\s+unknown\s+v3 /);
  });
  it('prints GET /v1/status as JSON with --json', async () => {
    const run = await cli(['status', '--controller', running.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const status = JSON.parse(run.stdout) as { hosts: Array<{ host: string; desired: { version: number } }> };
    assert.equal(status.hosts.find((h) => h.host === 'web-1')?.desired.version, 3);
  });
  it('ends quietly with exit 0 when the reader of --json --watch goes away (| head)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', 'status', '--controller', running.url, '--json', '--watch', '--interval', '50ms'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(child, 'close');
    await once(child.stdout, 'data');
    child.stdout.destroy(); // as head does after its lines: the next write meets a closed pipe (EPIPE)
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.equal(stderr, '');
  });
  it('exits 1 with one line when its output cannot be written (a full disk)', async () => {
    const full = await open('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', 'status', '--controller', running.url, '--json'], {
        cwd: ROOT,
        stdio: ['ignore', full.fd, 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, 1);
      assert.equal(stderr, 'tsdeploy-controller: cannot write to standard output: ENOSPC\n');
    } finally {
      await full.close();
    }
  });
  it('redraws with --watch until interrupted, then exits 0', async () => {
    const run = await cli(['status', '--controller', running.url, '--watch', '--interval', '100ms'], { untilStdout: /(HOST[\s\S]*){2}/ });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.split('\u001b[H\u001b[2J').length >= 3, 'at least two redraws');
  });
});

describe('export', () => {
  it('writes every manifest as v1/hosts/<host>/manifest, byte for byte what the controller serves', async () => {
    const out = join(work, 'export');
    const run = await cli(['export', '--state-dir', running.stateDir, '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    for (const host of ['web-1', 'web-2', 'web-3']) {
      const served = (await http(`${running.url}/v1/hosts/${host}/manifest`)).text;
      assert.equal(await readFile(join(out, 'v1', 'hosts', host, 'manifest'), 'utf8'), served);
    }
  });
});
