// The README's `status` example is what the table shows: the rows are rendered from the reports the
// driver sends (in-memory Nix), so a rolled-back host shows the health of the generation it went back to.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildHostStatus } from '../../controller/fleet/host-status.js';
import { formatStatusTable } from '../../controller/fleet/status-view.js';
import type { Report } from '../../shared/report.js';
import { createFakeNix, createWorld } from './agent-fakes.js';

const WEB_1_OLD = '/nix/store/9b5n7wqfihjwblgj5w0ppk2v4r3zg2gy-nixos-system-web-1-old';
const WEB_1 = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';
const WEB_2_OLD = '/nix/store/7a9dk2lmjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-2-old';
const WEB_2 = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-2';

/**
 * The last report of a deployment of `path` as `version`. The fake host has one check, "service"
 * answering 200 or 500; it is named as the README's HTTP check ("web", "HTTP 500"), nothing else changes.
 */
async function lastReport(old: string, path: string, version: number, healthy: boolean): Promise<Omit<Report, 'seq'>> {
  const world = createWorld(createFakeNix([old]));
  if (!healthy) world.nix.unhealthy.add(path);
  world.serve(version, path);
  await world.agent().cycle(0);
  const report = world.reports.at(-1);
  assert.ok(report !== undefined);
  return {
    ...report,
    health: report.health.map((result) => ({ ...result, name: 'web', detail: `HTTP ${result.detail}` })),
    error: report.error?.replace('service (500)', 'web (HTTP 500)') ?? null,
  };
}

/** The fenced block in the README's "Operator commands" that follows "`status` prints:". */
function readmeExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /`status` prints:\n\n```\n([\s\S]*?)```/.exec(readme);
  assert.ok(match?.[1] !== undefined, 'the README has the status example');
  return match[1];
}

describe("the README's status example", () => {
  it('is the table rendered from a confirmed host and a rolled-back one, whose health is the restored generation', async () => {
    const now = new Date('2026-11-21T04:43:00Z');
    const seen = (seconds: number) => new Date(now.getTime() - seconds * 1000);
    const confirmed = await lastReport(WEB_1_OLD, WEB_1, 4, true);
    const rolledBack = await lastReport(WEB_2_OLD, WEB_2, 5, false);
    assert.equal(rolledBack.phase, 'rolled-back');
    assert.equal(rolledBack.currentSystem, WEB_2_OLD, 'the host is back on the previous generation');
    assert.ok(rolledBack.health.every((result) => result.ok), "the report carries the restored generation's passing checks");
    const rows = [
      buildHostStatus({ host: 'web-1', enrolled: 'enrolled', desired: { version: 4, storePath: WEB_1, activation: 'switch' }, report: { ...confirmed, seq: 9 }, lastSeen: seen(12) }, now, 180_000),
      buildHostStatus({ host: 'web-2', enrolled: 'enrolled', desired: { version: 5, storePath: WEB_2, activation: 'switch' }, report: { ...rolledBack, seq: 7 }, lastSeen: seen(3) }, now, 180_000),
    ];
    assert.deepEqual(
      rows.map((row) => row.state),
      ['in-sync', 'rolled-back'],
    );
    assert.equal(readmeExample(), formatStatusTable({ hosts: rows, pendingEnrollments: 2 }, now));
  });
});
