// Rollouts as a use case: every manifest arrives signed up front and is held; the controller only decides
// when each host's own manifest is released (it signs nothing), and halts when a wave is unhealthy.
import type { Logger } from '../../shared/log.js';
import { advanceRollout, waveProgress, type HostObservation, type WaveProgress } from '../rollout/advance.js';
import { controlRollout, createRollout, unreleasedHosts } from '../rollout/lifecycle.js';
import { RolloutPolicySchema, type Rollout } from '../rollout/policy.js';
import type { RolloutStore } from '../storage/rollout-store.js';
import type { HostStatusRecord } from '../storage/records.js';
import { decidePublish, inspectManifest, storedManifestInfo } from './decide-publish.js';
import { refuse, type Reply } from './reply.js';
import type { VerifiedManifest } from './verify-manifest.js';
import type { FleetService } from './service.js';

export interface RolloutRequest {
  readonly id: string;
  readonly policy: unknown;
  /** Each host's signed manifest envelope, exactly as the operator's CLI made it. */
  readonly manifests: readonly string[];
}

export interface RolloutView {
  readonly rollout: Rollout;
  readonly progress: WaveProgress | null;
}

export interface RolloutService {
  start(request: RolloutRequest): Promise<Reply>;
  current(): Promise<RolloutView | null>;
  /** Runs the advance decision once and releases what it says; on every accepted report and on a timer. */
  advance(): Promise<void>;
}

export interface RolloutServiceOptions {
  readonly store: RolloutStore;
  readonly fleet: FleetService;
  readonly trustedKeys: Parameters<typeof inspectManifest>[1];
  readonly threshold: number;
  readonly readStatus: (host: string) => Promise<HostStatusRecord | null>;
  readonly now: () => Date;
  readonly logger: Logger;
}

function observation(record: HostStatusRecord | null): HostObservation | null {
  if (record === null) return null;
  const { report } = record;
  return { manifestVersion: report.manifestVersion, outcome: report.outcome, phase: report.phase, receivedAt: new Date(record.receivedAt) };
}

export function createRolloutService(options: RolloutServiceOptions): RolloutService {
  const { store, fleet, now, logger } = options;

  /** Observations of the hosts in waves that are out but not complete: the only ones the decision reads. */
  async function observe(rollout: Rollout): Promise<(host: string) => HostObservation | null> {
    const watched = rollout.waves.filter((w) => w.releasedAt !== null && w.completedAt === null).flatMap((w) => w.hosts);
    const seen = new Map(await Promise.all(watched.map(async (host) => [host, observation(await options.readStatus(host))] as const)));
    return (host) => seen.get(host) ?? null;
  }

  async function release(hosts: readonly string[], rollout: Rollout): Promise<void> {
    for (const host of hosts) {
      const bytes = await store.readHeld(host);
      if (bytes === null) {
        logger.warn({ host, rollout: rollout.id }, 'held manifest missing (already served before a restart, or dropped); nothing released');
        continue;
      }
      const decision = await fleet.publish(bytes);
      if (decision.kind === 'refuse') logger.warn({ host, rollout: rollout.id, reason: decision.reason }, 'held manifest refused on release');
      await store.removeHeld(host);
    }
    if (hosts.length > 0) logger.info({ rollout: rollout.id, hosts }, 'rollout wave released');
  }

  async function advance(): Promise<void> {
    await store.withLock(async () => {
      const rollout = await store.current();
      if (rollout === null || rollout.state !== 'running') return;
      const step = advanceRollout(rollout, await observe(rollout), now());
      if (step.rollout === rollout) return;
      // Serve first, then record: a controller killed in between releases the wave again at its next start (its
      // held files are gone by then, so nothing is served twice), where the other order would leave it recorded
      // as released and never served.
      await release(step.release, step.rollout);
      await store.write(step.rollout);
      if (step.rollout.state !== rollout.state) logger.warn({ rollout: rollout.id, state: step.rollout.state, reason: step.rollout.reason }, `rollout ${step.rollout.state}`);
    });
  }

  return {
    async start(request) {
      const policy = RolloutPolicySchema.safeParse(request.policy);
      if (!policy.success) return refuse(400, `rollout policy: ${policy.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'malformed').reply;
      const verified: VerifiedManifest[] = [];
      for (const text of request.manifests) {
        const inspected = inspectManifest(new Uint8Array(Buffer.from(text)), options.trustedKeys, options.threshold);
        if (inspected.kind === 'refuse') return inspected.reply;
        const { host } = inspected.verified.manifest;
        const decision = decidePublish({ verified: inspected.verified, current: fleet.manifest(host)?.bytes ?? null, now: now() });
        if (decision.kind === 'refuse') return { status: decision.reply.status, body: { ...decision.reply.body, host } };
        if (decision.kind !== 'store') return refuse(409, `${host} already has version ${inspected.verified.manifest.version}; nothing to roll out`, 'unchanged').reply;
        verified.push(inspected.verified);
      }
      const hosts = verified.map((v) => v.manifest.host);
      if (new Set(hosts).size !== hosts.length) return refuse(400, 'a host appears twice in the rollout', 'malformed').reply;
      return store.withLock(async () => {
        const running = await store.current();
        if (running !== null && running.state !== 'completed' && running.state !== 'aborted') {
          return refuse(409, `rollout ${running.id} is ${running.state}; abort it before starting another`, 'busy').reply;
        }
        let rollout: Rollout;
        try {
          const previous: Record<string, string> = {};
          for (const v of verified) {
            const bytes = fleet.manifest(v.manifest.host)?.bytes;
            if (bytes !== undefined) previous[v.manifest.host] = storedManifestInfo(bytes).manifest.storePath;
          }
          rollout = createRollout(request.id, Object.fromEntries(verified.map((v) => [v.manifest.host, v.manifest.version])), policy.data, now(), previous);
        } catch (error) {
          return refuse(400, error instanceof Error ? error.message : String(error), 'malformed').reply;
        }
        for (const v of verified) await store.writeHeld(v.manifest.host, v.bytes);
        await store.write(rollout);
        logger.info({ rollout: rollout.id, hosts: hosts.length, waves: rollout.waves.length }, 'rollout started');
        return { status: 201, body: { rollout } };
      }).then(async (reply) => {
        if (reply.status === 201) await advance();
        return reply;
      });
    },
    async current() {
      const rollout = await store.current();
      if (rollout === null) return null;
      const index = rollout.waves.findIndex((w) => w.completedAt === null);
      const out = index !== -1 && rollout.waves[index]?.releasedAt !== null;
      return { rollout, progress: out ? waveProgress(rollout, index, await observe(rollout), now()) : null };
    },
    advance,
  };
}

/**
 * The operator's pause, resume or abort, on the state directory (Unix permissions are the
 * authentication, as for every admin command); a running server picks it up at its next advance.
 * Abort drops the held manifests of waves never released.
 */
export function controlStoredRollout(store: RolloutStore, action: 'pause' | 'resume' | 'abort', now: Date): Promise<Rollout | null> {
  return store.withLock(async () => {
    const rollout = await store.current();
    if (rollout === null) return null;
    const next = controlRollout(rollout, action, now);
    await store.write(next);
    if (action === 'abort') for (const host of unreleasedHosts(next)) await store.removeHeld(host);
    return next;
  });
}
