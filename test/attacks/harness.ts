// Black-box harness of the attack suite: a real controller process on loopback, the CLIs as child processes, state snapshots.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { formatPublicKey, formatSecretKey, generateKeyPair, type PublicKey, type SecretKey } from '../../shared/keys.js';
import { encodeReport, REPORT_PAYLOAD_TYPE, type Report } from '../../shared/report.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export type KeyPair = { readonly secret: SecretKey; readonly public: PublicKey };

export const RELEASE = generateKeyPair('release-1');
export const RELEASE_2 = generateKeyPair('release-2');
export const ROGUE = generateKeyPair('rogue-1');

export const publicText = (pair: KeyPair): string => formatPublicKey(pair.public);

/** Store paths with valid Nix base-32 hashes. */
export function storePath(n: number, name = 'nixos-system'): string {
  const alphabet = '0123456789abcdfghijklmnpqrsvwxyz';
  const hash = Array.from({ length: 32 }, (_, i) => alphabet[(n * 7 + i * 3) % 32]).join('');
  return `/nix/store/${hash}-${name}-${n}`;
}

export function manifest(
  host: string,
  version: number,
  options: { keys?: readonly SecretKey[]; now?: Date; expiresInMs?: number; path?: string } = {},
): string {
  const draft = buildManifest({
    host,
    storePath: options.path ?? storePath(version),
    version,
    activation: 'switch',
    expiresInMs: options.expiresInMs ?? 7 * 86_400_000,
    system: 'x86_64-linux',
    now: options.now ?? new Date(),
  });
  return signManifest(draft, options.keys ?? [RELEASE.secret]);
}

/** Signs arbitrary payload bytes as an envelope of `type`, written as the tools write envelopes. */
export function envelopeOf(type: string, payload: unknown, keys: readonly SecretKey[]): string {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload));
  return encodeEnvelope(signEnvelope(type, bytes, keys));
}

export function reportBody(host: string, seq: number, fields: Partial<Report> = {}): Report {
  return {
    host,
    seq,
    time: new Date().toISOString(),
    kind: 'phase',
    manifestVersion: 1,
    desiredPath: null,
    phase: 'idle',
    outcome: 'success',
    currentSystem: null,
    bootedSystem: null,
    generation: null,
    health: [],
    error: null,
    facts: null,
    ...fields,
  };
}

export function signedReport(secret: SecretKey, body: Report): string {
  return encodeEnvelope(signEnvelope(REPORT_PAYLOAD_TYPE, encodeReport(body), [secret]));
}

const made: string[] = [];
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tsdeploy-attack-${prefix}-`));
  made.push(dir);
  return dir;
}
export async function removeTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

export async function writeKeyFiles(dir: string, pair: KeyPair): Promise<{ secret: string; public: string }> {
  await mkdir(dir, { recursive: true });
  const secret = join(dir, `${pair.secret.name}.secret`);
  const pub = join(dir, `${pair.secret.name}.public`);
  await writeFile(secret, `${formatSecretKey(pair.secret)}\n`, { mode: 0o600 });
  await chmod(secret, 0o600);
  await writeFile(pub, `${publicText(pair)}\n`);
  return { secret, public: pub };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node --import tsx <program>/main.ts ARGS`, killed after `timeoutMs` (a hang is then a signal, not a pass). */
export function cli(
  program: 'controller' | 'agent',
  args: readonly string[],
  options: { input?: string; env?: Record<string, string>; timeoutMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', join(ROOT, program, 'main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TSDEPLOY_LOG_LEVEL: 'silent', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return collect(child, options.input, options.timeoutMs ?? 120_000);
}

function collect(child: ChildProcess, input: string | undefined, timeoutMs: number): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin?.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ControllerProcess {
  readonly url: string;
  readonly port: number;
  readonly stateDir: string;
  readonly configFile: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** `tsdeploy-controller serve` as a child process on 127.0.0.1, port 0; resolves once it logs where it listens. */
export async function startControllerProcess(options: { stateDir?: string; config?: Record<string, unknown> } = {}): Promise<ControllerProcess> {
  const stateDir = options.stateDir ?? (await tempDir('state'));
  const configFile = join(await tempDir('config'), 'controller.json');
  const config = { listen: '127.0.0.1:0', stateDir, trustedReleaseKeys: [publicText(RELEASE)], logLevel: 'info', ...options.config };
  await writeFile(configFile, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'controller', 'main.ts'), 'serve', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, TSDEPLOY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(buffered);
      if (match !== null) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`controller exited ${String(code)} before listening: ${stderr}`)));
  });
  child.stdout?.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stateDir,
    configFile,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

const dispatcher = new Agent({ keepAliveTimeout: 1000, connections: 32 });

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';

export async function http(url: string, init: { method?: Method; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await request(url, {
    dispatcher,
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: { 'content-type': 'application/json', ...init.headers },
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

export const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> =>
  http(url, { method: 'POST', body, headers });

export async function closeHttp(): Promise<void> {
  await dispatcher.close();
}

/** Lock files hold no data: taking a lock to refuse a request is not a change of state. */
const LOCKS = new Set(['locks', 'controller.lock']);

/** Every entry under `dir` (files by sha256 of their bytes, symlinks by target, directories), lock files aside. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const name = relative(dir, full);
      if (LOCKS.has(name)) continue;
      if (entry.isDirectory()) {
        out.set(`${name}/`, 'dir');
        await walk(full);
      } else if (entry.isSymbolicLink()) out.set(name, `-> ${await readlink(full)}`);
      else if (entry.isFile()) out.set(name, createHash('sha256').update(await readFile(full)).digest('hex'));
      else out.set(name, `other ${(await lstat(full)).mode}`);
    }
  };
  await walk(dir);
  return out;
}

/** Asserts that nothing under `dir` changed since `before` was taken. */
export async function assertUnchanged(dir: string, before: ReadonlyMap<string, string>, what = 'the state directory'): Promise<void> {
  const after = await snapshot(dir);
  assert.deepEqual(Object.fromEntries(after), Object.fromEntries(before), `${what} changed`);
}

/** Runs `attempt` and asserts it changed nothing under `dir`; returns what it returned. */
export async function unchanged<T>(dir: string, attempt: () => Promise<T>): Promise<T> {
  const before = await snapshot(dir);
  const result = await attempt();
  await assertUnchanged(dir, before);
  return result;
}

export function errorOf(answer: Answer): string {
  const error = answer.json()['error'];
  return typeof error === 'string' ? error : '';
}

export { generateKeyPair };
