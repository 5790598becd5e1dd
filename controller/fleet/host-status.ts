// Fleet status as a pure function of what is stored: one row per host and its deployment state.
import { z } from 'zod';
import { ActivationSchema } from '../../shared/manifest.js';
import { ACTIVATION_OUTPUT_MAX_CHARS, ActivationOverrunSchema, ActivationWindowReportSchema, HealthResultSchema, HostFactsSchema, OutcomeSchema, PhaseSchema, RealiseProgressSchema, RebootReportSchema, type Report } from '../../shared/report.js';
import { HostNameSchema } from '../../shared/validate.js';
import { EnrollmentStatusSchema, type EnrollmentStatus } from '../storage/records.js';

export const HostStateSchema = z.enum([
  'in-sync',
  'awaiting-reboot',
  'awaiting-window',
  'dry-activated',
  'deploying',
  'failed',
  'rolled-back',
  'silent',
  'never-seen',
]);
export type HostState = z.infer<typeof HostStateSchema>;

export const DesiredSchema = z
  .object({ version: z.number().int().positive(), storePath: z.string(), activation: ActivationSchema })
  .strict();
export type Desired = z.infer<typeof DesiredSchema>;

/** One host in GET /v1/status; the CLI parses the answer with the same schema. */
export const HostStatusSchema = z
  .object({
    host: HostNameSchema,
    enrolled: z.union([EnrollmentStatusSchema, z.literal('unknown')]),
    desired: DesiredSchema.nullable(),
    current: z.string().nullable(),
    booted: z.string().nullable(),
    generation: z.number().int().nullable(),
    phase: PhaseSchema.nullable(),
    outcome: OutcomeSchema.nullable(),
    manifestVersion: z.number().int().nullable(),
    health: z.array(HealthResultSchema),
    error: z.string().nullable(),
    lastSeen: z.iso.datetime({ offset: true }).nullable(),
    state: HostStateSchema,
    facts: HostFactsSchema.nullable(),
    /** The last report's realise progress and reboot state, as the agent sent them. */
    progress: RealiseProgressSchema.nullable().optional(),
    reboot: RebootReportSchema.nullable().optional(),
    /** What the host's last `dry-activate` said it would change; null when it has not reported one. */
    activationOutput: z.string().max(ACTIVATION_OUTPUT_MAX_CHARS).nullable().optional(),
    /** While the host holds its activation for its `activationWindow`: when the window opens. */
    activationWindow: ActivationWindowReportSchema.nullable().optional(),
    /** While an activation runs past its time limit and the agent waits for it: how long, of what limit. */
    activationOverrun: ActivationOverrunSchema.nullable().optional(),
  })
  .strict();
export type HostStatus = z.infer<typeof HostStatusSchema>;

export const StatusResponseSchema = z
  .object({
    /** Pending enrollment requests (see `hosts list`); only hosts with a manifest or a report are listed with them. */
    pendingEnrollments: z.number().int().nonnegative().default(0),
    hosts: z.array(HostStatusSchema),
  })
  .strict();
export type StatusResponse = z.infer<typeof StatusResponseSchema>;

export interface StateInput {
  readonly desired: Desired | null;
  readonly report: Report | null;
  /** When the controller received the last report (its own clock, not the agent's). */
  readonly lastSeen: Date | null;
  readonly now: Date;
  /** silentAfterHeartbeats × heartbeatSeconds, in milliseconds. */
  readonly silentAfterMs: number;
}

/**
 * The rules, in order: no report → never-seen; no report for N heartbeats → silent; the desired
 * version rolled back → rolled-back; it failed or was rejected → failed; running the desired path
 * with success (or confirmed/idle) → in-sync; a `boot` or `dry-activate` manifest confirmed but not
 * running, or an agent waiting for its reboot window → awaiting-reboot, or dry-activated; an agent holding a realised
 * switch or test for its activation window → awaiting-window; anything else → deploying. An outcome about an
 * older version than the desired one counts as deploying: the agent has not caught up yet.
 */
export function hostState(input: StateInput): HostState {
  const { report, desired } = input;
  if (report === null || input.lastSeen === null) return 'never-seen';
  if (input.now.getTime() - input.lastSeen.getTime() > input.silentAfterMs) return 'silent';
  const aboutDesired = desired === null || report.manifestVersion === null || report.manifestVersion === desired.version;
  if (aboutDesired && report.outcome === 'rolled-back') return 'rolled-back';
  if (aboutDesired && (report.outcome === 'failure' || report.outcome === 'rejected')) return 'failed';
  if (aboutDesired && report.phase === 'awaiting-reboot') return 'awaiting-reboot';
  if (aboutDesired && report.phase === 'awaiting-window') return 'awaiting-window';
  const settled = report.outcome === 'success' || report.phase === 'confirmed' || report.phase === 'idle';
  if (desired === null) return settled ? 'in-sync' : 'deploying';
  if (report.currentSystem === desired.storePath && settled) return 'in-sync';
  // `boot` installs for the next boot and `dry-activate` changes nothing: neither makes it current.
  const settledOnDesired = settled && report.manifestVersion === desired.version;
  if (settledOnDesired && desired.activation === 'boot') return 'awaiting-reboot';
  if (settledOnDesired && desired.activation === 'dry-activate') return 'dry-activated';
  return 'deploying';
}

export interface HostInputs {
  readonly host: string;
  readonly enrolled: EnrollmentStatus | 'unknown';
  readonly desired: Desired | null;
  readonly report: Report | null;
  readonly lastSeen: Date | null;
}

/** One status row; `now` and the silence window decide `state`. */
export function buildHostStatus(inputs: HostInputs, now: Date, silentAfterMs: number): HostStatus {
  const { report } = inputs;
  return {
    host: inputs.host,
    enrolled: inputs.enrolled,
    desired: inputs.desired,
    current: report?.currentSystem ?? null,
    booted: report?.bootedSystem ?? null,
    generation: report?.generation ?? null,
    phase: report?.phase ?? null,
    outcome: report?.outcome ?? null,
    manifestVersion: report?.manifestVersion ?? null,
    health: report?.health ?? [],
    error: report?.error ?? null,
    lastSeen: inputs.lastSeen?.toISOString() ?? null,
    state: hostState({ desired: inputs.desired, report, lastSeen: inputs.lastSeen, now, silentAfterMs }),
    facts: report?.facts ?? null,
    progress: report?.progress ?? null,
    reboot: report?.reboot ?? null,
    activationOutput: report?.activationOutput ?? null,
    activationWindow: report?.activationWindow ?? null,
    activationOverrun: report?.activationOverrun ?? null,
  };
}
