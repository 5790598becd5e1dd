// The agent's driver: fetch, accept, then run the journal's effects one by one, persisting before each.
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptManifest, isRejectionError } from '../shared/accept.js';
import { errorMessage } from '../shared/errors.js';
import type { PublicKey } from '../shared/keys.js';
import type { Logger } from '../shared/log.js';
import type { HealthResult, HostFacts, Outcome, Phase, Report } from '../shared/report.js';
import type { AgentConfig } from './config.js';
import type { ControllerClient } from './controller-client.js';
import { runChecks } from './health-checks.js';
import { failureReason, judgeRound, onlyControllerFailed, type WindowState } from './health-window.js';
import { readJournal, writeJournal, type Deployment, type Journal, type Previous } from './journal.js';
import type { Nix } from './nix.js';
import type { Outbox } from './outbox.js';
import type { ManifestSource } from './source.js';
import { announce, isTerminal, step, type Effect, type Event, type Policy } from './step.js';

export interface AgentDeps {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly nix: Nix;
  readonly source: ManifestSource;
  readonly controller: ControllerClient | null;
  readonly outbox: Outbox;
  readonly trustedKeys: readonly PublicKey[];
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly facts: () => Promise<HostFacts | null>;
  /** Free bytes on the filesystem holding the Nix store, or null when unknown. */
  readonly freeBytes: () => Promise<number | null>;
  /**
   * Fault injection for crash tests: called after each journal write is durable. The lab's kill -9
   * matrix uses it to stop the agent exactly at a phase boundary; production leaves it unset.
   */
  readonly afterPersist?: (journal: Journal) => Promise<void>;
}

export type CycleResult =
  | { readonly kind: 'no-manifest' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly error: string }
  | { readonly kind: 'deployed'; readonly deployment: Deployment };

export interface AgentCore {
  /** Finishes a deployment left unfinished by a crash or restart. */
  resume(): Promise<Deployment | null>;
  /** One fetch-accept-apply cycle. */
  cycle(waitSeconds: number): Promise<CycleResult>;
  /** Operator-requested return to the generation before the current one, with health check. */
  rollbackManually(): Promise<{ ok: boolean; detail: string }>;
  heartbeat(): Promise<void>;
  /** Delivers queued reports; true when the queue is empty afterwards. */
  flushReports(): Promise<boolean>;
  journal(): Promise<Journal>;
}

export function outcomeOf(phase: Phase): Outcome {
  switch (phase) {
    case 'confirmed':
    case 'idle':
      return 'success';
    case 'rolled-back':
      return 'rolled-back';
    case 'failed':
      return 'failure';
    case 'rejected':
      return 'rejected';
    default:
      return 'in-progress';
  }
}

export function createAgent(deps: AgentDeps): AgentCore {
  const { config, log, nix } = deps;
  const policy: Policy = { ...config.rollback, maxResumes: 3 };
  const gcRoot = join(config.stateDir, 'gcroots', 'desired');
  let lastRejectedEtag: string | null = null;
  let etag: string | null = null;

  const flushReports = async (): Promise<boolean> => {
    const controller = deps.controller;
    if (controller === null) return false;
    return deps.outbox.flush((envelope) => controller.sendReport(envelope));
  };

  /** Queues a signed report of the journal's state and tries to deliver it without waiting. */
  const report = async (
    journal: Journal,
    extra: { kind?: Report['kind']; phase?: Phase; error?: string | null; health?: readonly HealthResult[]; facts?: HostFacts | null } = {},
  ): Promise<void> => {
    const deployment = journal.deployment;
    const phase = extra.phase ?? deployment?.phase ?? 'idle';
    const profile = await nix.readProfile(config.profile);
    await deps.outbox.enqueue({
      host: config.host,
      time: deps.now().toISOString(),
      kind: extra.kind ?? 'phase',
      manifestVersion: deployment?.version ?? journal.lastAccepted?.version ?? null,
      desiredPath: deployment?.storePath ?? null,
      phase,
      outcome: outcomeOf(phase),
      currentSystem: await nix.currentSystem(),
      bootedSystem: await nix.bootedSystem(),
      generation: profile?.generation ?? null,
      health: [...(extra.health ?? journal.lastHealth?.results ?? [])],
      error: extra.error !== undefined ? extra.error : (deployment?.reason ?? null),
      facts: extra.facts ?? null,
    });
    void flushReports().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'report delivery failed'));
  };

  const persist = async (journal: Journal, before: Journal): Promise<void> => {
    await writeJournal(config.stateDir, journal);
    const deployment = journal.deployment;
    if (deployment !== null && deployment.phase !== before.deployment?.phase) {
      await deps.afterPersist?.(journal);
      log.info(
        { host: config.host, version: deployment.version, storePath: deployment.storePath, phase: deployment.phase, reason: deployment.reason ?? undefined },
        `phase ${deployment.phase}`,
      );
      await report(journal);
    }
  };

  const controllerAccepts = async (): Promise<{ ok: boolean; detail: string }> => {
    if (deps.controller === null) return { ok: false, detail: 'no controller configured' };
    const stats = await deps.outbox.stats();
    if (stats.queued === 0) await report(await readJournal(config.stateDir), { kind: 'heartbeat' });
    const empty = await flushReports();
    return empty ? { ok: true, detail: 'report accepted by the controller' } : { ok: false, detail: 'controller unreachable or refused the report' };
  };

  /** Runs the health window; the checks' results come back as an event. */
  const healthWindow = async (): Promise<{ ok: boolean; results: HealthResult[] }> => {
    const timing = { timeoutMs: config.health.timeoutSeconds * 1000, stableMs: config.health.stableSeconds * 1000 };
    let state: WindowState = { startedAt: deps.now().getTime(), passingSince: null };
    for (;;) {
      const results = await runChecks(config.health.checks, { controllerAccepts });
      const judged = judgeRound(state, results.every((r) => r.ok), deps.now().getTime(), timing);
      state = judged.state;
      if (judged.verdict !== 'continue') {
        log.info({ host: config.host, phase: 'checking-health', ok: judged.verdict === 'passed', results }, 'health window decided');
        return { ok: judged.verdict === 'passed', results };
      }
      await deps.sleep(config.health.intervalSeconds * 1000);
    }
  };

  const readPrevious = async (): Promise<Previous> => {
    const profile = await nix.readProfile(config.profile);
    return { generation: profile?.generation ?? null, path: profile?.path ?? null, currentSystem: await nix.currentSystem() };
  };

  const perform = async (effect: Effect): Promise<Event> => {
    switch (effect.type) {
      case 'preflight': {
        let plan;
        try {
          plan = await nix.dryRun(effect.storePath);
        } catch (error) {
          log.warn({ host: config.host, err: errorMessage(error) }, 'dry run failed; realising without a size check');
          return { type: 'preflight-ok' };
        }
        if (plan === null) return { type: 'preflight-ok' };
        log.info({ host: config.host, storePath: effect.storePath, paths: plan.paths, downloadBytes: plan.downloadBytes, unpackedBytes: plan.unpackedBytes }, 'closure to fetch');
        const free = await deps.freeBytes();
        if (free !== null && free < plan.unpackedBytes + config.minFreeBytes) {
          const mib = (n: number) => `${Math.ceil(n / 1048576)} MiB`;
          return {
            type: 'preflight-failed',
            error: `not enough space for the closure on the Nix store: needs ${mib(plan.unpackedBytes)} plus ${mib(config.minFreeBytes)} reserve, ${mib(free)} free`,
          };
        }
        return { type: 'preflight-ok' };
      }
      case 'realise':
        try {
          await nix.realise(effect.storePath, gcRoot);
        } catch (error) {
          return { type: 'realise-failed', error: `realise failed: ${errorMessage(error)}` };
        }
        return { type: 'realised', previous: await readPrevious() };
      case 'set-profile': {
        const current = await nix.readProfile(config.profile);
        const already =
          current !== null &&
          current.path === effect.storePath &&
          (effect.previous.generation === null || current.generation > effect.previous.generation);
        if (already) return { type: 'profile-set', generation: current.generation };
        try {
          return { type: 'profile-set', generation: (await nix.setProfile(config.profile, effect.storePath)).generation };
        } catch (error) {
          return { type: 'profile-failed', error: `setting the profile failed: ${errorMessage(error)}` };
        }
      }
      case 'activate': {
        if (effect.resumed) {
          // /run/current-system changes before services start, so completion cannot be verified: run it again.
          log.info({ host: config.host, storePath: effect.storePath, phase: 'activating' }, 're-running an interrupted activation');
        }
        try {
          const output = await nix.activate(effect.storePath, effect.activation);
          if (effect.activation === 'dry-activate') log.info({ host: config.host, output }, 'dry activation: what would change');
          return { type: 'activated' };
        } catch (error) {
          return { type: 'activation-failed', error: errorMessage(error) };
        }
      }
      case 'check-health': {
        const { ok, results } = await healthWindow();
        if (ok) return { type: 'healthy', results };
        const controllerUnreachable = onlyControllerFailed(results);
        return {
          type: 'unhealthy',
          results,
          controllerUnreachable,
          reason: controllerUnreachable ? 'controller unreachable after switch' : failureReason(results),
        };
      }
      case 'rollback':
        return rollBack(effect.previous, effect.activation);
    }
  };

  /** Returns to the exact previous generation, re-activates it and checks that it is healthy. */
  const rollBack = async (previous: Previous, activation: Deployment['activation']): Promise<Event> => {
    try {
      let target = previous.currentSystem ?? previous.path;
      if ((activation === 'switch' || activation === 'boot') && previous.generation !== null) {
        const current = await nix.readProfile(config.profile);
        if (current?.generation !== previous.generation) await nix.switchGeneration(config.profile, previous.generation);
        target = previous.path;
      }
      if (target === null) return { type: 'rollback-failed', error: 'no previous system recorded' };
      await nix.activate(target, activation === 'boot' ? 'boot' : activation === 'test' ? 'test' : 'switch');
      if (activation === 'boot') return { type: 'rolled-back', results: [] };
      const { ok, results } = await healthWindow();
      return ok ? { type: 'rolled-back', results } : { type: 'rollback-failed', error: `previous generation is unhealthy too: ${failureReason(results)}` };
    } catch (error) {
      return { type: 'rollback-failed', error: errorMessage(error) };
    }
  };

  /** Persists, performs and steps until the deployment reaches a terminal phase. */
  const drive = async (start: Journal, first: Effect | null): Promise<Journal> => {
    let journal = start;
    let effect = first;
    while (effect !== null) {
      const announced = announce(journal, effect, deps.now());
      await persist(announced, journal);
      const event = await perform(effect);
      const next = step(announced, event, deps.now(), policy);
      await persist(next.journal, announced);
      journal = next.journal;
      effect = next.effect;
    }
    return journal;
  };

  const resume = async (): Promise<Deployment | null> => {
    const journal = await readJournal(config.stateDir);
    const deployment = journal.deployment;
    if (deployment === null || isTerminal(deployment.phase)) return deployment;
    log.info({ host: config.host, version: deployment.version, storePath: deployment.storePath, phase: deployment.phase }, 'resuming interrupted deployment');
    const next = step(journal, { type: 'resume' }, deps.now(), policy);
    await persist(next.journal, journal);
    return (await drive(next.journal, next.effect)).deployment;
  };

  const cycle = async (waitSeconds: number): Promise<CycleResult> => {
    await resume();
    const fetched = await deps.source.fetch(etag, waitSeconds);
    if (fetched.kind === 'none') return { kind: 'no-manifest' };
    if (fetched.kind === 'unchanged') return { kind: 'unchanged' };
    etag = fetched.etag;
    const journal = await readJournal(config.stateDir);
    let accepted;
    try {
      accepted = acceptManifest({
        bytes: fetched.bytes,
        trustedKeys: deps.trustedKeys,
        threshold: config.threshold,
        host: config.host,
        last: journal.lastAccepted,
        now: deps.now(),
      });
    } catch (error) {
      if (!isRejectionError(error)) throw error;
      if (lastRejectedEtag !== fetched.etag) {
        lastRejectedEtag = fetched.etag;
        log.warn({ host: config.host, phase: 'rejected', reason: error.reason }, `manifest rejected: ${error.message}`);
        await report(journal, { phase: 'rejected', error: `manifest rejected: ${error.message}` });
      }
      return { kind: 'rejected', error: error.message };
    }
    if (accepted.kind === 'unchanged') return { kind: 'unchanged' };
    const { manifest } = accepted;
    log.info({ host: config.host, version: manifest.version, storePath: manifest.storePath, phase: 'accepted', signers: accepted.signers }, 'manifest accepted');
    const next = step(journal, { type: 'manifest', manifest, digest: accepted.digest, currentSystem: await nix.currentSystem() }, deps.now(), policy);
    await persist(next.journal, journal);
    const final = await drive(next.journal, next.effect);
    return final.deployment === null ? { kind: 'unchanged' } : { kind: 'deployed', deployment: final.deployment };
  };

  const rollbackManually = async (): Promise<{ ok: boolean; detail: string }> => {
    const current = await nix.readProfile(config.profile);
    if (current === null) return { ok: false, detail: `profile ${config.profile} has no generation` };
    const generations = await previousGeneration(config.profile, current.generation);
    if (generations === null) return { ok: false, detail: `no generation before ${current.generation} to return to` };
    const event = await rollBack({ ...generations, currentSystem: null }, 'switch');
    const journal = await readJournal(config.stateDir);
    const ok = event.type === 'rolled-back';
    const detail = ok ? `returned to generation ${generations.generation} (${generations.path})` : event.type === 'rollback-failed' ? event.error : 'failed';
    log.info({ host: config.host, phase: ok ? 'rolled-back' : 'failed', detail }, 'manual rollback');
    await report(journal, { phase: ok ? 'rolled-back' : 'failed', error: ok ? 'manual rollback by operator' : detail });
    return { ok, detail };
  };

  return {
    resume,
    cycle,
    rollbackManually,
    flushReports,
    journal: () => readJournal(config.stateDir),
    async heartbeat() {
      const journal = await readJournal(config.stateDir);
      await report(journal, { kind: 'heartbeat', phase: journal.deployment?.phase ?? 'idle', facts: await deps.facts() });
    },
  };
}

/** The newest generation older than `current` that still exists, found by walking its links. */
async function previousGeneration(profile: string, current: number): Promise<{ generation: number; path: string } | null> {
  for (let generation = current - 1; generation >= 1; generation -= 1) {
    try {
      const path = await realpath(`${profile}-${generation}-link`);
      if (path.startsWith('/nix/store/')) return { generation, path };
    } catch {
      // that generation was deleted; look further back
    }
  }
  return null;
}
