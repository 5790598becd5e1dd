// Shared pieces of the benchmarks: a controller in its own process, process RSS and CPU from /proc,
// percentiles. Benchmarks print figures and assert nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPublicKey, generateKeyPair, writeKeyPair, type PublicKey, type SecretKey } from '../../shared/keys.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TSX = ['--import', 'tsx'];

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resident memory of a process, from /proc/PID/status. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** User + system CPU seconds a process has used, from /proc/PID/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

export function loadAverage(): Promise<string> {
  return readFile('/proc/loadavg', 'utf8').then((text) => text.split(' ').slice(0, 3).join(' '));
}

/**
 * A node process running a repo script. It inherits this process's open-files limit (20,000 on the CI
 * machine kind, which cannot raise it), enough for 10,000 long-polls per process.
 */
export function spawnNode(args: readonly string[], options: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): ChildProcess {
  return spawn(process.execPath, [...TSX, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', options.quiet === true ? 'ignore' : 'pipe', 'inherit'],
  });
}

export interface BenchKeys {
  readonly dir: string;
  readonly secret: SecretKey;
  readonly public: PublicKey;
  readonly secretPath: string;
}

export async function releaseKeys(): Promise<BenchKeys> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-bench-keys-'));
  const pair = generateKeyPair('bench-release-1');
  const { secretPath } = await writeKeyPair(dir, pair);
  return { dir, secret: pair.secret, public: pair.public, secretPath };
}

export interface BenchController {
  readonly url: string;
  readonly pid: number;
  readonly stateDir: string;
  /** Milliseconds from spawn until it answered /v1/status. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** `tsdeploy-controller serve` as its own process on a free loopback port. */
export async function startControllerProcess(keys: BenchKeys, stateDir?: string, extra: Record<string, unknown> = {}): Promise<BenchController> {
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'tsdeploy-bench-state-')));
  const port = await freePort();
  const configPath = join(await mkdtemp(join(tmpdir(), 'tsdeploy-bench-config-')), 'controller.json');
  await writeFile(
    configPath,
    JSON.stringify({ listen: `127.0.0.1:${port}`, stateDir: dir, trustedReleaseKeys: [formatPublicKey(keys.public)], logLevel: 'warn', ...extra }),
  );
  const started = Date.now();
  const child = spawnNode(['controller/main.ts', 'serve', '--config', configPath], { quiet: true });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i += 1) {
    const ok = await fetch(`${url}/v1/status`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const startMs = Date.now() - started;
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    stateDir: dir,
    startMs,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
  };
}

/** Runs a repo script to completion and returns its stdout. */
export async function runNode(args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawnNode(args);
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout };
}
