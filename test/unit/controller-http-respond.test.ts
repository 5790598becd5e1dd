import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchRoute } from '../../controller/http/respond.js';
import type { HostStatus } from '../../controller/fleet/host-status.js';
import { ago, formatStatusTable, shortPath } from '../../controller/fleet/status-view.js';

describe('matchRoute', () => {
  const cases: Array<[string, string, unknown]> = [
    ['GET', '/healthz', { kind: 'healthz' }],
    ['GET', '/v1/status', { kind: 'status' }],
    ['GET', '/v1/hosts/web-1/manifest', { kind: 'manifest-get', host: 'web-1' }],
    ['POST', '/v1/manifests', { kind: 'manifest-post' }],
    ['POST', '/v1/enroll', { kind: 'enroll' }],
    ['POST', '/v1/hosts/web-1/reports', { kind: 'report-post', host: 'web-1' }],
    ['POST', '/v1/hosts/web-1/manifest', { kind: 'method-not-allowed', allow: 'GET' }],
    ['GET', '/v1/hosts/web-1/reports', { kind: 'method-not-allowed', allow: 'POST' }],
    ['DELETE', '/v1/status', { kind: 'method-not-allowed', allow: 'GET' }],
    ['GET', '/v1/hosts//manifest', { kind: 'not-found' }],
    ['GET', '/v1/hosts/web-1/manifest/extra', { kind: 'not-found' }],
    ['GET', '/', { kind: 'not-found' }],
    ['GET', '/v1/hosts/%2e%2e/manifest', { kind: 'manifest-get', host: '..' }],
  ];
  for (const [method, path, expected] of cases) {
    it(`${method} ${path}`, () => assert.deepEqual(matchRoute(method, path), expected));
  }
});

describe('status table', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const A = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1-24.05';
  const B = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1-24.05';
  const row = (fields: Partial<HostStatus>): HostStatus => ({
    host: 'web-1',
    enrolled: 'enrolled',
    desired: { version: 4, storePath: B, activation: 'switch' },
    current: A,
    booted: A,
    generation: 3,
    phase: 'rolled-back',
    outcome: 'rolled-back',
    manifestVersion: 4,
    health: [{ name: 'http-80', type: 'http', ok: false, detail: 'refused' }],
    error: 'health check http-80 failed: connection refused',
    lastSeen: '2026-01-01T11:59:48Z',
    state: 'rolled-back',
    facts: null,
    ...fields,
  });

  it('shortens store paths to 8 hash characters and the name', () => {
    assert.equal(shortPath(A), '0c6p8xrg-nixos-system-web-1-24.05');
    assert.equal(shortPath(null), '-');
  });
  it('says how long ago in the largest fitting unit', () => {
    assert.equal(ago('2026-01-01T11:59:48Z', now), '12s ago');
    assert.equal(ago('2026-01-01T11:50:00Z', now), '10m ago');
    assert.equal(ago('2026-01-01T07:00:00Z', now), '5h ago');
    assert.equal(ago('2025-12-25T12:00:00Z', now), '7d ago');
    assert.equal(ago(null, now), 'never');
  });
  it('prints a rolled-back host with its failing check and the reason', () => {
    const text = formatStatusTable({ hosts: [row({})] }, now);
    const [header, line] = text.trimEnd().split('\n');
    assert.match(header ?? '', /^HOST\s+STATE\s+ENROLLED\s+DESIRED\s+CURRENT\s+PHASE\s+HEALTH\s+LAST SEEN\s+NOTE$/);
    assert.match(line ?? '', /^web-1\s+rolled-back\s+enrolled\s+v4 1c6p8xrg-\S+\s+0c6p8xrg-\S+\s+rolled-back \(v4\)\s+FAIL http-80\s+12s ago\s+health check http-80 failed/);
  });
  it('shows "= desired" for a host running its desired path', () => {
    const text = formatStatusTable({ hosts: [row({ current: B, state: 'in-sync', phase: 'confirmed', health: [], error: null })] }, now);
    assert.match(text, /= desired/);
  });
  it("shows a dry-activated host's first line of what it would change", () => {
    const text = formatStatusTable(
      { hosts: [row({ state: 'dry-activated', phase: 'confirmed', health: [], error: null, activationOutput: 'would start the following units: nginx.service\nwould restart: sshd.service' })] },
      now,
    );
    assert.match(text, /dry-activated .*would start the following units: nginx\.service$/m);
    assert.doesNotMatch(text, /sshd/);
  });
  it('says when the activation window opens for a host that holds its activation', () => {
    const held = row({ state: 'awaiting-window', phase: 'awaiting-window', outcome: 'in-progress', health: [], error: null, activationWindow: { opensAt: '2026-01-01T13:00:00.000Z' } });
    assert.match(formatStatusTable({ hosts: [held] }, now), /awaiting-window .*activation held until its window opens at 2026-01-01T13:00:00\.000Z$/m);
  });
  it('says when an activation runs past its time limit and is waited for', () => {
    const slow = row({ state: 'deploying', phase: 'activating', outcome: 'in-progress', health: [], error: null, activationOverrun: { seconds: 700, limitSeconds: 600 } });
    assert.match(formatStatusTable({ hosts: [slow] }, now), /deploying .*activation past its time limit: running 700s \(limit 600s\), waited for$/m);
  });
  it('says so when there are no hosts', () => {
    assert.match(formatStatusTable({ hosts: [] }, now), /no hosts yet/);
  });
});
