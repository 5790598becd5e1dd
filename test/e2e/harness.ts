// Shared helpers for the end-to-end tests: release keys, agent configs, manifests and waiting.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJournal } from '../../agent/adapters/journal-file.js';
import type { Journal } from '../../agent/core/journal.js';
import { writeFileAtomic } from '../../shared/files.js';
import { formatPublicKey, generateKeyPair, writeKeyPair, type SecretKey } from '../../shared/keys.js';
import type { Activation } from '../../shared/manifest.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';
import { AGENT_MAIN, REPO_ROOT, SERVICE_PORT, type Lab, type LabHost } from '../lab/lab.js';
import { TSX_IMPORT } from '../lab/cache.js';

export const CONTROLLER_MAIN = join(REPO_ROOT, 'controller/main.ts');
export const HEALTH_URL = `http://127.0.0.1:${SERVICE_PORT}/health`;

export interface ReleaseKey {
  readonly secret: SecretKey;
  readonly publicKey: string;
  readonly secretFile: string;
  readonly publicFile: string;
}

/** A release key pair written into the lab directory, as an operator would keep it. */
export async function makeReleaseKey(lab: Lab, name = 'release-1'): Promise<ReleaseKey> {
  const dir = join(lab.dir, 'operator');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateKeyPair(name);
  const { secretPath, publicPath } = await writeKeyPair(dir, pair);
  return { secret: pair.secret, publicKey: formatPublicKey(pair.public), secretFile: secretPath, publicFile: publicPath };
}

export interface ManifestOptions {
  readonly activation?: Activation;
  readonly expiresInMs?: number;
  readonly now?: Date;
  readonly host?: string;
}

/** Signs a manifest exactly as `tsdeploy-controller manifest sign` does. */
export function signedManifest(key: ReleaseKey, host: string, storePath: string, version: number, options: ManifestOptions = {}): string {
  const manifest = buildManifest({
    host: options.host ?? host,
    storePath,
    version,
    activation: options.activation ?? 'switch',
    expiresInMs: options.expiresInMs ?? 3_600_000,
    system: localNixSystem(),
    now: options.now ?? new Date(),
  });
  return signManifest(manifest, [key.secret]);
}

/** Puts a manifest where a file:// source (or any static mirror) serves it. */
export async function publishToDirectory(dir: string, host: string, envelope: string): Promise<void> {
  await writeFileAtomic(join(dir, 'v1', 'hosts', host, 'manifest'), envelope);
}

export interface AgentConfigOptions {
  readonly source: string;
  readonly trustedKeys: readonly string[];
  readonly controllerCheck?: boolean;
  readonly extra?: Record<string, unknown>;
}

/** Writes an agent config for a lab host: the lab service's /health, short windows for tests. */
export async function writeAgentConfig(host: LabHost, options: AgentConfigOptions): Promise<string> {
  const checks: unknown[] = [{ type: 'http', url: HEALTH_URL, timeoutSeconds: 2 }];
  if (options.controllerCheck === true) checks.push({ type: 'controller', timeoutSeconds: 3 });
  const config = {
    host: host.name,
    source: options.source,
    trustedKeys: options.trustedKeys,
    stateDir: host.stateDir,
    poll: { intervalSeconds: 1, jitterSeconds: 0, waitSeconds: 20 },
    health: { checks, timeoutSeconds: 8, stableSeconds: 1, intervalSeconds: 0.5 },
    reports: { heartbeatSeconds: 5, queueLimit: 1000 },
    timeouts: { fetchSeconds: 3, realiseSeconds: 300, activateSeconds: 120 },
    logLevel: 'debug',
    ...options.extra,
  };
  const path = join(host.dir, 'agent.json');
  await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** Runs `tsdeploy-agent <args>` inside the host and returns its exit code and output. */
export function agentCli(host: LabHost, args: readonly string[], timeoutMs = 240_000) {
  return host.exec([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, ...args], { timeoutMs });
}

export function journalOf(host: LabHost): Promise<Journal> {
  return readJournal(host.stateDir);
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The lab service's answer in the host: its status and the label of the system serving it. */
export async function serviceOf(host: LabHost): Promise<{ status: number; body: string } | null> {
  return host.healthStatus();
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

export interface LabController {
  readonly url: string;
  readonly configPath: string;
  readonly stateDir: string;
  /** Runs `tsdeploy-controller <args>` in the infra node (the operator's seat). */
  cli(args: readonly string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Starts (or restarts) the server and waits for /healthz. */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Creates a one-time enrollment token for `host` and writes it into the host's directory. */
  tokenFileFor(host: LabHost): Promise<string>;
  /** Publishes one host's store path with the release key; returns the CLI's result. */
  publish(key: ReleaseKey, host: string, path: string, extra?: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  status(): Promise<FleetStatus>;
}

export interface HostStatus {
  host: string;
  state: string;
  phase: string;
  outcome: string;
  current: string | null;
  error: string | null;
  desired: { version: number; storePath: string } | null;
  manifestVersion: number | null;
}
export interface FleetStatus {
  hosts: HostStatus[];
}

export interface LabControllerOptions {
  /** More config fields (e.g. cacheDir), merged over the defaults. */
  readonly config?: Readonly<Record<string, unknown>>;
}

/** The real controller, run in the lab's infra node and reached by hosts over the lab network. */
export async function startLabController(lab: Lab, key: ReleaseKey, port = 8090, options: LabControllerOptions = {}): Promise<LabController> {
  const stateDir = join(lab.dir, 'controller');
  const configPath = join(lab.dir, 'controller.json');
  const url = `http://${lab.infra.address}:${port}`;
  const config = { listen: `${lab.infra.address}:${port}`, stateDir, trustedReleaseKeys: [key.publicKey], heartbeatSeconds: 5, ...options.config };
  await writeFileAtomic(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const cli = (args: readonly string[], timeoutMs = 60_000) =>
    lab.infra.exec([process.execPath, '--import', TSX_IMPORT, CONTROLLER_MAIN, ...args], { timeoutMs });
  let server: ReturnType<Lab['infra']['spawn']> | null = null;
  const controller: LabController = {
    url,
    configPath,
    stateDir,
    cli,
    async start() {
      server = lab.infra.spawn([process.execPath, '--import', TSX_IMPORT, CONTROLLER_MAIN, 'serve', '--config', configPath], {
        logFile: join(lab.dir, 'controller.log'),
      });
      await waitFor('the controller to answer /healthz', async () => ((await lab.infra.httpGet(`${url}/healthz`, 1000))?.status === 200 ? true : undefined), 30_000);
    },
    async kill(signal = 'SIGKILL') {
      const running = server;
      server = null;
      if (running === null) return;
      running.kill(signal);
      await running.exited;
    },
    async tokenFileFor(host) {
      const result = await cli(['tokens', 'create', '--host', host.name, '--ttl', '1h', '--config', configPath]);
      if (result.code !== 0) throw new Error(`tokens create failed: ${result.stderr}`);
      const token = result.stdout.trim().split('\n').pop() ?? '';
      const file = join(host.dir, 'enrollment-token');
      await writeFileAtomic(file, `${token}\n`, 0o600);
      return file;
    },
    publish: (releaseKey, host, path, extra = []) =>
      cli(['publish', '--controller', url, '--key', releaseKey.secretFile, '--host', host, '--path', path, '--expires-in', '1h', ...extra]),
    async status() {
      const result = await cli(['status', '--controller', url, '--json']);
      if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
      return JSON.parse(result.stdout) as FleetStatus;
    },
  };
  await controller.start();
  return controller;
}

/** Waits until the controller shows `host` in `state` (e.g. "in-sync", "rolled-back"). */
export function waitForHostState(controller: LabController, host: string, state: string, timeoutMs = 90_000): Promise<HostStatus> {
  return waitFor(
    `${host} to be ${state} at the controller`,
    async () => (await controller.status()).hosts.find((h) => h.host === host && h.state === state),
    timeoutMs,
    500,
  );
}

/** Waits until the agent's journal shows a finished deployment of `version`. */
export function waitForDeployment(host: LabHost, version: number, phases: readonly string[] = ['confirmed', 'rolled-back', 'failed'], timeoutMs = 90_000) {
  return waitFor(
    `${host.name} to finish version ${version}`,
    async () => {
      const deployment = (await journalOf(host)).deployment;
      return deployment?.version === version && phases.includes(deployment.phase) ? deployment : undefined;
    },
    timeoutMs,
    100,
  );
}
