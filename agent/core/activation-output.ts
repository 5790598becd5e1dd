// What a `dry-activate` said it would change, cut to a size a report carries: its last lines, bounded. Pure.
import { ACTIVATION_OUTPUT_MAX_CHARS } from '../../shared/report.js';

export const ACTIVATION_OUTPUT_MAX_LINES = 64;

/**
 * The last 64 non-empty lines of `output`, and no more than 16 KiB once JSON-encoded (so a report with it
 * stays far below the envelope cap whatever the characters). Lines left out are counted in a first line.
 * Null when there is nothing to say.
 */
export function boundActivationOutput(output: string): string | null {
  const lines = output.split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line !== '');
  if (lines.length === 0) return null;
  const kept = lines.slice(-ACTIVATION_OUTPUT_MAX_LINES);
  const render = (omitted: number, body: readonly string[]) =>
    [...(omitted > 0 ? [`… ${omitted} earlier line(s) left out`] : []), ...body].join('\n');
  let omitted = lines.length - kept.length;
  while (kept.length > 1 && JSON.stringify(render(omitted, kept)).length > ACTIVATION_OUTPUT_MAX_CHARS) {
    kept.shift();
    omitted += 1;
  }
  let text = render(omitted, kept);
  // One line longer than the bound on its own: keep its end.
  while (JSON.stringify(text).length > ACTIVATION_OUTPUT_MAX_CHARS) text = `…${text.slice(Math.ceil(text.length / 8) + 1)}`;
  return text;
}
