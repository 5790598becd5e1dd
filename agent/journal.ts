// The agent's crash-safe journal: written (temp, fsync, rename) before every side effect it announces.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { formatZodIssues } from '../shared/dsse.js';
import { UserError } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/files.js';
import { ActivationSchema } from '../shared/manifest.js';
import { HealthResultSchema, PhaseSchema } from '../shared/report.js';
import { StorePathSchema } from '../shared/validate.js';

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

export const DeploymentSchema = z
  .object({
    version: z.number().int().positive(),
    storePath: StorePathSchema,
    activation: ActivationSchema,
    phase: DeploymentPhaseSchema,
    previous: PreviousSchema.nullable(),
    /** The profile generation this deployment created. */
    generation: z.number().int().positive().nullable(),
    /** Why the deployment is rolling back, was rolled back, or failed. */
    reason: z.string().nullable(),
    /** Times the agent resumed this deployment after a crash; bounded so a crash loop ends. */
    resumes: z.number().int().nonnegative(),
    startedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
export type Deployment = z.infer<typeof DeploymentSchema>;

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
  })
  .strict();
export type Journal = z.infer<typeof JournalSchema>;

export const EMPTY_JOURNAL: Journal = { lastAccepted: null, deployment: null, lastHealth: null, failedVersions: [] };

export class JournalCorruptError extends UserError {
  override name = 'JournalCorruptError' as const;
}

export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.json');
}

/** Reads the journal; a missing one is empty, an unreadable one stops the agent rather than guess. */
export async function readJournal(stateDir: string): Promise<Journal> {
  const path = journalPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_JOURNAL;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JournalCorruptError(`journal ${path} is not valid JSON; move it aside to start over`);
  }
  const parsed = JournalSchema.safeParse(json);
  if (!parsed.success) {
    throw new JournalCorruptError(`journal ${path} is invalid (${formatZodIssues(parsed.error)}); move it aside to start over`);
  }
  return parsed.data;
}

export async function writeJournal(stateDir: string, journal: Journal): Promise<void> {
  await writeFileAtomic(journalPath(stateDir), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
}
