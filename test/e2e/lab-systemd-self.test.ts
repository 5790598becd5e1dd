// The fleet lab's systemd hosts checked on real systemd and real Nix: PID 1, Restart=always, the agent's systemd
// health check against the real systemctl, a switch stopping a removed unit, reboots into the boot-default
// generation, power cuts, signed substitution, and a teardown (also after a killed owner) that leaves nothing behind.
// Still replaced on these hosts: the kernel (a container shares the machine's; a "kernel" is a file of the
// system) and the boot loader (a boot entry is a symlink that the host's stage 2 reads).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { HealthResult } from '../../shared/report.js';
import { labCgroupDirs } from '../lab/cgroups.js';
import { LabRecordSchema, type LabRecord, labProcesses, markedProcesses, namespacesOf, recordPath } from '../lab/cleanup.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { createLab, REPO_ROOT, type Lab, type SystemdLabHost } from '../lab/lab.js';

const PROFILE = '/nix/var/nix/profiles/system';
const HEALTH_PROBE = `${REPO_ROOT}/test/lab/health-probe.ts`;

async function ok(host: SystemdLabHost, argv: readonly string[]): Promise<string> {
  const result = await host.exec(argv);
  assert.equal(result.code, 0, `${argv.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function deploy(host: SystemdLabHost, system: string, action = 'switch'): Promise<void> {
  await ok(host, ['nix-store', '--realise', system]);
  if (action !== 'test') await ok(host, ['nix-env', '-p', PROFILE, '--set', system]);
  await ok(host, [`${system}/bin/switch-to-configuration`, action]);
}

/** The agent's own health checks (agent/adapters/health-checks.ts), run inside the host against its systemctl. */
async function agentSystemdCheck(host: SystemdLabHost): Promise<HealthResult> {
  const out = await ok(host, [process.execPath, '--import', TSX_IMPORT, HEALTH_PROBE, JSON.stringify([{ type: 'systemd', timeoutSeconds: 10 }])]);
  const [result] = JSON.parse(out) as HealthResult[];
  assert.ok(result);
  return result;
}

function readRecord(id: string): LabRecord {
  return LabRecordSchema.parse(JSON.parse(readFileSync(recordPath(id), 'utf8')));
}

/** Every mount table on the machine (each process's), so a mount left in any namespace is seen. */
function anyMountMentions(text: string): boolean {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}

function assertNothingLeft(record: LabRecord, crashed: boolean): void {
  assert.deepEqual(labProcesses(record, { requireMarker: crashed }), [], 'processes left in the lab namespaces');
  assert.deepEqual(markedProcesses(record.id), [], 'processes carrying the lab marker left');
  for (const dir of labCgroupDirs(record.id)) assert.equal(existsSync(dir), false, `cgroup dir ${dir} left`);
  assert.equal(existsSync(record.dir), false, 'lab directory left');
  assert.equal(existsSync(recordPath(record.id)), false, 'registry entry left');
  assert.equal(anyMountMentions(record.dir), false, 'mount left');
}

describe('fleet lab systemd hosts (real systemd as PID 1, real Nix; kernel and boot loader replaced)', () => {
  let lab: Lab<SystemdLabHost>;
  let host: SystemdLabHost;
  let first: string;
  let second: string;

  before(async () => {
    const started = Date.now();
    lab = await createLab({ hosts: 2, name: 'sd-self', kind: 'systemd' });
    process.stdout.write(`# 2 systemd hosts booted in ${Date.now() - started} ms (rootfs cached)\n`);
    const [h0] = lab.hosts;
    assert.ok(h0);
    host = h0;
  });
  after(async () => {
    await lab?.teardown();
  });

  test('on a systemd host PID 1 is systemd, boot settles as running, and each host has its own identity', async () => {
    assert.equal((await ok(host, ['cat', '/proc/1/comm'])).trim(), 'systemd');
    assert.equal((await ok(host, ['systemctl', 'is-system-running'])).trim(), 'running');
    assert.equal((await ok(host, ['hostname'])).trim(), 'host0');
    const ids = await Promise.all(lab.hosts.map(async (h) => (await ok(h, ['cat', '/etc/machine-id'])).trim()));
    assert.equal(new Set(ids).size, lab.hosts.length);
    assert.match(await ok(host, ['ip', '-4', '-o', 'addr', 'show', 'eth0']), new RegExp(`inet ${host.address.replace(/\./g, '\\.')}/24`));
    process.stdout.write(`# memory of one idle systemd host: ${Math.round(host.memoryBytes() / 1048576)} MiB (PSS)\n`);
  });

  test('a systemd host substitutes a system from the signed lab cache, and its switch starts the unit with systemd', async () => {
    assert.deepEqual(readdirSync(`${host.dir}/nix`), [], 'the host /nix starts empty');
    first = await lab.buildSystem('good', 'sd-v1');
    const realised = await host.exec(['nix-store', '--realise', first]);
    assert.equal(realised.code, 0, realised.stderr);
    assert.match(realised.stderr, new RegExp(`copying path '${first}' from '${lab.cache.url}'`));
    const sigs = await ok(host, ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--sigs', first]);
    assert.ok(sigs.includes(`${lab.cache.publicKey.split(':')[0] ?? ''}:`), sigs);
    await deploy(host, first);
    assert.equal(await host.currentSystem(), first);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'sd-v1' });
    assert.equal((await host.unitState('lab-service.service')).activeState, 'active');
    assert.match(await host.journal('lab-service.service'), /Started lab-service\.service/);
  });

  test('a systemd host refuses a closure signed only by lab.untrustedKey', async () => {
    const rogue = await lab.buildSystem('good', 'sd-rogue', { signedBy: 'untrusted' });
    const result = await host.exec(['nix-store', '--realise', rogue]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /is not signed by any of the keys in 'trusted-public-keys'/);
    assert.equal((await host.exec(['test', '-e', rogue])).code, 1);
  });

  test('on a systemd host a unit with Restart=always comes back after kill -9', async () => {
    const before = await host.unitState('lab-service.service');
    assert.ok(before.mainPid > 0);
    await ok(host, ['kill', '-9', String(before.mainPid)]);
    let now = before;
    for (let i = 0; i < 600 && (now.restarts <= before.restarts || now.activeState !== 'active' || now.mainPid === before.mainPid); i += 1) {
      await delay(50);
      now = await host.unitState('lab-service.service');
    }
    assert.equal(now.activeState, 'active');
    assert.ok(now.restarts > before.restarts, `NRestarts ${now.restarts}`);
    assert.notEqual(now.mainPid, before.mainPid);
    assert.match(await host.journal('lab-service.service'), /status=9\/KILL/);
    for (let i = 0; i < 100 && (await host.healthStatus())?.status !== 200; i += 1) await delay(50);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'sd-v1' });
  });

  test("on a systemd host the agent's systemd health check reads a failed unit as unhealthy from the real systemctl", async () => {
    assert.deepEqual(await agentSystemdCheck(host), { name: 'systemd', type: 'systemd', ok: true, detail: 'running' });
    const broken = await lab.buildSystem('broken', 'sd-broken');
    await ok(host, ['nix-store', '--realise', broken]);
    const switched = await host.exec([`${broken}/bin/switch-to-configuration`, 'test']);
    assert.equal(switched.code, 4, 'a unit failed: switch-to-configuration exits 4, as on NixOS');
    assert.equal((await host.unitState('lab-service.service')).activeState, 'failed');
    const check = await agentSystemdCheck(host);
    assert.equal(check.ok, false);
    assert.match(check.detail, /system is degraded; failed units: lab-service\.service/);
    await ok(host, [`${first}/bin/switch-to-configuration`, 'test']);
    assert.equal((await agentSystemdCheck(host)).ok, true);
  });

  test('on a systemd host dry-activate changes nothing, an unhealthy unit answers 500, and a network-breaking system cuts the host off', async () => {
    const other = lab.hosts[1];
    assert.ok(other);
    await deploy(other, first);
    const sick = await lab.buildSystem('unhealthy', 'sd-sick');
    await ok(other, ['nix-store', '--realise', sick]);
    const dry = await ok(other, [`${sick}/bin/switch-to-configuration`, 'dry-activate']);
    assert.match(dry, /would restart the following units: lab-service\.service/);
    assert.equal(await other.currentSystem(), first);
    await ok(other, [`${sick}/bin/switch-to-configuration`, 'test']);
    assert.deepEqual(await other.healthStatus(), { status: 500, body: 'sd-sick' });
    const breaking = await lab.buildSystem('network-breaking', 'sd-netbreak');
    await ok(other, ['nix-store', '--realise', breaking]);
    await ok(other, [`${breaking}/bin/switch-to-configuration`, 'test']);
    assert.equal(await other.httpGet(`${lab.cache.url}/nix-cache-info`, 1000), null);
    assert.equal(await lab.infra.httpGet(`http://${other.address}:9100/health`, 1000), null);
    await ok(other, [`${first}/bin/switch-to-configuration`, 'test']);
    assert.equal((await other.httpGet(`${lab.cache.url}/nix-cache-info`))?.status, 200);
    assert.deepEqual(await lab.infra.httpGet(`http://${other.address}:9100/health`), { status: 200, body: 'sd-v1' });
  });

  test('on a systemd host a switch stops a unit that the new generation no longer has', async () => {
    const other = lab.hosts[1];
    assert.ok(other);
    const without = await lab.buildSystem('no-service', 'sd-no-service');
    await ok(other, ['nix-store', '--realise', without]);
    assert.match(await ok(other, [`${without}/bin/switch-to-configuration`, 'dry-activate']), /would stop the following units: lab-service\.service/);
    assert.equal((await other.unitState('lab-service.service')).activeState, 'active');
    await ok(other, [`${without}/bin/switch-to-configuration`, 'test']);
    assert.equal((await other.unitState('lab-service.service')).activeState, 'inactive');
    assert.equal(await lab.infra.httpGet(`http://${other.address}:9100/health`, 1000), null);
    await ok(other, [`${first}/bin/switch-to-configuration`, 'test']);
    assert.deepEqual(await lab.infra.httpGet(`http://${other.address}:9100/health`), { status: 200, body: 'sd-v1' });
  });

  test('a reboot of a systemd host boots the boot-default generation and starts its units', async () => {
    second = await lab.buildSystem('good', 'sd-v2');
    await deploy(host, second, 'boot');
    assert.equal(await host.currentSystem(), first, 'boot changes nothing before the reboot');
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'sd-v1' });
    const before = await host.bootInfo();
    const started = Date.now();
    const after = await host.reboot();
    process.stdout.write(`# reboot to a settled system: ${Date.now() - started} ms\n`);
    assert.notEqual(after.bootId, before.bootId);
    assert.equal(after.state, 'running');
    assert.equal(await host.bootedSystem(), second);
    assert.equal(await host.currentSystem(), second);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'sd-v2' });
  });

  test('a new kernel on a systemd host takes effect only with a reboot', async () => {
    const kernel = await lab.buildSystem('new-kernel', 'sd-kernel');
    await deploy(host, kernel);
    const linkOf = async (system: string): Promise<string> => (await ok(host, ['readlink', '-f', `${system}/kernel`])).trim();
    assert.notEqual(await linkOf('/run/booted-system'), await linkOf('/run/current-system'), 'booted and current kernels differ');
    await host.reboot();
    assert.equal(await linkOf('/run/booted-system'), await linkOf(kernel));
    assert.equal(await host.bootedSystem(), kernel);
  });

  test('a power cut of a systemd host at any moment (switching, rebooting, booting) boots it again', async () => {
    await deploy(host, second);
    const other = lab.hosts[1];
    assert.ok(other);
    const moments: Array<[string, () => Promise<void>]> = [
      ['idle', async () => undefined],
      ['mid-switch', async () => {
        host.spawn([`${first}/bin/switch-to-configuration`, 'switch']);
        await delay(30);
      }],
      ['mid-reboot', async () => {
        await host.exec(['systemctl', 'reboot'], { timeoutMs: 10_000 });
      }],
      ['mid-boot', async () => {
        await host.exec(['systemctl', 'reboot'], { timeoutMs: 10_000 });
        await delay(150);
      }],
    ];
    for (const [moment, act] of moments) {
      const before = await host.bootInfo().catch(() => ({ bootId: '', state: '' }));
      await act();
      const started = Date.now();
      const after = await host.powerCut();
      process.stdout.write(`# power cut (${moment}) to a settled system: ${Date.now() - started} ms\n`);
      assert.notEqual(after.bootId, before.bootId, moment);
      assert.equal(after.state, 'running', moment);
      const booted = await host.bootedSystem();
      assert.ok(booted === first || booted === second, `${moment}: booted ${booted ?? 'nothing'}`);
      assert.equal(booted, (await ok(host, ['readlink', '-f', '/nix/var/lab/boot-default'])).trim(), moment);
      assert.equal((await host.healthStatus())?.status, 200, moment);
    }
    assert.equal((await ok(other, ['systemctl', 'is-system-running'])).trim(), 'running', 'the other host is untouched');
  });

  test('teardown of a systemd lab leaves no process, mount, cgroup dir or network namespace behind', async () => {
    const record = readRecord(lab.id);
    const netns = record.namespaces.filter((ns) => ns.startsWith('net:'));
    assert.ok(labCgroupDirs(lab.id).every((dir) => existsSync(dir)));
    await lab.teardown();
    await lab.teardown();
    assertNothingLeft(record, false);
    const alive = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).flatMap((pid) => namespacesOf(Number(pid)));
    for (const ns of netns) assert.equal(alive.includes(ns), false, `${ns} still in use`);
  });
});

describe('fleet lab systemd hosts: crash recovery', () => {
  test('the leftovers of a systemd lab whose owner was killed with SIGKILL are removed by the next createLab', async () => {
    const owner = spawn(process.execPath, ['--import', TSX_IMPORT, new URL('../lab/systemd-crash-owner.ts', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      owner.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      owner.on('exit', (code) => reject(new Error(`crash owner exited early with ${code}`)));
    });
    const { id, initPid } = JSON.parse(line) as { id: string; initPid: number };
    const record = readRecord(id);
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    // The owner's death kills its hosts (their supervisors die with it); cgroups and files stay until the next lab.
    for (let i = 0; i < 200 && namespacesOf(initPid).length > 0; i += 1) await delay(20);
    assert.ok(labCgroupDirs(id).some((dir) => existsSync(dir)), 'cgroup dirs are left until cleaned up');

    const next = await createLab({ hosts: 1, name: 'sd-after', kind: 'systemd' });
    try {
      assertNothingLeft(record, true);
    } finally {
      await next.teardown();
    }
  });
});
