// The fault tests' site: a lab with the real controller, one agent host deploying good systems, and the
// helpers that inject a fault (a failing wrapper on PATH, a setUp/tearDown), deploy under it and check the end.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Deployment } from '../../agent/core/journal.js';
import { AGENT_MAIN, createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import type { SystemVariant } from '../lab/systems.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, waitForDeployment, waitForHostState, writeAgentConfig, type LabController, type ReleaseKey } from './harness.js';

/** The lab hosts' PATH (test/lab/netns.ts), behind which a fault's wrapper directory is put. */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A wrapper that fails the command when its arguments match `when`, and runs the real one otherwise. */
export function failingWrapper(program: string, when: string, message: string): string {
  return ['#!/bin/sh', `case " $* " in`, `  ${when}) echo "${message}" >&2; exit 1 ;;`, 'esac', `exec /usr/bin/${program} "$@"`, ''].join('\n');
}

export interface Fault {
  /** The agent's environment while the fault lasts (a wrapper directory first on PATH). */
  readonly env?: Record<string, string>;
  /** Before the agent starts, with the system about to be published. */
  readonly setUp?: (path: string) => Promise<void>;
  readonly tearDown?: () => Promise<void>;
  /** Settings merged into the agent's config while the fault lasts (e.g. `{ probation: false }`). */
  readonly agentConfig?: Record<string, unknown>;
  /** After the deployment ended, the agent runs on until its log says this (what it does after the end, such as tidying). */
  readonly waitForLog?: RegExp;
}

export interface FaultSite {
  readonly lab: Lab;
  readonly key: ReleaseKey;
  readonly controller: LabController;
  readonly host: LabHost;
  /** The version last published to `host`, and the system it runs. */
  readonly version: number;
  readonly current: string;
  /** Counts the faults injected, naming their systems and logs. */
  nextFault(): number;
  /** Publishes `path` as the next version; returns that version. */
  publish(path: string): Promise<number>;
  /** The host runs `path` from now on (a deployment the test drove itself was confirmed). */
  ran(path: string): void;
  /** Starts the agent (`run`) with `env`; returns the file its log goes to. */
  startAgent(env?: Record<string, string>, label?: string): string;
  stopAgent(): Promise<void>;
  /** A directory holding one executable `name`, to put first on the agent's PATH. */
  wrapperDir(name: string, script: string): Promise<string>;
  /** Publishes a new `variant` system under `fault` and returns the deployment it ended with (the agent stopped). */
  deployUnder(fault: Fault, variant?: SystemVariant): Promise<{ deployment: Deployment; path: string }>;
  /** The host is whole on the previous generation, the journal is terminal, and the controller heard why. */
  assertFailedCleanly(deployment: Deployment, reason: RegExp): Promise<void>;
  /** With the fault gone, the next version deploys and is confirmed. */
  assertRecovers(): Promise<void>;
  teardown(): Promise<void>;
}

/** A lab of `hosts` hosts (the first one the agent's), whose first host runs a confirmed good system. */
export async function createFaultSite(name: string, hosts = 1): Promise<FaultSite> {
  const lab = await createLab({ hosts, name });
  const host = lab.hosts[0] as LabHost;
  let key: ReleaseKey;
  let controller: LabController | null = null;
  let config: string;
  try {
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    config = await writeAgentConfig(host, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      extra: { enrollmentTokenFile: await controller.tokenFileFor(host), minFreeBytes: 0 },
    });
  } catch (error) {
    await controller?.kill();
    await lab.teardown();
    throw error;
  }
  return startSite(name, lab, host, key, controller, config);
}

async function startSite(name: string, lab: Lab, host: LabHost, key: ReleaseKey, controller: LabController, config: string): Promise<FaultSite> {
  let agent: LabProcess | null = null;
  let version = 0;
  let current = '';
  let faultNumber = 0;

  const startAgent = (env: Record<string, string> = {}, label = 'run'): string => {
    const logFile = join(host.dir, `agent-${version}-${label}.log`);
    agent = host.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', config], { env, logFile });
    return logFile;
  };
  const stopAgent = async (): Promise<void> => {
    const running = agent;
    if (running === null) return;
    agent = null;
    running.kill('SIGTERM');
    await running.exited;
  };
  const publish = async (path: string): Promise<number> => {
    version += 1;
    assert.equal((await controller.publish(key, host.name, path)).code, 0);
    return version;
  };

  const site: FaultSite = {
    lab,
    key,
    controller,
    host,
    get version() {
      return version;
    },
    get current() {
      return current;
    },
    nextFault: () => (faultNumber += 1),
    publish,
    ran: (path) => void (current = path),
    startAgent,
    stopAgent,
    async wrapperDir(program, script) {
      const dir = join(host.dir, `fault-bin-${faultNumber + 1}-${program}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, program), script);
      await chmod(join(dir, program), 0o755);
      return dir;
    },
    async deployUnder(fault, variant = 'good') {
      await stopAgent();
      const number = site.nextFault();
      const path = await lab.buildSystem(variant, `faults-${name}-${number}`);
      await fault.setUp?.(path);
      const settings = await readFile(config, 'utf8');
      if (fault.agentConfig !== undefined) await writeFile(config, JSON.stringify({ ...(JSON.parse(settings) as Record<string, unknown>), ...fault.agentConfig }));
      try {
        const logFile = startAgent(fault.env ?? {}, `fault-${number}`);
        const published = await publish(path);
        const deployment = await waitForDeployment(host, published, ['confirmed', 'rolled-back', 'failed'], 240_000);
        const wanted = fault.waitForLog;
        if (wanted !== undefined) await waitFor(`the agent log to say ${String(wanted)}`, async () => (wanted.test(await readFile(logFile, 'utf8')) ? true : undefined));
        return { deployment, path };
      } finally {
        await stopAgent();
        await writeFile(config, settings);
        await fault.tearDown?.();
      }
    },
    async assertFailedCleanly(deployment, reason) {
      assert.ok(['failed', 'rolled-back'].includes(deployment.phase), `phase ${deployment.phase}`);
      assert.match(deployment.reason ?? '', reason);
      const journal = await journalOf(host);
      assert.equal(journal.deployment?.version, version);
      assert.equal(await host.currentSystem(), current, 'still running the previous generation');
      const generations = await host.profileGenerations();
      assert.equal(generations.find((generation) => generation.current)?.path, current, 'the profile points at a whole generation');
      assert.equal((await host.healthStatus())?.status, 200);
      startAgent({}, `report-${faultNumber}`);
      const status = await waitForHostState(controller, host.name, deployment.phase === 'failed' ? 'failed' : 'rolled-back');
      assert.match(status.error ?? '', reason);
    },
    async assertRecovers() {
      await stopAgent();
      const path = await lab.buildSystem('good', `faults-${name}-${faultNumber}-after`);
      startAgent({}, `after-${faultNumber}`);
      const deployment = await waitForDeployment(host, await publish(path), ['confirmed', 'rolled-back', 'failed'], 240_000);
      assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
      assert.equal(await host.currentSystem(), path);
      current = path;
    },
    async teardown() {
      await stopAgent();
      await controller.kill();
      await lab.teardown();
    },
  };
  try {
    startAgent();
    current = await lab.buildSystem('good', `faults-${name}-base`);
    await publish(current);
    await waitForHostState(controller, host.name, 'in-sync');
  } catch (error) {
    await site.teardown();
    throw error;
  }
  return site;
}
