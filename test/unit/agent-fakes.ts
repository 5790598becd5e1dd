// An in-memory host for the driver's table tests: a Nix with generations, a journal store, a manifest
// source, a report sink and a clock, plus a way to "crash" the agent at any journal write.
import { parseAgentConfig, type AgentConfig } from '../../agent/config.js';
import { EMPTY_JOURNAL, JournalSchema, type Journal } from '../../agent/core/journal.js';
import { createAgent, type Agent, type AgentDeps } from '../../agent/driver.js';
import type { GenerationLink } from '../../agent/core/rollback-plan.js';
import type { Nix, ProfileState } from '../../agent/ports.js';
import type { Activation } from '../../shared/manifest.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';
import { createLogger } from '../../shared/log.js';
import type { HealthResult, Report } from '../../shared/report.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';

export const OLD = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-old';
export const NEW = '/nix/store/1d7q9yshkixydnik7y2rrm4x6s5bi4i0-nixos-system-new';
export const BAD = '/nix/store/2f8r0zsijjyzfpjl8z3ssn5y7s6cj5j1-nixos-system-bad';
export const SICK = '/nix/store/3g9s1aszkkz0gqkm9z4vvp6z8s7dk6k2-nixos-system-sick';

/** Thrown by the crash hook: the agent process "dies" right after a journal write. */
export class Crash extends Error {}

export interface FakeNix extends Nix {
  readonly generations: Map<number, string>;
  current: number | null;
  currentSystem_: string | null;
  calls: string[];
  /** Systems whose activation fails, and systems whose health checks fail. */
  readonly failsToActivate: Set<string>;
  readonly unhealthy: Set<string>;
  /**
   * Crashes the agent right after a command ran, before it could journal the result: the next
   * journal write throws. Counts per command kind ("set-profile", "activate").
   */
  readonly crashAfter: Map<string, number>;
  onCrashArmed: () => void;
  dryRunFails: boolean;
  /** The boot entry (`switch`, `boot`), the booted system and the boot's id: `reboot()` boots the entry. */
  bootEntry: string | null;
  booted: string | null;
  bootId: string;
  reboot(): void;
  /** Rounds of health checks run; and whether the host is shutting down (the shutdown ends the agent). */
  healthRuns: number;
  shuttingDown?: () => boolean;
}

function armCrash(nix: FakeNix, kind: string): void {
  const left = nix.crashAfter.get(kind) ?? 0;
  if (left > 0) {
    nix.crashAfter.set(kind, left - 1);
    nix.onCrashArmed();
  }
}

export function createFakeNix(initial: readonly string[] = [OLD]): FakeNix {
  const generations = new Map<number, string>();
  initial.forEach((path, i) => generations.set(i + 1, path));
  const profile = (nix: FakeNix): ProfileState | null => {
    if (nix.current === null) return null;
    const path = nix.generations.get(nix.current);
    return path === undefined ? null : { generation: nix.current, path };
  };
  const nix: FakeNix = {
    generations,
    current: initial.length === 0 ? null : initial.length,
    currentSystem_: initial.at(-1) ?? null,
    bootEntry: initial.at(-1) ?? null,
    booted: initial.at(-1) ?? null,
    bootId: 'boot-1',
    healthRuns: 0,
    reboot() {
      nix.booted = nix.bootEntry;
      nix.currentSystem_ = nix.bootEntry;
      nix.bootId = `boot-${Number(nix.bootId.slice('boot-'.length)) + 1}`;
    },
    calls: [],
    failsToActivate: new Set(),
    unhealthy: new Set(),
    crashAfter: new Map(),
    onCrashArmed: () => undefined,
    dryRunFails: false,
    async dryRun(storePath) {
      nix.calls.push(`dry-run ${storePath}`);
      if (nix.dryRunFails) throw new Error('nix-store exited with code 1');
      return { paths: 3, downloadBytes: 1024, unpackedBytes: 4096 };
    },
    async realise(storePath) {
      nix.calls.push(`realise ${storePath}`);
    },
    async readProfile() {
      return profile(nix);
    },
    async listGenerations(): Promise<GenerationLink[]> {
      return [...nix.generations].map(([generation, path]) => ({ generation, path })).sort((a, b) => a.generation - b.generation);
    },
    async setProfile(_profile, storePath) {
      nix.calls.push(`set-profile ${storePath}`);
      const next = Math.max(0, ...nix.generations.keys()) + 1;
      nix.generations.set(next, storePath);
      nix.current = next;
      armCrash(nix, 'set-profile');
      return { generation: next, path: storePath };
    },
    async switchGeneration(_profile, generation) {
      nix.calls.push(`switch-generation ${generation}`);
      const path = nix.generations.get(generation);
      if (path === undefined) throw new Error(`no generation ${generation}`);
      nix.current = generation;
      return { generation, path };
    },
    async deleteGenerations(_profile, numbers) {
      nix.calls.push(`delete-generations ${numbers.join(' ')}`);
      for (const generation of numbers) {
        if (generation === nix.current) throw new Error(`cannot delete the current generation ${generation}`);
        nix.generations.delete(generation);
      }
    },
    async dropRoot(_gcRoot, storePath) {
      nix.calls.push(`drop-root ${storePath}`);
      return true;
    },
    async activate(systemPath: string, action: Activation) {
      nix.calls.push(`activate ${systemPath} ${action}`);
      if (action === 'switch' || action === 'test') nix.currentSystem_ = systemPath;
      if (action === 'switch' || action === 'boot') nix.bootEntry = systemPath;
      armCrash(nix, 'activate');
      if (nix.failsToActivate.has(systemPath)) throw new Error('switch-to-configuration exited with code 1');
      return '';
    },
    async currentSystem() {
      return nix.currentSystem_;
    },
    async bootedSystem() {
      return nix.booted;
    },
  };
  return nix;
}

export interface World {
  readonly nix: FakeNix;
  readonly config: AgentConfig;
  /** The journal as it is "on disk": every write goes through the schema, as a file would. */
  journal: Journal;
  readonly reports: Omit<Report, 'seq'>[];
  /** The manifest the source serves next. */
  serve(version: number, storePath: string, activation?: Activation): void;
  /** A fresh agent process on the same host; `crashAt` kills it right after that phase is journaled; `overrides` replaces deps. */
  agent(crashAt?: string, overrides?: Partial<AgentDeps>): Agent;
  now: number;
  /** More ports for the agents made from now on (the reboot path's, realise progress). */
  extra: Partial<Pick<AgentDeps, 'reboot' | 'progress'>>;
}

const release = generateKeyPair('release-1');

export function createWorld(nix: FakeNix = createFakeNix()): World {
  const config = parseAgentConfig({
    host: 'web-1',
    source: 'http://127.0.0.1:9',
    trustedKeys: [formatPublicKey(release.public)],
    stateDir: '/var/empty/tsdeploy-test',
    minFreeBytes: 0,
    // The tables in agent-driver.test.ts pin the flow without probation; agent-driver-probation.test.ts sets it.
    probation: false,
    health: { checks: [], timeoutSeconds: 4, stableSeconds: 1, intervalSeconds: 1 },
  });
  let served: Uint8Array | null = null;
  let crashOnNextWrite = false;
  nix.onCrashArmed = () => {
    crashOnNextWrite = true;
  };
  let etag = 0;
  const world: World = {
    nix,
    config,
    journal: EMPTY_JOURNAL,
    reports: [],
    now: Date.parse('2026-11-22T12:00:00Z'),
    extra: {},
    serve(version, storePath, activation = 'switch') {
      const manifest = buildManifest({
        host: 'web-1',
        storePath,
        version,
        activation,
        expiresInMs: 7 * 86_400_000,
        system: 'x86_64-linux',
        now: new Date(world.now),
      });
      served = Buffer.from(signManifest(manifest, [release.secret]));
      etag += 1;
    },
    agent(crashAt, overrides = {}) {
      let crashed = false;
      return createAgent({
        config,
        log: createLogger('test', 'silent'),
        nix,
        source: {
          kind: 'http',
          fetch: async () => (served === null ? { kind: 'none' } : { kind: 'manifest', bytes: served, etag: `"${etag}"` }),
          close: async () => undefined,
        },
        reports: {
          enqueue: async (report) => world.reports.push(report),
          flush: async () => true,
          queued: async () => 0,
        },
        journal: {
          read: async () => world.journal,
          write: async (journal) => {
            if (crashOnNextWrite) {
              crashOnNextWrite = false;
              throw new Crash('crashed after a command, before journaling its result');
            }
            world.journal = JournalSchema.parse(JSON.parse(JSON.stringify(journal)));
          },
        },
        health: {
          run: async (): Promise<HealthResult[]> => {
            nix.healthRuns += 1;
            const ok = nix.currentSystem_ !== null && !nix.unhealthy.has(nix.currentSystem_);
            return [{ name: 'service', type: 'http', ok, detail: ok ? '200' : '500' }];
          },
        },
        host: {
          facts: async () => null,
          freeBytes: async () => 1 << 30,
          bootId: async () => nix.bootId,
          shuttingDown: async () => {
            if (nix.shuttingDown?.() === true) throw new Crash('the shutdown ended the agent');
            return false;
          },
        },
        clock: {
          now: () => new Date(world.now),
          sleep: async (ms) => {
            world.now += ms;
          },
        },
        trustedKeys: [release.public],
        hasController: true,
        ...world.extra,
        afterPersist: async (journal) => {
          if (!crashed && crashAt !== undefined && journal.deployment?.phase === crashAt) {
            crashed = true;
            throw new Crash(`crashed after journaling ${crashAt}`);
          }
        },
        ...overrides,
      });
    },
  };
  return world;
}
