// Benchmark (prints figures, asserts nothing): start a lab of N hosts, deploy one system to all of them, tear it down.
// Usage: node --import tsx test/bench/lab-scale.ts [--hosts 20] [--large-mib 0]
import { performance } from 'node:perf_hooks';
import { parseFlags, parsePositiveInt, runCli } from '../../shared/cli.js';
import { createLab, type LabHost } from '../lab/lab.js';

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)}s`;
}

async function ok(host: LabHost, argv: readonly string[]): Promise<void> {
  const result = await host.exec(argv);
  if (result.code !== 0) throw new Error(`${host.name}: ${argv.join(' ')}: ${result.stderr.trim()}`);
}

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), {
    hosts: { type: 'string', default: '20' },
    'large-mib': { type: 'string', default: '0' },
  });
  const hostCount = parsePositiveInt(values.hosts, 'hosts');
  const largeMiB = values['large-mib'] === '0' ? 0 : parsePositiveInt(values['large-mib'], 'large-mib');

  let mark = performance.now();
  const lab = await createLab({ hosts: hostCount, name: 'bench' });
  try {
    process.stdout.write(`createLab (${hostCount} hosts): ${seconds(mark)}\n`);

    mark = performance.now();
    const label = `bench-${lab.id}`;
    const system = largeMiB > 0
      ? await lab.buildSystem('large', label, { sizeMiB: largeMiB })
      : await lab.buildSystem('good', label);
    process.stdout.write(`buildSystem (${largeMiB > 0 ? `large, ${largeMiB} MiB` : 'good'}): ${seconds(mark)}\n`);

    mark = performance.now();
    await Promise.all(lab.hosts.map((host) => ok(host, ['nix-store', '--realise', system])));
    process.stdout.write(`realise on every host from the lab cache: ${seconds(mark)}\n`);

    mark = performance.now();
    await Promise.all(
      lab.hosts.map(async (host) => {
        await ok(host, ['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', system]);
        await ok(host, [`${system}/bin/switch-to-configuration`, 'switch']);
      }),
    );
    process.stdout.write(`set profile + switch on every host: ${seconds(mark)}\n`);

    mark = performance.now();
    const health = await Promise.all(lab.hosts.map((host) => host.healthStatus()));
    const healthy = health.filter((answer) => answer?.status === 200).length;
    process.stdout.write(`health of every host: ${healthy}/${hostCount} answered 200 in ${seconds(mark)}\n`);
  } finally {
    mark = performance.now();
    await lab.teardown();
    process.stdout.write(`teardown: ${seconds(mark)}\n`);
  }
  return 0;
}

await runCli('lab-scale', main);
