// Lab teardown on process exit, uncaught exceptions and signals, and the nix.conf every lab host gets.
import { type LabRecord, destroyLabSync } from './cleanup.js';

export const liveLabs = new Map<string, LabRecord>();
let hooksInstalled = false;

/** Teardown also when the test process exits early, throws, or is interrupted. */
export function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const destroyAll = (): void => {
    for (const record of liveLabs.values()) destroyLabSync(record);
    liveLabs.clear();
  };
  process.on('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      destroyAll();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** A host's nix.conf: only the lab cache, only its key, signatures required. */
export function hostNixConf(cacheUrl: string, publicKey: string): string {
  return [
    '# Written by the tsdeploy fleet lab: this host substitutes only from the lab cache and trusts only its key.',
    'sandbox = false',
    `substituters = ${cacheUrl}`,
    `trusted-public-keys = ${publicKey}`,
    'require-sigs = true',
    // The lab publishes right before hosts ask; a remembered "not there" would outlive the test.
    'narinfo-cache-negative-ttl = 0',
    // A cut link fails a substitution in seconds instead of minutes.
    'connect-timeout = 5',
    'stalled-download-timeout = 30',
    '',
  ].join('\n');
}

