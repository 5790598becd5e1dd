// A rollout's policy and state: zod schemas for what the operator writes and what the controller keeps. No I/O.
import { z } from 'zod';
import { HostNameSchema, StorePathSchema } from '../../shared/validate.js';

/** A count of hosts, or a share of the fleet written as "25%". */
export const AmountSchema = z.union([
  z.number().int().min(0),
  z.string().regex(/^(100|[1-9]?\d)(\.\d+)?%$/, 'a count, or a percentage such as "25%"'),
]);
export type Amount = z.infer<typeof AmountSchema>;

/** What the operator asks for; every field has the safe default. */
export const RolloutPolicySchema = z
  .object({
    /** Canary hosts, by name or as a count taken from the front of the (sorted) host list. */
    canary: z.union([z.array(HostNameSchema).max(1000), AmountSchema]).default(1),
    /** Each later wave's size (repeated until every host has one), or every wave's size in order. */
    waves: z.union([AmountSchema, z.array(AmountSchema).min(1).max(100)]).default('25%'),
    /** Hosts with these tags go in the order the tags are listed: one wave (or more) per tag. */
    groups: z.record(z.string().min(1).max(64), z.array(HostNameSchema)).optional(),
    /** How long every host of a wave must stay confirmed before the next wave is released. */
    bakeSeconds: z.number().int().min(0).max(7 * 86_400).default(300),
    /** How many hosts of a wave may be unhealthy before the rollout halts; 0 halts at the first. */
    maxUnhealthy: AmountSchema.default(0),
    /** A host that has not confirmed this long after its wave was released counts as unhealthy. */
    deadlineSeconds: z.number().int().min(1).max(7 * 86_400).default(1800),
  })
  .strict();
export type RolloutPolicy = z.infer<typeof RolloutPolicySchema>;

const IsoTimeSchema = z.iso.datetime({ offset: true });

export const WaveSchema = z
  .object({
    hosts: z.array(HostNameSchema),
    releasedAt: IsoTimeSchema.nullable(),
    /** When every host was confirmed and the bake time had passed. */
    completedAt: IsoTimeSchema.nullable(),
  })
  .strict();
export type Wave = z.infer<typeof WaveSchema>;

export const RolloutStateSchema = z.enum(['running', 'paused', 'halted', 'completed', 'aborted']);
export type RolloutState = z.infer<typeof RolloutStateSchema>;

/** `rollouts/<id>.json`: written (temp, fsync, rename) on every change, so a restart carries on. */
export const RolloutSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    createdAt: IsoTimeSchema,
    policy: RolloutPolicySchema,
    /** Each host's manifest version in this rollout: a report of that version counts for the wave. */
    versions: z.record(HostNameSchema, z.number().int().positive()),
    waves: z.array(WaveSchema).min(1),
    state: RolloutStateSchema,
    /** Why the rollout halted or was aborted. */
    reason: z.string().nullable(),
    /** The unhealthy hosts that halted it last. */
    haltedBy: z.array(HostNameSchema).default([]),
    /** Hosts the operator let the rollout go on without, by resuming after a halt. */
    accepted: z.array(HostNameSchema).default([]),
    /** Each host's store path before this rollout (hosts that had a manifest): what `rollout abort --revert` returns them to. */
    previous: z.record(HostNameSchema, StorePathSchema).default({}),
    updatedAt: IsoTimeSchema,
  })
  .strict();
export type Rollout = z.infer<typeof RolloutSchema>;

/** `amount` of `total`, rounding a percentage up so a non-empty share is never zero hosts. */
export function resolveAmount(amount: Amount, total: number): number {
  if (typeof amount === 'number') return amount;
  const share = Number(amount.slice(0, -1)) / 100;
  return share === 0 ? 0 : Math.max(1, Math.ceil(share * total));
}
