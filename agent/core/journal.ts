// The journal's shape: what the agent records before every side effect, so a crash can resume. No I/O.
import { z } from 'zod';
import { ActivationSchema } from '../../shared/manifest.js';
import { ACTIVATION_OUTPUT_MAX_CHARS, ActivationWindowReportSchema, HealthResultSchema, PhaseSchema } from '../../shared/report.js';
import { RebootStateSchema } from './reboot-state.js';
import { StorePathSchema } from '../../shared/validate.js';

/** Where the host was before a deployment touched it: the exact target of a rollback. */
export const PreviousSchema = z
  .object({
    /** Profile generation number and its system path; null on a host with no generation yet. */
    generation: z.number().int().positive().nullable(),
    path: StorePathSchema.nullable(),
    /** What /run/current-system pointed to (differs from the profile after a `test` activation). */
    currentSystem: StorePathSchema.nullable(),
  })
  .strict();
export type Previous = z.infer<typeof PreviousSchema>;

/** A deployment's phases: the report phases without `idle` and `rejected`, which no deployment has. */
export const DeploymentPhaseSchema = PhaseSchema.exclude(['idle', 'rejected']);
export type DeploymentPhase = z.infer<typeof DeploymentPhaseSchema>;

/** What started a deployment: a manifest, or an operator's `tsdeploy-agent rollback`. */
export const TriggerSchema = z.enum(['manifest', 'operator']);
export type Trigger = z.infer<typeof TriggerSchema>;

export const DeploymentSchema = z
  .object({
    /** Absent in journals written before operator rollbacks were journaled: a manifest. */
    trigger: TriggerSchema.optional(),
    /** The manifest's version; 0 for an operator's rollback on a host that never accepted one. */
    version: z.number().int().nonnegative(),
    storePath: StorePathSchema,
    activation: ActivationSchema,
    phase: DeploymentPhaseSchema,
    previous: PreviousSchema.nullable(),
    /** The profile generation this deployment created. */
    generation: z.number().int().positive().nullable(),
    /** Why the deployment is rolling back, was rolled back, or failed. */
    reason: z.string().nullable(),
    /** A `switch` run with `test` first and made the boot default only once healthy; absent in older journals: false. */
    probation: z.boolean().optional(),
    /** The boot the deployment's running-system changes happened in: another one means the host rebooted. */
    bootId: z.string().max(64).nullable().optional(),
    /** A `switch` whose kernel, initrd or modules differ from the booted system's, deployed by a reboot (`reboot: "when-needed"`). */
    reboot: RebootStateSchema.optional(),
    /** What a `dry-activate` said it would change (its last lines, bounded), carried in every report about it. */
    activationOutput: z.string().max(ACTIVATION_OUTPUT_MAX_CHARS).optional(),
    /** Set while a realised `switch` or `test` waits in `awaiting-window` for the config's `activationWindow`. */
    activationWindow: ActivationWindowReportSchema.optional(),
    /** Times the agent resumed this deployment after a crash; bounded so a crash loop ends. */
    resumes: z.number().int().nonnegative(),
    startedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
export type Deployment = z.infer<typeof DeploymentSchema>;

/** A profile generation the agent made, and the system it points to (checked again before anything is deleted). */
export const GenerationRecordSchema = z.object({ generation: z.number().int().positive(), path: StorePathSchema }).strict();
export type GenerationRecord = z.infer<typeof GenerationRecordSchema>;

export const JournalSchema = z
  .object({
    /** The last manifest accepted: a replay of anything older is refused, even across restarts. */
    lastAccepted: z.object({ version: z.number().int().positive(), digest: z.string() }).strict().nullable(),
    deployment: DeploymentSchema.nullable(),
    lastHealth: z
      .object({ time: z.string(), ok: z.boolean(), results: z.array(HealthResultSchema) })
      .strict()
      .nullable(),
    /** Versions that failed and were not retried (newest last, bounded). */
    failedVersions: z.array(z.number().int().positive()).max(100),
    /** Generations the agent made whose deployment was confirmed: an operator's rollback returns to these. Absent in older journals. */
    confirmedGenerations: z.array(GenerationRecordSchema).max(100).optional(),
    /** Generations the agent made whose deployment failed: deleted from the profile, never returned to. */
    failedGenerations: z.array(GenerationRecordSchema).max(100).optional(),
  })
  .strict();
export type Journal = z.infer<typeof JournalSchema>;

export const EMPTY_JOURNAL: Journal = { lastAccepted: null, deployment: null, lastHealth: null, failedVersions: [] };
