// `status`: the fleet table (or JSON) from GET /v1/status; `--watch` redraws until interrupted.
import { EXIT, parseFlags, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { errorMessage, isUserError } from '../../shared/errors.js';
import { createControllerApi } from '../client.js';
import { formatStatusTable } from '../status-table.js';

type Out = (text: string) => void;

export const STATUS_USAGE = 'Usage: tsdeploy-controller status --controller URL [--json] [--watch [--interval 2s]]\n';

/** Clears the terminal and moves the cursor home, so each redraw replaces the last. */
const CLEAR = '\u001b[H\u001b[2J';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function statusCommand(args: readonly string[], io: { out: Out; now: () => Date; stop: AbortSignal }): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    controller: { type: 'string' },
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string', default: '2s' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(STATUS_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const api = createControllerApi(requireFlag(values, 'controller'));
  const render = async (): Promise<string> => {
    const status = await api.getStatus();
    return values.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status, io.now());
  };
  try {
    if (values.watch !== true) {
      io.out(await render());
      return EXIT.ok;
    }
    const intervalMs = parseDuration(values.interval ?? '2s');
    while (!io.stop.aborted) {
      let text: string;
      try {
        text = await render();
      } catch (error) {
        if (!isUserError(error)) throw error;
        text = `${errorMessage(error)}\n`;
      }
      io.out(`${values.json === true ? '' : CLEAR}${text}${values.json === true ? '' : `\n${api.url} at ${io.now().toISOString()}; Ctrl-C to stop\n`}`);
      await sleep(intervalMs, io.stop);
    }
    return EXIT.ok;
  } finally {
    await api.close();
  }
}
