// Host facts for heartbeats and the free-space pre-flight. systeminformation's osInfo() starts about
// seventeen processes and fsSize() runs df, so a heartbeat must not call them each time: the OS name is read
// again only when /etc/os-release points elsewhere (a switch), and the store's filesystem comes from statfs.
import { realpath, statfs } from 'node:fs/promises';
import { release, uptime } from 'node:os';
import { mem, osInfo } from 'systeminformation';
import type { HostFacts } from '../../shared/report.js';

export interface StoreFilesystem {
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
}

/** Sizes as `df` gives them, from statfs(2) fields: used = all blocks less free ones; available to root's processes as to others. */
export function filesystemOf(stats: { bsize: number; blocks: number; bfree: number; bavail: number }): StoreFilesystem {
  return { sizeBytes: stats.blocks * stats.bsize, usedBytes: (stats.blocks - stats.bfree) * stats.bsize, availableBytes: stats.bavail * stats.bsize };
}

/** The filesystem that holds `storeDir`; null when it cannot be looked at (no store yet). */
export async function storeFilesystem(storeDir = '/nix/store'): Promise<StoreFilesystem | null> {
  return statfs(storeDir).then(filesystemOf, () => null);
}

/** The distribution's name and release, read again only when `osRelease` resolves to another file. */
export function createOsName(osRelease = '/etc/os-release', read: () => Promise<{ distro: string; release: string }> = osInfo): () => Promise<string> {
  let cached: { target: string | null; name: string } | null = null;
  return async () => {
    const target = await realpath(osRelease).catch(() => null);
    if (cached === null || cached.target !== target) {
      const os = await read();
      cached = { target, name: `${os.distro} ${os.release}`.trim().slice(0, 256) };
    }
    return cached.name;
  };
}

export function createHostFacts(osName = createOsName()): () => Promise<HostFacts> {
  return async () => {
    const [os, memory, store] = await Promise.all([osName(), mem(), storeFilesystem()]);
    return {
      os,
      kernel: release().slice(0, 256),
      uptimeSeconds: Math.max(0, Math.floor(uptime())),
      memory: { totalBytes: memory.total, availableBytes: memory.available },
      nixStore: store,
    };
  };
}
