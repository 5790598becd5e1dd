// Performs one of the core's effects through the ports and says what happened, as an event for the core.
// It decides nothing: which generation, which mode and what counts as healthy come from agent/core/.
import { errorMessage } from '../shared/errors.js';
import type { HealthResult, RealiseProgress } from '../shared/report.js';
import { failureReason, onlyControllerFailed } from './core/health-window.js';
import { planRollback } from './core/rollback-plan.js';
import type { Effect, Event } from './core/step.js';
import type { AgentDeps } from './driver.js';
import { performProbation } from './perform-probation.js';
import { performReboot } from './perform-reboot.js';

export interface PerformerHelpers {
  /** The GC root that keeps the desired closure alive while it is deployed. */
  readonly gcRoot: string;
  /** Runs a health window; `local` leaves the controller checks out. */
  readonly healthWindow: (scope: 'all' | 'local') => Promise<{ ok: boolean; results: HealthResult[] }>;
  readonly reportProgress: (progress: RealiseProgress) => Promise<void>;
}

export function createPerformer(deps: AgentDeps, helpers: PerformerHelpers): (effect: Effect) => Promise<Event> {
  const { config, log, nix } = deps;
  const { gcRoot, healthWindow, reportProgress } = helpers;

  const readPrevious = async () => {
    const profile = await nix.readProfile(config.profile);
    return { generation: profile?.generation ?? null, path: profile?.path ?? null, currentSystem: await nix.currentSystem() };
  };

  /** Carries out the core's rollback plan: the recorded generation, activated in the deployment's mode. */
  const rollBack = async (effect: Extract<Effect, { type: 'rollback' }>): Promise<Event> => {
    const plan = planRollback(effect.previous, effect.activation);
    if (plan === null) return { type: 'rollback-failed', error: 'no previous system recorded' };
    try {
      // Only a profile that moved is switched back: after a probation (`test` first) it never did, and a nix-env
      // that fails must not keep the host on an unhealthy system. A resumed rollback finds it switched already.
      if (plan.generation !== null && (await nix.readProfile(config.profile))?.generation !== plan.generation) {
        await nix.switchGeneration(config.profile, plan.generation);
      }
      await nix.activate(plan.target, plan.mode);
      if (!plan.checkHealth) return { type: 'rolled-back', results: [] };
      // The generation gone back to is judged by its own checks: the controller may be what is down.
      const { ok, results } = await healthWindow('local');
      return ok ? { type: 'rolled-back', results } : { type: 'rollback-failed', error: `previous generation is unhealthy too: ${failureReason(results)}` };
    } catch (error) {
      return { type: 'rollback-failed', error: errorMessage(error) };
    }
  };

  return async function perform(effect: Effect): Promise<Event> {
    switch (effect.type) {
      case 'preflight': {
        let plan = null;
        let dryRunError: string | null = null;
        try {
          plan = await nix.dryRun(effect.storePath);
        } catch (error) {
          dryRunError = errorMessage(error);
        }
        if (plan !== null) log.info({ host: config.host, storePath: effect.storePath, ...plan }, 'closure to fetch');
        return { type: 'preflight-measured', measure: { plan, dryRunError, freeBytes: plan === null ? null : await deps.host.freeBytes() } };
      }
      case 'realise': {
        const tracker = await deps.progress?.start(effect.storePath, (progress) => void reportProgress(progress));
        try {
          await nix.realise(effect.storePath, gcRoot, tracker === undefined ? undefined : (line) => tracker.onLine(line));
        } catch (error) {
          await tracker?.finish(false);
          return { type: 'realise-failed', error: `realise failed: ${errorMessage(error)}` };
        }
        await tracker?.finish(true);
        const reboot = config.reboot === 'when-needed' ? await deps.reboot?.needed(effect.storePath) : undefined;
        return { type: 'realised', previous: { ...(await readPrevious()) }, bootId: (await deps.host.bootId?.()) ?? null, ...(reboot === undefined ? {} : { reboot }) };
      }
      case 'set-profile':
        try {
          return { type: 'profile-set', generation: (await nix.setProfile(config.profile, effect.storePath)).generation };
        } catch (error) {
          return { type: 'profile-failed', error: `setting the profile failed: ${errorMessage(error)}` };
        }
      case 'activate':
        if (effect.resumed) log.info({ host: config.host, storePath: effect.storePath, phase: 'activating' }, 're-running an interrupted activation');
        try {
          const output = await nix.activate(effect.storePath, effect.activation);
          if (effect.activation !== 'dry-activate') return { type: 'activated' };
          log.info({ host: config.host, output }, 'dry activation: what would change');
          return { type: 'activated', output };
        } catch (error) {
          return { type: 'activation-failed', error: errorMessage(error) };
        }
      case 'check-health': {
        const { ok, results } = await healthWindow('all');
        if (ok) return { type: 'healthy', results };
        const controllerUnreachable = onlyControllerFailed(results);
        const reason = controllerUnreachable ? 'controller unreachable after switch' : failureReason(results);
        if (!controllerUnreachable) return { type: 'unhealthy', results, controllerUnreachable, reason };
        // Only the controller failed: is it the controller, or this host's network? The core decides on what the probes saw.
        const network = (await deps.network?.probe().catch((error: unknown) => {
          log.warn({ host: config.host, err: errorMessage(error) }, 'network probes failed to run');
          return [];
        })) ?? [];
        log.info({ host: config.host, phase: 'checking-health', network }, 'only the controller check failed; network probed');
        return { type: 'unhealthy', results, controllerUnreachable, reason, network };
      }
      case 'rollback':
        return rollBack(effect);
      case 'probation':
      case 'stage-boot':
        return performProbation(effect, { nix, profile: config.profile, log, host: config.host });
      case 'check-reboot':
      case 'reboot':
      case 'revert-boot':
        return performReboot(effect, { nix, profile: config.profile, log, host: config.host, hostProbe: deps.host, reboot: deps.reboot });
    }
  }
}
