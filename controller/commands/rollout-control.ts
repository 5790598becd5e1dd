// `rollout pause|resume|abort`: the operator's controls, on the state directory (Unix permissions are the
// authentication, as for every admin command); a running controller picks them up at its next check.
import { defineCommand, EXIT, type Command } from '../../shared/cli.js';
import { UserError } from '../../shared/errors.js';
import { controlStoredRollout } from '../fleet/rollouts.js';
import { createRolloutStore } from '../storage/rollout-store.js';
import { openStateDir, SIGNING_FLAGS, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';
import { abortAndRevert } from './rollout-revert.js';

const SUMMARIES = {
  pause: 'Hold every wave not yet released (hosts already released keep their manifests).',
  resume: 'Let a paused or halted rollout go on (after a halt: the operator accepts the unhealthy hosts).',
  abort: 'Release nothing more, ever; drops the held manifests. Hosts already updated stay so: publish the old paths to return them.',
} as const;

function controlCommand(action: keyof typeof SUMMARIES): Command<ControllerIo> {
  return defineCommand({
    name: `rollout ${action}`,
    summary: SUMMARIES[action],
    usage: STATE_USAGE,
    flags: STATE_FLAGS,
    async run({ values }, io: ControllerIo) {
      const store = await openStateDir(values, io.uid);
      const rollout = await controlStoredRollout(createRolloutStore(store.stateDir), action, io.now());
      if (rollout === null) throw new UserError('there is no rollout in this state directory');
      io.out(`rollout ${rollout.id}: ${rollout.state}\n`);
      return EXIT.ok;
    },
  });
}

export const rolloutPauseCommand = controlCommand('pause');
export const rolloutResumeCommand = controlCommand('resume');
export const rolloutAbortCommand = defineCommand({
  name: 'rollout abort',
  summary: `${SUMMARIES.abort} With --revert: sign and publish each updated host's previous path.`,
  usage:
    STATE_USAGE +
    '  --revert            also return every host given the rollout\'s manifest to its previous path (version current + 1)\n' +
    '  --controller URL    where --revert publishes\n  --key SECRET_FILE   the release key --revert signs with (repeat for a threshold)\n' +
    '  --yes               confirm the revert without asking (needed off a terminal)\n  --json\n  --state FILE        the publish record (as for publish)\n',
  flags: { ...STATE_FLAGS, ...SIGNING_FLAGS, revert: { type: 'boolean' }, controller: { type: 'string' }, yes: { type: 'boolean' }, json: { type: 'boolean' }, state: { type: 'string' }, 'max-jump': { type: 'string' } },
  async run({ values }, io: ControllerIo) {
    if (values.revert === true) return abortAndRevert(values, io);
    const store = await openStateDir(values, io.uid);
    const rollout = await controlStoredRollout(createRolloutStore(store.stateDir), 'abort', io.now());
    if (rollout === null) throw new UserError('there is no rollout in this state directory');
    io.out(`rollout ${rollout.id}: ${rollout.state}\n`);
    return EXIT.ok;
  },
});
