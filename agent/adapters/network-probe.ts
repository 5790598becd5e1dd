// Probes of the host's own network: which targets (the host's Nix substituters, from `nix show-config`, and
// the mirrors), and whether each answers at all. Used only when the `controller` check alone failed.
import { request } from 'undici';
import { runCommand } from '../../shared/command.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { networkProbeTargets, type ProbeResult } from '../core/controller-outage.js';
import type { NetworkProbe } from '../ports.js';
import { showConfigArgs } from './nix.js';

/** The substituters in `nix show-config --json` output; [] when it has none or is not that output. */
export function parseSubstituters(stdout: string): string[] {
  try {
    const settings = JSON.parse(stdout) as { substituters?: { value?: unknown } };
    const value = settings.substituters?.value;
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

/** GETs `url`: any HTTP answer, whatever its status, shows the network reaches it. */
export async function probeUrl(url: string, timeoutMs: number): Promise<ProbeResult> {
  try {
    const response = await request(url, {
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    return { target: url, ok: true, detail: `answered HTTP ${response.statusCode}` };
  } catch (error) {
    return { target: url, ok: false, detail: errorMessage(error).slice(0, 300) };
  }
}

export interface NetworkProbeOptions {
  readonly configured: readonly string[] | undefined;
  readonly mirrors: readonly string[];
  /** The controller's URL: never probed, since it is what is in question. */
  readonly controller: string | null;
  readonly timeoutMs: number;
  readonly log: Logger;
}

export function createNetworkProbe(options: NetworkProbeOptions): NetworkProbe {
  const substituters = async (): Promise<string[]> => {
    if (options.configured !== undefined) return [];
    try {
      return parseSubstituters((await runCommand({ argv: showConfigArgs(), timeoutMs: 30_000 })).stdout);
    } catch (error) {
      options.log.warn({ err: errorMessage(error) }, 'cannot read the Nix substituters to probe the network');
      return [];
    }
  };
  return {
    async probe() {
      const targets = networkProbeTargets(options.configured, await substituters(), options.mirrors, options.controller);
      return Promise.all(targets.map((target) => probeUrl(target, options.timeoutMs)));
    },
  };
}
