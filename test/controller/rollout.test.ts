// Rollouts through a real controller on loopback: 10 hosts, canary 1 then waves of 3; held manifests are
// never served before their wave; halts on a rolled-back host; pause, resume, abort; a restart carries on.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { controlStoredRollout } from '../../controller/fleet/rollouts.js';
import { createRolloutStore } from '../../controller/storage/rollout-store.js';
import { closeHttp, enrollWithToken, http, post, report, signedManifest, signedReport, startController, storePath, type KeyPair, type Running } from './fixtures.js';

const HOSTS = Array.from({ length: 10 }, (_, i) => `web-${i}`);
const POLICY = { canary: 1, waves: 3, bakeSeconds: 60, deadlineSeconds: 3600, maxUnhealthy: 0 };

async function served(running: Running, host: string): Promise<number> {
  return (await http(`${running.url}/v1/hosts/${host}/manifest`)).status;
}

async function rolloutOf(running: Running): Promise<{ state: string; reason: string | null; waves: { releasedAt: string | null }[] }> {
  return (await http(`${running.url}/v1/rollouts/current`)).json()['rollout'] as never;
}

/** Waits (bounded) until the controller's asynchronous advance has done what `done` checks. */
async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

describe('rollouts on a real controller (canary 1, waves of 3, bake 60 s on an injected clock)', () => {
  let clock = Date.parse('2026-11-22T12:00:00Z');
  let running: Running;
  const keys = new Map<string, KeyPair>();
  const seqs = new Map<string, number>();
  after(async () => {
    await running?.stop();
    await closeHttp();
  });

  const say = async (host: string, outcome: 'success' | 'rolled-back', phase: 'confirmed' | 'rolled-back') => {
    const seq = (seqs.get(host) ?? 0) + 1;
    seqs.set(host, seq);
    const body = report(host, seq, { manifestVersion: 1, outcome, phase, time: new Date(clock).toISOString() });
    const answer = await post(`${running.url}/v1/hosts/${host}/reports`, signedReport(keys.get(host)?.secret ?? ({} as never), body));
    assert.ok(answer.status < 300, answer.text);
  };

  it('10 hosts, canary 1, waves of 3: holds later waves, advances only on confirmed health and bake time, halts on a rollback', async () => {
    running = await startController({ config: { rolloutTickSeconds: 1 }, now: () => new Date(clock) });
    for (const host of HOSTS) keys.set(host, await enrollWithToken(running, host));
    const manifests = HOSTS.map((host) => signedManifest(host, 1, storePath(1), { now: new Date(clock) }));
    const started = await post(`${running.url}/v1/rollouts`, JSON.stringify({ id: 'r1', policy: POLICY, manifests }));
    assert.equal(started.status, 201, started.text);
    await until('the canary is released', async () => (await served(running, 'web-0')) === 200);
    for (const host of HOSTS.slice(1)) assert.equal(await served(running, host), 404, `${host} must not see a held manifest`);

    clock += 10_000;
    await say('web-0', 'success', 'confirmed');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a tick passes: confirmed, not baked
    assert.equal(await served(running, 'web-1'), 404);

    clock += 60_000;
    await until('wave 1 is released after the bake time', async () => (await served(running, 'web-3')) === 200);
    for (const host of ['web-1', 'web-2']) assert.equal(await served(running, host), 200);
    assert.equal(await served(running, 'web-4'), 404);

    await say('web-1', 'success', 'confirmed');
    clock += 120_000;
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a tick passes: baked, but web-2 and web-3 unconfirmed
    assert.equal(await served(running, 'web-4'), 404, 'bake time alone never releases the next wave');
    assert.equal((await rolloutOf(running)).state, 'running');
    await say('web-2', 'rolled-back', 'rolled-back');
    await until('the rollout halts', async () => (await rolloutOf(running)).state === 'halted');
    assert.match((await rolloutOf(running)).reason ?? '', /web-2: rolled-back/);
    clock += 3_600_000;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const host of HOSTS.slice(4)) assert.equal(await served(running, host), 404, `${host} never receives the halted rollout`);
  });

  it('resume after a halt goes on; pause holds; abort releases nothing more and drops the held manifests', async () => {
    const store = createRolloutStore(running.stateDir);
    assert.equal((await controlStoredRollout(store, 'resume', new Date(clock)))?.state, 'running');
    await say('web-3', 'success', 'confirmed');
    await until('wave 2 is released (maxUnhealthy counted again after resume)', async () => (await rolloutOf(running)).state !== 'running' || (await served(running, 'web-4')) === 200);
    assert.equal((await controlStoredRollout(store, 'pause', new Date(clock)))?.state, 'paused');
    assert.equal((await controlStoredRollout(store, 'abort', new Date(clock)))?.state, 'aborted');
    assert.equal(await store.readHeld('web-9'), null, 'held manifests are dropped');
    clock += 3_600_000;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await served(running, 'web-9'), 404);
  });

  it('refuses a second rollout while one is active, and a malformed policy', async () => {
    const other = await startController({ config: { rolloutTickSeconds: 1 } });
    try {
      const bad = await post(`${other.url}/v1/rollouts`, JSON.stringify({ id: 'x', policy: { canary: 'many' }, manifests: [signedManifest('web-0', 1, storePath(1))] }));
      assert.equal(bad.status, 400);
      assert.match(bad.text, /rollout policy/);
      const first = await post(`${other.url}/v1/rollouts`, JSON.stringify({ id: 'a', policy: { canary: 1, waves: 1 }, manifests: [signedManifest('a-1', 1, storePath(1)), signedManifest('a-2', 1, storePath(1))] }));
      assert.equal(first.status, 201);
      const second = await post(`${other.url}/v1/rollouts`, JSON.stringify({ id: 'b', policy: {}, manifests: [signedManifest('b-1', 1, storePath(2))] }));
      assert.equal(second.status, 409);
      assert.match(second.text, /rollout a is running/);
    } finally {
      await other.stop();
    }
  });

  it('a restarted controller carries on from the stored rollout', async () => {
    const stateDir = running.stateDir;
    await running.stop();
    running = await startController({ stateDir, config: { rolloutTickSeconds: 1 }, now: () => new Date(clock) });
    assert.equal((await rolloutOf(running)).state, 'aborted');
    assert.equal(await served(running, 'web-1'), 200, 'released manifests are served after a restart');
  });
});
