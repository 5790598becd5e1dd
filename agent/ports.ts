// The narrow interfaces the driver works through; adapters/ implements them, tests fake them.
import type { Activation } from '../shared/manifest.js';
import type { ActivationOverrun, HealthResult, HostFacts, Inhibitor, RealiseProgress, Report } from '../shared/report.js';
import type { ProbeResult } from './core/controller-outage.js';
import type { Journal } from './core/journal.js';
import type { DryRunPlan } from './core/preflight.js';
import type { RebootVerdict } from './core/reboot.js';
import type { GenerationLink } from './core/rollback-plan.js';

export interface ProfileState {
  readonly generation: number;
  readonly path: string;
}

/** Every Nix command the agent runs, and the links it reads. */
export interface Nix {
  dryRun(storePath: string): Promise<DryRunPlan | null>;
  /** `onLine` receives each line Nix prints (for realise progress). */
  realise(storePath: string, gcRoot: string, onLine?: (line: string) => void): Promise<void>;
  readProfile(profile: string): Promise<ProfileState | null>;
  /** The profile's generations that still exist, oldest first. */
  listGenerations(profile: string): Promise<GenerationLink[]>;
  setProfile(profile: string, storePath: string): Promise<ProfileState>;
  switchGeneration(profile: string, generation: number): Promise<ProfileState>;
  /** `nix-env --delete-generations`: the links go, so the garbage collector may reclaim their systems. */
  deleteGenerations(profile: string, generations: readonly number[]): Promise<void>;
  /** Removes the GC root `gcRoot` if it still points to `storePath`; true when it did. */
  dropRoot(gcRoot: string, storePath: string): Promise<boolean>;
  /** `onOverrun` hears of each time limit a still-running activation passes (`onActivationOverrun: "wait"`). */
  activate(systemPath: string, action: Activation, onOverrun?: (overrun: ActivationOverrun) => void): Promise<string>;
  /** The system that is running now (/run/current-system) and the one booted (/run/booted-system). */
  currentSystem(): Promise<string | null>;
  bootedSystem(): Promise<string | null>;
}

export type FetchResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'manifest'; readonly bytes: Uint8Array; readonly etag: string };

export interface ManifestSource {
  readonly kind: 'http' | 'file';
  /** Fetches the manifest; `waitSeconds` asks a controller to hold the request until something changes. */
  fetch(etag: string | null, waitSeconds: number): Promise<FetchResult>;
  close(): Promise<void>;
}

/** Where signed reports go: queued durably first, delivered when the controller can be reached. */
export interface ReportSink {
  enqueue(report: Omit<Report, 'seq'>): Promise<number>;
  /** Delivers what is queued; true when the queue is empty afterwards (false without a controller). */
  flush(): Promise<boolean>;
  /** Reports waiting for delivery. */
  queued(): Promise<number>;
}

export interface JournalStore {
  read(): Promise<Journal>;
  /** Durable when it resolves: the driver writes before every side effect. */
  write(journal: Journal): Promise<void>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/**
 * One round of the configured health checks; `controllerAccepts` backs the `controller` check. `scope`
 * `local` leaves the controller checks out (a generation rolled back to is never judged by the controller).
 */
export interface HealthProbe {
  run(controllerAccepts: () => Promise<{ ok: boolean; detail: string }>, scope?: 'all' | 'local'): Promise<HealthResult[]>;
}

/** Probes of the host's own network (binary caches, mirrors), run when only the controller check failed. */
export interface NetworkProbe {
  probe(): Promise<ProbeResult[]>;
}

/** Facts about the host for heartbeats and the pre-flight. */
export interface HostProbe {
  facts(): Promise<HostFacts | null>;
  /** Free bytes on the filesystem holding the Nix store, or null when unknown. */
  freeBytes(): Promise<number | null>;
  /** This boot's id; a different one than the journal recorded means the host rebooted. */
  bootId?(): Promise<string | null>;
  /** True while the host shuts down: an effect's result is then discarded and the next boot decides. */
  shuttingDown?(): Promise<boolean>;
}

/** What the reboot path needs of the host (agent/adapters/reboot.ts). */
export interface RebootPort {
  /** Whether `storePath`'s kernel, initrd or kernel modules differ from /run/booted-system's. */
  needed(storePath: string): Promise<RebootVerdict>;
  /** The inhibitor locks logind holds (`systemd-inhibit --list`); throws when they cannot be listed. */
  inhibitors(): Promise<Inhibitor[]>;
  /** `systemctl reboot`: resolves once systemd took the job. */
  reboot(): Promise<void>;
  /** A uniform draw in [0, 1) for the random delay. */
  random(): number;
}

/** Follows a realise: the lines Nix prints, measured against the dry run's plan (agent/adapters/realise-progress.ts). */
export interface RealiseProgressPort {
  /** Starts following the realise of `storePath`; `emit` is called at most every few seconds with what changed. */
  start(storePath: string, emit: (progress: RealiseProgress) => void): Promise<RealiseTracker>;
  /** The last progress of `storePath`'s realise, or null. */
  current(storePath: string): RealiseProgress | null;
}

export interface RealiseTracker {
  onLine(line: string): void;
  /** Stops following; `ok` says whether the realise succeeded. */
  finish(ok: boolean): Promise<void>;
}
