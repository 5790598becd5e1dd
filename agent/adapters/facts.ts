// Host facts for heartbeats and the free-space pre-flight, from systeminformation.
import { fsSize, mem, osInfo, time } from 'systeminformation';
import type { HostFacts } from '../../shared/report.js';

/** The filesystem that holds `path`: the mount with the longest matching prefix. */
export function mountFor<T extends { mount: string }>(mounts: readonly T[], path: string): T | null {
  let best: T | null = null;
  for (const entry of mounts) {
    const prefix = entry.mount.endsWith('/') ? entry.mount : `${entry.mount}/`;
    if ((path === entry.mount || path.startsWith(prefix) || entry.mount === '/') && (best === null || entry.mount.length > best.mount.length)) {
      best = entry;
    }
  }
  return best;
}

export async function storeFilesystem(storeDir = '/nix/store'): Promise<{ sizeBytes: number; usedBytes: number; availableBytes: number } | null> {
  const mounts = await fsSize().catch(() => []);
  const entry = mountFor(mounts, storeDir);
  return entry === null ? null : { sizeBytes: entry.size, usedBytes: entry.used, availableBytes: entry.available };
}

export async function hostFacts(): Promise<HostFacts> {
  const [os, memory, store] = await Promise.all([osInfo(), mem(), storeFilesystem()]);
  return {
    os: `${os.distro} ${os.release}`.trim().slice(0, 256),
    kernel: os.kernel.slice(0, 256),
    uptimeSeconds: Math.max(0, Number(time().uptime) || 0),
    memory: { totalBytes: memory.total, availableBytes: memory.available },
    nixStore: store,
  };
}
