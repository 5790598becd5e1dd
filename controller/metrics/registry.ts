// The controller's Prometheus metrics (prom-client): what a fleet dashboard or an alert needs.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HostStateSchema } from '../fleet/host-status.js';

/** Every state `status` can show, from its schema, so a new state is never left out of the gauge. */
export const HOST_STATES = HostStateSchema.options;

/** A point-in-time view the gauges are read from at scrape time. */
export interface FleetSnapshot {
  readonly hostsByState: Readonly<Record<string, number>>;
  /** Seconds since each host's last accepted report (hosts never seen are left out). */
  readonly secondsSinceReport: readonly number[];
  readonly longPolls: number;
  readonly rollout: { readonly id: string; readonly state: string; readonly wave: number; readonly waves: number; readonly released: number; readonly hosts: number } | null;
}

export interface ControllerMetrics {
  readonly registry: Registry;
  publish(result: 'accepted' | 'refused', reason: string): void;
  report(result: 'accepted' | 'refused', reason: string): void;
  request(route: string, method: string, status: number, seconds: number): void;
  /** Prometheus text exposition of everything, with the snapshot's gauges read now. */
  render(): Promise<string>;
}

export function createControllerMetrics(snapshot: () => Promise<FleetSnapshot>): ControllerMetrics {
  const registry = new Registry();
  let current: FleetSnapshot = { hostsByState: {}, secondsSinceReport: [], longPolls: 0, rollout: null };
  const hosts = new Gauge({ name: 'tsdeploy_hosts', help: 'Hosts by deployment state.', labelNames: ['state'], registers: [registry] });
  const sinceReport = new Gauge({
    name: 'tsdeploy_host_report_age_seconds',
    help: 'Seconds since hosts last reported: the largest, the median and the count of hosts seen.',
    labelNames: ['stat'],
    registers: [registry],
  });
  const longPolls = new Gauge({ name: 'tsdeploy_long_polls', help: 'Long-poll requests held open.', registers: [registry] });
  const rolloutWave = new Gauge({ name: 'tsdeploy_rollout_wave', help: 'The current rollout wave (1 is the canary); 0 without a rollout.', labelNames: ['rollout', 'state'], registers: [registry] });
  const rolloutReleased = new Gauge({ name: 'tsdeploy_rollout_hosts_released', help: 'Hosts whose manifest the current rollout has released.', labelNames: ['rollout'], registers: [registry] });
  const rolloutHosts = new Gauge({ name: 'tsdeploy_rollout_hosts', help: 'Hosts in the current rollout.', labelNames: ['rollout'], registers: [registry] });
  const publishes = new Counter({ name: 'tsdeploy_publishes_total', help: 'Manifest uploads, by result and refusal reason.', labelNames: ['result', 'reason'], registers: [registry] });
  const reports = new Counter({ name: 'tsdeploy_reports_total', help: 'Signed reports, by result and refusal reason.', labelNames: ['result', 'reason'], registers: [registry] });
  const durations = new Histogram({
    name: 'tsdeploy_http_request_duration_seconds',
    help: 'HTTP request durations (long-polls included, so the wait shows in the upper buckets).',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 60],
    registers: [registry],
  });
  const apply = (view: FleetSnapshot) => {
    current = view;
    hosts.reset();
    for (const state of HOST_STATES) hosts.set({ state }, view.hostsByState[state] ?? 0);
    const ages = [...view.secondsSinceReport].sort((a, b) => a - b);
    sinceReport.set({ stat: 'max' }, ages.at(-1) ?? 0);
    sinceReport.set({ stat: 'median' }, ages[Math.floor(ages.length / 2)] ?? 0);
    sinceReport.set({ stat: 'count' }, ages.length);
    longPolls.set(view.longPolls);
    rolloutWave.reset();
    rolloutReleased.reset();
    rolloutHosts.reset();
    if (view.rollout !== null) {
      rolloutWave.set({ rollout: view.rollout.id, state: view.rollout.state }, view.rollout.wave);
      rolloutReleased.set({ rollout: view.rollout.id }, view.rollout.released);
      rolloutHosts.set({ rollout: view.rollout.id }, view.rollout.hosts);
    }
  };
  return {
    registry,
    publish: (result, reason) => publishes.inc({ result, reason }),
    report: (result, reason) => reports.inc({ result, reason }),
    request: (route, method, status, seconds) => durations.observe({ route, method, status: String(status) }, seconds),
    async render() {
      apply(await snapshot().catch(() => current));
      return registry.metrics();
    },
  };
}
