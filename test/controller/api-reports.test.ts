// The reports and status endpoints against a real controller on loopback (the rest of the API: api.test.ts).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { revokeHost } from '../../controller/fleet/hosts-and-tokens.js';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { generateKeyPair } from '../../shared/keys.js';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import {
  controllerPerFile,
  enrollWithToken,
  http,
  post,
  publicText,
  report,
  signedManifest,
  signedReport,
  storePath,
  type KeyPair,
} from './fixtures.js';

const running = controllerPerFile();

const publish = (body: string | Buffer) => post(`${running().url}/v1/manifests`, body);
const enroll = (body: Record<string, unknown>) => post(`${running().url}/v1/enroll`, JSON.stringify(body));
const sendReport = (host: string, body: string | Buffer) => post(`${running().url}/v1/hosts/${host}/reports`, body);

describe('POST /v1/hosts/:host/reports', () => {
  let web: KeyPair;
  let other: KeyPair;
  before(async () => {
    web = await enrollWithToken(running(), 'app-1');
    other = await enrollWithToken(running(), 'app-2');
  });

  it('accepts a report signed by the host key with 202 and its seq, and logs it', async () => {
    const answer = await sendReport('app-1', signedReport(web.secret, report('app-1', 1)));
    assert.equal(answer.status, 202);
    assert.deepEqual(answer.json(), { seq: 1 });
    const { entries } = await running().store.readReports('app-1');
    assert.equal(entries.length, 1);
  });
  it('refuses a replayed or lower sequence number with 409 and the last accepted seq', async () => {
    assert.equal((await sendReport('app-1', signedReport(web.secret, report('app-1', 5)))).status, 202);
    const replay = await sendReport('app-1', signedReport(web.secret, report('app-1', 5)));
    assert.equal(replay.status, 409);
    assert.equal(replay.json()['lastSeq'], 5);
    assert.equal((await sendReport('app-1', signedReport(web.secret, report('app-1', 4)))).status, 409);
  });
  it("refuses a report signed by another host's key with 403", async () => {
    const answer = await sendReport('app-1', signedReport(other.secret, report('app-1', 6)));
    assert.equal(answer.status, 403);
    assert.match(String(answer.json()['error']), /not signed by the key enrolled for app-1/);
  });
  it('refuses a report from an unknown host with 403', async () => {
    const stranger = generateKeyPair('stranger');
    assert.equal((await sendReport('ghost-1', signedReport(stranger.secret, report('ghost-1', 1)))).status, 403);
  });
  it('refuses reports from a pending or revoked host with 403', async () => {
    const pending = generateKeyPair('pend-agent');
    assert.equal((await enroll({ host: 'pend-1', publicKey: publicText(pending) })).status, 202);
    assert.equal((await sendReport('pend-1', signedReport(pending.secret, report('pend-1', 1)))).status, 403);
    const gone = await enrollWithToken(running(), 'gone-1');
    await revokeHost(running().store, 'gone-1', new Date());
    assert.equal((await sendReport('gone-1', signedReport(gone.secret, report('gone-1', 1)))).status, 403);
  });
  it('refuses a report about another host with 400, even when signed by the right key', async () => {
    const answer = await sendReport('app-1', signedReport(web.secret, report('app-2', 7)));
    assert.equal(answer.status, 400);
  });
  it('refuses malformed JSON, a non-report payload and another payload type with 400', async () => {
    assert.equal((await sendReport('app-1', '{"x":')).status, 400);
    const notReport = encodeEnvelope(signEnvelope(REPORT_PAYLOAD_TYPE, Buffer.from('{"host":"app-1"}'), [web.secret]));
    assert.equal((await sendReport('app-1', notReport)).status, 400);
    const manifestType = encodeEnvelope(signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from('{}'), [web.secret]));
    assert.equal((await sendReport('app-1', manifestType)).status, 400);
  });
  it('refuses a report body over 64 KiB with 413', async () => {
    assert.equal((await sendReport('app-1', Buffer.alloc(65 * 1024 + 1, 0x20))).status, 413);
  });
  it('starts the sequence again for a host re-enrolled with a new key', async () => {
    await revokeHost(running().store, 'app-2', new Date());
    const renewed = await enrollWithToken(running(), 'app-2');
    assert.equal((await sendReport('app-2', signedReport(renewed.secret, report('app-2', 1)))).status, 202);
  });
});

describe('GET /v1/status', () => {
  it('shows desired, current, phase, health, last seen and state per host', async () => {
    const key = await enrollWithToken(running(), 'st-1');
    const path = storePath(40);
    assert.equal((await publish(signedManifest('st-1', 1, path))).status, 201);
    const health = [{ name: 'web', type: 'http' as const, ok: true, detail: '200' }];
    const body = report('st-1', 1, { manifestVersion: 1, phase: 'confirmed', outcome: 'success', currentSystem: path, bootedSystem: path, generation: 3, health });
    assert.equal((await sendReport('st-1', signedReport(key.secret, body))).status, 202);
    const status = (await http(`${running().url}/v1/status`)).json() as { hosts: Array<Record<string, unknown>> };
    const row = status.hosts.find((h) => h['host'] === 'st-1');
    assert.ok(row !== undefined);
    assert.equal(row['state'], 'in-sync');
    assert.equal(row['enrolled'], 'enrolled');
    assert.deepEqual(row['desired'], { version: 1, storePath: path, activation: 'switch' });
    assert.equal(row['current'], path);
    assert.equal(row['booted'], path);
    assert.equal(row['generation'], 3);
    assert.equal(row['phase'], 'confirmed');
    assert.deepEqual(row['health'], health);
    assert.equal(typeof row['lastSeen'], 'string');
  });
  it('shows a rolled-back host with the reason the agent gave', async () => {
    const key = await enrollWithToken(running(), 'st-2');
    const good = storePath(41);
    assert.equal((await publish(signedManifest('st-2', 2, storePath(42)))).status, 201);
    const body = report('st-2', 1, { manifestVersion: 2, phase: 'rolled-back', outcome: 'rolled-back', currentSystem: good, error: 'health check web failed: connection refused' });
    assert.equal((await sendReport('st-2', signedReport(key.secret, body))).status, 202);
    const status = (await http(`${running().url}/v1/status`)).json() as { hosts: Array<Record<string, unknown>> };
    const row = status.hosts.find((h) => h['host'] === 'st-2');
    assert.equal(row?.['state'], 'rolled-back');
    assert.match(String(row?.['error']), /health check web failed/);
  });
});
