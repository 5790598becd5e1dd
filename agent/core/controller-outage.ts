// A failing `controller` check is evidence against a generation only when the host's own network is down
// too: a controller outage alone must not roll a fleet back. The rule, and which targets are probed. Pure.
import type { HealthResult } from '../../shared/report.js';

/** One network probe: a binary cache, a mirror or a configured URL, and whether it answered at all. */
export interface ProbeResult {
  readonly target: string;
  readonly ok: boolean;
  readonly detail: string;
}

export type UnhealthyVerdict =
  /** Local checks failed: the ordinary health failure. */
  | { readonly kind: 'unhealthy'; readonly reason: string; readonly results: readonly HealthResult[] }
  /** Only the controller failed and no probe answered either: the generation cut the host off. */
  | { readonly kind: 'cut-off'; readonly reason: string; readonly results: readonly HealthResult[] }
  /** Only the controller failed, and nothing shows the host's network is down: not held against the generation. */
  | { readonly kind: 'controller-outage'; readonly note: string; readonly results: readonly HealthResult[] };

export const MAX_NETWORK_PROBES = 8;

const describe = (probes: readonly ProbeResult[]) => probes.map((p) => `${p.target} (${p.detail})`).join(', ');

/** Adds what the network probes showed to the controller checks' details, so reports say what was seen. */
function withEvidence(results: readonly HealthResult[], evidence: string): HealthResult[] {
  return results.map((r) => (r.type === 'controller' && !r.ok ? { ...r, detail: `${r.detail}; ${evidence}`.slice(0, 2048) } : r));
}

/**
 * Judges a failed health window. `controllerOnly`: every failing check was a `controller` check. `network`:
 * the probes run then (none when nothing could be probed). A cut-off needs evidence: at least one probe,
 * and none answered.
 */
export function judgeUnhealthy(
  results: readonly HealthResult[],
  reason: string,
  controllerOnly: boolean,
  network: readonly ProbeResult[] | undefined,
): UnhealthyVerdict {
  if (!controllerOnly) return { kind: 'unhealthy', reason, results };
  const probes = network ?? [];
  const answered = probes.filter((p) => p.ok);
  if (probes.length > 0 && answered.length === 0) {
    const seen = `the host's network is down too: ${describe(probes)}`;
    return { kind: 'cut-off', reason: `controller unreachable after switch, and ${seen}`, results: withEvidence(results, seen) };
  }
  const seen =
    answered.length > 0
      ? `the network is up (${describe(answered)}): a controller outage, not held against this generation`
      : 'no network probe to tell a controller outage from a cut-off host: not held against this generation';
  return { kind: 'controller-outage', note: `controller unreachable; ${seen}`, results: withEvidence(results, seen) };
}

/** `host:port` of an http(s) URL, with the scheme's default port; null for anything else. */
function origin(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  return `${parsed.hostname}:${parsed.port === '' ? (parsed.protocol === 'https:' ? '443' : '80') : parsed.port}`;
}

/**
 * What to probe: the configured `health.networkProbes`, or else the host's Nix substituters and the http(s)
 * mirrors. Only http(s) URLs; never the controller's own origin (a cache the controller serves goes down
 * with it, which would make an outage look like a cut-off); no duplicates; at most 8.
 */
export function networkProbeTargets(
  configured: readonly string[] | undefined,
  substituters: readonly string[],
  mirrors: readonly string[],
  controller: string | null,
): string[] {
  const candidates = configured ?? [...substituters, ...mirrors];
  const controllerOrigin = controller === null ? null : origin(controller);
  const seen = new Set<string>();
  const targets: string[] = [];
  for (const url of candidates) {
    const where = origin(url);
    if (where === null || where === controllerOrigin || seen.has(url)) continue;
    seen.add(url);
    targets.push(url);
  }
  return targets.slice(0, MAX_NETWORK_PROBES);
}
