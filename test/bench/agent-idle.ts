// Benchmark 5, agent idle: `tsdeploy-agent run` long-polling a controller with nothing to do; prints its
// RSS and CPU seconds over the measured minutes and the CPU extrapolated to an hour. The host's one
// manifest names a path no cache has, so the agent fails it once at start and then only polls.
// Usage: node --import tsx test/bench/agent-idle.ts [--minutes 3]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatPublicKey } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { storePath } from '../controller/fixtures.js';
import { cpuSeconds, loadAverage, mib, releaseKeys, ROOT, rssBytes, runNode, startControllerProcess, TSX } from './bench-lib.js';

export async function agentIdle(minutes: number): Promise<string> {
  const keys = await releaseKeys();
  const controller = await startControllerProcess(keys);
  const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-bench-agent-'));
  const config = join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      host: 'idle-1',
      source: controller.url,
      trustedKeys: [formatPublicKey(keys.public)],
      stateDir: join(dir, 'state'),
      profile: join(dir, 'profiles/system'),
      poll: { waitSeconds: 55 },
      logLevel: 'warn',
    }),
  );
  const dist = join(ROOT, 'dist/agent/main.js');
  const agentArgs = existsSync(dist) ? [dist] : [...TSX, join(ROOT, 'agent/main.ts')];
  const publicKey = (await runNode(['agent/main.ts', 'pubkey', '--config', config])).stdout.trim();
  await runNode(['controller/main.ts', 'hosts', 'approve', 'idle-1', '--key', publicKey, '--state-dir', controller.stateDir]);
  const manifest = buildManifest({ host: 'idle-1', storePath: storePath(9), version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() });
  await fetch(`${controller.url}/v1/manifests`, { method: 'POST', body: signManifest(manifest, [keys.secret]) });
  const agent = spawn(process.execPath, [...agentArgs, 'run', '--config', config], { stdio: 'ignore' });
  const pid = agent.pid ?? 0;
  try {
    await new Promise((resolve) => setTimeout(resolve, 15_000)); // start, enroll, fail the one manifest, settle
    const cpuStart = await cpuSeconds(pid);
    const rss: number[] = [];
    const deadline = Date.now() + minutes * 60_000;
    while (Date.now() < deadline) {
      rss.push(await rssBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
    const cpu = (await cpuSeconds(pid)) - cpuStart;
    return (
      `agent idle ${minutes} min (from ${existsSync(dist) ? 'dist/' : 'tsx'}): RSS ${mib(Math.min(...rss))}–${mib(Math.max(...rss))}; ` +
      `CPU ${cpu.toFixed(2)} s = ${((cpu / minutes) * 60).toFixed(1)} s per hour (extrapolated); load ${await loadAverage()}`
    );
  } finally {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
    await controller.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '3' } } });
  process.stdout.write(`${await agentIdle(Number(values.minutes))}\n`);
}
