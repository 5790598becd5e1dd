// The tsdeploy-agent unit on a systemd lab host: NixOS's rendering of nixos-module/agent.nix, with only what a lab host must differ in rewritten.
import { readFileSync } from 'node:fs';

/** The unit as NixOS renders it from nixos-module/agent.nix (store paths in ExecStart and Environment). */
export const RENDERED_AGENT_UNIT = new URL('../nixos-module/rendered/tsdeploy-agent.service', import.meta.url).pathname;

/** Where a lab host keeps the agent's config (the module also links it there: environment.etc."tsdeploy/agent.json"). */
export const LAB_AGENT_CONFIG = '/etc/tsdeploy/agent.json';

/** The host's own tools: a lab host is Debian with nix-bin, not NixOS. */
export const LAB_HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LabAgentUnitOptions {
  /** argv of the agent program on a lab host: node, tsx's loader and the repo's agent/main.ts. */
  readonly agentArgv: readonly string[];
  readonly configPath?: string;
}

export interface Rewrite {
  readonly from: string;
  /** null: the line is dropped (an Environment entry pointing into a store the host does not have). */
  readonly to: string | null;
}

export interface LabAgentUnit {
  readonly text: string;
  /** Every line that differs from the rendering; all others are kept verbatim and in order. */
  readonly rewrites: readonly Rewrite[];
}

export class RenderedUnitError extends Error {
  override name = 'RenderedUnitError' as const;
}

function quoteArg(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Adapts the rendered unit to a lab host: ExecStart runs the repo's agent with the machine's node and reads
 * its config from /etc/tsdeploy; PATH is the host's; other Environment entries naming store paths
 * (LOCALE_ARCHIVE, TZDIR) are dropped. Everything else — restart policy, credentials, state directory,
 * X-RestartIfChanged, X-StopOnRemoval — is the module's, untouched.
 */
export function labAgentUnit(rendered: string, options: LabAgentUnitOptions): LabAgentUnit {
  const rewrites: Rewrite[] = [];
  const configPath = options.configPath ?? LAB_AGENT_CONFIG;
  let sawExecStart = false;
  const lines = rendered.split('\n').flatMap((line) => {
    const exec = /^ExecStart=\S+\/bin\/tsdeploy-agent run --config \S+$/.exec(line);
    if (exec !== null) {
      sawExecStart = true;
      const to = `ExecStart=${[...options.agentArgv, 'run', '--config', configPath].map(quoteArg).join(' ')}`;
      rewrites.push({ from: line, to });
      return [to];
    }
    const env = /^Environment="([A-Z_]+)=(.*)"$/.exec(line);
    if (env !== null && env[2]?.includes('/nix/store/') === true) {
      const to = env[1] === 'PATH' ? `Environment="PATH=${LAB_HOST_PATH}"` : null;
      rewrites.push({ from: line, to });
      return to === null ? [] : [to];
    }
    return [line];
  });
  if (!sawExecStart) throw new RenderedUnitError('the rendered tsdeploy-agent unit has no "ExecStart=…/bin/tsdeploy-agent run --config …" line');
  return { text: lines.join('\n'), rewrites };
}

export function readRenderedAgentUnit(): string {
  return readFileSync(RENDERED_AGENT_UNIT, 'utf8');
}
