// Benchmark 3, reports: sustained signed reports per second into one controller process, from clients that
// signed them beforehand, and the controller's CPU time per report.
// Usage: node --import tsx test/bench/reports.ts [--hosts 200] [--per-host 25] [--connections 32]
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { report, signedReport } from '../controller/fixtures.js';
import { cpuSeconds, loadAverage, releaseKeys, startControllerProcess } from './bench-lib.js';
import { seedState } from './seed.js';

export async function reportsBench(hostCount: number, perHost: number, connections: number): Promise<string> {
  const keys = await releaseKeys();
  const { stateDir, hosts } = await seedState(keys, hostCount);
  const controller = await startControllerProcess(keys, stateDir);
  try {
    // Pre-signed, in per-host sequence order: each host's reports go out one after another.
    const queues = hosts.map(({ host, key }) =>
      Array.from({ length: perHost }, (_, i) => signedReport(key, report(host, i + 1, { kind: 'heartbeat', phase: 'idle', outcome: 'success' }))),
    );
    const dispatcher = new Agent({ connections });
    let refused = 0;
    let sent = 0;
    let nextHost = 0;
    const worker = async () => {
      for (;;) {
        const index = nextHost++;
        const queue = queues[index];
        const host = hosts[index]?.host;
        if (queue === undefined || host === undefined) return;
        for (const body of queue) {
          const response = await request(`${controller.url}/v1/hosts/${host}/reports`, { method: 'POST', body, dispatcher, headers: { 'content-type': 'application/json' } });
          await response.body.dump();
          sent += 1;
          if (response.statusCode >= 300) refused += 1;
        }
      }
    };
    const cpuBefore = await cpuSeconds(controller.pid);
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: Math.min(connections, hosts.length) }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = (await cpuSeconds(controller.pid)) - cpuBefore;
    await dispatcher.close();
    return (
      `reports: ${sent} signed reports from ${hostCount} hosts in ${seconds.toFixed(2)} s = ${Math.round(sent / seconds)}/s ` +
      `(${connections} connections, ${refused} refused); controller CPU ${cpu.toFixed(2)} s = ${((cpu / sent) * 1000).toFixed(2)} ms per report ` +
      `(${Math.round(sent / cpu)}/s per core); load ${await loadAverage()}`
    );
  } finally {
    await controller.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { hosts: { type: 'string', default: '200' }, 'per-host': { type: 'string', default: '25' }, connections: { type: 'string', default: '32' } } });
  process.stdout.write(`${await reportsBench(Number(values.hosts), Number(values['per-host']), Number(values.connections))}\n`);
}
