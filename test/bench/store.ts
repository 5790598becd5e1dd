// Benchmark 6, store at fleet size: a state directory of N enrolled hosts with manifests and one report
// each; prints controller start-up time, GET /v1/status time and `status --json` time.
// Usage: node --import tsx test/bench/store.ts [--hosts 10000]
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { report, signedReport } from '../controller/fixtures.js';
import { loadAverage, mib, releaseKeys, rssBytes, runNode, startControllerProcess } from './bench-lib.js';
import { seedState } from './seed.js';

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

export async function storeBench(count: number): Promise<string> {
  const keys = await releaseKeys();
  const seeded = await timed(() => seedState(keys, count));
  const { stateDir, hosts } = seeded.value;
  let controller = await startControllerProcess(keys, stateDir);
  const dispatcher = new Agent({ connections: 32 });
  try {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < hosts.length; i = next++) {
        const { host, key } = hosts[i] ?? { host: '', key: keys.secret };
        const body = signedReport(key, report(host, 1, { kind: 'heartbeat', phase: 'confirmed', outcome: 'success' }));
        const response = await request(`${controller.url}/v1/hosts/${host}/reports`, { method: 'POST', body, dispatcher });
        await response.body.dump();
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    await controller.stop();
    controller = await startControllerProcess(keys, stateDir);
    const apiTimes: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i += 1) {
      const { ms, value } = await timed(async () => {
        const response = await request(`${controller.url}/v1/status`, { dispatcher });
        return (await response.body.arrayBuffer()).byteLength;
      });
      apiTimes.push(ms);
      bytes = value;
    }
    const cli = await timed(() => runNode(['controller/main.ts', 'status', '--controller', controller.url, '--json']));
    return (
      `store ${count} hosts (seeded in ${(seeded.ms / 1000).toFixed(1)} s): controller start ${controller.startMs} ms; ` +
      `GET /v1/status ${Math.min(...apiTimes).toFixed(0)}–${Math.max(...apiTimes).toFixed(0)} ms (${mib(bytes)}); ` +
      `\`status --json\` ${cli.ms.toFixed(0)} ms including Node start (exit ${cli.value.code}); controller RSS ${mib(await rssBytes(controller.pid))}; load ${await loadAverage()}`
    );
  } finally {
    await dispatcher.close();
    await controller.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { hosts: { type: 'string', default: '10000' } } });
  process.stdout.write(`${await storeBench(Number(values.hosts))}\n`);
}
