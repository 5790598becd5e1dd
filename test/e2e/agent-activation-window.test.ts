// activationWindow end to end on the fleet lab with real Nix and the real controller: a switch published while the
// window is closed is realised and held (the controller's `status --json` says awaiting-window and when it opens),
// the daemon wakes at the opening, activates, and the host ends in sync.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import { agentCli, journalOf, makeReleaseKey, startLabController, waitForHostState, writeAgentConfig, type LabController, type ReleaseKey } from './harness.js';

/** How far ahead the window opens: long enough to realise the closure first, short enough for a test. */
const OPENS_IN_MS = 60_000;

describe('activation window on the fleet lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  let host: LabHost;
  let agent: LabProcess | null = null;
  let system = '';

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'actwin' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    host = lab.hosts[0] as LabHost;
    system = await lab.buildSystem('good', 'window-v1');
  });
  after(async () => {
    if (agent !== null) {
      agent.kill('SIGTERM');
      await agent.exited;
    }
    await controller?.kill();
    await lab?.teardown();
  });

  it('a switch published outside the window is realised and held as awaiting-window, then activates when the window opens and confirms', async () => {
    // A window closed now that opens about a minute from now, for one minute; minute and second only, so the
    // expression means the same in any whole-hour time zone.
    const opensAt = new Date(Math.ceil((Date.now() + OPENS_IN_MS) / 1000) * 1000);
    const config = await writeAgentConfig(host, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      extra: {
        enrollmentTokenFile: await controller.tokenFileFor(host),
        activationWindow: { schedule: `${opensAt.getSeconds()} ${opensAt.getMinutes()} * * * *`, duration: '1m' },
      },
    });
    agent = host.startAgent(config, join(host.dir, 'agent-window.log'));
    assert.equal((await controller.publish(key, host.name, system)).code, 0);

    const held = (await waitForHostState(controller, host.name, 'awaiting-window', OPENS_IN_MS - 5_000)) as Awaited<ReturnType<typeof waitForHostState>> & { activationWindow?: { opensAt: string | null } | null };
    assert.ok(Date.now() < opensAt.getTime(), 'held before the window opened');
    assert.equal(held.phase, 'awaiting-window');
    assert.equal(held.outcome, 'in-progress');
    assert.equal(held.activationWindow?.opensAt, opensAt.toISOString());
    assert.equal(await host.currentSystem(), null, 'nothing was activated');
    const local = await agentCli(host, ['status', '--config', config, '--json']);
    assert.equal(local.code, 0, local.stderr);
    const status = JSON.parse(local.stdout) as { deployment: { phase: string; activationWindow?: { opensAt: string } } | null };
    assert.equal(status.deployment?.phase, 'awaiting-window');
    assert.equal(status.deployment?.activationWindow?.opensAt, opensAt.toISOString());
    assert.equal((await host.exec(['test', '-e', system])).code, 0, 'the closure was realised before the window');

    const synced = await waitForHostState(controller, host.name, 'in-sync', OPENS_IN_MS + 90_000);
    assert.equal(synced.current, system);
    assert.equal(await host.currentSystem(), system);
    const deployment = (await journalOf(host)).deployment;
    assert.equal(deployment?.phase, 'confirmed');
    assert.ok(Date.parse(deployment?.updatedAt ?? '') >= opensAt.getTime(), 'the switch ran once the window had opened');
  });
});
