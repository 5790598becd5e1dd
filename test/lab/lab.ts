// The fleet lab: hosts with private Nix stores in their own namespaces, a switch, an infra node and a signed binary cache.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import {
  LAB_BASE_DIR,
  type LabRecord,
  destroyLab,
  destroyLabSync,
  processStartTime,
  removeStaleLabs,
  writeRecord,
} from './cleanup.js';
import { type CacheKey, TSX_IMPORT, makeCacheKey, publishToCache, startCacheServer } from './cache.js';
import { type LabNode, type LabProcess, type NodeHandle, type SwitchHandle, startNode, startSwitch } from './netns.js';
import { ensureLabPrerequisites } from './prereqs.js';
import { SERVICE_PORT, type SystemOptions, type SystemVariant, buildSystemPath } from './systems.js';

export type { LabExecOptions, LabExecResult, LabNode, LabProcess } from './netns.js';
export type { SystemOptions, SystemVariant } from './systems.js';
export { SERVICE_PORT } from './systems.js';

export interface LabOptions {
  /** Default 3. */
  hosts?: number;
  /** A short prefix for the lab's id (letters, digits, "-"). */
  name?: string;
}

export interface LabCache {
  /** As hosts see it, e.g. http://10.213.7.1:8080. */
  readonly url: string;
  readonly dir: string;
  /** "name:base64": the only key the hosts trust. */
  readonly publicKey: string;
  readonly secretKeyFile: string;
}

export interface Generation {
  number: number;
  path: string;
  current: boolean;
}

export interface LabHost extends LabNode {
  /** The host's agent state dir on the real FS (visible to the test process too). */
  readonly stateDir: string;
  /** The host's own directory: nix/ (its /nix), etc-nix/ (its /etc/nix), state/, logs/. */
  readonly dir: string;
  /** Where /run/current-system points inside the host, or null. */
  currentSystem(): Promise<string | null>;
  /** Generations of /nix/var/nix/profiles/system, oldest first. */
  profileGenerations(): Promise<Generation[]>;
  /** GET the lab service's /health from inside the host; null when nothing listens. */
  healthStatus(): Promise<{ status: number; body: string } | null>;
  /** Takes the switch's end of the host's cable down (the host cannot bring it back itself). */
  cutLink(): Promise<void>;
  restoreLink(): Promise<void>;
  /** Runs `node --import tsx <repo>/agent/main.ts run --config <configPath>` inside the host. */
  startAgent(configPath: string, logFile?: string): LabProcess;
}

export interface BuildOptions extends SystemOptions {
  /** "untrusted": signed only with `lab.untrustedKey`, which no host trusts (a distinct store path). */
  signedBy?: 'cache' | 'untrusted';
}

export interface Lab {
  readonly id: string;
  /** The lab's working directory on the real FS. */
  readonly dir: string;
  readonly cache: LabCache;
  /** A second key made by the same keygen; hosts do not trust it. */
  readonly untrustedKey: CacheKey;
  readonly hosts: readonly LabHost[];
  /** Where the cache server runs, and where tests run the controller. */
  readonly infra: LabNode;
  /** nix-build in the machine's store, sign, copy into the lab cache; returns the toplevel store path. */
  buildSystem(variant: SystemVariant, label: string, options?: BuildOptions): Promise<string>;
  /** Kills everything the lab started and removes its files; idempotent. */
  teardown(): Promise<void>;
}

export const REPO_ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
export const AGENT_MAIN = join(REPO_ROOT, 'agent/main.ts');
/** The cache server's port inside the infra node. */
export const CACHE_PORT = 8080;
const MAX_HOSTS = 200;

export class LabOptionsError extends Error {
  override name = 'LabOptionsError' as const;
}

const liveLabs = new Map<string, LabRecord>();
let hooksInstalled = false;

/** Teardown also when the test process exits early, throws, or is interrupted. */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const destroyAll = (): void => {
    for (const record of liveLabs.values()) destroyLabSync(record);
    liveLabs.clear();
  };
  process.on('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      destroyAll();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** A host's nix.conf: only the lab cache, only its key, signatures required. */
export function hostNixConf(cacheUrl: string, publicKey: string): string {
  return [
    '# Written by the tsdeploy fleet lab: this host substitutes only from the lab cache and trusts only its key.',
    'sandbox = false',
    `substituters = ${cacheUrl}`,
    `trusted-public-keys = ${publicKey}`,
    'require-sigs = true',
    // The lab publishes right before hosts ask; a remembered "not there" would outlive the test.
    'narinfo-cache-negative-ttl = 0',
    // A cut link fails a substitution in seconds instead of minutes.
    'connect-timeout = 5',
    'stalled-download-timeout = 30',
    '',
  ].join('\n');
}

function labId(name: string | undefined): string {
  const prefix = (name ?? 'lab').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 16);
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Builds a lab: switch, infra (with the cache server), and `hosts` hosts whose /nix starts empty. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const hostCount = options.hosts ?? 3;
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > MAX_HOSTS) {
    throw new LabOptionsError(`hosts must be 1..${MAX_HOSTS}, got ${hostCount}`);
  }
  await ensureLabPrerequisites();
  await removeStaleLabs();

  const id = labId(options.name);
  const dir = join(LAB_BASE_DIR, id);
  const subnet = `10.213.${randomBytes(1)[0] ?? 0}`;
  const record: LabRecord = {
    id,
    ownerPid: process.pid,
    ownerStartTime: processStartTime(process.pid) ?? '',
    dir,
    namespaces: [],
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeRecord(record);
  liveLabs.set(id, record);
  installHooks();

  let torn: Promise<void> | undefined;
  const teardown = (): Promise<void> => {
    torn ??= destroyLab(record, false).finally(() => liveLabs.delete(id));
    return torn;
  };

  try {
    return await assemble({ id, dir, subnet, hostCount, record, teardown });
  } catch (error) {
    await teardown();
    throw error;
  }
}

async function assemble(context: {
  id: string;
  dir: string;
  subnet: string;
  hostCount: number;
  record: LabRecord;
  teardown: () => Promise<void>;
}): Promise<Lab> {
  const { id, dir, subnet, hostCount, record } = context;
  const keysDir = join(dir, 'keys');
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const cacheKey = await makeCacheKey(keysDir, `${id}-cache-1`);
  const untrustedKey = await makeCacheKey(keysDir, `${id}-rogue-1`);
  const cacheDir = join(dir, 'cache');
  // What `nix copy` writes into a new file cache; here before the first copy so hosts can query it at once.
  await writeFileAtomic(join(cacheDir, 'nix-cache-info'), 'StoreDir: /nix/store\n');

  const sw: SwitchHandle = await startSwitch(id);
  record.namespaces.push(...sw.namespaces);
  await writeRecord(record);

  const infraAddress = `${subnet}.1`;
  const cacheUrl = `http://${infraAddress}:${CACHE_PORT}`;
  const nixConf = hostNixConf(cacheUrl, cacheKey.publicKey);
  const base = { labId: id, prefixLength: 24, switchPid: sw.holderPid };

  const infraPromise = startNode({ ...base, name: 'infra', dir: join(dir, 'infra'), address: infraAddress });
  const hostPromises = Array.from({ length: hostCount }, async (_, index) => {
    const name = `host${index}`;
    const hostDir = join(dir, 'hosts', name);
    await mkdir(join(hostDir, 'nix'), { recursive: true });
    await mkdir(join(hostDir, 'state'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(hostDir, 'etc-nix', 'nix.conf'), nixConf);
    const node = await startNode({
      ...base,
      name,
      dir: hostDir,
      address: `${subnet}.${10 + index}`,
      nixDir: join(hostDir, 'nix'),
      etcNixDir: join(hostDir, 'etc-nix'),
    });
    return { node, hostDir };
  });
  const settled = await Promise.allSettled([infraPromise, ...hostPromises]);
  // Every started holder is recorded, even when another failed, so teardown finds it.
  for (const result of settled) {
    if (result.status === 'fulfilled') {
      const node = 'node' in result.value ? result.value.node : result.value;
      record.namespaces.push(...node.namespaces);
    }
  }
  await writeRecord(record);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const infra = await infraPromise;
  const started = await Promise.all(hostPromises);

  await sw.attach(['infra', ...started.map(({ node }) => node.name)]);
  await startCacheServer(infra, cacheDir, CACHE_PORT, join(dir, 'infra'));

  const hosts = started.map(({ node, hostDir }) => makeHost(node, hostDir, sw));

  const buildSystem = async (variant: SystemVariant, label: string, buildOptions: BuildOptions = {}): Promise<string> => {
    const { signedBy = 'cache', ...systemOptions } = buildOptions;
    const key = signedBy === 'untrusted' ? untrustedKey : cacheKey;
    const path = await buildSystemPath(variant, label, { ...systemOptions, signer: signedBy === 'untrusted' ? 'untrusted' : 'cache' });
    await publishToCache([path], key, cacheDir);
    return path;
  };

  return {
    id,
    dir,
    cache: { url: cacheUrl, dir: cacheDir, publicKey: cacheKey.publicKey, secretKeyFile: cacheKey.secretKeyFile },
    untrustedKey,
    hosts,
    infra: publicNode(infra),
    buildSystem,
    teardown: context.teardown,
  };
}

/** A node as tests see it (without the holder bookkeeping). */
function publicNode(node: NodeHandle): LabNode {
  return { name: node.name, address: node.address, exec: node.exec, spawn: node.spawn, httpGet: node.httpGet };
}

async function readLinkOrNull(path: string): Promise<string | null> {
  return readlink(path).catch(() => null);
}

function makeHost(node: NodeHandle, hostDir: string, sw: SwitchHandle): LabHost {
  const profiles = join(hostDir, 'nix', 'var', 'nix', 'profiles');
  return {
    ...publicNode(node),
    dir: hostDir,
    stateDir: join(hostDir, 'state'),
    // The host's /run is a private tmpfs; /proc/PID/root shows it from outside.
    currentSystem: () => readLinkOrNull(`/proc/${node.holderPid}/root/run/current-system`),
    profileGenerations: async () => {
      const entries = await readdir(profiles).catch(() => [] as string[]);
      const current = await readLinkOrNull(join(profiles, 'system'));
      const generations = await Promise.all(
        entries.flatMap((entry) => {
          const match = /^system-(\d+)-link$/.exec(entry);
          if (match === null) return [];
          return [
            readLinkOrNull(join(profiles, entry)).then((path) => ({
              number: Number(match[1]),
              path: path ?? '',
              current: current === entry,
            })),
          ];
        }),
      );
      return generations.sort((a, b) => a.number - b.number);
    },
    healthStatus: () => node.httpGet(`http://127.0.0.1:${SERVICE_PORT}/health`, 2000),
    cutLink: () => sw.setPort(node.name, false),
    restoreLink: () => sw.setPort(node.name, true),
    startAgent: (configPath, logFile) =>
      node.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', configPath], {
        logFile: logFile ?? join(node.logDir, 'agent.log'),
      }),
  };
}
