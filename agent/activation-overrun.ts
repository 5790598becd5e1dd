// Activations that run past their time limit and are waited for (`timeouts.onActivationOverrun: "wait"`): the
// latest overrun of the running effect, so the reports sent meanwhile carry it to the controller.
import type { ActivationOverrun } from '../shared/report.js';
import type { Nix } from './ports.js';

export interface OverrunWatch {
  /** The Nix the performer uses: every activation it runs (switch, test, boot, rollback) is watched. */
  readonly nix: Nix;
  /** The running effect's latest overrun; null when it has none. */
  current(): ActivationOverrun | null;
  /** The effect ended: its overrun is no longer news. */
  clear(): void;
}

/** Watches `nix`'s activations; `onOverrun` runs after each overrun is recorded (to send a report at once). */
export function watchOverruns(nix: Nix, onOverrun: (overrun: ActivationOverrun) => void): OverrunWatch {
  let latest: ActivationOverrun | null = null;
  const activate: Nix['activate'] = (systemPath, action, onOverrunToo) =>
    nix.activate(systemPath, action, (overrun) => {
      latest = overrun;
      onOverrunToo?.(overrun);
      onOverrun(overrun);
    });
  return {
    // Every other method is looked up on `nix` when called, not copied now.
    nix: Object.assign(Object.create(nix) as Nix, { activate }),
    current: () => latest,
    clear: () => void (latest = null),
  };
}
