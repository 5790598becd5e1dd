// GET /v1/rollouts/current as the operator's CLI reads it, checked on arrival, and the waves under `status`'s table.
import { z } from 'zod';
import { formatRollout } from './render.js';
import { RolloutSchema } from './policy.js';

export const WaveProgressSchema = z.object({
  index: z.number().int(),
  confirmed: z.array(z.string()),
  pending: z.array(z.string()),
  unhealthy: z.array(z.object({ host: z.string(), why: z.string() })),
});

/** The rollout and the progress of the wave being watched (null when none is out). */
export const RolloutViewSchema = z.object({ rollout: RolloutSchema, progress: WaveProgressSchema.nullable() });
export type RolloutViewBody = z.infer<typeof RolloutViewSchema>;

/**
 * `status`'s text: the fleet table, then (when there is a rollout) its waves as `rollout status` draws
 * them, with progress bars on a terminal and plain lines otherwise, so a log or a pipe gets no bar art.
 */
export function withRolloutWaves(table: string, view: RolloutViewBody | null, tty: boolean): string {
  return view === null ? table : `${table}\n${formatRollout(view.rollout, view.progress, tty)}`;
}
