// What an operator should know about a publish that the controller's answer alone does not say: a host that
// never enrolled, a host that already refused the exact version left in place, a path the binary cache lacks.
// Pure; `publish` prints each on stderr and its exit code does not change.
import type { StatusResponse } from '../fleet/host-status.js';
import type { PublishOutcome } from './publish-host.js';

const FAILED_OUTCOMES: ReadonlySet<string> = new Set(['rolled-back', 'failure', 'rejected']);

/**
 * One line per finding. `status` is the controller's fleet status before the publish (null: not read);
 * `cache` the `--cache` and the store paths whose narinfo it did not have (null: no `--cache`).
 */
export function publishNotes(
  outcomes: readonly PublishOutcome[],
  status: StatusResponse | null,
  cache: { readonly url: string; readonly missing: ReadonlySet<string> } | null,
): string[] {
  const notes: string[] = [];
  const rows = new Map((status?.hosts ?? []).map((row) => [row.host, row]));
  for (const outcome of outcomes) {
    const row = rows.get(outcome.host);
    if (status !== null && (row === undefined || row.enrolled !== 'enrolled')) {
      const state = row === undefined ? 'never seen' : row.enrolled;
      notes.push(
        `warning: ${outcome.host} has no enrolled agent (${state}): nothing fetches this manifest until its agent enrolls and is approved (tsdeploy-controller hosts approve ${outcome.host})`,
      );
    }
    if (outcome.result === 'unchanged' && row !== undefined && row.manifestVersion === outcome.version && row.outcome !== null && FAILED_OUTCOMES.has(row.outcome)) {
      notes.push(
        `note: ${outcome.host} already refused version ${outcome.version} of this path (${row.outcome}${row.error === null ? '' : `: ${row.error}`}); the host will not try it again — pass --force to publish it as a new version`,
      );
    }
    if (cache !== null && 'storePath' in outcome && cache.missing.has(outcome.storePath)) {
      notes.push(`warning: ${outcome.host}: ${outcome.storePath} is not in the binary cache ${cache.url} (no narinfo): the host cannot realise it`);
    }
  }
  return notes;
}
