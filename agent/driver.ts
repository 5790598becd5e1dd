// The agent's driver: it decides nothing. It persists the journal, performs the core's effects through
// the ports, and feeds each result back to the core as an event.
import { acceptManifest, isRejectionError } from '../shared/accept.js';
import { errorMessage } from '../shared/errors.js';
import type { PublicKey } from '../shared/keys.js';
import type { Logger } from '../shared/log.js';
import type { HealthResult, HostFacts, Phase, RealiseProgress, Report } from '../shared/report.js';
import type { AgentConfig } from './config.js';
import { judgeRound, type WindowState } from './core/health-window.js';
import type { Deployment, Journal } from './core/journal.js';
import { outcomeOf } from './core/outcome.js';
import { awaitingReboot, rebootReport, rebootWaitChanged } from './core/reboot-gate.js';
import { windowReport } from './core/activation-window.js';
import { announce, isTerminal, step, type Event, type Observation, type Policy, type StepResult } from './core/step.js';
import { createPerformer } from './perform-effect.js';
import { watchOverruns } from './activation-overrun.js';
import { tidyGenerations } from './tidy-generations.js';
import type { Clock, FetchResult, HealthProbe, HostProbe, JournalStore, ManifestSource, NetworkProbe, Nix, RealiseProgressPort, RebootPort, ReportSink } from './ports.js';
import { activationWindowOf, rebootPolicyOf } from './reboot-config.js';
import { agentStatePaths } from '../shared/layout.js';

export { outcomeOf } from './core/outcome.js';

export interface AgentDeps {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly nix: Nix;
  readonly source: ManifestSource;
  readonly reports: ReportSink;
  readonly journal: JournalStore;
  readonly health: HealthProbe;
  readonly host: HostProbe;
  readonly clock: Clock;
  readonly trustedKeys: readonly PublicKey[];
  /** True when reports can reach a controller (the `controller` health check needs one). */
  readonly hasController: boolean;
  /** Reading boot files, inhibitor locks and `systemctl reboot`, for `reboot: "when-needed"`. */
  readonly reboot?: RebootPort;
  /** Follows realises for progress reports. */
  readonly progress?: RealiseProgressPort;
  /** Probes the host's own network when only the controller check failed; without it nothing shows a cut-off. */
  readonly network?: NetworkProbe;
  /**
   * Runs a resume, a deployment or a rollback holding the state directory's lock: the daemon takes it for each
   * (never while it waits for a manifest); one-shot commands hold it already, so by default it runs `fn` as is.
   */
  readonly exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
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

export interface Agent {
  /** Finishes a deployment (or an operator's rollback) left unfinished by a crash or restart. */
  resume(): Promise<Deployment | null>;
  /** One fetch-accept-apply cycle. */
  cycle(waitSeconds: number): Promise<CycleResult>;
  /** The operator's rollback, journaled like a deployment so an interrupted one resumes. */
  rollbackManually(): Promise<{ ok: boolean; detail: string }>;
  heartbeat(): Promise<void>;
  /** Delivers queued reports; true when the queue is empty afterwards. */
  flushReports(): Promise<boolean>;
  journal(): Promise<Journal>;
}

export function createAgent(deps: AgentDeps): Agent {
  const { config, log, nix, clock } = deps;
  const policy: Policy = { ...config.rollback, maxResumes: 3, minFreeBytes: config.minFreeBytes, probation: config.probation, reboot: rebootPolicyOf(config), activationWindow: activationWindowOf(config) };
  const gcRoot = agentStatePaths(config.stateDir).desiredGcRoot;
  const fields = (d: Deployment) => ({ host: config.host, version: d.version, storePath: d.storePath, phase: d.phase });
  let lastRejectedEtag: string | null = null;
  let etag: string | null = null;

  const flushReports = () => deps.reports.flush();

  /** Queues a signed report of the journal's state and starts its delivery without waiting for it. */
  const report = async (
    journal: Journal,
    extra: { kind?: Report['kind']; phase?: Phase; error?: string | null; health?: readonly HealthResult[]; facts?: HostFacts | null; progress?: RealiseProgress } = {},
  ): Promise<void> => {
    const deployment = journal.deployment;
    const phase = extra.phase ?? deployment?.phase ?? 'idle';
    const progress = extra.progress ?? (phase === 'realising' && deployment !== null ? deps.progress?.current(deployment.storePath) : null) ?? null;
    const reboot = rebootReport(deployment);
    const activationWindow = windowReport(deployment);
    const activationOverrun = overruns.current();
    const profile = await nix.readProfile(config.profile);
    const version = deployment?.version || journal.lastAccepted?.version || null;
    await deps.reports.enqueue({
      host: config.host,
      time: clock.now().toISOString(),
      kind: extra.kind ?? 'phase',
      manifestVersion: version,
      desiredPath: deployment?.storePath ?? null,
      phase,
      outcome: outcomeOf(phase),
      currentSystem: await nix.currentSystem(),
      bootedSystem: await nix.bootedSystem(),
      generation: profile?.generation ?? null,
      health: [...(extra.health ?? journal.lastHealth?.results ?? [])],
      error: extra.error !== undefined ? extra.error : (deployment?.reason ?? null),
      facts: extra.facts ?? null,
      ...(progress === null ? {} : { progress }),
      ...(reboot === undefined ? {} : { reboot }),
      ...(activationWindow === undefined ? {} : { activationWindow }),
      ...(activationOverrun === null ? {} : { activationOverrun }),
      ...(deployment?.activationOutput === undefined ? {} : { activationOutput: deployment.activationOutput }),
    });
    void flushReports().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'report delivery failed'));
  };

  const persist = async (journal: Journal, before: Journal): Promise<void> => {
    await deps.journal.write(journal);
    const deployment = journal.deployment;
    if (deployment !== null && deployment.phase !== before.deployment?.phase) {
      await deps.afterPersist?.(journal);
      log.info({ ...fields(deployment), reason: deployment.reason ?? undefined }, `phase ${deployment.phase}`);
      await report(journal);
    } else if (rebootWaitChanged(before.deployment, deployment)) {
      await report(journal);
    }
  };

  const controllerAccepts = async (): Promise<{ ok: boolean; detail: string }> => {
    if (!deps.hasController) return { ok: false, detail: 'no controller configured' };
    if ((await deps.reports.queued()) === 0) await report(await deps.journal.read(), { kind: 'heartbeat' });
    const empty = await flushReports();
    return empty ? { ok: true, detail: 'report accepted by the controller' } : { ok: false, detail: 'controller unreachable or refused the report' };
  };

  /** Runs rounds of checks until the core's window rule decides; `local` leaves the controller checks out. */
  const healthWindow = async (scope: 'all' | 'local'): Promise<{ ok: boolean; results: HealthResult[] }> => {
    const timing = { timeoutMs: config.health.timeoutSeconds * 1000, stableMs: config.health.stableSeconds * 1000 };
    let state: WindowState = { startedAt: clock.now().getTime(), passingSince: null };
    for (;;) {
      const results = await deps.health.run(controllerAccepts, scope);
      const judged = judgeRound(state, results.every((r) => r.ok), clock.now().getTime(), timing);
      state = judged.state;
      if (judged.verdict !== 'continue') {
        log.info({ host: config.host, phase: 'checking-health', ok: judged.verdict === 'passed', results }, 'health window decided');
        return { ok: judged.verdict === 'passed', results };
      }
      await clock.sleep(config.health.intervalSeconds * 1000);
    }
  };

  const observe = async (): Promise<Observation> => ({
    profile: await nix.readProfile(config.profile),
    currentSystem: await nix.currentSystem(),
    bootedSystem: await nix.bootedSystem(),
    bootId: (await deps.host.bootId?.()) ?? null,
  });

  /** A heartbeat between phase changes: realise progress while the closure is fetched, or an activation overrun. */
  const reportProgress = async (progress?: RealiseProgress): Promise<void> => {
    try {
      await report(await deps.journal.read(), { kind: 'heartbeat', ...(progress === undefined ? {} : { progress }) });
    } catch (error) {
      log.warn({ host: config.host, err: errorMessage(error) }, 'progress report failed');
    }
  };

  /** An activation past its time limit is reported at once, and by every report until the effect ends. */
  const overruns = watchOverruns(nix, () => void reportProgress());
  const perform = createPerformer({ ...deps, nix: overruns.nix }, { gcRoot, healthWindow, reportProgress });

  /** Persists, performs and steps until the deployment reaches a terminal phase. */
  const drive = async (start: StepResult): Promise<Journal> => {
    let journal = start.journal;
    let effect = start.effect;
    while (effect !== null) {
      const announced = announce(journal, effect, clock.now());
      await persist(announced, journal);
      const event = await perform(effect).finally(() => overruns.clear());
      // During a shutdown an effect's result means nothing (checks fail, systemd refuses jobs): never journaled.
      while (await deps.host.shuttingDown?.()) await clock.sleep(60_000);
      const next = step(announced, event, clock.now(), policy);
      if (next.note !== undefined && next.journal.deployment !== null) log.info(fields(next.journal.deployment), next.note);
      await persist(next.journal, announced);
      journal = next.journal;
      effect = next.effect;
    }
    return journal;
  };

  /** Applies one event, persists, drives whatever it starts, and tidies the profile once it has ended. */
  const apply = async (journal: Journal, event: Event): Promise<{ journal: Journal; note: string | undefined }> => {
    const next = step(journal, event, clock.now(), policy);
    await persist(next.journal, journal);
    const final = await drive(next);
    // Only a deployment that ended here: a skipped manifest or a refused rollback leaves the profile alone.
    return { journal: final.deployment === journal.deployment ? final : await tidyGenerations(deps, gcRoot, final), note: next.note };
  };

  const exclusive = deps.exclusive ?? (<T>(fn: () => Promise<T>) => fn());

  const resumeHolding = async (): Promise<Deployment | null> => {
    const journal = await deps.journal.read();
    const deployment = journal.deployment;
    if (deployment === null || isTerminal(deployment.phase)) return deployment;
    if (!awaitingReboot(deployment) && deployment.phase !== 'awaiting-window') log.info(fields(deployment), 'resuming interrupted deployment');
    const { journal: final, note } = await apply(journal, { type: 'resume', observed: await observe() });
    if (note !== undefined) log.info({ host: config.host }, note);
    return final.deployment;
  };

  /** Takes the lock only when there is something to resume (then looks again holding it): an idle daemon holds nothing. */
  const resume = async (): Promise<Deployment | null> => {
    const deployment = (await deps.journal.read()).deployment;
    if (deployment === null || isTerminal(deployment.phase)) return deployment;
    return exclusive(resumeHolding);
  };

  const cycle = async (waitSeconds: number): Promise<CycleResult> => {
    await resume();
    const fetched = await deps.source.fetch(etag, waitSeconds);
    if (fetched.kind === 'none') return { kind: 'no-manifest' };
    if (fetched.kind === 'unchanged') return { kind: 'unchanged' };
    etag = fetched.etag;
    return exclusive(() => consider(fetched));
  };

  /** Accepts (or refuses) a fetched manifest against the journal as it is now, and deploys it. */
  const consider = async (fetched: Extract<FetchResult, { kind: 'manifest' }>): Promise<CycleResult> => {
    const journal = await deps.journal.read();
    let accepted;
    try {
      accepted = acceptManifest({ bytes: fetched.bytes, trustedKeys: deps.trustedKeys, threshold: config.threshold, host: config.host, last: journal.lastAccepted, now: clock.now() });
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
    const event: Event = { type: 'manifest', manifest, digest: accepted.digest, currentSystem: await nix.currentSystem() };
    const { journal: final, note } = await apply(journal, event);
    if (note !== undefined) {
      log.info({ host: config.host, version: manifest.version, storePath: manifest.storePath }, note);
      return { kind: 'unchanged' };
    }
    return final.deployment === null ? { kind: 'unchanged' } : { kind: 'deployed', deployment: final.deployment };
  };

  const rollbackManually = () => exclusive(rollbackHolding);

  const rollbackHolding = async (): Promise<{ ok: boolean; detail: string }> => {
    const journal = await deps.journal.read();
    const event: Event = { type: 'operator-rollback', generations: await nix.listGenerations(config.profile), observed: await observe() };
    const { journal: final, note } = await apply(journal, event);
    const deployment = final.deployment;
    if (note !== undefined || deployment === null || deployment.trigger !== 'operator' || deployment === journal.deployment) {
      return { ok: false, detail: note ?? 'nothing to roll back' };
    }
    const ok = deployment.phase === 'rolled-back';
    const target = deployment.previous;
    const detail = ok ? `returned to generation ${target?.generation ?? '?'} (${target?.path ?? '?'})` : (deployment.reason ?? 'failed');
    log.info({ host: config.host, phase: deployment.phase, detail }, 'manual rollback');
    return { ok, detail };
  };

  return {
    resume,
    cycle,
    rollbackManually,
    flushReports,
    journal: () => deps.journal.read(),
    async heartbeat() {
      const journal = await deps.journal.read();
      await report(journal, { kind: 'heartbeat', phase: journal.deployment?.phase ?? 'idle', facts: await deps.host.facts() });
    },
  };
}
