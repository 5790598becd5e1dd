// Attacks on report intake: replays, spoofed signers, unknown, pending and revoked hosts, and untrusted text
// reaching the operator's terminal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import {
  cli,
  closeHttp,
  envelopeOf,
  errorOf,
  generateKeyPair,
  post,
  publicText,
  RELEASE,
  removeTempDirs,
  reportBody,
  signedReport,
  startControllerProcess,
  unchanged,
  type ControllerProcess,
  type KeyPair,
} from './harness.js';

let controller: ControllerProcess;
const agents = new Map<string, KeyPair>();

async function enrollWithToken(host: string): Promise<KeyPair> {
  const made = await cli('controller', ['tokens', 'create', '--host', host, '--state-dir', controller.stateDir, '--json']);
  const pair = generateKeyPair(`${host}-agent`);
  const body = JSON.stringify({ host, publicKey: publicText(pair), token: (JSON.parse(made.stdout) as { token: string }).token });
  assert.equal((await post(`${controller.url}/v1/enroll`, body)).status, 201);
  agents.set(host, pair);
  return pair;
}

before(async () => {
  controller = await startControllerProcess();
  const web1 = await enrollWithToken('web-1');
  await enrollWithToken('web-2');
  assert.equal((await post(`${controller.url}/v1/hosts/web-1/reports`, signedReport(web1.secret, reportBody('web-1', 5)))).status, 202);
});
after(async () => {
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

const agent = (host: string): KeyPair => agents.get(host) ?? assert.fail(`no agent ${host}`);

async function refusedReport(host: string, body: string, status: number, message: RegExp): Promise<void> {
  const answer = await unchanged(controller.stateDir, () => post(`${controller.url}/v1/hosts/${host}/reports`, body));
  assert.equal(answer.status, status, answer.text);
  assert.match(errorOf(answer), message);
}

describe('replayed reports', () => {
  it('test_replay_same_seq: the same signed report again is refused (409, lastSeq)', async () => {
    await refusedReport('web-1', signedReport(agent('web-1').secret, reportBody('web-1', 5)), 409, /seq 5 is not greater than the last accepted 5/);
  });
  it('test_replay_older_seq: an older signed report is refused (409)', async () => {
    await refusedReport('web-1', signedReport(agent('web-1').secret, reportBody('web-1', 2, { outcome: 'failure' })), 409, /not greater/);
  });
});

describe('spoofed reports', () => {
  it("test_spoofed_signer: web-2's key cannot report for web-1 (403)", async () => {
    await refusedReport('web-1', signedReport(agent('web-2').secret, reportBody('web-1', 6)), 403, /not signed by the key enrolled for web-1/);
  });
  it("test_mix_and_match_report: web-1's own key cannot speak for web-2 through web-1's route (400)", async () => {
    await refusedReport('web-1', signedReport(agent('web-1').secret, reportBody('web-2', 6)), 400, /report is for host web-2/);
  });
  it('a report signed by a release key is not a host report (403)', async () => {
    await refusedReport('web-1', signedReport(RELEASE.secret, reportBody('web-1', 6)), 403, /not signed/);
  });
  it('a manifest signed by the agent key is not a report (400, payload type)', async () => {
    await refusedReport('web-1', envelopeOf(MANIFEST_PAYLOAD_TYPE, reportBody('web-1', 6), [agent('web-1').secret]), 400, /unknown payload type/);
  });
  it('a report with fields the schema does not know is refused (400)', async () => {
    const body = { ...reportBody('web-1', 6), enrolled: 'enrolled', publicKey: 'x:y' };
    await refusedReport('web-1', envelopeOf(REPORT_PAYLOAD_TYPE, body, [agent('web-1').secret]), 400, /malformed|Unrecognized/);
  });
  it('a report over 64 KiB is refused (413)', async () => {
    const body = reportBody('web-1', 6, { error: 'x'.repeat(70 * 1024) });
    await refusedReport('web-1', envelopeOf(REPORT_PAYLOAD_TYPE, body, [agent('web-1').secret]), 413, /too large/);
  });
});

describe('reports from hosts that may not report', () => {
  it('test_unknown_host: a host that never enrolled is refused (403) and gets no file', async () => {
    const stranger = generateKeyPair('stranger');
    await refusedReport('web-9', signedReport(stranger.secret, reportBody('web-9', 1)), 403, /not enrolled/);
  });
  it('test_pending_host: a host awaiting approval cannot report (403)', async () => {
    const pending = generateKeyPair('web-3-agent');
    assert.equal((await post(`${controller.url}/v1/enroll`, JSON.stringify({ host: 'web-3', publicKey: publicText(pending) }))).status, 202);
    await refusedReport('web-3', signedReport(pending.secret, reportBody('web-3', 1)), 403, /pending/);
  });
  it('test_revoked_host: a revoked key cannot report (403)', async () => {
    const revoked = await enrollWithToken('web-4');
    assert.equal((await cli('controller', ['hosts', 'revoke', 'web-4', '--state-dir', controller.stateDir])).code, 0);
    await refusedReport('web-4', signedReport(revoked.secret, reportBody('web-4', 1)), 403, /revoked/);
  });
});

describe('untrusted text reaching the operator', () => {
  const ESC = '\u001b';
  const hostile = `${ESC}[2J${ESC}]0;owned${'\u0007'}${ESC}[31mfake OK\r\u009b1m`;
  it('test_terminal_escape_injection: status prints no control character a host sent', async () => {
    const body = reportBody('web-2', 1, {
      outcome: 'failure',
      error: `health failed ${hostile}`,
      health: [{ name: `web${hostile}`, type: 'http', ok: false, detail: hostile }],
      currentSystem: null,
    });
    assert.equal((await post(`${controller.url}/v1/hosts/web-2/reports`, signedReport(agent('web-2').secret, body))).status, 202);
    const table = await cli('controller', ['status', '--controller', controller.url]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /web-2/);
    assert.doesNotMatch(table.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'a control character reached the terminal');
    assert.match(table.stdout, /health failed \\x1b\[2J/, 'the text is shown, escaped');
    const json = await cli('controller', ['status', '--controller', controller.url, '--json']);
    assert.doesNotMatch(json.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });
});
