// Attacks on enrollment: token reuse, guessing and theft, revoked keys, and anonymous floods of pending requests.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  cli,
  closeHttp,
  errorOf,
  generateKeyPair,
  http,
  post,
  publicText,
  removeTempDirs,
  startControllerProcess,
  unchanged,
  type Answer,
  type ControllerProcess,
} from './harness.js';

let controller: ControllerProcess;
before(async () => {
  controller = await startControllerProcess();
});
after(async () => {
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

async function token(host: string, ttl = '1h', stateDir = controller.stateDir): Promise<string> {
  const result = await cli('controller', ['tokens', 'create', '--host', host, '--ttl', ttl, '--state-dir', stateDir, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return String((JSON.parse(result.stdout) as { token: string }).token);
}

const enroll = (body: Record<string, unknown>, url = controller.url): Promise<Answer> => post(`${url}/v1/enroll`, JSON.stringify(body));

async function refusedEnroll(body: Record<string, unknown>, status: number, message: RegExp): Promise<void> {
  const answer = await unchanged(controller.stateDir, () => enroll(body));
  assert.equal(answer.status, status, answer.text);
  assert.match(errorOf(answer), message);
}

describe('enrollment tokens', () => {
  it('test_token_reuse: a used token does not enroll a second key (403)', async () => {
    const secret = await token('web-1');
    assert.equal((await enroll({ host: 'web-1', publicKey: publicText(generateKeyPair('web-1-agent')), token: secret })).status, 201);
    await refusedEnroll({ host: 'web-1', publicKey: publicText(generateKeyPair('thief')), token: secret }, 409, /enrolled with another key/);
    assert.equal((await cli('controller', ['hosts', 'revoke', 'web-1', '--state-dir', controller.stateDir])).code, 0);
    await refusedEnroll({ host: 'web-1', publicKey: publicText(generateKeyPair('thief')), token: secret }, 403, /already used/);
  });
  it('test_token_guessing: random tokens are refused, every one, and nothing is written', async () => {
    for (let i = 0; i < 25; i += 1) {
      await refusedEnroll({ host: 'web-2', publicKey: publicText(generateKeyPair('guess')), token: randomBytes(24).toString('base64url') }, 403, /unknown enrollment token/);
    }
  });
  it("test_other_hosts_token: a token made for another host is refused", async () => {
    const secret = await token('web-3');
    await refusedEnroll({ host: 'web-4', publicKey: publicText(generateKeyPair('web-4-agent')), token: secret }, 403, /another host/);
  });
  it('test_expired_token: a token past its time is refused', async () => {
    const secret = await token('web-5', '1s');
    await sleep(1_500);
    await refusedEnroll({ host: 'web-5', publicKey: publicText(generateKeyPair('web-5-agent')), token: secret }, 403, /expired/);
  });
  it('a token with path or shell characters is refused as malformed (400)', async () => {
    await refusedEnroll({ host: 'web-6', publicKey: publicText(generateKeyPair('k')), token: '../../tokens/aaaaaaaaaaaaaaaaaa' }, 400, /token/);
  });
  it('a request with extra fields (e.g. a status) is refused (400)', async () => {
    await refusedEnroll({ host: 'web-6', publicKey: publicText(generateKeyPair('k')), status: 'enrolled' }, 400, /Unrecognized key/);
  });
  it('a request naming its host twice is refused (400): two readers would enroll two hosts', async () => {
    const key = publicText(generateKeyPair('k'));
    const answer = await unchanged(controller.stateDir, () => post(`${controller.url}/v1/enroll`, `{"host":"web-6","publicKey":"${key}","host":"web-1"}`));
    assert.equal(answer.status, 400, answer.text);
    assert.match(errorOf(answer), /duplicate key "host"/);
  });
  it('a public key that is no key is refused (400)', async () => {
    await refusedEnroll({ host: 'web-6', publicKey: 'web-6:not-a-key' }, 400, /publicKey/);
  });
});

describe('enrolled and revoked keys', () => {
  it('another key for an enrolled host is refused (409) without a token', async () => {
    assert.equal((await enroll({ host: 'web-10', publicKey: publicText(generateKeyPair('web-10-agent')), token: await token('web-10') })).status, 201);
    await refusedEnroll({ host: 'web-10', publicKey: publicText(generateKeyPair('impostor')) }, 409, /enrolled with another key/);
  });
  it('a revoked key never enrolls again, with or without a fresh token (403)', async () => {
    const agent = generateKeyPair('web-7-agent');
    assert.equal((await enroll({ host: 'web-7', publicKey: publicText(agent), token: await token('web-7') })).status, 201);
    const revoked = await cli('controller', ['hosts', 'revoke', 'web-7', '--state-dir', controller.stateDir]);
    assert.equal(revoked.code, 0, revoked.stderr);
    await refusedEnroll({ host: 'web-7', publicKey: publicText(agent) }, 403, /revoked/);
    await refusedEnroll({ host: 'web-7', publicKey: publicText(agent), token: await token('web-7') }, 403, /revoked/);
  });
  it("a pending request cannot be replaced by someone else's key (409)", async () => {
    assert.equal((await enroll({ host: 'web-8', publicKey: publicText(generateKeyPair('web-8-agent')) })).status, 202);
    await refusedEnroll({ host: 'web-8', publicKey: publicText(generateKeyPair('squatter')) }, 409, /another key is pending/);
  });
});

describe('anonymous enrollment floods', () => {
  const pendingFiles = async (stateDir: string) => (await readdir(join(stateDir, 'hosts'))).filter((name) => name.endsWith('.json')).length;

  it('caps pending requests (429 past the cap) and keeps them out of the hosts of /v1/status', async () => {
    const small = await startControllerProcess({ config: { enrollment: { maxPending: 5, perAddressPerMinute: 1000 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) statuses.push((await enroll({ host: `flood-${i}`, publicKey: publicText(generateKeyPair(`f${i}`)) }, small.url)).status);
      assert.deepEqual(statuses, [...Array(5).fill(202), ...Array(15).fill(429)]);
      assert.equal(await pendingFiles(small.stateDir), 5);
      const status = (await http(`${small.url}/v1/status`)).json();
      assert.deepEqual(status['hosts'], []);
      assert.equal(status['pendingEnrollments'], 5);
    } finally {
      await small.stop();
    }
  });
  it('limits anonymous requests per source address (429 with Retry-After)', async () => {
    const small = await startControllerProcess({ config: { enrollment: { maxPending: 100, perAddressPerMinute: 3 } } });
    try {
      const answers: Answer[] = [];
      for (let i = 0; i < 6; i += 1) answers.push(await enroll({ host: `rate-${i}`, publicKey: publicText(generateKeyPair(`r${i}`)) }, small.url));
      assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 202, 429, 429, 429]);
      assert.match(String(answers[3]?.headers['retry-after']), /^\d+$/);
      assert.match(errorOf(answers[3] as Answer), /too many enrollment requests/);
      assert.equal(await pendingFiles(small.stateDir), 3);
    } finally {
      await small.stop();
    }
  });
  it('expires pending requests, which frees their place under the cap', async () => {
    const small = await startControllerProcess({ config: { enrollment: { maxPending: 2, pendingTtlSeconds: 1, perAddressPerMinute: 1000 } } });
    try {
      for (const host of ['old-1', 'old-2']) assert.equal((await enroll({ host, publicKey: publicText(generateKeyPair(host)) }, small.url)).status, 202);
      assert.equal((await enroll({ host: 'new-0', publicKey: publicText(generateKeyPair('new-0')) }, small.url)).status, 429);
      await sleep(1_500);
      assert.equal((await enroll({ host: 'new-1', publicKey: publicText(generateKeyPair('new-1')) }, small.url)).status, 202);
      assert.equal(await pendingFiles(small.stateDir), 1, 'the expired requests were removed');
    } finally {
      await small.stop();
    }
  });
  it('a token still enrolls while the pending cap is reached', async () => {
    const small = await startControllerProcess({ config: { enrollment: { maxPending: 1, perAddressPerMinute: 1000 } } });
    try {
      assert.equal((await enroll({ host: 'p-1', publicKey: publicText(generateKeyPair('p-1')) }, small.url)).status, 202);
      assert.equal((await enroll({ host: 'p-2', publicKey: publicText(generateKeyPair('p-2')) }, small.url)).status, 429);
      const secret = await token('real-1', '1h', small.stateDir);
      assert.equal((await enroll({ host: 'real-1', publicKey: publicText(generateKeyPair('real-1')), token: secret }, small.url)).status, 201);
    } finally {
      await small.stop();
    }
  });
});
