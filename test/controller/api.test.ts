import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { approveHost, createToken, revokeHost } from '../../controller/fleet/hosts-and-tokens.js';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { generateKeyPair } from '../../shared/keys.js';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import {
  controllerPerFile,
  http,
  OTHER_RELEASE,
  post,
  publicText,
  RELEASE,
  removeDir,
  signedManifest,
  startController,
  storePath,
} from './fixtures.js';

const running = controllerPerFile();

const manifestUrl = (host: string, query = '') => `${running().url}/v1/hosts/${host}/manifest${query}`;
const publish = (body: string | Buffer) => post(`${running().url}/v1/manifests`, body);
const enroll = (body: Record<string, unknown>) => post(`${running().url}/v1/enroll`, JSON.stringify(body));

describe('GET /healthz and unknown endpoints', () => {
  it('answers ok on /healthz', async () => {
    const answer = await http(`${running().url}/healthz`);
    assert.equal(answer.status, 200);
    assert.equal(answer.text.trim(), 'ok');
  });
  it('answers 404 with a JSON error for an unknown path', async () => {
    const answer = await http(`${running().url}/v2/nothing`);
    assert.equal(answer.status, 404);
    assert.match(String(answer.json()['error']), /no such endpoint/);
  });
  it('answers 405 naming the allowed method for a wrong method', async () => {
    const answer = await http(`${running().url}/v1/manifests`);
    assert.equal(answer.status, 405);
    assert.equal(answer.headers['allow'], 'POST');
  });
});

describe('POST /v1/manifests and GET /v1/hosts/:host/manifest', () => {
  const envelope = signedManifest('web-1', 1, storePath(1));

  it('answers 404 for a host with no manifest', async () => {
    const answer = await http(manifestUrl('nobody'));
    assert.equal(answer.status, 404);
    assert.match(String(answer.json()['error']), /no manifest for nobody/);
  });
  it('answers 400 for an invalid host name', async () => {
    assert.equal((await http(manifestUrl('bad_host'))).status, 400);
  });
  it('accepts a manifest signed by a trusted release key with 201 and its host, version and path', async () => {
    const answer = await publish(envelope);
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.json(), { host: 'web-1', version: 1, storePath: storePath(1) });
  });
  it('stores the envelope byte for byte and serves those bytes with a sha256 ETag', async () => {
    const stored = await readFile(join(running().stateDir, 'manifests', 'web-1.json'), 'utf8');
    assert.equal(stored, envelope);
    const answer = await http(manifestUrl('web-1'));
    assert.equal(answer.status, 200);
    assert.equal(answer.text, envelope);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.equal(answer.headers['etag'], `"${createHash('sha256').update(envelope).digest('hex')}"`);
  });
  it('answers 304 when If-None-Match names the current ETag, and 200 when it names another', async () => {
    const etag = (await http(manifestUrl('web-1'))).headers['etag'] as string;
    const same = await http(manifestUrl('web-1'), { headers: { 'if-none-match': etag } });
    assert.equal(same.status, 304);
    assert.equal(same.text, '');
    const other = await http(manifestUrl('web-1'), { headers: { 'if-none-match': '"0000"' } });
    assert.equal(other.status, 200);
  });
  it('answers 200 unchanged to a byte-identical re-upload (a publisher retrying)', async () => {
    const answer = await publish(envelope);
    assert.equal(answer.status, 200);
    assert.equal(answer.json()['unchanged'], true);
  });
  it('refuses the same version with other content with 409 and the current version', async () => {
    const answer = await publish(signedManifest('web-1', 1, storePath(2)));
    assert.equal(answer.status, 409);
    assert.equal(answer.json()['currentVersion'], 1);
  });
  it('refuses a lower version with 409', async () => {
    assert.equal((await publish(signedManifest('web-1', 3, storePath(3)))).status, 201);
    const answer = await publish(signedManifest('web-1', 2, storePath(4)));
    assert.equal(answer.status, 409);
    assert.equal(answer.json()['currentVersion'], 3);
    assert.match(String(answer.json()['error']), /rollback/);
  });
  it('refuses a manifest signed by an unknown key with 403', async () => {
    const answer = await publish(signedManifest('web-2', 1, storePath(5), { keys: [OTHER_RELEASE.secret] }));
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /signature/);
  });
  it('refuses a manifest whose payload was changed after signing with 403', async () => {
    const good = JSON.parse(signedManifest('web-2', 1, storePath(5))) as { payload: string };
    const payload = JSON.parse(Buffer.from(good.payload, 'base64').toString('utf8')) as Record<string, unknown>;
    const tampered = { ...good, payload: Buffer.from(JSON.stringify({ ...payload, storePath: storePath(6) })).toString('base64') };
    assert.equal((await publish(JSON.stringify(tampered))).status, 403);
  });
  it('refuses an envelope of another payload type with 403', async () => {
    const body = encodeEnvelope(signEnvelope('application/vnd.other+json', Buffer.from('{}'), [RELEASE.secret]));
    const answer = await publish(body);
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /payload type/);
  });
  it('refuses malformed JSON with 400', async () => {
    const answer = await publish('{"payloadType": ');
    assert.equal(answer.status, 400);
    assert.match(String(answer.json()['error']), /not valid JSON/);
  });
  it('refuses a signed payload that is not a manifest with 400', async () => {
    const body = encodeEnvelope(signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from('{"host":"web-2"}'), [RELEASE.secret]));
    assert.equal((await publish(body)).status, 400);
  });
  it('refuses a signed manifest with an invalid store path with 400', async () => {
    const manifest = {
      host: 'web-2',
      version: 1,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      system: 'x86_64-linux',
      storePath: '/nix/store/not-a-hash-system',
      activation: 'switch',
    };
    const body = encodeEnvelope(signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from(JSON.stringify(manifest)), [RELEASE.secret]));
    const answer = await publish(body);
    assert.equal(answer.status, 400);
    assert.match(String(answer.json()['error']), /store path/);
  });
  it('refuses an expired manifest with 400', async () => {
    const answer = await publish(signedManifest('web-2', 1, storePath(7), { now: new Date(Date.now() - 7_200_000), expiresInMs: 3_600_000 }));
    assert.equal(answer.status, 400);
    assert.match(String(answer.json()['error']), /expired/);
  });
  it('refuses a body over 64 KiB with 413 and stores nothing', async () => {
    const answer = await publish(Buffer.alloc(70 * 1024, 0x20));
    assert.equal(answer.status, 413);
    const answer2 = await publish(Buffer.alloc(3 * 1024 * 1024, 0x20)).catch(() => null);
    assert.ok(answer2 === null || answer2.status === 413);
    assert.equal((await http(manifestUrl('web-2'))).status, 404);
  });
  it('keeps versions growing under concurrent publishes for one host', async () => {
    const versions = Array.from({ length: 10 }, (_, i) => i + 10);
    const answers = await Promise.all(versions.map((v) => publish(signedManifest('web-3', v, storePath(v)))));
    const accepted = versions.filter((_, i) => answers[i]?.status === 201);
    assert.ok(answers.every((a) => a.status === 201 || a.status === 409));
    const served = JSON.parse((await http(manifestUrl('web-3'))).text) as { payload: string };
    const payload = JSON.parse(Buffer.from(served.payload, 'base64').toString('utf8')) as { version: number };
    assert.equal(payload.version, Math.max(...accepted));
  });
});

describe('release threshold', () => {
  it('needs signatures from as many distinct trusted keys as the threshold', async () => {
    const two = await startController({
      config: { trustedReleaseKeys: [publicText(RELEASE), publicText(OTHER_RELEASE)], releaseThreshold: 2 },
    });
    try {
      const one = await post(`${two.url}/v1/manifests`, signedManifest('web-1', 1, storePath(1)));
      assert.equal(one.status, 403);
      const dup = await post(`${two.url}/v1/manifests`, signedManifest('web-1', 1, storePath(1), { keys: [RELEASE.secret, RELEASE.secret] }));
      assert.equal(dup.status, 403);
      const both = await post(`${two.url}/v1/manifests`, signedManifest('web-1', 1, storePath(1), { keys: [RELEASE.secret, OTHER_RELEASE.secret] }));
      assert.equal(both.status, 201);
    } finally {
      await two.stop();
      await removeDir(two.stateDir);
    }
  });
});

describe('POST /v1/enroll', () => {
  const agent = generateKeyPair('db-1-agent');

  it('enrolls a host with a valid one-time token (201) and answers a retry with 200', async () => {
    const { token } = await createToken(running().store, 'db-1', 3_600_000, new Date());
    const first = await enroll({ host: 'db-1', publicKey: publicText(agent), token });
    assert.equal(first.status, 201);
    assert.deepEqual(first.json(), { status: 'enrolled' });
    const retry = await enroll({ host: 'db-1', publicKey: publicText(agent), token });
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.json(), { status: 'enrolled' });
  });
  it('stores tokens only as their sha256', async () => {
    const { token } = await createToken(running().store, 'db-9', 3_600_000, new Date());
    const names = await readdir(join(running().stateDir, 'tokens'));
    assert.ok(names.includes(`${createHash('sha256').update(token).digest('hex')}.json`));
    for (const name of names) assert.ok(!(await readFile(join(running().stateDir, 'tokens', name), 'utf8')).includes(token));
  });
  it('refuses another key for an enrolled host with 409', async () => {
    const answer = await enroll({ host: 'db-1', publicKey: publicText(generateKeyPair('intruder')) });
    assert.equal(answer.status, 409);
    assert.match(String(answer.json()['error']), /revoke/);
  });
  it('refuses a reused token with 403', async () => {
    const { token } = await createToken(running().store, 'db-2', 3_600_000, new Date());
    assert.equal((await enroll({ host: 'db-2', publicKey: publicText(generateKeyPair('a')), token })).status, 201);
    await revokeHost(running().store, 'db-2', new Date());
    const answer = await enroll({ host: 'db-2', publicKey: publicText(generateKeyPair('b')), token });
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /already used/);
  });
  it('refuses an expired token with 403', async () => {
    const { token } = await createToken(running().store, 'db-3', 3_600_000, new Date(Date.now() - 7_200_000));
    const answer = await enroll({ host: 'db-3', publicKey: publicText(generateKeyPair('c')), token });
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /expired/);
  });
  it("refuses another host's token with 403", async () => {
    const { token } = await createToken(running().store, 'db-4', 3_600_000, new Date());
    const answer = await enroll({ host: 'db-5', publicKey: publicText(generateKeyPair('d')), token });
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /another host/);
  });
  it('refuses an unknown token with 403', async () => {
    const answer = await enroll({ host: 'db-5', publicKey: publicText(generateKeyPair('e')), token: 'x'.repeat(43) });
    assert.equal(answer.status, 403);
  });
  it('records a request without a token as pending (202) until an operator approves it', async () => {
    const key = generateKeyPair('db-6-agent');
    assert.equal((await enroll({ host: 'db-6', publicKey: publicText(key) })).status, 202);
    assert.deepEqual((await enroll({ host: 'db-6', publicKey: publicText(key) })).json(), { status: 'pending' });
    const status = (await http(`${running().url}/v1/status`)).json() as { pendingEnrollments: number; hosts: Array<{ host: string; enrolled: string }> };
    assert.equal(status.hosts.find((h) => h.host === 'db-6'), undefined, 'a request alone is counted, not listed among the hosts');
    assert.ok(status.pendingEnrollments >= 1);
    await approveHost(running().store, 'db-6', publicText(key), new Date());
    const answer = await enroll({ host: 'db-6', publicKey: publicText(key) });
    assert.equal(answer.status, 200);
  });
  it('refuses to enroll a revoked key again, even with a fresh token', async () => {
    const key = generateKeyPair('db-7-agent');
    const { token } = await createToken(running().store, 'db-7', 3_600_000, new Date());
    assert.equal((await enroll({ host: 'db-7', publicKey: publicText(key), token })).status, 201);
    await revokeHost(running().store, 'db-7', new Date());
    const fresh = await createToken(running().store, 'db-7', 3_600_000, new Date());
    assert.equal((await enroll({ host: 'db-7', publicKey: publicText(key), token: fresh.token })).status, 403);
    assert.equal((await enroll({ host: 'db-7', publicKey: publicText(generateKeyPair('db-7-new')), token: fresh.token })).status, 201);
  });
  it('refuses malformed JSON and a malformed key with 400', async () => {
    assert.equal((await post(`${running().url}/v1/enroll`, '{nope')).status, 400);
    assert.equal((await enroll({ host: 'db-8', publicKey: 'not-a-key' })).status, 400);
    assert.equal((await enroll({ host: 'db-8', publicKey: publicText(agent), extra: 1 })).status, 400);
  });
});
