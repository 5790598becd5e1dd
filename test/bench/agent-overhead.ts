// Benchmark 4, agent overhead: the same large closure deployed on fresh lab hosts by the agent (`once`, from
// a file:// source, with its health window) and by the bare sequence (nix-store --realise, nix-env --set,
// switch-to-configuration switch), alternated, three rounds. The agent runs from dist/ when it is built
// (`npm run build`), as installed; otherwise through tsx, whose start-up is then part of the figure.
// Usage: node --import tsx test/bench/agent-overhead.ts [--large-mib 256] [--rounds 3]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TSX_IMPORT } from '../lab/cache.js';
import { createLab, type LabHost } from '../lab/lab.js';
import { makeReleaseKey, publishToDirectory, signedManifest, writeAgentConfig } from '../e2e/harness.js';
import { loadAverage, ROOT } from './bench-lib.js';

async function timedExec(host: LabHost, argv: readonly string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const result = await host.exec(argv, { timeoutMs: 900_000 });
  if (result.code !== 0) throw new Error(`${host.name}: ${argv.join(' ')} exited ${result.code}: ${result.stderr.slice(-400)}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function agentOverhead(largeMiB: number, rounds: number): Promise<string> {
  const dist = join(ROOT, 'dist/agent/main.js');
  const agentArgv = existsSync(dist) ? [process.execPath, dist] : [process.execPath, '--import', TSX_IMPORT, join(ROOT, 'agent/main.ts')];
  const lines: string[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    const lab = await createLab({ hosts: 2, name: 'overhead' });
    try {
      const key = await makeReleaseKey(lab);
      const system = await lab.buildSystem('large', `overhead-${lab.id}-${round}`, { sizeMiB: largeMiB });
      const [agentHost, bareHost] = lab.hosts as [LabHost, LabHost];
      const dir = join(lab.dir, 'mirror');
      await publishToDirectory(dir, agentHost.name, signedManifest(key, agentHost.name, system, 1));
      const config = await writeAgentConfig(agentHost, {
        source: `file://${dir}`,
        trustedKeys: [key.publicKey],
        extra: { health: { checks: [], timeoutSeconds: 8, stableSeconds: 0, intervalSeconds: 0.5 }, logLevel: 'warn', minFreeBytes: 0 },
      });
      const order = round % 2 === 1 ? ['agent', 'bare'] : ['bare', 'agent'];
      const times: Record<string, number> = {};
      for (const which of order) {
        if (which === 'agent') {
          times['agent'] = await timedExec(agentHost, [...agentArgv, 'once', '--config', config]);
        } else {
          times['bare'] =
            (await timedExec(bareHost, ['nix-store', '--realise', system])) +
            (await timedExec(bareHost, ['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', system])) +
            (await timedExec(bareHost, [`${system}/bin/switch-to-configuration`, 'switch']));
        }
      }
      const ratio = (times['agent'] ?? 0) / (times['bare'] ?? 1);
      ratios.push(ratio);
      lines.push(`agent overhead round ${round} (${order.join(' then ')}): agent ${(times['agent'] ?? 0).toFixed(0)} ms, bare ${(times['bare'] ?? 0).toFixed(0)} ms, ratio ${ratio.toFixed(2)}`);
    } finally {
      await lab.teardown();
    }
  }
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  lines.push(`agent overhead: ${largeMiB} MiB closure, agent from ${existsSync(dist) ? 'dist/' : 'tsx'}; mean ratio ${mean.toFixed(2)}; load ${await loadAverage()}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { 'large-mib': { type: 'string', default: '256' }, rounds: { type: 'string', default: '3' } } });
  process.stdout.write(`${await agentOverhead(Number(values['large-mib']), Number(values.rounds))}\n`);
}
