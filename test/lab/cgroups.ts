// The cgroup subtrees of the lab's systemd hosts: one per host in the systemd and unified hierarchies.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** nspawn and the host's systemd need both: the named systemd v1 hierarchy and the unified one. */
export const CGROUP_HIERARCHIES = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'] as const;

/** Every lab's cgroups are below `<hierarchy>/tsdeploy-lab/<lab id>`, so teardown finds them from the id alone. */
export function labCgroupDirs(labId: string): string[] {
  return CGROUP_HIERARCHIES.map((root) => join(root, 'tsdeploy-lab', labId));
}

export function hostCgroupDirs(labId: string, host: string): string[] {
  return labCgroupDirs(labId).map((dir) => join(dir, host));
}

/** Creates the host's subtrees (its supervisor moves itself in; everything it starts is born there). */
export function makeHostCgroups(labId: string, host: string): void {
  for (const dir of hostCgroupDirs(labId, host)) mkdirSync(dir, { recursive: true });
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(dir, entry.name));
  } catch {
    return [];
  }
}

/** Every pid in a subtree (root-namespace pids). */
export function cgroupPids(dir: string): number[] {
  let own: number[] = [];
  try {
    own = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    // gone
  }
  return [...own, ...subdirs(dir).flatMap(cgroupPids)];
}

/** Removes a subtree deepest first; true when nothing of it is left (a busy cgroup stays until its processes are gone). */
export function removeCgroupTree(dir: string): boolean {
  if (!existsSync(dir)) return true;
  for (const child of subdirs(dir)) removeCgroupTree(child);
  try {
    rmdirSync(dir);
  } catch {
    return !existsSync(dir);
  }
  return true;
}

/** The parent `tsdeploy-lab` dir stays (other labs may be using it); only this lab's own subtree goes. */
export function removeLabCgroups(labId: string): boolean {
  return labCgroupDirs(labId)
    .map((dir) => removeCgroupTree(dir))
    .every(Boolean);
}

/** The lab ids that have cgroup subtrees (leftovers of labs whose registry entry is gone too). */
export function labIdsWithCgroups(): string[] {
  return [...new Set(CGROUP_HIERARCHIES.flatMap((root) => subdirs(join(root, 'tsdeploy-lab')).map((dir) => dir.split('/').pop() ?? '')))];
}
