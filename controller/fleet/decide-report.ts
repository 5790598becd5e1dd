// Pure report-intake decision: enrolled key, own host, growing seq; returns the records to write.
import {
  EnvelopeTooLargeError,
  openEnvelope,
  parsePayload,
  SignatureError,
  UnknownPayloadTypeError,
  type Envelope,
} from '../../shared/dsse.js';
import { errorMessage } from '../../shared/errors.js';
import { parsePublicKeyCached } from '../../shared/keys.js';
import { REPORT_MAX_BYTES, REPORT_PAYLOAD_TYPE, ReportSchema, type Report } from '../../shared/report.js';
import type { HostRecord, HostStatusRecord, ReportLogEntry } from '../storage/records.js';
import { refuse, type Refusal, type Reply } from './reply.js';

export type ReportDecision =
  | {
      readonly kind: 'accept';
      readonly report: Report;
      readonly envelope: Envelope;
      readonly reply: Reply;
      /** What to write, log entry first: a crash between the two can repeat a report in the log, never lose one. */
      readonly writeLog: ReportLogEntry;
      readonly writeStatus: HostStatusRecord;
    }
  | Refusal;

/** Last accepted sequence for the host's current key: a new key starts again from zero. */
export function lastSeqFor(identity: HostRecord, status: HostStatusRecord | null): number {
  return status !== null && status.publicKey === identity.publicKey ? status.lastSeq : 0;
}

/** Accepts a report only from an enrolled host, signed by its key, about itself, with a growing seq. */
export function decideReport(input: {
  host: string;
  bytes: Uint8Array;
  identity: HostRecord | null;
  status: HostStatusRecord | null;
  now: Date;
}): ReportDecision {
  const { host, identity } = input;
  if (identity === null) return refuse(403, `host ${host} is not enrolled`, 'unknown host');
  if (identity.status !== 'enrolled') {
    return refuse(403, `host ${host} is ${identity.status === 'pending' ? 'pending approval' : 'revoked'}`, `host ${identity.status}`);
  }
  let opened: ReturnType<typeof openEnvelope>;
  try {
    opened = openEnvelope(input.bytes, REPORT_PAYLOAD_TYPE, [parsePublicKeyCached(identity.publicKey)], 1, REPORT_MAX_BYTES);
  } catch (error) {
    if (error instanceof EnvelopeTooLargeError) return refuse(413, `report too large (${error.size} bytes > ${error.cap})`, 'too large');
    if (error instanceof SignatureError) {
      return refuse(403, `report is not signed by the key enrolled for ${host}`, 'bad signature');
    }
    if (error instanceof UnknownPayloadTypeError) return refuse(400, error.message, error.reason);
    return refuse(400, errorMessage(error), 'malformed');
  }
  let report: Report;
  try {
    report = parsePayload(opened.payload, ReportSchema);
  } catch (error) {
    return refuse(400, `report ${errorMessage(error)}`, 'malformed');
  }
  if (report.host !== host) return refuse(400, `report is for host ${report.host}, posted for ${host}`, 'wrong host');
  const lastSeq = lastSeqFor(identity, input.status);
  if (report.seq <= lastSeq) {
    return refuse(409, `report seq ${report.seq} is not greater than the last accepted ${lastSeq}`, 'replayed seq', { lastSeq });
  }
  const receivedAt = input.now.toISOString();
  return {
    kind: 'accept',
    report,
    envelope: opened.envelope,
    reply: { status: 202, body: { seq: report.seq } },
    writeLog: { receivedAt, envelope: opened.envelope },
    writeStatus: { host, publicKey: identity.publicKey, lastSeq: report.seq, receivedAt, report },
  };
}
