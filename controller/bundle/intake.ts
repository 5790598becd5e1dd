// Where imported manifests and reports go: through the running server's own API, or, with no server, into the state directory under its lock.
import { UserError } from '../../shared/errors.js';
import type { PublicKey } from '../../shared/keys.js';
import { createControllerApi, errorOfBody, type ControllerApi } from '../http/client.js';
import { parseListen } from '../config.js';
import type { Refusal } from '../fleet/reply.js';
import { createFleetService, type FleetService } from '../fleet/service.js';
import { LockBusyError } from '../storage/file-lock.js';
import type { ControllerStore } from '../storage/store.js';

/** What became of one manifest or report. */
export type IntakeOutcome =
  | { readonly kind: 'stored' }
  | { readonly kind: 'same' }
  /** A report whose seq the controller already has: carried twice, or delivered directly meanwhile. */
  | { readonly kind: 'duplicate'; readonly error: string }
  | { readonly kind: 'refused'; readonly status: number; readonly error: string };

export interface StateIntake {
  /** "server": a controller holds the state directory, so everything goes through its HTTP API. */
  readonly mode: 'direct' | 'server';
  /** Same rules as POST /v1/manifests: signed by trusted keys, version grows, identical bytes are fine. */
  publishManifest(bytes: Uint8Array): Promise<IntakeOutcome>;
  /** Same rules as POST /v1/hosts/:host/reports: enrolled key's signature, growing seq. */
  submitReport(host: string, bytes: Uint8Array): Promise<IntakeOutcome>;
  close(): Promise<void>;
}

export class ServerRunningError extends UserError {
  override name = 'ServerRunningError' as const;
  constructor(readonly stateDir: string, readonly pid: number) {
    super(
      `a controller (process ${pid}) holds ${stateDir}; pass --controller URL (or a --config whose listen address reaches it) so the import goes through it`,
    );
  }
}

/** The URL the CLI reaches a server on, from its `listen` setting; null when the port is 0 (only known to the server). */
export function urlOfListen(listen: string): string | null {
  const address = parseListen(listen);
  if (address === null || address.port === 0) return null;
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** How an answer to a report upload counts: 202 stored, 409 (seq not greater) a duplicate, anything else refused. */
export function reportOutcome(status: number, error: string): IntakeOutcome {
  if (status === 202) return { kind: 'stored' };
  if (status === 409) return { kind: 'duplicate', error };
  return { kind: 'refused', status, error };
}

function errorOf(refusal: Refusal): string {
  const error = refusal.reply.body['error'];
  return typeof error === 'string' ? error : refusal.reason;
}

function refusedOf(refusal: Refusal): IntakeOutcome {
  return { kind: 'refused', status: refusal.reply.status, error: errorOf(refusal) };
}

export interface IntakeOptions {
  readonly store: ControllerStore;
  readonly trustedKeys: readonly PublicKey[];
  readonly threshold: number;
  /** Where a running server listens; null when unknown. */
  readonly controllerUrl: string | null;
  readonly now: () => Date;
}

/**
 * Takes the state directory's server lock when no server runs (a server started meanwhile waits for
 * nothing: it refuses to start until close()); otherwise talks to the server that holds it, whose
 * in-memory manifests and long-polls must learn of every change.
 */
export async function openIntake(options: IntakeOptions): Promise<StateIntake> {
  let release: () => Promise<void>;
  try {
    release = await options.store.lockForServer();
  } catch (error) {
    if (!(error instanceof LockBusyError)) throw error;
    if (options.controllerUrl === null) throw new ServerRunningError(options.store.stateDir, error.pid);
    return serverIntake(options.controllerUrl);
  }
  try {
    // Directories made here belong to the state directory's owner, so the server can write in them later.
    await options.store.ensureLayout();
    const { store, trustedKeys, threshold, now } = options;
    return directIntake(await createFleetService({ store, trustedKeys, threshold, now }), release);
  } catch (error) {
    await release();
    throw error;
  }
}

/** No server runs: the same fleet service the server uses, on the state directory this process holds. */
function directIntake(fleet: FleetService, release: () => Promise<void>): StateIntake {
  return {
    mode: 'direct',
    async publishManifest(bytes) {
      const decision = await fleet.publish(bytes);
      if (decision.kind === 'refuse') return refusedOf(decision);
      return { kind: decision.kind === 'same' ? 'same' : 'stored' };
    },
    async submitReport(host, bytes) {
      const decision = await fleet.acceptReport(host, bytes);
      if (decision.kind === 'refuse') return reportOutcome(decision.reply.status, errorOf(decision));
      return { kind: 'stored' };
    },
    async close() {
      try {
        await fleet.close();
      } finally {
        await release();
      }
    },
  };
}

function serverIntake(url: string): StateIntake {
  const api: ControllerApi = createControllerApi(url);
  return {
    mode: 'server',
    async publishManifest(bytes) {
      const answer = await api.postManifest(Buffer.from(bytes).toString('utf8'));
      if (answer.status === 201) return { kind: 'stored' };
      if (answer.status === 200) return { kind: 'same' };
      return { kind: 'refused', status: answer.status, error: errorOfBody(answer) };
    },
    async submitReport(host, bytes) {
      const answer = await api.postReport(host, bytes);
      return reportOutcome(answer.status, errorOfBody(answer));
    },
    close: () => api.close(),
  };
}
