// What a publish will do to each host, before anything is signed: old → new path, whether it reboots, how much it downloads. Pure.
import { hashPart, type NarInfo } from '../bundle/narinfo.js';

/** The toplevel's `kernel` and `initrd` link targets; a change of either needs a reboot to take effect. */
export interface BootLinks {
  readonly kernel: string;
  readonly initrd: string;
}

export type RebootVerdict = 'yes' | 'no' | 'unknown';

export interface Download {
  /** Bytes to fetch from the cache: FileSize (NarSize where the narinfo has none) of every path not in the old closure. */
  readonly bytes: number;
  readonly paths: number;
  /** Paths of the new closure whose narinfo the cache does not have (their size is not counted). */
  readonly missing: readonly string[];
}

export interface HostPlan {
  readonly host: string;
  readonly oldPath: string | null;
  readonly newPath: string;
  readonly reboot: RebootVerdict;
  readonly download: Download;
}

export interface ReleasePlan {
  readonly hosts: readonly HostPlan[];
  readonly totalBytes: number;
}

/** A reboot is needed when the kernel or initrd differs; unknown unless both toplevels are in the local store. */
export function rebootVerdict(oldLinks: BootLinks | null, newLinks: BootLinks | null): RebootVerdict {
  if (oldLinks === null || newLinks === null) return 'unknown';
  return oldLinks.kernel !== newLinks.kernel || oldLinks.initrd !== newLinks.initrd ? 'yes' : 'no';
}

/** Every store path reachable from `root` through the narinfos' References, and those without a narinfo. */
export function closureOf(root: string, narinfos: ReadonlyMap<string, NarInfo>): { paths: Set<string>; missing: string[] } {
  const paths = new Set<string>();
  const missing: string[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const path = queue.pop() ?? '';
    if (paths.has(path)) continue;
    paths.add(path);
    const info = narinfos.get(hashPart(path));
    if (info === undefined) {
      missing.push(path);
      continue;
    }
    for (const reference of info.references) queue.push(`/nix/store/${reference}`);
  }
  return { paths, missing };
}

/** What a host fetches: the new closure minus the old one, sized by the cache's narinfos. */
export function downloadOf(newPath: string, oldPath: string | null, narinfos: ReadonlyMap<string, NarInfo>): Download {
  const fresh = closureOf(newPath, narinfos);
  const old = oldPath === null ? new Set<string>() : closureOf(oldPath, narinfos).paths;
  let bytes = 0;
  let paths = 0;
  for (const path of fresh.paths) {
    if (old.has(path)) continue;
    const info = narinfos.get(hashPart(path));
    if (info === undefined) continue;
    bytes += info.fileSize ?? info.narSize;
    paths += 1;
  }
  return { bytes, paths, missing: fresh.missing.filter((path) => !old.has(path)) };
}

export function releasePlan(hosts: readonly HostPlan[]): ReleasePlan {
  return { hosts, totalBytes: hosts.reduce((sum, host) => sum + host.download.bytes, 0) };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One line per host and a total, for people. */
export function formatPlan(plan: ReleasePlan): string {
  const lines = plan.hosts.map((host) => {
    const missing = host.download.missing.length === 0 ? '' : ` (${host.download.missing.length} path(s) not in the cache)`;
    return `${host.host}: ${host.oldPath ?? 'none'} -> ${host.newPath}; reboot: ${host.reboot}; download ${formatBytes(host.download.bytes)} in ${host.download.paths} path(s)${missing}`;
  });
  lines.push(`total download: ${formatBytes(plan.totalBytes)} (${plan.totalBytes} bytes) for ${plan.hosts.length} host(s)`);
  return `${lines.join('\n')}\n`;
}
