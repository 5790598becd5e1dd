// The dashboard in a real headless browser (Debian's Chromium via playwright-core, JavaScript off): the fleet
// table, a halted rollout and a host's timeline render with the right content. Screenshots' paths are printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, type Headless } from '../browser/chromium.js';
import { parseExposition, sampleValue } from '../unit/prometheus-text.js';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { closeHttp, enrollWithToken, http, post, report, signedManifest, signedReport, startController, storePath, tempDir, type Running } from './fixtures.js';

describe('dashboard in headless Chromium', () => {
  let running: Running;
  let browser: Headless;
  /** The test's temp directory: screenshots are written under it, their paths printed, and kept for a person to look at. */
  let dir: string;

  before(async () => {
    running = await startController({ config: { rolloutTickSeconds: 1, readToken: 'dashboard-read-token-1' } });
    const keys = new Map<string, Awaited<ReturnType<typeof enrollWithToken>>>();
    for (const host of ['web-1', 'web-2', 'web-3']) keys.set(host, await enrollWithToken(running, host));
    const manifests = ['web-1', 'web-2', 'web-3'].map((host) => signedManifest(host, 1, storePath(1)));
    const started = await post(`${running.url}/v1/rollouts`, JSON.stringify({ id: 'spring', policy: { canary: ['web-1'], waves: 2 }, manifests }));
    assert.equal(started.status, 201, started.text);
    const say = (host: string, seq: number, fields: Parameters<typeof report>[2]) =>
      post(`${running.url}/v1/hosts/${host}/reports`, signedReport(keys.get(host)?.secret ?? ({} as never), report(host, seq, fields)));
    await say('web-1', 1, { manifestVersion: 1, phase: 'accepted', outcome: 'in-progress', desiredPath: storePath(1) });
    await say('web-1', 2, { manifestVersion: 1, phase: 'rolled-back', outcome: 'rolled-back', error: 'health check failed: <http> (500)' });
    await say('web-2', 1, { phase: 'idle', outcome: 'success' });
    for (let i = 0; i < 100; i += 1) {
      const body = (await http(`${running.url}/v1/rollouts/current`, { headers: { authorization: 'Bearer dashboard-read-token-1' } })).json();
      if ((body['rollout'] as { state: string }).state === 'halted') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    dir = await tempDir('dashboard-browser');
    await mkdir(join(dir, 'screenshots'));
    browser = await launchChromium(join(dir, 'screenshots'));
  });
  after(async () => {
    await browser?.close();
    await running?.stop();
    await closeHttp();
  });

  it('refuses the dashboard without the read token', async () => {
    assert.equal((await http(`${running.url}/dashboard`)).status, 401);
    assert.equal((await http(`${running.url}/metrics`)).status, 401);
  });

  it('shows the fleet table and the halted rollout with its reason', async (t) => {
    const page = await browser.open(`${running.url}/dashboard?token=dashboard-read-token-1`);
    const rows = await page.locator('table').first().locator('tr').allInnerTexts();
    assert.equal(rows.length, 4, 'a header and three hosts');
    assert.match(rows[1] ?? '', /web-1\s+rolled-back/);
    assert.match(rows[1] ?? '', /health check failed: <http> \(500\)/, 'host text is shown as text');
    assert.match(await page.locator('h2').first().innerText(), /Rollout spring: halted/);
    assert.match(await page.locator('body').innerText(), /wave 1: 1 unhealthy \(at most 0\): web-1: rolled-back/);
    assert.match(await page.locator('table').nth(1).innerText(), /canary\s+web-1/);
    const shot = await browser.screenshot(page, 'dashboard-fleet');
    await access(shot);
    assert.ok(shot.startsWith(dir), 'the screenshot is under the test\'s temp directory');
    t.diagnostic(`dashboard screenshot: ${shot}`);
  });

  it('serves /metrics as Prometheus text that follows the reports', async () => {
    const text = parseExposition((await http(`${running.url}/metrics`, { headers: { authorization: 'Bearer dashboard-read-token-1' } })).text);
    assert.equal(sampleValue(text, 'tsdeploy_hosts', { state: 'rolled-back' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_reports_total', { result: 'accepted' }), 3);
    assert.equal(sampleValue(text, 'tsdeploy_rollout_wave', { rollout: 'spring', state: 'halted' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_rollout_hosts_released', { rollout: 'spring' }), 1);
  });

  it("shows a host's timeline of reports, newest first", async (t) => {
    const page = await browser.open(`${running.url}/dashboard/hosts/web-1?token=dashboard-read-token-1`);
    assert.match(await page.locator('h1').innerText(), /tsdeploy: web-1/);
    const timeline = await page.locator('table').nth(1).locator('tr').allInnerTexts();
    assert.match(timeline[1] ?? '', /rolled-back/);
    assert.match(timeline[2] ?? '', /accepted/);
    const shot = await browser.screenshot(page, 'dashboard-host');
    await access(shot);
    assert.ok(shot.startsWith(dir), 'the screenshot is under the test\'s temp directory');
    t.diagnostic(`host timeline screenshot: ${shot}`);
  });
});
