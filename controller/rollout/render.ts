// A rollout for people: one line per wave, with a progress bar on a terminal and plain words otherwise. Pure.
import { printable } from '../../shared/printable.js';
import type { WaveProgress } from './advance.js';
import type { Rollout } from './policy.js';

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export function formatRollout(rollout: Rollout, progress: WaveProgress | null, tty: boolean): string {
  const lines = [`rollout ${rollout.id}: ${rollout.state}${rollout.reason === null ? '' : ` (${rollout.reason})`}`];
  rollout.waves.forEach((wave, i) => {
    const name = i === 0 ? 'canary' : `wave ${i}`;
    const total = wave.hosts.length;
    const live = progress !== null && progress.index === i ? progress : null;
    const done = wave.completedAt !== null ? total : (live?.confirmed.length ?? 0);
    const state = wave.completedAt !== null ? 'done' : wave.releasedAt === null ? 'held' : 'out';
    const detail = live === null ? '' : `; pending ${live.pending.join(', ') || '-'}${live.unhealthy.length === 0 ? '' : `; unhealthy ${live.unhealthy.map((u) => `${u.host} (${u.why})`).join(', ')}`}`;
    lines.push(`  ${name.padEnd(8)} ${tty ? `${bar(done, total)} ` : ''}${done}/${total} confirmed, ${state}${detail}`);
  });
  // The controller sent every name and reason: each line is escaped on its own, so the newlines between them stay.
  return `${lines.map(printable).join('\n')}\n`;
}
