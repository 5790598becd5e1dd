// The dashboard's pages: content, escaping of everything hosts send, links, refresh.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html } from '../../controller/dashboard/html.js';
import { fleetPage, hostPage, type DashboardHost } from '../../controller/dashboard/pages.js';
import { deployProgress } from '../../controller/dashboard/progress.js';

const host = (name: string, fields: Partial<DashboardHost> = {}): DashboardHost => ({
  host: name,
  state: 'in-sync',
  desiredVersion: 3,
  desiredPath: '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1',
  current: '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1',
  health: [{ name: 'http', ok: true }],
  lastSeen: '2026-11-22T12:00:00.000Z',
  error: null,
  progress: null,
  ...fields,
});

describe('dashboard html', () => {
  it('escapes markup and control characters from hosts', () => {
    assert.equal(escapeHtml('<b>"x" & \'y\'</b>'), '&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;');
    assert.equal(escapeHtml('red\u001b[31m'), 'red\ufffd[31m');
    assert.equal(html`<td>${'<script>'}</td>`.text, '<td>&lt;script&gt;</td>');
    assert.equal(html`<tr>${html`<td>${'a&b'}</td>`}</tr>`.text, '<tr><td>a&amp;b</td></tr>');
  });

  it('renders the fleet, a halted rollout and its reason', () => {
    const page = fleetPage(
      [host('web-1'), host('web-2', { state: 'rolled-back', error: 'health check failed: <http> (500)', health: [{ name: 'http', ok: false }] })],
      { id: 'r7', state: 'halted', reason: 'wave 1: 1 unhealthy (at most 0): web-2: rolled-back', waves: [{ hosts: ['web-2'], releasedAt: 'now', completedAt: null }, { hosts: ['web-1'], releasedAt: null, completedAt: null }] },
    );
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.match(page, /href="\/dashboard\/hosts\/web-1"/);
    assert.match(page, /Rollout r7: <span class="bad">halted<\/span>/);
    assert.match(page, /wave 1: 1 unhealthy/);
    assert.match(page, /health check failed: &lt;http&gt; \(500\)/);
    assert.ok(!page.includes('<http>'));
    assert.match(page, /<td>held<\/td>/);
  });

  it("renders a host's timeline, newest first as given", () => {
    const page = hostPage(host('web-1'), [
      { time: 't2', kind: 'phase', phase: 'rolled-back', outcome: 'rolled-back', version: 4, error: 'activation failed' },
      { time: 't1', kind: 'phase', phase: 'accepted', outcome: 'in-progress', version: 4, error: null },
    ]);
    assert.match(page, /<h1>tsdeploy: web-1<\/h1>/);
    assert.ok(page.indexOf('t2') < page.indexOf('t1'));
    assert.match(page, /activation failed/);
  });

  it('shows realise progress (paths and MiB done of the total) of a deploying host in its row', () => {
    const progress = { pathsDone: 12, pathsTotal: 40, bytesDone: 1.2 * 1048576, bytesTotal: 3.4 * 1048576, finished: false };
    const text = deployProgress({ state: 'deploying', phase: 'realising', progress });
    assert.equal(text, 'realising 12/40 paths, 1.2/3.4 MiB');
    const page = fleetPage([host('web-1', { state: 'deploying', progress: text })], null);
    assert.match(page, /<td>realising 12\/40 paths, 1\.2\/3\.4 MiB<\/td>/);
  });

  it('shows only the phase once the realise finished, and nothing for a host that is not deploying', () => {
    const progress = { pathsDone: 40, pathsTotal: 40, bytesDone: 100, bytesTotal: 100, finished: true };
    assert.equal(deployProgress({ state: 'deploying', phase: 'activating', progress }), 'activating');
    assert.equal(deployProgress({ state: 'deploying', phase: 'accepted', progress: null }), 'accepted');
    assert.equal(deployProgress({ state: 'in-sync', phase: 'confirmed', progress: { ...progress, finished: false } }), null);
  });

  it('escapes the progress cell like every other cell', () => {
    assert.match(fleetPage([host('web-1', { progress: '<b>x</b>' })], null), /<td>&lt;b&gt;x&lt;\/b&gt;<\/td>/);
  });
});
