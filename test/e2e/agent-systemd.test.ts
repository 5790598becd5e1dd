// The agent end to end on systemd lab hosts, running as the real tsdeploy-agent unit (the NixOS module's rendering):
// enrollment through its credential, or with no token file and an operator's approval, first deployment, upgrade,
// activation failure, health failure, a change of its own unit (left running by the switch, replaced after), and a
// power cut. The controller runs in the lab's infra node.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labAgentUnit, readRenderedAgentUnit } from '../lab/agent-unit.js';
import { AGENT_ARGV, createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import {
  journalOf,
  makeReleaseKey,
  readText,
  startLabController,
  waitFor,
  waitForHostState,
  type LabController,
  type ReleaseKey,
} from './harness.js';
import { credentialSource, installUnitAgent, TOKEN_CREDENTIAL } from './systemd-harness.js';

describe('agent as the real systemd unit on systemd lab hosts (real systemd and Nix; kernel and boot loader replaced)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  const installed: string[] = [];
  const systems: Record<string, string> = {};

  before(async () => {
    // host0 and host1 enroll with a token; host2 has no token file and waits for approval.
    lab = await createLab({ hosts: 3, name: 'agent-sd', kind: 'systemd' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    for (const [name, variant] of [
      ['r1-host0', 'good'],
      ['r1-host1', 'good'],
      ['r1-host2', 'good'],
      ['r2', 'good'],
      ['broken', 'broken'],
      ['sick', 'unhealthy'],
      ['unit-change', 'agent-unit-change'],
    ] as const) {
      systems[name] = await lab.buildSystem(variant, `agent-sd-${name}`, { agentUnit: true });
    }
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  const host = (index: number): SystemdLabHost => lab.hosts[index] as SystemdLabHost;

  it('installs the unit from the NixOS rendering, changing only ExecStart and the store-path environment', async () => {
    const rendered = readRenderedAgentUnit();
    const { text, rewrites } = labAgentUnit(rendered, { agentArgv: AGENT_ARGV });
    assert.equal(text, lab.agentUnitText);
    assert.ok(rewrites.every(({ from }) => /^(ExecStart|Environment)=/.test(from)), 'only ExecStart and Environment lines are rewritten');
    const rewritten = new Set(rewrites.map(({ from }) => from));
    assert.deepEqual(
      text.split('\n').filter((line) => !rewrites.some(({ to }) => to === line)),
      rendered.split('\n').filter((line) => !rewritten.has(line)),
      'every other line is the rendering, verbatim and in order',
    );
    for (const line of ['X-RestartIfChanged=false', 'X-StopOnRemoval=false', 'Restart=always', 'StateDirectory=tsdeploy-agent']) {
      assert.ok(text.split('\n').includes(line), line);
    }
    for (const index of [0, 1]) installed[index] = await installUnitAgent(lab, host(index), { controller, key, label: `agent-sd-base-host${index}` });
    const shown = (await host(0).exec(['systemctl', 'cat', 'tsdeploy-agent.service'])).stdout;
    assert.equal(shown.split('\n').slice(1).join('\n').trim(), text.trim(), 'systemd runs exactly that unit');
  });

  it('on systemd hosts the agent unit starts, reads its enrollment token from its credential, and enrolls', async () => {
    for (const h of [host(0), host(1)]) {
      const state = await waitFor(`${h.name}: tsdeploy-agent active`, async () => {
        const unit = await h.unitState('tsdeploy-agent.service');
        return unit.activeState === 'active' ? unit : undefined;
      });
      assert.equal(state.subState, 'running');
    }
    await waitFor('both hosts enrolled', async () => {
      const result = await controller.cli(['hosts', 'list', '--json', '--config', controller.configPath]);
      const { hosts } = JSON.parse(result.stdout) as { hosts: Array<{ host: string; status: string }> };
      return hosts.filter((h) => h.status === 'enrolled').length === 2 ? true : undefined;
    });
    const shown = await host(0).exec(['systemctl', 'show', '--property=LoadCredential,StateDirectory,Restart', 'tsdeploy-agent.service']);
    assert.match(shown.stdout, /^Restart=always$/m);
    assert.match(shown.stdout, /^StateDirectory=tsdeploy-agent$/m);
  });

  it('on a systemd host with no token file the agent unit runs, waits as pending, and deploys once approved', async () => {
    const hosts = async (): Promise<Array<{ host: string; status: string }>> =>
      (JSON.parse((await controller.cli(['hosts', 'list', '--json', '--config', controller.configPath])).stdout) as { hosts: Array<{ host: string; status: string }> }).hosts;
    await installUnitAgent(lab, host(2), { controller, key, label: 'agent-sd-base-host2', tokenFile: false });
    assert.equal((await host(2).exec(['test', '-e', credentialSource(lab.agentUnitText)])).code, 1, 'no token file where LoadCredential reads it');
    await waitFor('host2 to ask for enrollment', async () => ((await hosts()).some((h) => h.host === 'host2' && h.status === 'pending') ? true : undefined));
    const active = await host(2).exec(['systemctl', 'is-active', 'tsdeploy-agent.service']);
    assert.equal(active.stdout.trim(), 'active', 'the unit is active, not failed');
    const shown = await host(2).exec(['systemctl', 'show', '--property=NRestarts,Result', 'tsdeploy-agent.service']);
    assert.match(shown.stdout, /^NRestarts=0$/m, 'the unit never failed and restarted');
    assert.match(shown.stdout, /^Result=success$/m);
    const credential = await host(2).exec(['cat', TOKEN_CREDENTIAL]);
    assert.equal(credential.stdout, '\n', "the credential is SetCredential's fallback, which the agent reads as no token");
    const approved = await controller.cli(['hosts', 'approve', 'host2', '--config', controller.configPath]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^host2: enrolled/);
    const result = await controller.publish(key, 'host2', systems['r1-host2'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const status = await waitForHostState(controller, 'host2', 'in-sync');
    assert.equal(status.current, systems['r1-host2']);
    assert.equal((await journalOf(host(2))).deployment?.phase, 'confirmed');
    assert.deepEqual(await host(2).healthStatus(), { status: 200, body: 'agent-sd-r1-host2' });
  });

  it('first deployment on systemd hosts: both converge and report healthy', async () => {
    for (const index of [0, 1]) {
      const result = await controller.publish(key, `host${index}`, systems[`r1-host${index}`] ?? '');
      assert.equal(result.code, 0, result.stderr);
    }
    for (const index of [0, 1]) {
      const status = await waitForHostState(controller, `host${index}`, 'in-sync');
      assert.equal(status.current, systems[`r1-host${index}`]);
      assert.equal(await host(index).currentSystem(), systems[`r1-host${index}`]);
      assert.deepEqual(await host(index).healthStatus(), { status: 200, body: `agent-sd-r1-host${index}` });
      assert.equal((await host(index).exec(['systemctl', 'is-system-running'])).stdout.trim(), 'running');
    }
  });

  it('upgrade on a systemd host: the new generation runs and the agent unit was not restarted', async () => {
    const before = await host(0).unitState('tsdeploy-agent.service');
    const result = await controller.publish(key, 'host0', systems['r2'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    await waitFor('host0 to confirm version 2', async () => ((await journalOf(host(0))).deployment?.phase === 'confirmed' && (await journalOf(host(0))).deployment?.version === 2 ? true : undefined), 90_000);
    assert.equal(await host(0).currentSystem(), systems['r2']);
    assert.deepEqual(await host(0).healthStatus(), { status: 200, body: 'agent-sd-r2' });
    assert.equal((await host(0).unitState('tsdeploy-agent.service')).mainPid, before.mainPid);
  });

  it('activation failure on a systemd host (a unit fails to start) is rolled back', async () => {
    const result = await controller.publish(key, 'host1', systems['broken'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const status = await waitForHostState(controller, 'host1', 'rolled-back');
    assert.match(status.error ?? '', /activation failed/);
    assert.equal(await host(1).currentSystem(), systems['r1-host1']);
    assert.equal((await host(1).unitState('lab-service.service')).activeState, 'active');
    assert.equal((await host(1).exec(['systemctl', 'is-system-running'])).stdout.trim(), 'running');
  });

  it('health failure on a systemd host (the service answers 500) is rolled back', async () => {
    const result = await controller.publish(key, 'host0', systems['sick'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const status = await waitForHostState(controller, 'host0', 'rolled-back');
    assert.match(status.error ?? '', /health/);
    assert.equal(await host(0).currentSystem(), systems['r2']);
    assert.deepEqual(await host(0).healthStatus(), { status: 200, body: 'agent-sd-r2' });
  });

  it('a change of the agent unit on a systemd host is left running by the switch, then systemd starts the new unit', async () => {
    const before = await host(1).unitState('tsdeploy-agent.service');
    const result = await controller.publish(key, 'host1', systems['unit-change'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    await waitForHostState(controller, 'host1', 'in-sync');
    const log = await host(1).journal('tsdeploy-agent.service');
    assert.doesNotMatch(log, /Stopping tsdeploy-agent\.service/, 'switch-to-configuration did not stop the agent');
    const after = await waitFor('the agent to run under its new unit', async () => {
      const state = await host(1).unitState('tsdeploy-agent.service');
      return state.activeState === 'active' && state.mainPid !== before.mainPid ? state : undefined;
    }, 60_000, 250);
    const environ = (await host(1).exec(['cat', `/proc/${after.mainPid}/environ`])).stdout.split('\0');
    assert.ok(environ.includes('TSDEPLOY_LAB_UNIT_REVISION=agent-sd-unit-change'), 'the new unit runs');
  });

  it('after a power cut a systemd host boots its last switched generation and the agent unit reports from it', async () => {
    const reports = async (): Promise<Array<{ seq: number; currentSystem?: string | null; bootedSystem?: string | null }>> =>
      (await readText(join(controller.stateDir, 'reports', 'host0.log')))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const entry = JSON.parse(line) as { envelope?: { payload: string }; payload?: string };
          return JSON.parse(Buffer.from(entry.envelope?.payload ?? entry.payload ?? '', 'base64').toString('utf8')) as { seq: number };
        });
    const lastSeq = Math.max(0, ...(await reports()).map((report) => report.seq));
    const booted = await host(0).powerCut();
    assert.equal(booted.state, 'running');
    assert.equal(await host(0).bootedSystem(), systems['r2']);
    await waitFor('the agent unit to run again', async () => ((await host(0).unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined));
    const report = await waitFor('a report from the rebooted host', async () => (await reports()).find((r) => r.seq > lastSeq && r.bootedSystem === systems['r2']), 60_000, 500);
    assert.equal(report.currentSystem, systems['r2']);
  });
});
