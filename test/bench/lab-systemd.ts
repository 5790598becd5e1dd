// Benchmark (prints figures, asserts nothing): systemd lab hosts — rootfs, boot, switch, reboot, power cut, memory, teardown.
// Usage: node --import tsx test/bench/lab-systemd.ts [--hosts 4]
import { performance } from 'node:perf_hooks';
import { parseFlags, parsePositiveInt, runCli } from '../../shared/cli.js';
import { createLab, type SystemdLabHost } from '../lab/lab.js';
import { prepareRootfs } from '../lab/rootfs.js';

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)}s`;
}

async function ok(host: SystemdLabHost, argv: readonly string[]): Promise<void> {
  const result = await host.exec(argv);
  if (result.code !== 0) throw new Error(`${host.name}: ${argv.join(' ')}: ${result.stderr.trim()}`);
}

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), { hosts: { type: 'string', default: '4' } });
  const hostCount = parsePositiveInt(values.hosts, 'hosts');

  let mark = performance.now();
  await prepareRootfs();
  process.stdout.write(`rootfs (built now, or reused from /var/cache/tsdeploy-lab): ${seconds(mark)}\n`);

  mark = performance.now();
  const lab = await createLab({ hosts: hostCount, name: 'bench-sd', kind: 'systemd' });
  try {
    process.stdout.write(`createLab (${hostCount} systemd hosts, booted to running): ${seconds(mark)}\n`);
    const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
    const idle = lab.hosts.map((host) => host.memoryBytes());
    process.stdout.write(`memory per idle host (PSS): ${idle.map(mib).join(', ')}\n`);

    const system = await lab.buildSystem('good', `bench-sd-${lab.id}`);
    mark = performance.now();
    await Promise.all(
      lab.hosts.map(async (host) => {
        await ok(host, ['nix-store', '--realise', system]);
        await ok(host, ['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', system]);
        await ok(host, [`${system}/bin/switch-to-configuration`, 'switch']);
      }),
    );
    process.stdout.write(`realise + set profile + switch on every host: ${seconds(mark)}\n`);
    process.stdout.write(`memory per host with the lab service (PSS): ${lab.hosts.map((host) => mib(host.memoryBytes())).join(', ')}\n`);

    const [first] = lab.hosts;
    if (first !== undefined) {
      for (let round = 1; round <= 3; round += 1) {
        mark = performance.now();
        await first.reboot();
        process.stdout.write(`reboot ${round} (to a settled system): ${seconds(mark)}\n`);
      }
      for (let round = 1; round <= 3; round += 1) {
        mark = performance.now();
        await first.powerCut();
        process.stdout.write(`power cut ${round} (to a settled system): ${seconds(mark)}\n`);
      }
    }
  } finally {
    mark = performance.now();
    await lab.teardown();
    process.stdout.write(`teardown: ${seconds(mark)}\n`);
  }
  return 0;
}

await runCli('lab-systemd', main);
