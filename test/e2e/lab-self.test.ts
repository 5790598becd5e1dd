// The fleet lab's own check on real Nix: substitution from the signed cache, profile generations, activation, rollback, refusal, network cut, teardown.
// Replaced, because this machine has no systemd as PID 1 and no kernel to switch to: the lab's switch-to-configuration
// starts its service as a plain background process and only records kernel/initrd links.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { runCommand } from '../../shared/command.js';
import { LabRecordSchema, type LabRecord, labProcesses, markedProcesses, namespacesOf, recordPath } from '../lab/cleanup.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { createLab, type Lab, type LabHost, SERVICE_PORT } from '../lab/lab.js';

const PROFILE = '/nix/var/nix/profiles/system';

async function ok(host: LabHost, argv: readonly string[]): Promise<string> {
  const result = await host.exec(argv);
  assert.equal(result.code, 0, `${argv.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** What the agent will do for real later: realise, set the profile, activate. */
async function deploy(host: LabHost, system: string): Promise<void> {
  await ok(host, ['nix-store', '--realise', system]);
  await ok(host, ['nix-env', '-p', PROFILE, '--set', system]);
  await ok(host, [`${system}/bin/switch-to-configuration`, 'switch']);
}

async function machineState(): Promise<{ links: string; netns: string }> {
  const links = (await runCommand({ argv: ['ip', '-o', 'link', 'show'] })).stdout
    .split('\n')
    .map((line) => line.replace(/^\d+:\s*/, '').split(':')[0] ?? '')
    .sort()
    .join(' ');
  const netns = (await runCommand({ argv: ['ip', 'netns', 'list'] })).stdout;
  return { links, netns };
}

/** Running, not a zombie (a zombie has left its namespaces). */
function running(pid: number): boolean {
  return namespacesOf(pid).length > 0;
}

function readRecord(id: string): LabRecord {
  return LabRecordSchema.parse(JSON.parse(readFileSync(recordPath(id), 'utf8')));
}

function assertNothingLeft(record: LabRecord, crashed: boolean, before: { links: string; netns: string }, after: { links: string; netns: string }): void {
  // A crashed lab's namespace numbers may already belong to the next lab: only its own marked processes count.
  assert.deepEqual(labProcesses(record, { requireMarker: crashed }), [], 'processes left in the lab namespaces');
  assert.deepEqual(markedProcesses(record.id), [], 'processes carrying the lab marker left');
  assert.equal(existsSync(record.dir), false, 'lab directory left');
  assert.equal(existsSync(recordPath(record.id)), false, 'registry entry left');
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(record.dir), false, 'mount left');
  assert.equal(after.links, before.links, 'links in the machine namespace changed');
  assert.equal(after.netns, before.netns, 'named network namespaces changed');
}

describe('fleet lab self-test (real Nix; service without systemd as PID 1, no real kernel switch)', () => {
  let lab: Lab;
  let host: LabHost;
  let baseline: { links: string; netns: string };
  let first: string;
  let second: string;

  before(async () => {
    baseline = await machineState();
    lab = await createLab({ hosts: 2, name: 'self' });
    const [h0] = lab.hosts;
    assert.ok(h0);
    host = h0;
  });

  after(async () => {
    await lab?.teardown();
  });

  test('hosts have addresses only inside lab namespaces, and the machine namespace gains no link', async () => {
    const addresses = lab.hosts.map((h) => h.address);
    assert.equal(new Set([...addresses, lab.infra.address]).size, lab.hosts.length + 1);
    assert.match(await ok(host, ['ip', '-4', '-o', 'addr', 'show', 'eth0']), new RegExp(`inet ${host.address.replace(/\./g, '\\.')}/24`));
    assert.deepEqual(await machineState(), baseline);
  });

  test('a host starts with an empty store and a nix.conf that trusts only the lab cache key', async () => {
    assert.deepEqual(readdirSync(`${host.dir}/nix`), [], 'the host /nix is empty');
    const config = await ok(host, ['nix', '--extra-experimental-features', 'nix-command', 'show-config']);
    assert.match(config, new RegExp(`^substituters = ${lab.cache.url}$`, 'm'));
    assert.match(config, new RegExp(`^trusted-public-keys = ${lab.cache.publicKey.replace(/[+/]/g, '\\$&')}$`, 'm'));
    assert.match(config, /^require-sigs = true$/m);
    assert.equal(await host.currentSystem(), null);
    assert.deepEqual(await host.profileGenerations(), []);
  });

  test('a host realises a good system from the lab cache over the lab network, with its signature checked', async () => {
    first = await lab.buildSystem('good', 'self-v1');
    const realised = await host.exec(['nix-store', '--realise', first]);
    assert.equal(realised.code, 0, realised.stderr);
    assert.match(realised.stderr, new RegExp(`copying path '${first}' from '${lab.cache.url}'`));
    const closure = (await ok(host, ['nix-store', '-qR', first])).trim().split('\n');
    assert.ok(closure.length >= 2, `closure of ${closure.length} path(s)`);
    const keyName = lab.cache.publicKey.split(':')[0] ?? '';
    const sigs = await ok(host, ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--sigs', first]);
    assert.ok(sigs.includes(`${keyName}:`), sigs);
    const cacheLog = readFileSync(`${lab.dir}/infra/cache-server.log`, 'utf8');
    assert.ok(cacheLog.includes(`"remote":"${host.address}"`), 'the cache server saw the host on the lab network');
  });

  test('setting the system profile makes generation 1, and switch-to-configuration switch starts a service answering 200 on /health', async () => {
    await ok(host, ['nix-env', '-p', PROFILE, '--set', first]);
    assert.deepEqual(await host.profileGenerations(), [{ number: 1, path: first, current: true }]);
    const switched = await host.exec([`${first}/bin/switch-to-configuration`, 'switch']);
    assert.equal(switched.code, 0, switched.stderr);
    assert.equal(await host.currentSystem(), first);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'self-v1' });
    assert.equal((await ok(host, ['cat', `${first}/nixos-version`])).trim(), 'self-v1');
    for (const entry of ['kernel', 'initrd', 'kernel-modules']) await ok(host, ['test', '-e', `${first}/${entry}`]);
  });

  test('the service is reachable from infra over the lab network', async () => {
    assert.deepEqual(await lab.infra.httpGet(`http://${host.address}:${SERVICE_PORT}/health`), { status: 200, body: 'self-v1' });
  });

  test('a second system becomes generation 2, and rolling back to generation 1 restores the first service', async () => {
    second = await lab.buildSystem('good', 'self-v2');
    await deploy(host, second);
    assert.deepEqual(
      (await host.profileGenerations()).map((g) => [g.number, g.path, g.current]),
      [
        [1, first, false],
        [2, second, true],
      ],
    );
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'self-v2' });

    await ok(host, ['nix-env', '-p', PROFILE, '--switch-generation', '1']);
    await ok(host, [`${PROFILE}/bin/switch-to-configuration`, 'switch']);
    assert.deepEqual(
      (await host.profileGenerations()).map((g) => [g.number, g.current]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.equal(await host.currentSystem(), first);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'self-v1' });
  });

  test('nix refuses a closure signed only by a key the host does not trust', async () => {
    const rogue = await lab.buildSystem('good', 'self-rogue', { signedBy: 'untrusted' });
    const result = await host.exec(['nix-store', '--realise', rogue]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /is not signed by any of the keys in 'trusted-public-keys'/);
    assert.equal((await host.exec(['test', '-e', rogue])).code, 1, 'the rogue path is not in the host store');
  });

  test('dry-activate changes nothing and boot only records the boot entry', async () => {
    const dry = await host.exec([`${second}/bin/switch-to-configuration`, 'dry-activate']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would/);
    await ok(host, [`${second}/bin/switch-to-configuration`, 'boot']);
    assert.equal(await host.currentSystem(), first);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'self-v1' });
    assert.equal((await ok(host, ['readlink', '/nix/var/lab/boot-default'])).trim(), second);
    const usage = await host.exec([`${second}/bin/switch-to-configuration`, 'bogus']);
    assert.equal(usage.code, 1);
  });

  test('a broken system changes something, then its activation exits 1', async () => {
    const broken = await lab.buildSystem('broken', 'self-broken');
    await ok(host, ['nix-store', '--realise', broken]);
    const result = await host.exec([`${broken}/bin/switch-to-configuration`, 'switch']);
    assert.equal(result.code, 1);
    assert.equal(await host.currentSystem(), broken);
    assert.equal(await host.healthStatus(), null, 'the previous service was stopped');
    await ok(host, [`${first}/bin/switch-to-configuration`, 'switch']);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'self-v1' });
  });

  test('an unhealthy system activates but its service answers 500', async () => {
    const unhealthy = await lab.buildSystem('unhealthy', 'self-sick');
    await ok(host, ['nix-store', '--realise', unhealthy]);
    await ok(host, [`${unhealthy}/bin/switch-to-configuration`, 'test']);
    assert.deepEqual(await host.healthStatus(), { status: 500, body: 'self-sick' });
    await ok(host, [`${first}/bin/switch-to-configuration`, 'test']);
  });

  test('a network-breaking system cuts the host off from infra and the cache, and a good system restores it', async () => {
    const breaking = await lab.buildSystem('network-breaking', 'self-netbreak');
    await ok(host, ['nix-store', '--realise', breaking]);
    await ok(host, [`${breaking}/bin/switch-to-configuration`, 'switch']);
    assert.equal(await host.httpGet(`${lab.cache.url}/nix-cache-info`, 1000), null);
    assert.equal(await lab.infra.httpGet(`http://${host.address}:${SERVICE_PORT}/health`, 1000), null);
    await ok(host, [`${first}/bin/switch-to-configuration`, 'switch']);
    assert.equal((await host.httpGet(`${lab.cache.url}/nix-cache-info`))?.status, 200);
    assert.deepEqual(await lab.infra.httpGet(`http://${host.address}:${SERVICE_PORT}/health`), { status: 200, body: 'self-v1' });
  });

  test('cutLink takes the host off the lab network until restoreLink', async () => {
    await host.cutLink();
    assert.equal(await host.httpGet(`${lab.cache.url}/nix-cache-info`, 1000), null);
    await host.restoreLink();
    assert.equal((await host.httpGet(`${lab.cache.url}/nix-cache-info`))?.status, 200);
  });

  test('a process spawned in a host runs there, logs to its file, and can be killed with SIGKILL', async () => {
    const other = lab.hosts[1];
    assert.ok(other);
    const logFile = `${other.dir}/logs/sleeper.log`;
    const proc = other.spawn(['sh', '-c', 'ip -4 -o addr show eth0; exec sleep 1000'], { logFile });
    assert.ok(proc.pid > 0);
    for (let i = 0; i < 500 && !readFileSync(logFile, 'utf8').includes('eth0'); i += 1) await delay(10);
    proc.kill('SIGKILL');
    assert.equal(await proc.exited, null);
    assert.match(readFileSync(logFile, 'utf8'), new RegExp(other.address.replace(/\./g, '\\.')));
  });

  test('startAgent runs the repo agent inside the host, logging to the host log (a missing config ends it)', async () => {
    const other = lab.hosts[1];
    assert.ok(other);
    const agent = other.startAgent('/nonexistent/agent.json');
    assert.notEqual(await agent.exited, 0);
    assert.match(readFileSync(`${other.dir}/logs/agent.log`, 'utf8'), /\/nonexistent\/agent\.json/);
  });

  test('teardown leaves no namespace, mount, veth, bridge, process or file behind, and is idempotent', async () => {
    const record = readRecord(lab.id);
    assert.ok(record.namespaces.length >= 2 * (lab.hosts.length + 1));
    await lab.teardown();
    await lab.teardown();
    assertNothingLeft(record, false, baseline, await machineState());
  });
});

describe('fleet lab crash recovery', () => {
  test('the leftovers of a lab whose owner was killed with SIGKILL are removed by the next createLab', async () => {
    const baseline = await machineState();
    const owner = spawn(process.execPath, ['--import', TSX_IMPORT, new URL('../lab/crash-owner.ts', import.meta.url).pathname], {
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
    const { id, servicePid } = JSON.parse(line) as { id: string; servicePid: number };
    const record = readRecord(id);
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    // The service outlives its owner (as a daemon would); only the next lab can clean it up.
    assert.ok(running(servicePid), 'the stray service is still running');

    const next = await createLab({ hosts: 1, name: 'after-crash' });
    try {
      assert.equal(running(servicePid), false);
      assertNothingLeft(record, true, baseline, baseline);
    } finally {
      await next.teardown();
    }
    assert.deepEqual(await machineState(), baseline);
  });
});
