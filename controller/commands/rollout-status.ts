// `rollout status`: the current rollout's waves and progress, as text (a progress bar on a terminal) or JSON.
import { z } from 'zod';
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { formatZodIssues } from '../../shared/json.js';
import { printable, printableJson } from '../../shared/printable.js';
import { createControllerApi, ControllerAnswerError } from '../http/client.js';
import { RolloutSchema } from '../rollout/policy.js';
import { formatRollout } from '../rollout/render.js';
import type { ControllerIo } from './context.js';
import { watchLoop } from './watch.js';

const ProgressSchema = z.object({
  index: z.number().int(),
  confirmed: z.array(z.string()),
  pending: z.array(z.string()),
  unhealthy: z.array(z.object({ host: z.string(), why: z.string() })),
});
const ViewSchema = z.object({ rollout: RolloutSchema, progress: ProgressSchema.nullable() });

export const rolloutStatusCommand = defineCommand({
  name: 'rollout status',
  summary: "The current rollout: each wave's hosts, how many confirmed, what is held, what halted it.",
  usage: '  --controller URL  the controller\n  --json            print GET /v1/rollouts/current\n  --watch           redraw until interrupted\n  --interval 2s\n',
  flags: { controller: { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string', default: '2s' } },
  async run({ values }, io: ControllerIo) {
    const api = createControllerApi(requireFlag(values, 'controller'));
    const render = async (): Promise<string> => {
      const body = await api.getRollout();
      if (body === null) return 'no rollout\n';
      if (values.json === true) return `${printableJson(body)}\n`;
      const parsed = ViewSchema.safeParse(body);
      if (!parsed.success) throw new ControllerAnswerError(api.url, `GET /v1/rollouts/current: ${formatZodIssues(parsed.error)}`);
      return printable(formatRollout(parsed.data.rollout, parsed.data.progress, io.isTty));
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
