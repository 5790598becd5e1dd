import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import {
  closeHttp,
  http,
  OTHER_RELEASE,
  post,
  publicText,
  RELEASE,
  removeDir,
  startController,
  storePath,
  tempDir,
  type Running,
} from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real tsdeploy-controller CLI as a child process. */
function cli(args: readonly string[], options: { untilStdout?: RegExp } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.untilStdout?.test(stdout) === true && !interrupted) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

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

describe('tokens and hosts (on the state directory)', () => {
  it('prints a one-time token that enrolls the host once', async () => {
    const run = await cli(['tokens', 'create', '--state-dir', running.stateDir, '--host', 'db-1', '--ttl', '10m']);
    assert.equal(run.code, 0, run.stderr);
    const token = run.stdout.trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const key = publicText(generateKeyPair('db-1-agent'));
    assert.equal((await post(`${running.url}/v1/enroll`, JSON.stringify({ host: 'db-1', publicKey: key, token }))).status, 201);
  });
  it('lists, approves and revokes hosts', async () => {
    const key = publicText(generateKeyPair('db-2-agent'));
    assert.equal((await post(`${running.url}/v1/enroll`, JSON.stringify({ host: 'db-2', publicKey: key }))).status, 202);
    const list = await cli(['hosts', 'list', '--state-dir', running.stateDir]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`db-1\\s+enrolled\\s+db-1-agent:`));
    assert.match(list.stdout, new RegExp(`db-2\\s+pending\\s+${key.replace(/[+/]/g, '\\$&')}`));
    const approve = await cli(['hosts', 'approve', 'db-2', '--key', key, '--state-dir', running.stateDir]);
    assert.equal(approve.code, 0, approve.stderr);
    assert.equal(approve.stdout, `db-2: enrolled (key ${key})\n`);
    assert.equal((await post(`${running.url}/v1/enroll`, JSON.stringify({ host: 'db-2', publicKey: key }))).status, 200);
    const revoke = await cli(['hosts', 'revoke', 'db-2', '--state-dir', running.stateDir]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const json = await cli(['hosts', 'list', '--json', '--state-dir', running.stateDir]);
    const hosts = (JSON.parse(json.stdout) as { hosts: Array<{ host: string; status: string }> }).hosts;
    assert.equal(hosts.find((h) => h.host === 'db-2')?.status, 'revoked');
  });
  it('says in one line what is wrong when approving a host that never asked', async () => {
    const run = await cli(['hosts', 'approve', 'nobody', '--state-dir', running.stateDir]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'tsdeploy-controller: no enrollment request from nobody; to enroll a key carried over by hand, add --key NAME:BASE64\n',
    );
  });
  it('re-enrolls a revoked air-gapped host with a new key given with --key --force, recorded in its history', async () => {
    const first = publicText(generateKeyPair('vault-1-agent'));
    const second = publicText(generateKeyPair('vault-1-agent'));
    const admin = (...args: string[]) => cli([...args, '--state-dir', running.stateDir]);
    assert.equal((await admin('hosts', 'approve', 'vault-1', '--key', first)).code, 0);
    assert.equal((await admin('hosts', 'revoke', 'vault-1')).code, 0);
    const plain = await admin('hosts', 'approve', 'vault-1', '--key', second);
    assert.equal(plain.code, 1);
    assert.equal(
      plain.stderr,
      'tsdeploy-controller: vault-1 is revoked; its agent must ask again with a new key, or enroll a new key carried over by hand: hosts approve vault-1 --key NAME:BASE64 --force\n',
    );
    const bare = await admin('hosts', 'approve', 'vault-1', '--force');
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /--force needs --key NAME:BASE64/);
    const again = await admin('hosts', 'approve', 'vault-1', '--key', first, '--force');
    assert.equal(again.code, 3, 'a revoked key never enrolls again');
    assert.match(again.stderr, /was revoked for vault-1 and can never enroll again: make a new key on the host/);
    const forced = await admin('hosts', 'approve', 'vault-1', '--key', second, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, `vault-1: re-enrolled (key ${second}); its 1 revoked key(s) stay refused\n`);
    const list = await admin('hosts', 'list', '--json');
    const record = (JSON.parse(list.stdout) as { hosts: Array<{ host: string; status: string; publicKey: string; history?: Array<{ event: string; publicKey: string; via: string }> }> }).hosts.find(
      (h) => h.host === 'vault-1',
    );
    assert.deepEqual([record?.status, record?.publicKey], ['enrolled', second]);
    assert.deepEqual(
      record?.history?.map((event) => `${event.event} ${event.via}`),
      ['approved hosts approve --key', 'revoked hosts revoke', 're-enrolled hosts approve --key --force'],
    );
    assert.equal((await post(`${running.url}/v1/enroll`, JSON.stringify({ host: 'vault-1', publicKey: second }))).status, 200, 'the running controller takes the new key');
    assert.equal((await post(`${running.url}/v1/enroll`, JSON.stringify({ host: 'vault-1', publicKey: first }))).status, 403, 'and still refuses the revoked one');
  });
  it('refuses a state directory that does not exist', async () => {
    const run = await cli(['tokens', 'create', '--host', 'x', '--state-dir', join(work, 'missing')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no controller state directory at/);
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

describe('serve', () => {
  it('logs the bound address, refuses a second server on the same state directory, and exits 0 on SIGTERM', async () => {
    const config = join(work, 'serve.json');
    const stateDir = join(work, 'serve-state');
    await writeFile(config, JSON.stringify({ trustedReleaseKeys: [publicText(RELEASE)], listen: '127.0.0.1:8080', stateDir: '/nonexistent' }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', 'serve', '--config', config, '--state-dir', stateDir, '--listen', '127.0.0.1:0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const listening = await new Promise<{ address: string; port: number }>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line !== undefined) resolve(JSON.parse(line) as { address: string; port: number });
      });
    });
    assert.equal(listening.address, '127.0.0.1');
    assert.equal((await http(`http://127.0.0.1:${listening.port}/healthz`)).status, 200);
    const second = await cli(['serve', '--config', config, '--state-dir', stateDir, '--listen', '127.0.0.1:0']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /controller\.lock is held by process \d+/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

describe('check-config and usage', () => {
  it('accepts a valid config and lists every problem of an invalid one', async () => {
    const good = join(work, 'good.json');
    await writeFile(good, JSON.stringify({ trustedReleaseKeys: [publicText(RELEASE)] }));
    const ok = await cli(['check-config', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok \(listen 127\.0\.0\.1:8080/);
    const bad = join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ trustedReleaseKeys: [], listen: 'x', port: 1 }));
    const run = await cli(['check-config', bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /invalid config\n  - .*\n  - .*\n/);
  });
  it('exits 2 for an unknown command', async () => {
    const run = await cli(['frobnicate']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'tsdeploy-controller: unknown command "frobnicate"; run tsdeploy-controller --help\n');
  });
});
