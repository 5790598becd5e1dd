// Benchmark 2, conditional polls: the controller answering 304s against nginx serving the controller's
// `export` of the same state with its own ETags; same client, same concurrency, alternated, three rounds.
// nginx runs with one worker process, as the controller is one process. Needs nginx (apt-get install nginx-light).
// Usage: node --import tsx test/bench/polls.ts [--hosts 1000] [--seconds 5] [--connections 64]
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { freePort, loadAverage, releaseKeys, runNode, startControllerProcess } from './bench-lib.js';
import { seedState } from './seed.js';

async function startNginx(root: string): Promise<{ url: string; stop(): Promise<void> }> {
  const prefix = await mkdtemp(join(tmpdir(), 'tsdeploy-bench-nginx-'));
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes 1;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log;\nevents { worker_connections 4096; }\n` +
      `http {\n  access_log off;\n  etag on;\n  client_body_temp_path ${prefix}/body;\n  proxy_temp_path ${prefix}/proxy;\n  fastcgi_temp_path ${prefix}/fastcgi;\n` +
      `  uwsgi_temp_path ${prefix}/uwsgi;\n  scgi_temp_path ${prefix}/scgi;\n` +
      `  server { listen 127.0.0.1:${port}; root ${root}; location /v1/hosts/ { default_type application/json; } }\n}\n`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await fetch(`${url}/`).then(() => true, () => false)); i += 1) await new Promise((r) => setTimeout(r, 50));
  return {
    url,
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Requests per second of conditional GETs (each with its host's current ETag) for `seconds`. */
async function hammer(url: string, hosts: readonly string[], seconds: number, connections: number): Promise<{ rps: number; notModified: number; other: number }> {
  const dispatcher = new Agent({ connections, pipelining: 1 });
  const etags = await Promise.all(
    hosts.map(async (host) => {
      const response = await request(`${url}/v1/hosts/${host}/manifest`, { dispatcher });
      await response.body.dump();
      return String(response.headers['etag'] ?? '');
    }),
  );
  let notModified = 0;
  let other = 0;
  const deadline = Date.now() + seconds * 1000;
  let i = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const k = i++ % hosts.length;
      const response = await request(`${url}/v1/hosts/${hosts[k] ?? ''}/manifest`, { dispatcher, headers: { 'if-none-match': etags[k] ?? '' } });
      await response.body.dump();
      if (response.statusCode === 304) notModified += 1;
      else other += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (Date.now() - started) / 1000;
  await dispatcher.close();
  return { rps: (notModified + other) / elapsed, notModified, other };
}

export async function pollsBench(count: number, seconds: number, connections: number): Promise<string> {
  const keys = await releaseKeys();
  const { stateDir, hosts } = await seedState(keys, count);
  const exportDir = await mkdtemp(join(tmpdir(), 'tsdeploy-bench-export-'));
  await chmod(exportDir, 0o755); // nginx's worker runs as an unprivileged user
  const exported = await runNode(['controller/main.ts', 'export', '--state-dir', stateDir, '--out', exportDir]);
  if (exported.code !== 0) throw new Error('export failed');
  const controller = await startControllerProcess(keys, stateDir);
  const nginx = await startNginx(exportDir);
  const names = hosts.map((h) => h.host);
  const lines: string[] = [];
  try {
    const ratios: number[] = [];
    for (let round = 1; round <= 3; round += 1) {
      const ours = await hammer(controller.url, names, seconds, connections);
      const theirs = await hammer(nginx.url, names, seconds, connections);
      ratios.push(ours.rps / theirs.rps);
      lines.push(
        `polls round ${round}: controller ${Math.round(ours.rps)} req/s (${ours.other} not 304), nginx ${Math.round(theirs.rps)} req/s (${theirs.other} not 304), ratio ${(ours.rps / theirs.rps).toFixed(2)}`,
      );
    }
    lines.push(`polls: ${count} hosts, ${connections} connections, ${seconds} s per run; mean ratio ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}; load ${await loadAverage()}`);
    return lines.join('\n');
  } finally {
    await nginx.stop();
    await controller.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '64' } } });
  process.stdout.write(`${await pollsBench(Number(values.hosts), Number(values.seconds), Number(values.connections))}\n`);
}
