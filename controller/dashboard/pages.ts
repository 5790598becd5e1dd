// The dashboard's pages, server-rendered: readable without JavaScript, refreshing themselves. Pure.
import { constantMarkup, html, type Html } from './html.js';

export interface DashboardHost {
  readonly host: string;
  readonly state: string;
  readonly desiredVersion: number | null;
  readonly desiredPath: string | null;
  readonly current: string | null;
  readonly health: readonly { readonly name: string; readonly ok: boolean }[];
  readonly lastSeen: string | null;
  readonly error: string | null;
  /** Realise progress or the phase under way, when the host reports one. */
  readonly progress: string | null;
}

export interface DashboardWave {
  readonly hosts: readonly string[];
  readonly releasedAt: string | null;
  readonly completedAt: string | null;
}

export interface DashboardRollout {
  readonly id: string;
  readonly state: string;
  readonly reason: string | null;
  readonly waves: readonly DashboardWave[];
}

export interface TimelineEntry {
  readonly time: string;
  readonly kind: string;
  readonly phase: string;
  readonly outcome: string;
  readonly version: number | null;
  readonly error: string | null;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
.ok{color:#176117}.bad{color:#a11}.muted{color:#777}code{font-size:12px}`;

function page(title: string, body: Html, refreshSeconds: number): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refreshSeconds}">
<title>${title}</title><style>${constantMarkup(STYLE)}</style></head>
<body><h1>${title}</h1>${body}<p class="muted">Read-only; refreshes every ${refreshSeconds} s.</p></body></html>
`.text;
}

const short = (path: string | null) => (path === null ? '–' : path.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ''));

function hostRow(h: DashboardHost): Html {
  const healthy = h.health.length > 0 && h.health.every((c) => c.ok);
  return html`<tr><td><a href="/dashboard/hosts/${encodeURIComponent(h.host)}">${h.host}</a></td>
<td class="${h.state === 'in-sync' ? 'ok' : h.state === 'failed' || h.state === 'rolled-back' || h.state === 'silent' ? 'bad' : ''}">${h.state}</td>
<td>${h.desiredVersion === null ? '–' : `v${h.desiredVersion}`} <code>${short(h.desiredPath)}</code></td><td><code>${short(h.current)}</code></td>
<td class="${h.health.length === 0 ? 'muted' : healthy ? 'ok' : 'bad'}">${h.health.length === 0 ? '–' : healthy ? 'ok' : h.health.filter((c) => !c.ok).map((c) => c.name).join(', ')}</td>
<td>${h.lastSeen ?? 'never'}</td><td>${h.progress ?? ''}</td><td>${h.error ?? ''}</td></tr>`;
}

function rolloutSection(rollout: DashboardRollout | null): Html {
  if (rollout === null) return html`<h2>Rollout</h2><p class="muted">No rollout.</p>`;
  return html`<h2>Rollout ${rollout.id}: <span class="${rollout.state === 'halted' || rollout.state === 'aborted' ? 'bad' : rollout.state === 'completed' ? 'ok' : ''}">${rollout.state}</span></h2>
${rollout.reason === null ? '' : html`<p class="bad">${rollout.reason}</p>`}
<table><tr><th>wave</th><th>hosts</th><th>released</th><th>completed</th></tr>
${rollout.waves.map((w, i) => html`<tr><td>${i === 0 ? 'canary' : `wave ${i}`}</td><td>${w.hosts.join(', ')}</td><td>${w.releasedAt ?? 'held'}</td><td>${w.completedAt ?? ''}</td></tr>`)}
</table>`;
}

/** The fleet: one row per host, then the current rollout with its waves and what halted it. */
export function fleetPage(hosts: readonly DashboardHost[], rollout: DashboardRollout | null, refreshSeconds = 5): string {
  const body = html`<table><tr><th>host</th><th>state</th><th>desired</th><th>current</th><th>health</th><th>last seen</th><th>progress</th><th>error</th></tr>
${hosts.map(hostRow)}</table>${rolloutSection(rollout)}`;
  return page('tsdeploy fleet', body, refreshSeconds);
}

/** One host's timeline of reports, newest first. */
export function hostPage(host: DashboardHost, timeline: readonly TimelineEntry[], refreshSeconds = 5): string {
  const body = html`<p><a href="/dashboard">← fleet</a></p><table>${hostRow(host)}</table><h2>Timeline</h2>
<table><tr><th>time</th><th>kind</th><th>phase</th><th>outcome</th><th>version</th><th>error</th></tr>
${timeline.map((e) => html`<tr><td>${e.time}</td><td>${e.kind}</td><td>${e.phase}</td><td class="${e.outcome === 'success' ? 'ok' : e.outcome === 'in-progress' ? '' : 'bad'}">${e.outcome}</td><td>${e.version ?? '–'}</td><td>${e.error ?? ''}</td></tr>`)}
</table>`;
  return page(`tsdeploy: ${host.host}`, body, refreshSeconds);
}
