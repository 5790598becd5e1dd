// The journal's record of a deployment that goes through a reboot. Its own module so journal.ts reads it without
// reaching the reboot decisions. No I/O.
import { z } from 'zod';
import { InhibitorSchema, RebootReportSchema } from '../../shared/report.js';

export const RebootStageSchema = RebootReportSchema.shape.stage;
export type RebootStage = z.infer<typeof RebootStageSchema>;

export const RebootStateSchema = z
  .object({
    /** What differs from the booted system: why a reboot is needed. */
    changed: RebootReportSchema.shape.changed.min(1),
    /** `before` the reboot into the new generation, `booted` into it, `reverted`: the previous one is the boot default again. */
    stage: RebootStageSchema,
    /** The boot this stage began in: another one at a resume means the host rebooted. */
    bootId: z.string().max(64).nullable(),
    /** The random delay's end, inside the window it was drawn for. */
    notBefore: z.iso.datetime({ offset: true }).nullable(),
    /** Why the reboot waits; null when it does not. */
    waiting: z.string().max(2048).nullable(),
    /** When to look again: the window's opening or the delay's end; null at the next poll. */
    nextCheck: z.iso.datetime({ offset: true }).nullable(),
    /** The inhibitor locks holding the reboot back at the last look. */
    inhibitors: z.array(InhibitorSchema).max(32),
    /** Boots the host went through during the deployment: the reboot into the generation, and the one back. */
    reboots: z.number().int().nonnegative(),
    /** When the last reboot was asked for. */
    requestedAt: z.iso.datetime({ offset: true }).nullable(),
  })
  .strict();
export type RebootState = z.infer<typeof RebootStateSchema>;
