// The lab registry under /run/tsdeploy-lab and the teardown that kills every process in a lab's namespaces.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../shared/files.js';
import { cgroupPids, labCgroupDirs, labIdsWithCgroups, removeLabCgroups } from './cgroups.js';

/** One file per live lab; a crashed run's leftovers are found here by the next `createLab`. */
export const REGISTRY_DIR = '/run/tsdeploy-lab';

/** Every lab's working directory is directly under this one (on the real FS, visible to tests). */
export const LAB_BASE_DIR = '/tmp/tsdeploy-lab';

/** Every process a lab starts carries this variable, so leftovers of a dead lab are recognised as its own. */
export const LAB_ENV_MARKER = 'TSDEPLOY_LAB';

export const LabRecordSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  ownerPid: z.number().int().positive(),
  /** Field 22 of /proc/PID/stat, so a reused pid is not taken for the owner. */
  ownerStartTime: z.string(),
  /** Checked, because teardown removes it recursively. */
  dir: z.string().regex(/^\/tmp\/tsdeploy-lab\/[a-z0-9-]+$/),
  /** "net:[inode]" and "mnt:[inode]" of every lab node. */
  namespaces: z.array(z.string()),
});
export type LabRecord = z.infer<typeof LabRecordSchema>;

export function recordPath(id: string): string {
  return join(REGISTRY_DIR, `${id}.json`);
}

export async function writeRecord(record: LabRecord): Promise<void> {
  await writeFileAtomic(recordPath(record.id), `${JSON.stringify(record)}\n`, 0o600);
}

/** The start time of a process, or null when it does not exist. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function readLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** The namespaces ("net:[…]", "mnt:[…]") a process lives in; empty once it has exited (zombies too). */
export function namespacesOf(pid: number): string[] {
  return ['net', 'mnt'].flatMap((kind) => {
    const link = readLink(`/proc/${pid}/ns/${kind}`);
    return link === null ? [] : [link];
  });
}

/** The machine's own namespaces (this process's and init's): never a lab's, never killed. */
function machineNamespaces(): Set<string> {
  return new Set([...namespacesOf(process.pid), ...namespacesOf(1)]);
}

/** The namespaces a lab created for `pid`: those it does not share with this process. */
export function labNamespacesOf(pid: number): string[] {
  const machine = machineNamespaces();
  return namespacesOf(pid).filter((ns) => !machine.has(ns));
}

function carriesMarker(pid: number, id: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${LAB_ENV_MARKER}=${id}`);
  } catch {
    return false;
  }
}

/**
 * Processes that belong to a lab: inside one of its namespaces, or (for a dead lab, whose namespace
 * numbers the kernel may already have handed to someone else) inside one *and* carrying its marker.
 */
export function labProcesses(record: LabRecord, options: { requireMarker: boolean }): number[] {
  const machine = machineNamespaces();
  // A damaged record must never make teardown kill the machine's own processes.
  const namespaces = new Set(record.namespaces.filter((ns) => !machine.has(ns)));
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || pid === 1) continue;
    const inLab = namespacesOf(pid).some((ns) => namespaces.has(ns));
    if (!inLab) continue;
    if (options.requireMarker && !carriesMarker(pid, record.id)) continue;
    found.push(pid);
  }
  return found;
}

/** Processes anywhere on the machine that carry a lab's marker (for the leftover check). */
export function markedProcesses(id: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map(Number)
    .filter((pid) => carriesMarker(pid, id) && namespacesOf(pid).length > 0);
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const ROUNDS = 500;
const ROUND_MS = 20;

/** One kill pass; true when nothing of the lab was left running and its cgroups (systemd hosts) are gone. */
function killRound(record: LabRecord, requireMarker: boolean): boolean {
  // Everything in a lab's own cgroup subtree is the lab's, whatever its environment says.
  const inCgroups = labCgroupDirs(record.id).flatMap(cgroupPids).filter((pid) => namespacesOf(pid).length > 0);
  const pids = [...labProcesses(record, { requireMarker }), ...markedProcesses(record.id), ...inCgroups];
  killAll(pids);
  return pids.length === 0 && removeLabCgroups(record.id);
}

function removeFiles(record: LabRecord): void {
  rmSync(record.dir, { recursive: true, force: true, maxRetries: 3 });
  rmSync(recordPath(record.id), { force: true });
}

export class LabCleanupError extends Error {
  override name = 'LabCleanupError' as const;
}

/**
 * Kills every process of the lab until none is left (its namespaces, and with them its bridge,
 * veths and mounts, vanish with the last one), then removes its files and its registry entry.
 */
export async function destroyLab(record: LabRecord, requireMarker: boolean): Promise<void> {
  for (let round = 0; round < ROUNDS; round += 1) {
    if (killRound(record, requireMarker)) {
      removeFiles(record);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ROUND_MS));
  }
  throw new LabCleanupError(`lab ${record.id}: processes still running after SIGKILL`);
}

/** The same, without the event loop: for process 'exit' hooks and signal handlers. */
export function destroyLabSync(record: LabRecord): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let round = 0; round < ROUNDS; round += 1) {
    if (killRound(record, false)) break;
    Atomics.wait(pause, 0, 0, ROUND_MS);
  }
  removeFiles(record);
}

/** Removes what labs whose owner process has died left behind (a crashed or killed earlier run). */
export async function removeStaleLabs(): Promise<string[]> {
  let entries: string[];
  try {
    entries = readdirSync(REGISTRY_DIR).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of entries) {
    const path = join(REGISTRY_DIR, name);
    let record: LabRecord;
    try {
      record = LabRecordSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (processStartTime(record.ownerPid) === record.ownerStartTime) continue;
    await destroyLab(record, true);
    removed.push(record.id);
  }
  // Cgroups of a lab whose registry entry is already gone (killed between removing the two).
  for (const id of labIdsWithCgroups()) {
    // Read now, not from the list above: a lab created meanwhile registers before it makes cgroups.
    if (existsSync(recordPath(id))) continue;
    killAll(labCgroupDirs(id).flatMap(cgroupPids));
    removeLabCgroups(id);
  }
  return removed;
}
