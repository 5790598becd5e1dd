// Tidies the system profile after a deployment (the choice of generations is the core's).
import { errorMessage } from '../shared/errors.js';
import { forgetDeleted, generationsToDelete } from './core/generations.js';
import type { Journal } from './core/journal.js';
import { isTerminal } from './core/step.js';
import type { AgentDeps } from './driver.js';

/**
 * After a deployment ended: deletes the profile generations of failed deployments and confirmed ones beyond
 * `keepGenerations`, and the GC root of a failed closure, so `nix-collect-garbage` can reclaim them. Never
 * fails the deployment: what is left is tried again after the next one.
 */
export async function tidyGenerations(deps: AgentDeps, gcRoot: string, journal: Journal): Promise<Journal> {
  const { config, log, nix } = deps;
  const deployment = journal.deployment;
  if (deployment === null || !isTerminal(deployment.phase)) return journal;
  try {
    if (deployment.phase !== 'confirmed' && deployment.trigger !== 'operator' && (await nix.dropRoot(gcRoot, deployment.storePath))) {
      log.info({ host: config.host, version: deployment.version, storePath: deployment.storePath }, 'dropped the GC root of the failed closure');
    }
    const profile = await nix.readProfile(config.profile);
    if (profile === null) return journal;
    const doomed = generationsToDelete(await nix.listGenerations(config.profile), profile.generation, journal, config.keepGenerations);
    if (doomed.length > 0) {
      await nix.deleteGenerations(config.profile, doomed);
      log.info({ host: config.host, generations: doomed, keep: config.keepGenerations }, 'deleted failed and surplus generations');
    }
    const tidy = forgetDeleted(journal, await nix.listGenerations(config.profile));
    if (tidy !== journal) await deps.journal.write(tidy);
    return tidy;
  } catch (error) {
    log.warn({ host: config.host, err: errorMessage(error) }, 'could not delete old generations; trying again after the next deployment');
    return journal;
  }
}
