// `rollout status`: the current rollout's waves and progress, as text (a progress bar on a terminal) or JSON.
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { printableJson } from '../../shared/printable.js';
import { createControllerApi } from '../http/client.js';
import { formatRollout } from '../rollout/render.js';
import { READ_TOKEN_FLAG, READ_TOKEN_USAGE, readTokenFromFlag, type ControllerIo } from './context.js';
import { watchLoop } from './watch.js';

export const rolloutStatusCommand = defineCommand({
  name: 'rollout status',
  summary: "The current rollout: each wave's hosts, how many confirmed, what is held, what halted it.",
  usage: `  --controller URL  the controller\n  --json            print GET /v1/rollouts/current\n  --watch           redraw until interrupted\n  --interval 2s\n${READ_TOKEN_USAGE}`,
  flags: { controller: { type: 'string' }, ...READ_TOKEN_FLAG, json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string', default: '2s' } },
  async run({ values }, io: ControllerIo) {
    const api = createControllerApi(requireFlag(values, 'controller'), { readToken: await readTokenFromFlag(values) });
    const render = async (): Promise<string> => {
      if (values.json === true) {
        const body = await api.getRollout();
        return body === null ? 'no rollout\n' : `${printableJson(body)}\n`;
      }
      const view = await api.getRolloutView();
      return view === null ? 'no rollout\n' : formatRollout(view.rollout, view.progress, io.isTty);
    };
    try {
      if (values.watch === true) {
        await watchLoop(io, parseDuration(values.interval ?? '2s'), render, () => `${api.url} at ${io.now().toISOString()}`, io.isTty && values.json !== true);
      } else {
        io.out(await render());
      }
      return EXIT.ok;
    } finally {
      await api.close();
    }
  },
});
