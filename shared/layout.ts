// Where things live, on disk and in URLs: the one definition of the layout every part uses.
import { join } from 'node:path';

/** `v1/hosts/<host>/manifest`: the same relative path on a controller, a static mirror, an export and a bundle. */
export function manifestUrlPath(host: string): string {
  return `v1/hosts/${encodeURIComponent(host)}/manifest`;
}

/** `<base>/v1/hosts/<host>/manifest` for a controller or mirror URL (http(s):// or file://). */
export function manifestUrl(base: string, host: string): string {
  return `${base.replace(/\/+$/, '')}/${manifestUrlPath(host)}`;
}

const MANIFEST_URL_PATH_RE = /^v1\/hosts\/([^/]+)\/manifest$/;

/** The host a `v1/hosts/<host>/manifest` path names, or null for any other path (not decoded: bundles hold plain names). */
export function hostOfManifestUrlPath(path: string): string | null {
  return MANIFEST_URL_PATH_RE.exec(path)?.[1] ?? null;
}

/** `/v1/hosts/<host>/reports`, where an agent posts its signed reports. */
export function reportsUrlPath(host: string): string {
  return `/v1/hosts/${encodeURIComponent(host)}/reports`;
}

/** The files of the agent's state directory (`stateDir`, `/var/lib/tsdeploy-agent` under the NixOS module). */
export function agentStatePaths(stateDir: string) {
  return {
    /** The deployment journal, written before every effect. */
    journal: join(stateDir, 'journal.json'),
    /** One lock per state directory, held by `run` during a deployment and by `once` and `rollback`. */
    lock: join(stateDir, 'agent.lock'),
    /** The agent's public key as last enrolled, so enrollment is asked for once. */
    enrolled: join(stateDir, 'enrolled'),
    /** Signed reports waiting for delivery, one file each, and the outbox's counters. */
    outboxDir: join(stateDir, 'outbox'),
    outboxMeta: join(stateDir, 'outbox.json'),
    /** The GC root that keeps the desired closure alive while it is realised and probed. */
    desiredGcRoot: join(stateDir, 'gcroots', 'desired'),
    /** Paths and bytes done of the closure being fetched, for status. */
    realiseProgress: join(stateDir, 'realise-progress.json'),
    /** The agent's secret key file, `<key name>.secret` (its `.public` beside it). */
    secretKey: (keyName: string) => join(stateDir, `${keyName}.secret`),
  } as const;
}

/** The files of the controller's state directory besides its store (`controller/storage/store.ts` documents that part). */
export function controllerStatePaths(stateDir: string) {
  return {
    /** Held by a running server, so two never share one state directory. */
    serverLock: join(stateDir, 'controller.lock'),
    importLock: join(stateDir, 'locks', 'import.lock'),
    rolloutLock: join(stateDir, 'locks', 'rollout.lock'),
    /** The running or last rollout, and the manifests of its later waves, held until released. */
    rollout: join(stateDir, 'rollouts', 'current.json'),
    rolloutsDir: join(stateDir, 'rollouts'),
    /** A finished (completed or aborted) rollout, kept under its id. */
    finishedRollout: (id: string) => join(stateDir, 'rollouts', `${id}.json`),
    heldDir: join(stateDir, 'held'),
    held: (host: string) => join(stateDir, 'held', `${host}.json`),
    /** The version and time of the last imported bundle (a site controller's replay guard). */
    lastBundle: join(stateDir, 'last-bundle.json'),
    /** A site's binary cache, unless `cacheDir` puts it elsewhere. */
    nixCache: join(stateDir, 'nix-cache'),
  } as const;
}
