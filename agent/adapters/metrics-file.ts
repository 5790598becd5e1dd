// Writes the agent's metrics for node_exporter's textfile collector, atomically, so a scrape never sees half a file.
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import { agentMetricsText } from '../core/metrics.js';
import type { Journal } from '../core/journal.js';

/** True when the running system's kernel, initrd or kernel modules differ from the booted system's. */
export async function rebootNeeded(current = '/run/current-system', booted = '/run/booted-system'): Promise<boolean> {
  for (const link of ['kernel', 'initrd', 'kernel-modules']) {
    const [a, b] = await Promise.all([realpath(join(current, link)).catch(() => null), realpath(join(booted, link)).catch(() => null)]);
    if (a !== b) return true;
  }
  return false;
}

export async function writeAgentMetrics(path: string, host: string, journal: Journal): Promise<void> {
  await writeFileAtomic(path, agentMetricsText(host, journal, await rebootNeeded()), 0o644);
}
