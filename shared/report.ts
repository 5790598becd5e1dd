// Agent → controller reports: phase changes and heartbeats, signed by the agent's own key.
import { z } from 'zod';
import { HostNameSchema, StorePathSchema } from './validate.js';

export const REPORT_PAYLOAD_TYPE = 'application/vnd.tsdeploy.report.v1+json';

/** Largest report envelope the controller takes. */
export const REPORT_MAX_BYTES = 64 * 1024;

/** Largest `activationOutput` (JSON-encoded, so at most this many characters): 16 KiB. */
export const ACTIVATION_OUTPUT_MAX_CHARS = 16 * 1024;

/** The agent's journal phases, plus `idle` for a host with nothing under way. New phases are only ever added, so old journals still read. */
export const PhaseSchema = z.enum([
  'idle',
  'accepted',
  'realising',
  'realised',
  'probation',
  'profile-set',
  'activating',
  'checking-health',
  'staging-boot',
  'awaiting-window',
  'awaiting-reboot',
  'rebooting',
  'confirmed',
  'rolling-back',
  'rolled-back',
  'failed',
  'rejected',
]);
export type Phase = z.infer<typeof PhaseSchema>;

/** How a report's phase ended: still running, good, bad, undone, or refused before any change. */
export const OutcomeSchema = z.enum(['in-progress', 'success', 'failure', 'rolled-back', 'rejected']);
export type Outcome = z.infer<typeof OutcomeSchema>;

export const HealthResultSchema = z
  .object({
    name: z.string().max(128),
    type: z.enum(['http', 'tcp', 'command', 'systemd', 'controller']),
    ok: z.boolean(),
    detail: z.string().max(2048),
  })
  .strict();
export type HealthResult = z.infer<typeof HealthResultSchema>;

export const HostFactsSchema = z
  .object({
    os: z.string().max(256),
    kernel: z.string().max(256),
    uptimeSeconds: z.number().nonnegative(),
    memory: z.object({ totalBytes: z.number().nonnegative(), availableBytes: z.number().nonnegative() }).strict(),
    nixStore: z
      .object({ sizeBytes: z.number().nonnegative(), usedBytes: z.number().nonnegative(), availableBytes: z.number().nonnegative() })
      .strict()
      .nullable(),
  })
  .strict();
export type HostFacts = z.infer<typeof HostFactsSchema>;

/** How far `nix-store --realise` has fetched the closure: paths and bytes done of what the dry run planned. */
export const RealiseProgressSchema = z
  .object({
    pathsDone: z.number().int().nonnegative(),
    pathsTotal: z.number().int().nonnegative(),
    /** NAR bytes of the finished paths plus what the paths being copied hold so far. */
    bytesDone: z.number().int().nonnegative(),
    /** The dry run's unpacked size (rounded by Nix to 0.01 MiB). */
    bytesTotal: z.number().int().nonnegative(),
    /** True once the realise ended. */
    finished: z.boolean(),
  })
  .strict();
export type RealiseProgress = z.infer<typeof RealiseProgressSchema>;

/** `12/40 paths, 1.2/3.4 MiB`: one wording of realise progress for the agent's status and the dashboard. */
export function formatRealiseProgress(progress: RealiseProgress): string {
  const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
  return `${progress.pathsDone}/${progress.pathsTotal} paths, ${mib(progress.bytesDone)}/${mib(progress.bytesTotal)} MiB`;
}

/** One systemd-logind inhibitor lock, as `systemd-inhibit --list` shows it. */
export const InhibitorSchema = z
  .object({
    who: z.string().max(256),
    what: z.string().max(256),
    why: z.string().max(512),
    mode: z.string().max(32),
  })
  .strict();
export type Inhibitor = z.infer<typeof InhibitorSchema>;

/** A deployment that needs a reboot: why, and what it waits for. */
export const RebootReportSchema = z
  .object({
    changed: z.array(z.enum(['kernel', 'initrd', 'kernel-modules'])).max(3),
    /** `before`: the new generation is not booted yet; `booted`: it is; `reverted`: the previous one is the boot default again. */
    stage: z.enum(['before', 'booted', 'reverted']),
    /** Why the reboot has not happened yet (outside the window, a random delay, an inhibitor lock); null when it is not waiting. */
    waiting: z.string().max(2048).nullable(),
    /** When the agent looks again (the window's opening, the end of the delay); null: at its next poll. */
    nextCheck: z.iso.datetime({ offset: true }).nullable(),
    /** The inhibitor locks that hold the reboot back. */
    inhibitors: z.array(InhibitorSchema).max(32),
    /** Boots the host went through in this deployment: one into it, and one back if it was unhealthy. */
    reboots: z.number().int().nonnegative(),
  })
  .strict();
export type RebootReport = z.infer<typeof RebootReportSchema>;

/** A realised `switch` or `test` held until the agent's `activationWindow` opens. */
export const ActivationWindowReportSchema = z
  .object({
    /** When the window opens next and the activation runs; null when the expression never ticks again. */
    opensAt: z.iso.datetime({ offset: true }).nullable(),
  })
  .strict();
export type ActivationWindowReport = z.infer<typeof ActivationWindowReportSchema>;

/** An activation still running past `timeouts.activateSeconds` and waited for (`onActivationOverrun: "wait"`). */
export const ActivationOverrunSchema = z
  .object({
    /** How long it has run so far. */
    seconds: z.number().int().nonnegative(),
    /** The time limit it ran past. */
    limitSeconds: z.number().int().positive(),
  })
  .strict();
export type ActivationOverrun = z.infer<typeof ActivationOverrunSchema>;

export const ReportSchema = z
  .object({
    host: HostNameSchema,
    /** Grows by one per report from this agent; the controller refuses anything not greater. */
    seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    time: z.iso.datetime({ offset: true }),
    kind: z.enum(['phase', 'heartbeat']),
    /** The manifest version this report concerns; null before any was accepted. */
    manifestVersion: z.number().int().nonnegative().nullable(),
    desiredPath: StorePathSchema.nullable(),
    phase: PhaseSchema,
    outcome: OutcomeSchema,
    currentSystem: StorePathSchema.nullable(),
    bootedSystem: StorePathSchema.nullable(),
    generation: z.number().int().nonnegative().nullable(),
    health: z.array(HealthResultSchema).max(64),
    error: z.string().max(4096).nullable(),
    facts: HostFactsSchema.nullable(),
    /** While the closure is fetched: how far it got. Absent otherwise (and from older agents). */
    progress: RealiseProgressSchema.optional(),
    /** A deployment that goes through a reboot. Absent otherwise (and from older agents). */
    reboot: RebootReportSchema.optional(),
    /** What a `dry-activate` said it would change (its last lines, bounded); absent otherwise and from older agents. */
    activationOutput: z.string().max(ACTIVATION_OUTPUT_MAX_CHARS).optional(),
    /** While the phase is `awaiting-window`: when the activation window opens. Absent otherwise (and from older agents). */
    activationWindow: ActivationWindowReportSchema.optional(),
    /** While an activation runs past its time limit and is waited for; absent otherwise (and from older agents). */
    activationOverrun: ActivationOverrunSchema.optional(),
  })
  .strict();
export type Report = z.infer<typeof ReportSchema>;

export function encodeReport(report: Report): Uint8Array {
  return Buffer.from(JSON.stringify(report), 'utf8');
}
