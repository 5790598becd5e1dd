// Rollouts on disk: rollouts/current.json (the one in progress), rollouts/<id>.json once it ended, and
// held/<host>.json, the signed manifests of waves not yet released (exact bytes, never served).
import { rm } from 'node:fs/promises';
import { fsyncDirectory, writeFileAtomic } from '../../shared/files.js';
import { isHostName } from '../../shared/validate.js';
import { RolloutSchema, type Rollout } from '../rollout/policy.js';
import { acquireFileLock } from './file-lock.js';
import { readOptional } from './state-files.js';
import { readJson, StateFileError } from './store.js';
import { controllerStatePaths } from '../../shared/layout.js';

export interface RolloutStore {
  current(): Promise<Rollout | null>;
  /** Durable when it resolves; an ended rollout is also kept as rollouts/<id>.json. */
  write(rollout: Rollout): Promise<void>;
  readHeld(host: string): Promise<Uint8Array | null>;
  writeHeld(host: string, bytes: Uint8Array): Promise<void>;
  removeHeld(host: string): Promise<void>;
  /** Serialises read-decide-write with the server and the `rollout` command (a lock file shared across processes). */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
}

const LOCK_WAIT_MS = 10_000;

export function createRolloutStore(stateDir: string): RolloutStore {
  const paths = controllerStatePaths(stateDir);
  const heldPath = (host: string) => {
    if (!isHostName(host)) throw new StateFileError(host, 'not a host name');
    return paths.held(host);
  };
  return {
    current: () => readJson(paths.rollout, RolloutSchema),
    async write(rollout) {
      const text = `${JSON.stringify(rollout, null, 2)}\n`;
      if (rollout.state === 'completed' || rollout.state === 'aborted') await writeFileAtomic(paths.finishedRollout(rollout.id), text, 0o644);
      await writeFileAtomic(paths.rollout, text, 0o644);
    },
    readHeld: async (host) => {
      const bytes = await readOptional(heldPath(host));
      return bytes === null ? null : new Uint8Array(bytes);
    },
    writeHeld: (host, bytes) => writeFileAtomic(heldPath(host), bytes, 0o644),
    async removeHeld(host) {
      await rm(heldPath(host), { force: true });
      await fsyncDirectory(paths.heldDir).catch(() => undefined);
    },
    async withLock(fn) {
      const release = await acquireFileLock(paths.rolloutLock, LOCK_WAIT_MS);
      try {
        return await fn();
      } finally {
        await release();
      }
    },
  };
}
