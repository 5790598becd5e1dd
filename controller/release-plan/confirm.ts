// The release plan before a publish: gathered (controller status, binary cache, local store), shown, and confirmed.
import { OperatorError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import type { ControllerApi } from '../http/client.js';
import type { ControllerIo } from '../commands/context.js';
import { readBootLinks } from './boot-links.js';
import { createNarInfoReader } from './narinfo-reader.js';
import { downloadOf, formatPlan, rebootVerdict, releasePlan, type ReleasePlan } from './plan.js';

export class ConfirmationRequiredError extends OperatorError {
  override name = 'ConfirmationRequiredError' as const;
  constructor(readonly what: string) {
    super(`${what} needs confirmation and stdin is not a terminal: pass --yes`);
  }
}

/** Each host's old path is what the controller says it runs now (else what it was last given). */
export async function gatherPlan(api: ControllerApi, targets: ReadonlyArray<readonly [string, string]>, cacheUrl: string): Promise<ReleasePlan> {
  const status = await api.getStatus();
  const running = new Map(status.hosts.map((host) => [host.host, host.current ?? host.desired?.storePath ?? null]));
  const reader = createNarInfoReader(cacheUrl);
  try {
    const roots = targets.flatMap(([host, path]) => [path, running.get(host) ?? null].filter((p): p is string => p !== null));
    const narinfos = await reader.closure(roots);
    const hosts = await Promise.all(
      targets.map(async ([host, newPath]) => {
        const oldPath = running.get(host) ?? null;
        const reboot = rebootVerdict(oldPath === null ? null : await readBootLinks(oldPath), await readBootLinks(newPath));
        return { host, oldPath, newPath, reboot, download: downloadOf(newPath, oldPath, narinfos) };
      }),
    );
    return releasePlan(hosts);
  } finally {
    await reader.close();
  }
}

/**
 * Shows the plan (stdout, or stderr under --json where the plan goes into the command's JSON) and asks
 * on a terminal; `--yes` answers for the operator, and off a terminal nothing goes on without it.
 */
export async function confirmPlan(io: ControllerIo, plan: ReleasePlan, options: { readonly yes: boolean; readonly json: boolean; readonly what: string }): Promise<boolean> {
  const text = printable(formatPlan(plan));
  if (!options.json) io.out(text);
  if (options.yes) return true;
  if (!io.stdinIsTty) throw new ConfirmationRequiredError(options.what);
  if (options.json) io.err(text);
  return io.confirm(`${options.what}? [y/N] `);
}
