// /metrics and the dashboard on a real controller on loopback follow the hosts' signed reports: the counters
// and gauges move (checked with the Prometheus text parser), and a realising host's row shows its progress.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExposition, sampleValue, type Exposition } from '../unit/prometheus-text.js';
import { closeHttp, enrollWithToken, http, post, removeDir, report, signedManifest, signedReport, startController, storePath, type KeyPair, type Running } from './fixtures.js';

const MIB = 1048576;

describe('metrics and dashboard as hosts report', () => {
  let running: Running;
  let key: KeyPair;
  const scrape = async (): Promise<Exposition> => {
    const answer = await http(`${running.url}/metrics`);
    assert.equal(answer.status, 200);
    return parseExposition(answer.text);
  };
  const accepted = (text: Exposition) => sampleValue(text, 'tsdeploy_reports_total', { result: 'accepted' }) ?? 0;
  const hosts = (text: Exposition, state: string) => sampleValue(text, 'tsdeploy_hosts', { state });

  before(async () => {
    running = await startController();
    key = await enrollWithToken(running, 'web-1');
    assert.equal((await post(`${running.url}/v1/manifests`, signedManifest('web-1', 1, storePath(1)))).status, 201);
  });
  after(async () => {
    await running.stop();
    await removeDir(running.stateDir);
    await closeHttp();
  });

  it('counts an accepted report and moves the host from never-seen to deploying', async () => {
    const before = await scrape();
    assert.equal(hosts(before, 'never-seen'), 1);
    assert.equal(hosts(before, 'deploying'), 0);
    assert.equal(sampleValue(before, 'tsdeploy_host_report_age_seconds', { stat: 'count' }), 0);
    const progress = { pathsDone: 2, pathsTotal: 5, bytesDone: 1 * MIB, bytesTotal: 4 * MIB, finished: false };
    const body = report('web-1', 1, { manifestVersion: 1, desiredPath: storePath(1), phase: 'realising', outcome: 'in-progress', progress });
    assert.equal((await post(`${running.url}/v1/hosts/web-1/reports`, signedReport(key.secret, body))).status, 202);
    const after = await scrape();
    assert.equal(accepted(after), accepted(before) + 1);
    assert.equal(hosts(after, 'never-seen'), 0);
    assert.equal(hosts(after, 'deploying'), 1);
    assert.equal(sampleValue(after, 'tsdeploy_host_report_age_seconds', { stat: 'count' }), 1);
  });

  it('counts a refused report by its reason, leaving the accepted count and the states as they were', async () => {
    const before = await scrape();
    const replay = report('web-1', 1, { manifestVersion: 1, phase: 'confirmed', outcome: 'success', currentSystem: storePath(1) });
    assert.equal((await post(`${running.url}/v1/hosts/web-1/reports`, signedReport(key.secret, replay))).status, 409);
    const after = await scrape();
    const refused = after.samples.filter((s) => s.name === 'tsdeploy_reports_total' && s.labels['result'] === 'refused');
    assert.equal(refused.length, 1, 'one refusal reason');
    assert.equal(refused[0]?.value, 1);
    assert.ok((refused[0]?.labels['reason'] ?? '') !== '', 'the refusal carries its reason');
    assert.equal(accepted(after), accepted(before));
    assert.equal(hosts(after, 'deploying'), 1);
  });

  it("shows the realising host's paths and MiB done of the total in its dashboard row", async () => {
    const page = (await http(`${running.url}/dashboard`)).text;
    assert.match(page, /<td>realising 2\/5 paths, 1\.0\/4\.0 MiB<\/td>/);
    const host = (await http(`${running.url}/dashboard/hosts/web-1`)).text;
    assert.match(host, /realising 2\/5 paths, 1\.0\/4\.0 MiB/);
  });

  it('moves the host to in-sync and clears the progress cell once it confirms', async () => {
    const done = report('web-1', 2, { manifestVersion: 1, phase: 'confirmed', outcome: 'success', currentSystem: storePath(1) });
    assert.equal((await post(`${running.url}/v1/hosts/web-1/reports`, signedReport(key.secret, done))).status, 202);
    const after = await scrape();
    assert.equal(hosts(after, 'deploying'), 0);
    assert.equal(hosts(after, 'in-sync'), 1);
    assert.doesNotMatch((await http(`${running.url}/dashboard`)).text, /paths, .* MiB/);
  });
});
