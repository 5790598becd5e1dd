// `status` on a real controller on loopback: the fleet table, then the current rollout's waves (plain lines off a
// terminal) and `--json` with a `rollout` field; with a readToken, `--read-token-file` for status and rollout status.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { ReadTokenFileError } from '../../controller/config.js';
import { writeKeyPair } from '../../shared/keys.js';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProgram } from '../cli/run-cli.js';
import { closeHttp, enrollWithToken, http, post, RELEASE, removeDir, report, signedManifest, signedReport, startController, storePath, tempDir, type Running } from './fixtures.js';

const HOSTS = ['web-0', 'web-1', 'web-2', 'web-3'];
const TOKEN = 'status-read-token-0123';

/** Waits (bounded) until `done` holds. */
async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** Enrolls HOSTS, starts rollout r1 (canary web-0, then one wave of three) and has the canary confirm. */
async function startRollout(running: Running, headers: Record<string, string> = {}): Promise<void> {
  const keys = new Map<string, Awaited<ReturnType<typeof enrollWithToken>>>();
  for (const host of HOSTS) keys.set(host, await enrollWithToken(running, host));
  const manifests = HOSTS.map((host) => signedManifest(host, 1, storePath(1)));
  const policy = { canary: ['web-0'], waves: 3, bakeSeconds: 3600 };
  const started = await post(`${running.url}/v1/rollouts`, JSON.stringify({ id: 'r1', policy, manifests }));
  assert.equal(started.status, 201, started.text);
  await until('the canary is released', async () => (await http(`${running.url}/v1/hosts/web-0/manifest`)).status === 200);
  const confirmed = report('web-0', 1, { manifestVersion: 1, phase: 'confirmed', outcome: 'success', currentSystem: storePath(1) });
  assert.equal((await post(`${running.url}/v1/hosts/web-0/reports`, signedReport(keys.get('web-0')?.secret ?? ({} as never), confirmed))).status, 202);
  await until('the canary counts as confirmed', async () => {
    const body = (await http(`${running.url}/v1/rollouts/current`, { headers })).json() as { progress: { confirmed: string[] } | null };
    return body.progress?.confirmed.includes('web-0') === true;
  });
}

after(closeHttp);

describe('status with a rollout (no read token)', () => {
  let running: Running;
  before(async () => {
    running = await startController({ config: { rolloutTickSeconds: 1 } });
  });
  after(async () => {
    await running.stop();
    await removeDir(running.stateDir);
  });

  it('prints the fleet table alone, and "rollout": null in --json, when there is no rollout', async () => {
    assert.equal((await post(`${running.url}/v1/manifests`, signedManifest('db-1', 1, storePath(7)))).status, 201);
    const text = await runProgram('tsdeploy-controller', ['status', '--controller', running.url]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /rollout|canary/);
    const json = await runProgram('tsdeploy-controller', ['status', '--controller', running.url, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['pendingEnrollments', 'hosts', 'rollout']);
    assert.equal(body['rollout'], null);
  });

  it("prints each wave's progress as plain lines under the table when stdout is not a terminal", async () => {
    await startRollout(running);
    const run = await runProgram('tsdeploy-controller', ['status', '--controller', running.url]);
    assert.equal(run.code, 0, run.stderr);
    const [table, waves] = run.stdout.split('\n\n');
    assert.match(table ?? '', /^HOST\s+STATE/);
    assert.match(table ?? '', /\nweb-0\s+in-sync/);
    assert.equal(waves, 'rollout r1: running\n  canary   1/1 confirmed, out; pending -\n  wave 1   0/3 confirmed, held\n');
    assert.doesNotMatch(run.stdout, /\[[#.]+\]|\u001b/, 'no progress bar off a terminal');
  });

  it('adds the rollout and its progress to --json, keeping the fleet fields', async () => {
    const run = await runProgram('tsdeploy-controller', ['status', '--controller', running.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(run.stdout) as { pendingEnrollments: number; hosts: Array<{ host: string }>; rollout: { rollout: { id: string; state: string }; progress: { index: number; confirmed: string[] } } };
    assert.equal(body.pendingEnrollments, 0);
    assert.deepEqual(body.hosts.map((h) => h.host).sort(), ['db-1', ...HOSTS]);
    assert.deepEqual([body.rollout.rollout.id, body.rollout.rollout.state, body.rollout.progress.index, body.rollout.progress.confirmed], ['r1', 'running', 0, ['web-0']]);
  });

  it('prints the same waves from `rollout status`, one line each', async () => {
    const run = await runProgram('tsdeploy-controller', ['rollout', 'status', '--controller', running.url]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'rollout r1: running\n  canary   1/1 confirmed, out; pending -\n  wave 1   0/3 confirmed, held\n');
  });
});

it('refuses to start a controller whose readTokenFile is missing, naming the file (the read views never open up)', async () => {
  const dir = await tempDir('status-token-missing');
  try {
    await assert.rejects(startController({ stateDir: dir, config: { readTokenFile: join(dir, 'nope') } }), (error: unknown) => {
      assert.ok(error instanceof ReadTokenFileError);
      assert.equal(error.message, `read token file ${join(dir, 'nope')}: cannot read: ENOENT`);
      return true;
    });
  } finally {
    await removeDir(dir);
  }
});

describe('status and rollout status against a controller with a readTokenFile', () => {
  let running: Running;
  let work: string;
  before(async () => {
    work = await tempDir('status-token');
    await writeFile(join(work, 'read-token'), `${TOKEN}\n`, { mode: 0o600 });
    running = await startController({ config: { rolloutTickSeconds: 1, readTokenFile: join(work, 'read-token') } });
    await startRollout(running, { authorization: `Bearer ${TOKEN}` });
  });
  after(async () => {
    await running.stop();
    await removeDir(running.stateDir);
    await removeDir(work);
  });

  it('answers GET /v1/status and /v1/rollouts/current with 401 without the token, and 200 with it', async () => {
    for (const path of ['/v1/status', '/v1/rollouts/current', '/dashboard', '/metrics']) {
      const refused = await http(`${running.url}${path}`);
      assert.equal(refused.status, 401, path);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
      assert.equal((await http(`${running.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, path);
    }
    assert.equal((await http(`${running.url}/v1/status?token=${TOKEN}`)).status, 200);
    assert.equal((await http(`${running.url}/v1/status`, { headers: { authorization: 'Bearer wrong-token-0123456' } })).status, 401);
  });

  it('leaves the agent endpoints open: manifests and health need no read token', async () => {
    assert.equal((await http(`${running.url}/v1/hosts/web-0/manifest`)).status, 200);
    assert.equal((await http(`${running.url}/healthz`)).status, 200);
  });

  it('exits 1 with one line naming --read-token-file when status is run without the token', async () => {
    const run = await runProgram('tsdeploy-controller', ['status', '--controller', running.url]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^tsdeploy-controller: unexpected answer from http:\/\/127\.0\.0\.1:\d+: GET \/v1\/status: a read token is required .*--read-token-file FILE\)\n$/);
  });

  it('prints the table and the waves with --read-token-file, for status and rollout status', async () => {
    const status = await runProgram('tsdeploy-controller', ['status', '--controller', running.url, '--read-token-file', join(work, 'read-token')]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^HOST\s+STATE[\s\S]*\n\nrollout r1: running\n {2}canary {3}1\/1 confirmed/);
    const rollout = await runProgram('tsdeploy-controller', ['rollout', 'status', '--json', '--controller', running.url, '--read-token-file', join(work, 'read-token')]);
    assert.equal(rollout.code, 0, rollout.stderr);
    assert.equal((JSON.parse(rollout.stdout) as { rollout: { id: string } }).rollout.id, 'r1');
  });

  it('refuses a read token file that holds no usable token, in one line', async () => {
    await writeFile(join(work, 'short'), 'short\n');
    const run = await runProgram('tsdeploy-controller', ['status', '--controller', running.url, '--read-token-file', join(work, 'short')]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `tsdeploy-controller: read token file ${join(work, 'short')}: must hold one token of 16 to 256 characters\n`);
  });

  it("lets publish read the fleet for its notes with --read-token-file (without it, the notes are left out)", async () => {
    const key = (await writeKeyPair(join(work, 'keys'), RELEASE)).secretPath;
    const publish = (host: string, ...extra: string[]) =>
      runProgram('tsdeploy-controller', ['publish', '--controller', running.url, '--key', key, '--state', join(work, 'v.json'), '--host', host, '--path', storePath(8), ...extra]);
    const without = await publish('lonely-1');
    assert.equal(without.code, 0, without.stderr);
    assert.doesNotMatch(without.stderr, /no enrolled agent/);
    const withToken = await publish('lonely-2', '--read-token-file', join(work, 'read-token'));
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.match(withToken.stderr, /^warning: lonely-2 has no enrolled agent/);
  });
});
