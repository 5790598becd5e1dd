// The host side of the reboot path: the boot files to compare, logind's inhibitor locks (`systemd-inhibit --list`)
// and `systemctl reboot`, each as an argv array.
import { randomInt } from 'node:crypto';
import { runCommand } from '../../shared/command.js';
import type { Inhibitor } from '../../shared/report.js';
import { rebootNeeded } from '../core/reboot.js';
import type { RebootPort } from '../ports.js';
import { readBootFiles } from './boot-files.js';

export function listInhibitorsArgs(): [string, ...string[]] {
  return ['systemd-inhibit', '--list', '--no-pager'];
}

export function rebootArgs(): [string, ...string[]] {
  return ['systemctl', 'reboot'];
}

/** The output had a table whose header this parser does not know. */
export class InhibitorListError extends Error {
  override name = 'InhibitorListError' as const;
  constructor(readonly output: string) {
    super(`unexpected systemd-inhibit --list output: ${output.trim().split('\n')[0] ?? ''}`.slice(0, 300));
  }
}

const COLUMNS = ['WHO', 'UID', 'USER', 'PID', 'COMM', 'WHAT', 'WHY', 'MODE'] as const;

/**
 * Parses `systemd-inhibit --list`: a header whose column titles start where each column's values start (WHO and
 * WHY may hold spaces, so the header's offsets, not whitespace, split a row), rows, an empty line, "N inhibitors
 * listed."; or "No inhibitors.".
 */
export function parseInhibitorList(output: string): Inhibitor[] {
  const lines = output.split('\n');
  const headerIndex = lines.findIndex((line) => /^WHO\s+UID\s+USER\s+PID\s+COMM\s+WHAT\s+WHY\s+MODE\s*$/.test(line));
  if (headerIndex < 0) {
    if (/^No inhibitors\.?\s*$/m.test(output)) return [];
    throw new InhibitorListError(output);
  }
  const header = lines[headerIndex] ?? '';
  const starts = COLUMNS.map((title) => header.search(new RegExp(`\\b${title}\\b`)));
  const cell = (line: string, column: number): string => line.slice(starts[column], column + 1 < starts.length ? starts[column + 1] : undefined).trim();
  const inhibitors: Inhibitor[] = [];
  for (const line of lines.slice(headerIndex + 1)) {
    if (line.trim() === '' || /^\d+ inhibitors? listed\.?$/.test(line.trim())) break;
    inhibitors.push({ who: cell(line, 0), what: cell(line, 5), why: cell(line, 6), mode: cell(line, 7) });
  }
  return inhibitors;
}

export interface RebootAdapterOptions {
  readonly bootedSystemLink?: string;
}

export function createRebootPort(options: RebootAdapterOptions = {}): RebootPort {
  return {
    async needed(storePath) {
      return rebootNeeded(await readBootFiles(options.bootedSystemLink ?? '/run/booted-system'), await readBootFiles(storePath));
    },
    async inhibitors() {
      // Not on a terminal, systemd prints the table at full width: nothing of a long WHY is cut off.
      const { stdout } = await runCommand({ argv: listInhibitorsArgs(), timeoutMs: 10_000 });
      return parseInhibitorList(stdout);
    },
    async reboot() {
      await runCommand({ argv: rebootArgs(), timeoutMs: 60_000 });
    },
    random: () => randomInt(0, 1_000_000) / 1_000_000,
  };
}
