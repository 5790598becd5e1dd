// What the controller's composition root builds and what it needs: the HTTP server's outside view.
import type { Logger } from '../../shared/log.js';
import type { ControllerConfig, ListenAddress } from '../config.js';
import type { FleetSnapshot } from '../fleet/fleet-view.js';
import type { StatusResponse } from '../fleet/host-status.js';
import type { ControllerStore } from '../storage/store.js';

export interface ControllerDeps {
  readonly config: ControllerConfig;
  readonly store: ControllerStore;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export interface Controller {
  /** Binds (port 0 picks a free port) and resolves with the address actually bound. */
  listen(address: ListenAddress): Promise<{ address: string; port: number }>;
  /** Answers held long-polls, stops accepting, waits for open requests, releases the state directory. */
  close(): Promise<void>;
  /** Long-polls currently held; for tests that check a disconnect releases its waiter. */
  waiters(): number;
  /** The fleet status exactly as GET /v1/status returns it. */
  status(): Promise<StatusResponse>;
  /** The in-memory fleet view as plain data (tests compare it with a fresh load from disk). */
  fleetSnapshot(): Promise<FleetSnapshot>;
}
