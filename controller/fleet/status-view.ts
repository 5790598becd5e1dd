// The fleet table printed by `status`: pure formatting of GET /v1/status.
import { printable } from '../../shared/printable.js';
import type { HostStatus, StatusResponse } from './host-status.js';

/** `/nix/store/<hash>-<name>` as `<first 8 of hash>-<name>`, names cut at 40 characters. */
export function shortPath(path: string | null): string {
  if (path === null) return '-';
  const match = /^\/nix\/store\/([0-9a-z]{32})-(.+)$/.exec(path);
  if (match === null) return path;
  const name = match[2] ?? '';
  return `${(match[1] ?? '').slice(0, 8)}-${name.length > 40 ? `${name.slice(0, 39)}…` : name}`;
}

/** "12s ago", "5m ago", "3h ago", "2d ago", or "never". */
export function ago(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

function health(host: HostStatus): string {
  if (host.health.length === 0) return '-';
  const failing = host.health.filter((result) => !result.ok);
  if (failing.length === 0) return `ok ${host.health.length}/${host.health.length}`;
  return `FAIL ${failing.map((result) => result.name).join(',')}`;
}

function current(host: HostStatus): string {
  if (host.current === null) return '-';
  if (host.desired !== null && host.current === host.desired.storePath) return '= desired';
  return shortPath(host.current);
}

/** What a host that waits says of it when it reports no error. */
function waitNote(host: HostStatus): string {
  // A dry activation's note is what it would change: its first line here, all of it in --json.
  if (host.state === 'dry-activated') return host.activationOutput ?? '';
  const overrun = host.activationOverrun ?? null;
  if (overrun !== null) return `activation past its time limit: running ${overrun.seconds}s (limit ${overrun.limitSeconds}s), waited for`;
  if (host.state === 'awaiting-window') {
    const opensAt = host.activationWindow?.opensAt ?? null;
    return opensAt === null ? 'activation held: its window never opens again' : `activation held until its window opens at ${opensAt}`;
  }
  return '';
}

function note(host: HostStatus): string {
  const text = host.error ?? waitNote(host);
  const line = text.split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

const HEADERS = ['HOST', 'STATE', 'ENROLLED', 'DESIRED', 'CURRENT', 'PHASE', 'HEALTH', 'LAST SEEN', 'NOTE'] as const;

/** A line about pending enrollment requests, which are counted apart from the hosts. */
function pendingLine(count: number): string {
  return count === 0 ? '' : `${count} pending enrollment request(s): tsdeploy-controller hosts list\n`;
}

/**
 * One row per host; the NOTE column carries the agent's last error (why it failed or rolled back).
 * Every cell is text a host or a controller sent, so control characters are escaped, never printed.
 */
export function formatStatusTable(status: Pick<StatusResponse, 'hosts'> & { readonly pendingEnrollments?: number }, now: Date): string {
  const pending = pendingLine(status.pendingEnrollments ?? 0);
  if (status.hosts.length === 0) return `no hosts yet: publish a manifest or enroll an agent\n${pending}`;
  const raw = status.hosts.map((host) => [
    host.host,
    host.state,
    host.enrolled,
    host.desired === null ? '-' : `v${host.desired.version} ${shortPath(host.desired.storePath)}`,
    current(host),
    host.phase === null ? '-' : `${host.phase}${host.manifestVersion === null ? '' : ` (v${host.manifestVersion})`}`,
    health(host),
    ago(host.lastSeen, now),
    note(host),
  ]);
  const rows = raw.map((row) => row.map(printable));
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(HEADERS), ...rows.map(line)].join('\n')}\n${pending}`;
}
