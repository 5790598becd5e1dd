// Benchmark 1, fan-out: N agents long-poll a controller from another process; a release for all of them is
// signed and stored; prints time to sign, time to store, time until the last answer, storage-to-answer
// latency (p50/p99, from each stored file's mtime to the agent's receipt), controller RSS and errors.
// Usage: node --import tsx test/bench/fanout.ts [--hosts 1000,5000,10000] [--connections 32]
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { storePath } from '../controller/fixtures.js';
import { loadAverage, mib, percentile, releaseKeys, rssBytes, spawnNode, startControllerProcess, type BenchKeys } from './bench-lib.js';

/** Upload connections; the command line may change it (a library caller gets the default). */
let connections = 32;

function sign(keys: BenchKeys, hosts: readonly string[], version: number): string[] {
  return hosts.map((host) =>
    signManifest(
      buildManifest({ host, storePath: storePath(version), version, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() }),
      [keys.secret],
    ),
  );
}

/** POSTs every manifest with a bounded number of connections; returns the count refused. */
async function upload(url: string, bodies: readonly string[]): Promise<number> {
  const dispatcher = new Agent({ connections });
  let next = 0;
  let refused = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++] ?? '';
      const response = await request(`${url}/v1/manifests`, { method: 'POST', body, dispatcher, headers: { 'content-type': 'application/json' } });
      await response.body.dump();
      if (response.statusCode >= 300) refused += 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await dispatcher.close();
  return refused;
}

export async function fanout(n: number): Promise<string> {
  const keys = await releaseKeys();
  // Every client holds one long-poll: the connection cap must leave room for all of them and the uploads.
  const controller = await startControllerProcess(keys, undefined, { maxWaitSeconds: 60, limits: { maxConnections: n + 1024 } });
  try {
    const hosts = Array.from({ length: n }, (_, i) => `host-${i}`);
    await upload(controller.url, sign(keys, hosts, 1));
    const clients = spawnNode(['test/bench/fanout-clients.ts', controller.url, String(n), 'host']);
    let output = '';
    const ready = new Promise<void>((resolve) =>
      clients.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('READY\n')) resolve();
      }),
    );
    const finished = new Promise<void>((resolve) => clients.once('exit', () => resolve()));
    await ready;
    const rssHolding = await rssBytes(controller.pid);
    const signStart = Date.now();
    const bodies = sign(keys, hosts, 2);
    const signMs = Date.now() - signStart;
    const uploadStart = Date.now();
    const refused = await upload(controller.url, bodies);
    const uploadMs = Date.now() - uploadStart;
    const rssAfter = await rssBytes(controller.pid);
    await finished;
    const result = JSON.parse(output.slice(output.indexOf('READY\n') + 6).trim()) as { answered: Record<string, number>; errors: number };
    const latencies: number[] = [];
    let last = 0;
    for (const host of hosts) {
      const at = result.answered[host];
      if (at === undefined) continue;
      last = Math.max(last, at);
      const stored = (await stat(join(controller.stateDir, 'manifests', `${host}.json`))).mtimeMs;
      latencies.push(at - stored);
    }
    const answered = Object.keys(result.answered).length;
    return (
      `fan-out ${n}: sign ${signMs} ms; store ${uploadMs} ms (${Math.round((n / uploadMs) * 1000)}/s, ${connections} connections, ${refused} refused); ` +
      `last answer ${last - signStart} ms after signing began; storage→answer p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms; ` +
      `answered ${answered}/${n}, client errors ${result.errors}; controller RSS ${mib(rssHolding)} holding ${n} polls, ${mib(rssAfter)} after; load ${await loadAverage()}`
    );
  } finally {
    await controller.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1000,5000,10000' }, connections: { type: 'string', default: '32' } } });
  const sizes = (values.hosts ?? '').split(',').map(Number).filter((n) => n > 0 && n <= 20_000);
  connections = Math.min(Number(values.connections), 256);
  for (const n of sizes) process.stdout.write(`${await fanout(n)}\n`);
}
