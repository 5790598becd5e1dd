// The fleet lab: hosts with private Nix stores in their own namespaces, a switch, an infra node and a signed binary cache.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import {
  LAB_BASE_DIR,
  type LabRecord,
  destroyLab,
  processStartTime,
  removeStaleLabs,
  writeRecord,
} from './cleanup.js';
import { type CacheKey, TSX_IMPORT, makeCacheKey, publishToCache, startCacheServer } from './cache.js';
import { type LabNode, type LabProcess, type NodeHandle, type SwitchHandle, startNode, startSwitch } from './netns.js';
import { ensureLabPrerequisites } from './prereqs.js';
import { hostNixConf, installHooks, liveLabs } from './lab-hooks.js';
import { SERVICE_PORT, type SystemOptions, type SystemVariant } from './systems.js';
import { type Generation, profileGenerations, readLinkOrNull } from './host-files.js';
import { type SystemdLabHost, startSystemdHosts } from './systemd-lab.js';
import { type SystemdSystemVariant, buildLabSystem } from './systemd-systems.js';
import { labAgentUnit, readRenderedAgentUnit } from './agent-unit.js';

export type { LabExecOptions, LabExecResult, LabNode, LabProcess } from './netns.js';
export type { SystemOptions, SystemVariant } from './systems.js';
export type { Generation } from './host-files.js';
export type { SystemdLabHost } from './systemd-lab.js';
export type { BootInfo, UnitState } from './systemd-host.js';
export type { SystemdSystemVariant } from './systemd-systems.js';
export { SERVICE_PORT } from './systems.js';
export { hostNixConf } from './lab-hooks.js';

export interface LabOptions {
  /** Default 3. */
  hosts?: number;
  /** A short prefix for the lab's id (letters, digits, "-"). */
  name?: string;
  /**
   * "namespace" (default): namespaces with a private /nix and no init, fast. "systemd": a real systemd as
   * PID 1 (systemd-nspawn on a cached Debian rootfs), with reboots and power cuts; see systemd-lab.ts.
   */
  kind?: HostKind;
  /** Serve NAR files no faster than this (bytes per second, per download), so a test can watch a closure arrive. */
  cacheBytesPerSecond?: number;
}

export type HostKind = 'namespace' | 'systemd';

export interface LabCache {
  /** As hosts see it, e.g. http://10.213.7.1:8080. */
  readonly url: string;
  readonly dir: string;
  /** "name:base64": the only key the hosts trust. */
  readonly publicKey: string;
  readonly secretKeyFile: string;
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
  /** systemd labs: install and enable the tsdeploy-agent unit (NixOS's rendering, adapted) in the system. */
  agentUnit?: boolean;
}

export interface Lab<H extends LabHost | SystemdLabHost = LabHost> {
  readonly id: string;
  readonly kind: HostKind;
  /** The lab's working directory on the real FS. */
  readonly dir: string;
  readonly cache: LabCache;
  /** A second key made by the same keygen; hosts do not trust it. */
  readonly untrustedKey: CacheKey;
  readonly hosts: readonly H[];
  /** Where the cache server runs, and where tests run the controller. */
  readonly infra: LabNode;
  /**
   * nix-build in the machine's store, sign, copy into the lab cache; returns the toplevel store path.
   * Namespace labs build SystemVariant systems, systemd labs SystemdSystemVariant ones.
   */
  buildSystem(variant: SystemVariant | SystemdSystemVariant, label: string, options?: BuildOptions): Promise<string>;
  /** The tsdeploy-agent unit that systems built with `agentUnit: true` carry. */
  readonly agentUnitText: string;
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

function labId(name: string | undefined): string {
  const prefix = (name ?? 'lab').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 16);
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** argv of the agent program on a lab host: the machine's node, tsx, and the repo's agent/main.ts. */
export const AGENT_ARGV: readonly string[] = [process.execPath, '--import', TSX_IMPORT, AGENT_MAIN];

/** Builds a lab: switch, infra (with the cache server), and `hosts` hosts whose /nix starts empty. */
export function createLab(options: LabOptions & { kind: 'systemd' }): Promise<Lab<SystemdLabHost>>;
export function createLab(options?: LabOptions & { kind?: 'namespace' }): Promise<Lab>;
export async function createLab(options: LabOptions = {}): Promise<Lab<LabHost> | Lab<SystemdLabHost>> {
  const hostCount = options.hosts ?? 3;
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > MAX_HOSTS) {
    throw new LabOptionsError(`hosts must be 1..${MAX_HOSTS}, got ${hostCount}`);
  }
  const rate = options.cacheBytesPerSecond ?? 0;
  if (!Number.isSafeInteger(rate) || rate < 0) throw new LabOptionsError(`cacheBytesPerSecond must be a whole number of bytes, got ${rate}`);
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
    return await assemble({ id, dir, subnet, hostCount, record, teardown, kind: options.kind ?? 'namespace', cacheBytesPerSecond: options.cacheBytesPerSecond ?? 0 });
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
  kind: HostKind;
  cacheBytesPerSecond: number;
}): Promise<Lab<LabHost> | Lab<SystemdLabHost>> {
  const { id, dir, subnet, hostCount, record, kind } = context;
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
  let hosts: LabHost[] | SystemdLabHost[];
  let infra: NodeHandle;
  if (kind === 'systemd') {
    infra = await infraPromise;
    record.namespaces.push(...infra.namespaces);
    await writeRecord(record);
    await sw.attach(['infra']);
    await startCacheServer(infra, cacheDir, CACHE_PORT, join(dir, 'infra'), context.cacheBytesPerSecond);
    hosts = await startSystemdHosts({
      labId: id, labDir: dir, subnet, hostCount, nixConf, switchPid: sw.holderPid, repoDir: REPO_ROOT,
      servicePort: SERVICE_PORT, agentArgv: AGENT_ARGV,
      setPort: (port, up) => sw.setPort(port, up),
      attach: (port) => sw.attach([port]),
      // A power cut makes new namespaces: recorded at once, so an interrupted run's leftovers are still found.
      onNamespaces: async (_host, namespaces) => {
        record.namespaces.push(...namespaces);
        await writeRecord(record);
      },
    });
  } else {
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
    infra = await infraPromise;
    const started = await Promise.all(hostPromises);

    await sw.attach(['infra', ...started.map(({ node }) => node.name)]);
    await startCacheServer(infra, cacheDir, CACHE_PORT, join(dir, 'infra'), context.cacheBytesPerSecond);

    hosts = started.map(({ node, hostDir }) => makeHost(node, hostDir, sw));
  }

  const agentUnitText = labAgentUnit(readRenderedAgentUnit(), { agentArgv: AGENT_ARGV }).text;
  const buildSystem = async (variant: SystemVariant | SystemdSystemVariant, label: string, buildOptions: BuildOptions = {}): Promise<string> => {
    const { signedBy = 'cache', agentUnit = false, ...systemOptions } = buildOptions;
    const key = signedBy === 'untrusted' ? untrustedKey : cacheKey;
    const signer = signedBy === 'untrusted' ? 'untrusted' : 'cache';
    const path = await buildLabSystem(kind, variant, label, { ...systemOptions, signer, ...(agentUnit ? { agentUnit: agentUnitText } : {}) });
    await publishToCache([path], key, cacheDir);
    return path;
  };

  return {
    id,
    kind,
    dir,
    agentUnitText,
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

function makeHost(node: NodeHandle, hostDir: string, sw: SwitchHandle): LabHost {
  return {
    ...publicNode(node),
    dir: hostDir,
    stateDir: join(hostDir, 'state'),
    // The host's /run is a private tmpfs; /proc/PID/root shows it from outside.
    currentSystem: () => readLinkOrNull(`/proc/${node.holderPid}/root/run/current-system`),
    profileGenerations: () => profileGenerations(join(hostDir, 'nix')),
    healthStatus: () => node.httpGet(`http://127.0.0.1:${SERVICE_PORT}/health`, 2000),
    cutLink: () => sw.setPort(node.name, false),
    restoreLink: () => sw.setPort(node.name, true),
    startAgent: (configPath, logFile) =>
      node.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', configPath], {
        logFile: logFile ?? join(node.logDir, 'agent.log'),
      }),
  };
}
