// The fleet's use cases (publish, report intake, enrollment, status, host and token admin), shared by the HTTP server and offline imports.
import type { PublicKey } from '../../shared/keys.js';
import type { Logger } from '../../shared/log.js';
import { silentLogger } from '../../shared/log.js';
import type { HostRecord, HostStatusRecord } from '../storage/records.js';
import { createKeyedMutex } from '../storage/mutex.js';
import { LIST_CONCURRENCY } from '../storage/store.js';
import { mapBounded } from '../../shared/map-bounded.js';
import { createStatusCheckpoints } from './status-checkpoints.js';
import type { ControllerStore } from '../storage/store.js';
import { decideEnroll, tokenHash, type EnrollDecision, type EnrollRequest } from './decide-enroll.js';
import { decidePublish, inspectManifest, type PublishDecision } from './decide-publish.js';
import { decideReport, type ReportDecision } from './decide-report.js';
import { buildHostStatus, type StatusResponse } from './host-status.js';
import { createEnrollmentAdmission } from './enrollment-admission.js';
import { EnrollmentLimitsSchema, type EnrollmentLimits } from './enrollment-limits.js';
import { approveHost, createToken, revokeHost } from './hosts-and-tokens.js';
import { loadFleetView, recoverStatuses, writeThrough, type CurrentManifest, type FleetSnapshot } from './fleet-view.js';

export type { CurrentManifest } from './fleet-view.js';

export interface FleetServiceOptions {
  readonly store: ControllerStore;
  readonly trustedKeys: readonly PublicKey[];
  readonly threshold: number;
  readonly now: () => Date;
  readonly logger?: Logger;
  /** A host was stale after `silentAfterMs` without a report (status only). */
  readonly silentAfterMs?: number;
  /** Told after a manifest is stored, so long-polls for that host are answered. */
  readonly onPublished?: (host: string) => void;
  /** Told after a report is accepted, so a rollout can move on without waiting for its timer. */
  readonly onReportAccepted?: (host: string) => void;
  /** Bounds on anonymous enrollment (the defaults when absent). */
  readonly enrollment?: EnrollmentLimits;
}

export interface FleetService {
  /** The manifest served to `host`; null when none was published. */
  manifest(host: string): CurrentManifest | null;
  /** Same rules as POST /v1/manifests: verified once, version grows, identical bytes are fine. */
  publish(bytes: Uint8Array): Promise<PublishDecision>;
  /** Same rules as POST /v1/hosts/:host/reports: enrolled key's signature, own host, growing seq. */
  acceptReport(host: string, bytes: Uint8Array): Promise<ReportDecision>;
  /** `address` is where the request came from, for the per-address rate of anonymous requests. */
  enroll(request: EnrollRequest, address?: string): Promise<EnrollDecision>;
  status(): Promise<StatusResponse>;
  approveHost(host: string, expectedKey: string | undefined): Promise<{ record: HostRecord; changed: boolean }>;
  revokeHost(host: string): Promise<{ record: HostRecord; changed: boolean }>;
  createToken(host: string, ttlMs: number): Promise<{ token: string; expiresAt: string }>;
  /** The host's last accepted report as recorded; from memory. */
  lastStatus(host: string): HostStatusRecord | null;
  /** The in-memory fleet view as plain data, to compare with a fresh load from disk. */
  snapshot(): Promise<FleetSnapshot>;
  /** Writes the status checkpoints still behind; call it before letting go of the state directory. */
  close(): Promise<void>;
}

/**
 * Builds the service on a store whose state directory the caller holds (server lock), so the
 * manifests loaded here stay the truth: every later write goes through this service.
 */
export async function createFleetService(options: FleetServiceOptions): Promise<FleetService> {
  const { trustedKeys, threshold, now } = options;
  const logger = options.logger ?? silentLogger();
  const view = await loadFleetView(options.store);
  // Every write below goes through the view: publish, report, enroll, approve, revoke, pending expiry.
  const store = writeThrough(options.store, view);
  const recovered = await recoverStatuses(options.store, view);
  await mapBounded(recovered, LIST_CONCURRENCY, (record) => options.store.writeHostStatus(record));
  if (recovered.length > 0) logger.info({ hosts: recovered.length }, 'statuses brought up to their report logs');
  const checkpoints = createStatusCheckpoints({ store: options.store, current: (host) => view.status(host), logger });
  const mutex = createKeyedMutex();
  const admission = createEnrollmentAdmission({ store, logger, limits: options.enrollment ?? EnrollmentLimitsSchema.parse({}) });

  function enrollHolding(request: EnrollRequest, at: Date): Promise<EnrollDecision> {
    return store.withHostLock(request.host, async () => {
      const hash = request.token === undefined ? null : tokenHash(request.token);
      const decision = decideEnroll({
        request,
        identity: await admission.currentIdentity(request.host, at),
        token: hash === null ? null : await store.readToken(hash),
        now: at,
      });
      if (decision.writeToken !== null && hash !== null) await store.writeToken(hash, decision.writeToken);
      if (decision.writeIdentity !== null) await store.writeHost(decision.writeIdentity);
      const fields = { host: request.host, status: decision.reply.status, reason: decision.reason, key: request.publicKey.split(':')[0] };
      if (decision.reply.status >= 400) logger.warn(fields, 'enrollment refused');
      else logger.info(fields, 'enrollment');
      return decision;
    });
  }

  function refused(decision: { reply: { status: number; body: Readonly<Record<string, unknown>> }; reason: string }, fields: Record<string, unknown>, msg: string): void {
    logger.warn({ ...fields, status: decision.reply.status, reason: decision.reason, error: decision.reply.body['error'] }, msg);
  }

  return {
    manifest: (host) => view.manifest(host),

    async publish(bytes) {
      const inspected = inspectManifest(bytes, trustedKeys, threshold);
      if (inspected.kind === 'refuse') {
        refused(inspected, {}, 'manifest refused');
        return inspected;
      }
      const { verified } = inspected;
      const { host } = verified.manifest;
      return mutex.run(`manifest:${host}`, async () => {
        const decision = decidePublish({ verified, current: view.manifest(host)?.bytes ?? null, now: now() });
        if (decision.kind === 'refuse') {
          refused(decision, { host, version: verified.manifest.version }, 'manifest refused');
          return decision;
        }
        if (decision.kind === 'store') {
          const { version, storePath, activation } = decision.manifest;
          await store.writeManifest(host, bytes);
          options.onPublished?.(host);
          logger.info({ host, version, storePath, activation }, 'manifest published');
        }
        return decision;
      });
    },

    acceptReport(host, bytes) {
      return mutex.run(`report:${host}`, async () => {
        const decision = decideReport({ host, bytes, identity: await store.readHost(host), status: view.status(host), now: now() });
        if (decision.kind === 'refuse') {
          refused(decision, { host }, 'report refused');
          return decision;
        }
        // One fsync: the log line. The status file follows as a checkpoint (rebuilt from the log after a crash).
        await options.store.appendReport(host, decision.writeLog, () => checkpoints.flush(host));
        view.putStatus(decision.writeStatus);
        checkpoints.mark(host);
        const { report } = decision;
        const fields = { host, seq: report.seq, version: report.manifestVersion, phase: report.phase, outcome: report.outcome };
        if (report.kind === 'heartbeat') logger.debug(fields, 'report accepted');
        else logger.info(fields, 'report accepted');
        options.onReportAccepted?.(host);
        return decision;
      });
    },

    async enroll(request, address = 'local') {
      const at = now();
      if (request.token !== undefined || !admission.wouldAddPending(await store.readHost(request.host), at)) return enrollHolding(request, at);
      // Anonymous requests that would add a pending one are admitted one at a time, so the cap holds.
      return mutex.run('enroll:pending', async () => {
        const refusal = await admission.admitPending(request.host, address, at);
        if (refusal === null) return enrollHolding(request, at);
        logger.warn({ host: request.host, status: 429, reason: 'pending limit', address }, 'enrollment refused');
        return { reply: { status: 429, body: { error: refusal.error } }, reason: 'pending limit', writeToken: null, writeIdentity: null, retryAfterSeconds: refusal.retryAfterSeconds };
      });
    },

    async status() {
      const identities = await view.identities();
      const at = now();
      const statusOf = (host: string) => view.status(host);
      const hasManifest = (host: string) => view.manifest(host) !== null;
      // A pending request alone (no manifest, no report) is anyone's ask: counted, never listed among the hosts.
      const pendingOnly = (record: HostRecord) => record.status === 'pending' && !hasManifest(record.host) && statusOf(record.host) === null;
      const live = identities.filter((record) => !admission.isExpired(record, at));
      const identityOf = new Map(live.filter((record) => !pendingOnly(record)).map((record) => [record.host, record]));
      const names = [...new Set([...view.manifestHosts(), ...identityOf.keys(), ...[...view.statuses()].map((record) => record.host)])].sort();
      return {
        pendingEnrollments: live.filter((record) => record.status === 'pending').length,
        hosts: names.map((host) => {
          const record = statusOf(host);
          return buildHostStatus(
            {
              host,
              enrolled: identityOf.get(host)?.status ?? 'unknown',
              desired: view.manifest(host)?.desired ?? null,
              report: record?.report ?? null,
              lastSeen: record === null ? null : new Date(record.receivedAt),
            },
            at,
            options.silentAfterMs ?? Number.POSITIVE_INFINITY,
          );
        }),
      };
    },

    approveHost: (host, expectedKey) => approveHost(store, host, expectedKey, now()),
    revokeHost: (host) => revokeHost(store, host, now()),
    createToken: (host, ttlMs) => createToken(store, host, ttlMs, now()),
    lastStatus: (host) => view.status(host),
    snapshot: () => view.snapshot(),
    close: () => checkpoints.close(),
  };
}
