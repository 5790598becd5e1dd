import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { controllerPerFile, http, post, removeDir, signedManifest, startController, storePath } from './fixtures.js';

const running = controllerPerFile();

const manifestUrl = (host: string, query = '') => `${running().url}/v1/hosts/${host}/manifest${query}`;

/** Waits until the controller holds `n` long-polls (the request has really arrived). */
async function untilWaiters(n: number): Promise<void> {
  while (running().controller.waiters() !== n) await sleep(5);
}

describe('long-poll (?wait=)', () => {
  it('answers a waiting agent with the new manifest within one second of a publish', async () => {
    const first = signedManifest('lp-1', 1, storePath(1));
    assert.equal((await post(`${running().url}/v1/manifests`, first)).status, 201);
    const etag = (await http(manifestUrl('lp-1'))).headers['etag'] as string;
    const waiting = http(manifestUrl('lp-1', '?wait=30'), { headers: { 'if-none-match': etag } });
    await untilWaiters(1);
    const second = signedManifest('lp-1', 2, storePath(2));
    const publishedAt = performance.now();
    assert.equal((await post(`${running().url}/v1/manifests`, second)).status, 201);
    const answer = await waiting;
    const elapsed = performance.now() - publishedAt;
    assert.equal(answer.status, 200);
    assert.equal(answer.text, second);
    assert.notEqual(answer.headers['etag'], etag);
    assert.ok(elapsed < 1000, `answered ${Math.round(elapsed)} ms after the publish`);
  });
  it('answers a host that has no manifest yet with the first one published', async () => {
    const waiting = http(manifestUrl('lp-2', '?wait=30'));
    await untilWaiters(1);
    const first = signedManifest('lp-2', 1, storePath(3));
    assert.equal((await post(`${running().url}/v1/manifests`, first)).status, 201);
    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.equal(answer.text, first);
  });
  it('answers at once when the agent has an older ETag, without waiting', async () => {
    const answer = await http(manifestUrl('lp-2', '?wait=30'), { headers: { 'if-none-match': '"older"' } });
    assert.equal(answer.status, 200);
    assert.equal(running().controller.waiters(), 0);
  });
  it('is not woken by a publish for another host, and answers 304 when the wait ends', async () => {
    const etag = (await http(manifestUrl('lp-1'))).headers['etag'] as string;
    const waiting = http(manifestUrl('lp-1', '?wait=1'), { headers: { 'if-none-match': etag } });
    await untilWaiters(1);
    assert.equal((await post(`${running().url}/v1/manifests`, signedManifest('lp-3', 1, storePath(4)))).status, 201);
    const answer = await waiting;
    assert.equal(answer.status, 304);
    assert.equal(answer.headers['etag'], etag);
  });
  it('answers 404 when the wait ends and the host still has no manifest', async () => {
    const answer = await http(manifestUrl('lp-none', '?wait=1'));
    assert.equal(answer.status, 404);
  });
  it('refuses a wait that is not a whole number of seconds up to 60 with 400', async () => {
    for (const wait of ['abc', '-1', '61', '1.5', '']) {
      assert.equal((await http(manifestUrl('lp-1', `?wait=${wait}`))).status, 400, `wait=${wait}`);
    }
  });
  it('releases the waiter when the client disconnects', async () => {
    const etag = (await http(manifestUrl('lp-1'))).headers['etag'] as string;
    const abort = new AbortController();
    const waiting = http(manifestUrl('lp-1', '?wait=60'), { headers: { 'if-none-match': etag }, signal: abort.signal }).catch(
      (error: unknown) => error,
    );
    await untilWaiters(1);
    abort.abort();
    await waiting;
    await untilWaiters(0);
    assert.equal(running().controller.waiters(), 0);
  });
  it('answers every held long-poll when the controller shuts down', async () => {
    const other = await startController();
    const waiting = http(`${other.url}/v1/hosts/any/manifest?wait=60`);
    while (other.controller.waiters() !== 1) await sleep(5);
    await other.stop();
    assert.equal((await waiting).status, 404);
    await removeDir(other.stateDir);
  });
});
