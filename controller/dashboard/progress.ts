// A host's deployment under way in one cell: its phase, and while it realises, paths and MiB done of the total. Pure.
import { formatRealiseProgress } from '../../shared/report.js';
import type { HostStatus } from '../fleet/host-status.js';

/**
 * Null unless the host is deploying: a finished host's last progress is history, not progress. The
 * realise figures are shown only while they are not finished, so a later phase reads as that phase.
 */
export function deployProgress(status: Pick<HostStatus, 'state' | 'phase' | 'progress'>): string | null {
  if (status.state !== 'deploying') return null;
  const progress = status.progress ?? null;
  const phase = status.phase ?? 'deploying';
  if (progress === null || progress.finished) return phase;
  return `${phase} ${formatRealiseProgress(progress)}`;
}
