// `status`: the fleet table (or JSON) from GET /v1/status, then the current rollout's waves; `--watch` redraws until interrupted.
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { duration } from '../../shared/flag-checks.js';
import { printableJson } from '../../shared/printable.js';
import { createControllerApi } from '../http/client.js';
import { formatStatusTable } from '../fleet/status-view.js';
import { withRolloutWaves } from '../rollout/view.js';
import { CONTROLLER_FLAG, READ_TOKEN_FLAG, READ_TOKEN_USAGE, readTokenFromFlag, type ControllerIo } from './context.js';
import { watchLoop } from './watch.js';

export const statusCommand = defineCommand({
  name: 'status',
  summary: "The fleet: desired, current, phase, health, last seen; and the current rollout's waves.",
  usage:
    '  --controller URL  the controller\n  --json            print GET /v1/status as JSON, with the rollout (GET /v1/rollouts/current, or null)\n' +
    `  --watch           redraw until interrupted\n  --interval 2s     how often --watch redraws\n${READ_TOKEN_USAGE}`,
  flags: { ...CONTROLLER_FLAG, ...READ_TOKEN_FLAG, json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string', default: '2s', check: duration } },
  async run({ values }, io: ControllerIo) {
    const api = createControllerApi(requireFlag(values, 'controller'), { readToken: await readTokenFromFlag(values) });
    const render = async (): Promise<string> => {
      // --json passes the rollout through as the API gives it (as `rollout status --json` does); text needs its view.
      if (values.json === true) {
        const [status, rollout] = await Promise.all([api.getStatus(), api.getRollout()]);
        return `${printableJson({ ...status, rollout })}\n`;
      }
      const [status, rollout] = await Promise.all([api.getStatus(), api.getRolloutView()]);
      return withRolloutWaves(formatStatusTable(status, io.now()), rollout, io.isTty);
    };
    try {
      if (values.watch !== true) {
        io.out(await render());
        return EXIT.ok;
      }
      const json = values.json === true;
      await watchLoop(io, parseDuration(values.interval ?? '2s'), render, () => `${api.url} at ${io.now().toISOString()}; Ctrl-C to stop`, !json);
      return EXIT.ok;
    } finally {
      await api.close();
    }
  },
});
