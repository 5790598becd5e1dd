// The agent's textfile metrics parse as Prometheus text exposition and follow the journal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeploymentPhaseSchema, EMPTY_JOURNAL, type Journal } from '../../agent/core/journal.js';
import { agentMetricsText } from '../../agent/core/metrics.js';
import { parseExposition, sampleValue } from './prometheus-text.js';

describe('agentMetricsText', () => {
  it('says there was no deployment on a fresh host', () => {
    const text = parseExposition(agentMetricsText('web-1', EMPTY_JOURNAL, false));
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_result', { result: 'none' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_agent_reboot_needed'), 0);
  });

  it('shows a host in every phase a deployment can be in, probation and staging-boot among them', () => {
    for (const phase of DeploymentPhaseSchema.options) {
      const journal: Journal = {
        ...EMPTY_JOURNAL,
        deployment: {
          version: 4,
          storePath: '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1',
          activation: 'switch',
          phase,
          previous: null,
          generation: null,
          reason: null,
          resumes: 0,
          startedAt: '2026-11-22T12:00:00.000Z',
          updatedAt: '2026-11-22T12:01:30.000Z',
        },
      };
      const text = parseExposition(agentMetricsText('web-1', journal, false));
      assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_phase', { phase }), 1, phase);
    }
  });

  it('reports the last deployment: version, phase, result, time and duration', () => {
    const journal: Journal = {
      ...EMPTY_JOURNAL,
      failedVersions: [3],
      deployment: {
        version: 4,
        storePath: '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1',
        activation: 'switch',
        phase: 'rolled-back',
        previous: null,
        generation: 7,
        reason: 'health check failed',
        resumes: 0,
        startedAt: '2026-11-22T12:00:00.000Z',
        updatedAt: '2026-11-22T12:01:30.000Z',
      },
    };
    const text = parseExposition(agentMetricsText('web-1', journal, true));
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_version', { host: 'web-1' }), 4);
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_phase', { phase: 'rolled-back' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_phase', { phase: 'confirmed' }), 0);
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_result', { result: 'rolled-back' }), 1);
    assert.equal(sampleValue(text, 'tsdeploy_agent_deployment_duration_seconds'), 90);
    assert.equal(sampleValue(text, 'tsdeploy_agent_failed_versions'), 1);
    assert.equal(sampleValue(text, 'tsdeploy_agent_reboot_needed'), 1);
  });
});
