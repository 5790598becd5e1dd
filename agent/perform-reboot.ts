// The driver's part of the reboot path: looking at the inhibitor locks, `systemctl reboot`, and making the
// previous generation the boot default again. It decides nothing; agent/core/reboot-policy.ts does.
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { revertPlan, type RebootEffect } from './core/reboot-effects.js';
import type { Event } from './core/step.js';
import type { HostProbe, Nix, RebootPort } from './ports.js';

export interface RebootDeps {
  readonly nix: Nix;
  readonly profile: string;
  readonly log: Logger;
  readonly host: string;
  readonly hostProbe: HostProbe;
  /** Absent where the agent cannot reboot the host: the reboot path is then never entered. */
  readonly reboot: RebootPort | undefined;
}

export class RebootUnavailableError extends Error {
  override name = 'RebootUnavailableError' as const;
  constructor() {
    super('this agent was built without a way to reboot the host');
  }
}

export async function performReboot(effect: RebootEffect, deps: RebootDeps): Promise<Event> {
  const { nix, log } = deps;
  switch (effect.type) {
    case 'check-reboot': {
      const bootId = (await deps.hostProbe.bootId?.()) ?? null;
      if (deps.reboot === undefined) return { type: 'reboot-checked', inhibitors: null, inhibitorError: new RebootUnavailableError().message, random: 0, bootId };
      try {
        return { type: 'reboot-checked', inhibitors: await deps.reboot.inhibitors(), inhibitorError: null, random: deps.reboot.random(), bootId };
      } catch (error) {
        return { type: 'reboot-checked', inhibitors: null, inhibitorError: errorMessage(error), random: deps.reboot.random(), bootId };
      }
    }
    case 'reboot':
      try {
        if (deps.reboot === undefined) throw new RebootUnavailableError();
        log.info({ host: deps.host, phase: 'rebooting' }, 'systemctl reboot');
        await deps.reboot.reboot();
        return { type: 'reboot-requested' };
      } catch (error) {
        return { type: 'reboot-failed', error: errorMessage(error) };
      }
    case 'revert-boot': {
      const plan = revertPlan(effect.previous);
      if (plan === null) return { type: 'rollback-failed', error: 'no previous system recorded' };
      try {
        if (plan.generation !== null) {
          await nix.switchGeneration(deps.profile, plan.generation);
        } else if ((await nix.readProfile(deps.profile))?.path !== plan.target) {
          // A profile already on the target was set before a crash: not set twice.
          await nix.setProfile(deps.profile, plan.target);
        }
        await nix.activate(plan.target, 'boot');
        log.info({ host: deps.host, storePath: plan.target, phase: 'rolling-back' }, 'the previous generation is the boot default again');
        return { type: 'boot-reverted', currentSystem: await nix.currentSystem() };
      } catch (error) {
        return { type: 'rollback-failed', error: `making the previous generation the boot default again failed: ${errorMessage(error)}` };
      }
    }
  }
}
