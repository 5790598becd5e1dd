// The driver's part of probation: the `test` run of a new generation, and staging a healthy one as the
// profile and boot entry. It decides nothing; agent/core/probation*.ts does.
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ProbationEffect } from './core/probation-effects.js';
import type { Event } from './core/step.js';
import type { Nix } from './ports.js';

export interface ProbationDeps {
  readonly nix: Nix;
  readonly profile: string;
  readonly log: Logger;
  readonly host: string;
}

export async function performProbation(effect: ProbationEffect, deps: ProbationDeps): Promise<Event> {
  const { nix, log } = deps;
  if (effect.type === 'probation') {
    if (effect.resumed) log.info({ host: deps.host, storePath: effect.storePath, phase: 'probation' }, 'resuming an interrupted probation run');
    try {
      await nix.activate(effect.storePath, 'test');
      return { type: 'activated' };
    } catch (error) {
      return { type: 'activation-failed', error: errorMessage(error) };
    }
  }
  try {
    // A profile already on this system in a newer generation than recorded was set before a crash: not set twice.
    const profile = await nix.readProfile(deps.profile);
    const already = profile !== null && profile.path === effect.storePath && profile.generation > (effect.previous.generation ?? 0);
    const set = already ? profile : await nix.setProfile(deps.profile, effect.storePath);
    await nix.activate(effect.storePath, 'boot');
    log.info({ host: deps.host, storePath: effect.storePath, generation: set.generation, phase: 'staging-boot' }, 'probation passed: profile set and boot entry written');
    return { type: 'boot-staged', generation: set.generation };
  } catch (error) {
    return { type: 'activation-failed', error: `staging the boot entry failed: ${errorMessage(error)}` };
  }
}
