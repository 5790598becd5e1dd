// The controller's metrics parse as Prometheus text exposition and move with the fleet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createControllerMetrics, type FleetSnapshot } from '../../controller/metrics/registry.js';
import { parseExposition, sampleValue } from './prometheus-text.js';

describe('controller metrics', () => {
  it('exposes hosts by state, report ages, long-polls, the rollout and counters, and moves as hosts report', async () => {
    let view: FleetSnapshot = { hostsByState: { 'never-seen': 3 }, secondsSinceReport: [], longPolls: 0, rollout: null };
    const metrics = createControllerMetrics(async () => view);
    let text = parseExposition(await metrics.render());
    assert.equal(text.types.get('tsdeploy_hosts'), 'gauge');
    assert.equal(sampleValue(text, 'tsdeploy_hosts', { state: 'never-seen' }), 3);
    assert.equal(sampleValue(text, 'tsdeploy_hosts', { state: 'in-sync' }), 0);

    view = {
      hostsByState: { 'in-sync': 2, 'rolled-back': 1 },
      secondsSinceReport: [4, 10, 60],
      longPolls: 3,
      rollout: { id: 'r1', state: 'halted', wave: 1, waves: 3, released: 1, hosts: 3 },
    };
    metrics.report('accepted', 'ok');
    metrics.report('refused', 'bad signature');
    metrics.publish('accepted', 'ok');
    metrics.request('/v1/hosts/:host/manifest', 'GET', 304, 0.002);
    text = parseExposition(await metrics.render());
    assert.equal(sampleValue(text, 'tsdeploy_hosts', { state: 'in-sync' }), 2);
    assert.equal(sampleValue(text, 'tsdeploy_host_report_age_seconds', { stat: 'max' }), 60);
    assert.equal(sampleValue(text, 'tsdeploy_long_polls'), 3);
    assert.equal(sampleValue(text, 'tsdeploy_rollout_wave', { rollout: 'r1', state: 'halted' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_reports_total', { result: 'refused', reason: 'bad signature' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_http_request_duration_seconds_count', { route: '/v1/hosts/:host/manifest', status: '304' }), 1);
  });

  it('the parser refuses what is not exposition', () => {
    assert.throws(() => parseExposition('tsdeploy_x 1\n'), /has no TYPE/);
    assert.throws(() => parseExposition('# TYPE a gauge\na{b=c} 1\n'), /not a sample/);
    assert.throws(() => parseExposition('# TYPE a gauge\na one\n'), /not a sample|not a number/);
  });
});
