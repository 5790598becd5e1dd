// `rollout abort --revert`: sign (locally, with the operator's release key) a publish that returns every host
// given the aborted rollout's manifest to the path it ran before, version current + 1; shown and confirmed first.
import { EXIT, optionalFlag, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { UserError } from '../../shared/errors.js';
import { printable, printableJson } from '../../shared/printable.js';
import { localNixSystem } from '../../shared/sign-manifest.js';
import { storedManifestInfo } from '../fleet/decide-publish.js';
import { controlStoredRollout } from '../fleet/rollouts.js';
import { createControllerApi } from '../http/client.js';
import { ConfirmationRequiredError } from '../release-plan/confirm.js';
import { revertTargets } from '../rollout/lifecycle.js';
import { createRolloutStore } from '../storage/rollout-store.js';
import { activationFrom, openStateDir, secretKeysFrom, type ControllerIo } from './context.js';
import { DEFAULT_MAX_JUMP } from './publish-guard.js';
import { formatOutcome, openPublishRecord, publishHost, type PublishOutcome } from './publish-host.js';

export interface RevertValues {
  readonly controller?: string | undefined;
  readonly key?: readonly string[] | undefined;
  readonly yes?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly state?: string | undefined;
  readonly 'max-jump'?: string | undefined;
  readonly activation?: string | undefined;
  readonly 'expires-in'?: string | undefined;
  readonly system?: string | undefined;
  readonly [flag: string]: unknown;
}

/** Aborts the rollout (if it is not already) and publishes each released host's previous path, once confirmed. */
export async function abortAndRevert(values: RevertValues, io: ControllerIo): Promise<number> {
  if ((values.key ?? []).length === 0) throw new UsageError('--revert signs a publish: give --key SECRET_FILE');
  const controllerUrl = requireFlag(values, 'controller');
  const keys = await secretKeysFrom(values);
  const rollouts = createRolloutStore((await openStateDir(values, io.uid)).stateDir);
  const rollout = await rollouts.current();
  if (rollout === null) throw new UserError('there is no rollout in this state directory');
  const { revert, unknown } = revertTargets(rollout);
  const api = createControllerApi(controllerUrl);
  try {
    const lines: string[] = [];
    for (const target of revert) {
      const fetched = await api.getManifest(target.host);
      const current = fetched.kind === 'found' ? storedManifestInfo(fetched.bytes).manifest : null;
      lines.push(`${target.host}: v${current?.version ?? 0} ${current?.storePath ?? 'none'} -> v${(current?.version ?? 0) + 1} ${target.previous}`);
    }
    for (const host of unknown) lines.push(`${host}: no path before rollout ${rollout.id} is known (it had no manifest); left as it is`);
    const plan = `revert of rollout ${rollout.id} (${rollout.state}): ${revert.length} host(s) back to their previous path\n${lines.map((l) => `  ${l}\n`).join('')}`;
    (values.json === true ? io.err : io.out)(printable(plan));
    if (values.yes !== true) {
      if (!io.stdinIsTty) throw new ConfirmationRequiredError(`rollout abort --revert`);
      if (!(await io.confirm('Abort and publish the revert? [y/N] '))) {
        io.err('not confirmed: nothing changed\n');
        return EXIT.failure;
      }
    }
    if (rollout.state !== 'aborted') await controlStoredRollout(rollouts, 'abort', io.now());
    const stateFlag = optionalFlag(values, 'state');
    const record = await openPublishRecord(stateFlag ?? `${values.key?.[0] ?? 'key'}.versions.json`, stateFlag !== undefined, io.err);
    const maxJump = optionalFlag(values, 'max-jump');
    const outcomes: PublishOutcome[] = [];
    for (const target of revert) {
      const outcome = await publishHost(api, target.host, target.previous, {
        keys,
        activation: activationFrom(values),
        expiresInMs: parseDuration(values['expires-in'] ?? '7d'),
        system: optionalFlag(values, 'system') ?? localNixSystem(),
        note: `revert of rollout ${rollout.id}`,
        rollout: undefined,
        force: false,
        now: () => io.now(),
        lastSigned: record.lastSigned,
        maxJump: maxJump === undefined ? DEFAULT_MAX_JUMP : parsePositiveInt(maxJump, 'max-jump'),
      });
      outcomes.push(outcome);
      if (outcome.result === 'published') await record.signed(target.host, outcome.version);
      const failed = outcome.result === 'refused' || outcome.result === 'declined';
      if (values.json !== true) (failed ? io.err : io.out)(`${printable(formatOutcome(outcome))}\n`);
    }
    if (values.json === true) io.out(`${printableJson({ rollout: rollout.id, hosts: outcomes, unknown })}\n`);
    return outcomes.some((o) => o.result === 'refused' || o.result === 'declined') ? EXIT.rejected : EXIT.ok;
  } finally {
    await api.close();
  }
}
