// `rollout pause|resume|abort`: the operator's controls, on the state directory (Unix permissions are the
// authentication, as for every admin command); a running controller picks them up at its next check.
import { defineCommand, EXIT, type Command } from '../../shared/cli.js';
import { UserError } from '../../shared/errors.js';
import { controlStoredRollout } from '../fleet/rollouts.js';
import { createRolloutStore } from '../storage/rollout-store.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

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
export const rolloutAbortCommand = controlCommand('abort');
