// What the controller keeps on disk per host and per token: zod schemas for every stored JSON file.
import { z } from 'zod';
import { EnvelopeSchema } from '../../shared/dsse.js';
import { ReportSchema } from '../../shared/report.js';
import { HostNameSchema } from '../../shared/validate.js';

const IsoTimeSchema = z.iso.datetime({ offset: true });

export const EnrollmentStatusSchema = z.enum(['enrolled', 'pending', 'revoked']);
export type EnrollmentStatus = z.infer<typeof EnrollmentStatusSchema>;

/** One change to a host's enrollment made by an operator's command, kept in the host's record. */
export const HostEventSchema = z
  .object({
    time: IsoTimeSchema,
    event: z.enum(['approved', 'revoked', 're-enrolled']),
    /** The key approved, revoked or re-enrolled. */
    publicKey: z.string().max(512),
    /** The command that did it, e.g. "hosts approve --key --force". */
    via: z.string().max(100),
  })
  .strict();
export type HostEvent = z.infer<typeof HostEventSchema>;

/** Events kept per host; the oldest are dropped past it. */
export const HOST_HISTORY_LIMIT = 100;

/**
 * `hosts/<host>.json`: who a host is. The only file both the server (enroll) and the admin CLI
 * (approve, revoke) write, so both take the host's lock file for it.
 */
export const HostRecordSchema = z
  .object({
    host: HostNameSchema,
    status: EnrollmentStatusSchema,
    /** The key that is enrolled, pending approval, or (when revoked) was revoked last. */
    publicKey: z.string().max(512),
    requestedAt: IsoTimeSchema,
    enrolledAt: IsoTimeSchema.nullable(),
    enrolledVia: z.enum(['token', 'approval']).nullable(),
    revokedAt: IsoTimeSchema.nullable(),
    /** Every key ever revoked for this host: none of them can enroll again. */
    revokedKeys: z.array(z.string().max(512)).max(1000),
    /** What operators did to this host's enrollment, oldest first (absent in records written before it). */
    history: z.array(HostEventSchema).max(HOST_HISTORY_LIMIT).optional(),
  })
  .strict();
export type HostRecord = z.infer<typeof HostRecordSchema>;

/** `status/<host>.json`: the last accepted report, written only by the server. */
export const HostStatusRecordSchema = z
  .object({
    host: HostNameSchema,
    /** The enrolled key the sequence belongs to: a re-enrolled host with a new key starts again at 1. */
    publicKey: z.string().max(512),
    lastSeq: z.number().int().nonnegative(),
    receivedAt: IsoTimeSchema,
    report: ReportSchema,
  })
  .strict();
export type HostStatusRecord = z.infer<typeof HostStatusRecordSchema>;

/** `tokens/<sha256 of token>.json`: the token itself is never stored. */
export const TokenRecordSchema = z
  .object({
    host: HostNameSchema,
    createdAt: IsoTimeSchema,
    expiresAt: IsoTimeSchema,
    usedAt: IsoTimeSchema.nullable(),
    /** The key that consumed the token, so a retry by the same agent after a crash still succeeds. */
    usedByKey: z.string().max(512).nullable(),
  })
  .strict();
export type TokenRecord = z.infer<typeof TokenRecordSchema>;

/** One line of `reports/<host>.log`: the envelope exactly as received, and when. */
export const ReportLogEntrySchema = z
  .object({
    receivedAt: IsoTimeSchema,
    envelope: EnvelopeSchema,
  })
  .strict();
export type ReportLogEntry = z.infer<typeof ReportLogEntrySchema>;
