// Read-only views for people and scrapers: the dashboard pages and /metrics, built from the fleet's status.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson } from '../../shared/json.js';
import { ReportSchema } from '../../shared/report.js';
import { deployProgress } from '../dashboard/progress.js';
import { fleetPage, hostPage, type DashboardHost, type DashboardRollout, type TimelineEntry } from '../dashboard/pages.js';
import type { HostStatus } from '../fleet/host-status.js';
import type { RolloutService } from '../fleet/rollouts.js';
import type { FleetService } from '../fleet/service.js';
import { createControllerMetrics, type ControllerMetrics } from '../metrics/registry.js';
import type { ControllerStore } from '../storage/store.js';
import { sendError } from './respond.js';

export interface Views {
  readonly metrics: ControllerMetrics;
  /** False (and answered 401) when a read token is configured and the request does not carry it: dashboard, metrics, status, rollout. */
  authorized(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  dashboard(res: ServerResponse): Promise<void>;
  dashboardHost(res: ServerResponse, host: string): Promise<void>;
  metricsText(res: ServerResponse): Promise<void>;
}

function dashboardHost(status: HostStatus): DashboardHost {
  return {
    host: status.host,
    state: status.state,
    desiredVersion: status.desired?.version ?? null,
    desiredPath: status.desired?.storePath ?? null,
    current: status.current,
    health: status.health.map((h) => ({ name: h.name, ok: h.ok })),
    lastSeen: status.lastSeen,
    error: status.error,
    progress: deployProgress(status),
  };
}

function sendHtml(res: ServerResponse, page: string): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" });
  res.end(page);
}

export function createViews(deps: {
  fleet: FleetService;
  rollouts: RolloutService;
  store: ControllerStore;
  readToken: string | undefined;
  longPolls: () => number;
  now: () => Date;
}): Views {
  const rolloutView = async (): Promise<DashboardRollout | null> => {
    const current = await deps.rollouts.current();
    return current === null ? null : { id: current.rollout.id, state: current.rollout.state, reason: current.rollout.reason, waves: current.rollout.waves };
  };
  const metrics = createControllerMetrics(async () => {
    const { hosts } = await deps.fleet.status();
    const byState: Record<string, number> = {};
    for (const h of hosts) byState[h.state] = (byState[h.state] ?? 0) + 1;
    const at = deps.now().getTime();
    const current = await deps.rollouts.current();
    const rollout = current?.rollout ?? null;
    return {
      hostsByState: byState,
      secondsSinceReport: hosts.filter((h) => h.lastSeen !== null).map((h) => Math.max(0, (at - Date.parse(h.lastSeen ?? '')) / 1000)),
      longPolls: deps.longPolls(),
      rollout:
        rollout === null
          ? null
          : {
              id: rollout.id,
              state: rollout.state,
              wave: rollout.waves.filter((w) => w.releasedAt !== null).length,
              waves: rollout.waves.length,
              released: rollout.waves.filter((w) => w.releasedAt !== null).reduce((n, w) => n + w.hosts.length, 0),
              hosts: rollout.waves.reduce((n, w) => n + w.hosts.length, 0),
            },
    };
  });
  return {
    metrics,
    authorized(req, res, url) {
      if (deps.readToken === undefined) return true;
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? '');
      const a = Buffer.from(given);
      const b = Buffer.from(deps.readToken);
      if (a.length === b.length && timingSafeEqual(a, b)) return true;
      sendError(res, 401, 'a read token is required (Authorization: Bearer TOKEN; the CLI takes --read-token-file FILE)', { 'WWW-Authenticate': 'Bearer' });
      return false;
    },
    async dashboard(res) {
      const { hosts } = await deps.fleet.status();
      sendHtml(res, fleetPage(hosts.map(dashboardHost), await rolloutView()));
    },
    async dashboardHost(res, host) {
      const status = (await deps.fleet.status()).hosts.find((h) => h.host === host);
      if (status === undefined) return sendError(res, 404, `no host ${JSON.stringify(host)}`);
      const log = await deps.store.readReports(host);
      const timeline: TimelineEntry[] = [];
      for (const entry of log.entries.slice(-200).reverse()) {
        try {
          const report = parseJson(Buffer.from(entry.envelope.payload, 'base64'), ReportSchema, (detail) => new Error(detail));
          timeline.push({ time: entry.receivedAt, kind: report.kind, phase: report.phase, outcome: report.outcome, version: report.manifestVersion, error: report.error });
        } catch {
          // A stored envelope was checked on intake; one that no longer parses is skipped, not shown half.
        }
      }
      sendHtml(res, hostPage(dashboardHost(status), timeline));
    },
    async metricsText(res) {
      const text = await metrics.render();
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
    },
  };
}
