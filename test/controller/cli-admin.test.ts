// The controller CLI's admin commands on a real controller: tokens, hosts, serve, check-config (publish and status: cli.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '../../shared/keys.js';
import {
  closeHttp,
  http,
  post,
  publicText,
  RELEASE,
  removeDir,
  startController,
  tempDir,
  type Running,
} from './fixtures.js';
import { cli, ROOT } from './cli-harness.js';

let running: Running;
let work: string;

before(async () => {
  running = await startController();
  work = await tempDir('cli');
});
after(async () => {
  await running.stop();
  await removeDir(running.stateDir);
  await removeDir(work);
  await closeHttp();
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
