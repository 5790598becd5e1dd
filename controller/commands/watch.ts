// `--watch` for the status commands: redraw until interrupted, a clear screen on a terminal, plain blocks otherwise.
import { errorMessage, isUserError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import type { ControllerIo } from './context.js';

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

/** Prints `render()` every `intervalMs` until Ctrl-C; a user error is shown in place of the view and the loop goes on. */
export async function watchLoop(io: ControllerIo, intervalMs: number, render: () => Promise<string>, footer: () => string, redraw: boolean): Promise<void> {
  const stop = io.stop();
  while (!stop.aborted) {
    let text: string;
    try {
      text = await render();
    } catch (error) {
      if (!isUserError(error)) throw error;
      text = `${printable(errorMessage(error))}\n`;
    }
    io.out(redraw ? `${CLEAR}${text}\n${footer()}\n` : text);
    await sleep(intervalMs, stop);
  }
}
