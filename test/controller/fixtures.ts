// Test fixtures for controller tests: real keys, signed manifests and reports, a controller on 127.0.0.1:0.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Agent, request } from 'undici';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { formatPublicKey, generateKeyPair, type PublicKey, type SecretKey } from '../../shared/keys.js';
import { silentLogger } from '../../shared/log.js';
import { encodeReport, REPORT_PAYLOAD_TYPE, type Report } from '../../shared/report.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { createToken } from '../../controller/fleet/hosts-and-tokens.js';
import { parseControllerConfig, type ControllerConfig } from '../../controller/config.js';
import { createController, type Controller } from '../../controller/http/server.js';
import { createFileStore, type ControllerStore } from '../../controller/storage/store.js';

export type KeyPair = { secret: SecretKey; public: PublicKey };

export const RELEASE = generateKeyPair('release-1');
export const OTHER_RELEASE = generateKeyPair('release-2');

/** Store paths with valid Nix base-32 hashes. */
export function storePath(n: number, name = 'nixos-system'): string {
  const alphabet = '0123456789abcdfghijklmnpqrsvwxyz';
  const hash = Array.from({ length: 32 }, (_, i) => alphabet[(n * 7 + i * 3) % 32]).join('');
  return `/nix/store/${hash}-${name}-${n}`;
}

export function signedManifest(
  host: string,
  version: number,
  path: string,
  options: { keys?: readonly SecretKey[]; now?: Date; expiresInMs?: number } = {},
): string {
  const manifest = buildManifest({
    host,
    storePath: path,
    version,
    activation: 'switch',
    expiresInMs: options.expiresInMs ?? 7 * 86_400_000,
    system: 'x86_64-linux',
    now: options.now ?? new Date(),
  });
  return signManifest(manifest, options.keys ?? [RELEASE.secret]);
}

export function report(host: string, seq: number, fields: Partial<Report> = {}): Report {
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

export function publicText(pair: KeyPair): string {
  return formatPublicKey(pair.public);
}

export function testConfig(stateDir: string, overrides: Record<string, unknown> = {}): ControllerConfig {
  return parseControllerConfig({
    listen: '127.0.0.1:0',
    stateDir,
    trustedReleaseKeys: [publicText(RELEASE)],
    ...overrides,
  });
}

export interface Running {
  readonly controller: Controller;
  readonly store: ControllerStore;
  readonly stateDir: string;
  readonly url: string;
  stop(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tsdeploy-${prefix}-`));
}

/** A real controller on 127.0.0.1 with an ephemeral port, on a fresh (or given) state directory. */
export async function startController(
  options: { stateDir?: string; config?: Record<string, unknown>; now?: () => Date } = {},
): Promise<Running> {
  const stateDir = options.stateDir ?? (await tempDir('controller'));
  const config = testConfig(stateDir, options.config);
  const store = createFileStore(stateDir, config.reports);
  const controller = await createController({
    config,
    store,
    logger: silentLogger(),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const { port } = await controller.listen({ host: '127.0.0.1', port: 0 });
  return {
    controller,
    store,
    stateDir,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await controller.close();
    },
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

const dispatcher = new Agent({ keepAliveTimeout: 1000 });

/** One real HTTP exchange with undici. */
export async function http(
  url: string,
  init: { method?: 'GET' | 'POST'; body?: string | Buffer; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer> {
  const response = await request(url, {
    dispatcher,
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.headers === undefined ? {} : { headers: init.headers }),
    ...(init.signal === undefined ? {} : { signal: init.signal }),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

export function post(url: string, body: string | Buffer): Promise<Answer> {
  return http(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

/** Enrolls `host` with a fresh agent key through a token, as an agent would. */
export async function enrollWithToken(running: Running, host: string): Promise<KeyPair> {
  const pair = generateKeyPair(`${host}-agent`);
  const { token } = await createToken(running.store, host, 3_600_000, new Date());
  const answer = await post(`${running.url}/v1/enroll`, JSON.stringify({ host, publicKey: publicText(pair), token }));
  if (answer.status !== 201) throw new Error(`enroll ${host}: ${answer.status} ${answer.text}`);
  return pair;
}

export async function closeHttp(): Promise<void> {
  await dispatcher.close();
}

/**
 * One controller on loopback for the whole test file: started before its first test, stopped and removed
 * (with the shared HTTP client) after its last. Call it at the top of the file; the getter gives the controller.
 */
export function controllerPerFile(): () => Running {
  let running: Running | null = null;
  before(async () => {
    running = await startController();
  });
  after(async () => {
    if (running !== null) {
      await running.stop();
      await removeDir(running.stateDir);
    }
    await closeHttp();
  });
  return () => {
    if (running === null) throw new Error('the controller of this test file is not started yet');
    return running;
  };
}
