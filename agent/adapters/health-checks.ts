// Health check effects (http, tcp, command, systemd, controller) and the parsing of systemctl's output.
import { connect } from 'node:net';
import { request } from 'undici';
import { runCommand, CommandExitError } from '../../shared/command.js';
import { errorMessage } from '../../shared/errors.js';
import type { HealthResult } from '../../shared/report.js';
import type { HealthCheck } from '../config.js';

/** The default name of a check in reports: its type and target. */
export function checkName(check: HealthCheck): string {
  if (check.name !== undefined) return check.name;
  switch (check.type) {
    case 'http':
      return `http ${check.url}`;
    case 'tcp':
      return `tcp ${check.host}:${check.port}`;
    case 'command':
      return `command ${check.argv[0] ?? ''}`;
    case 'systemd':
      return 'systemd';
    case 'controller':
      return 'controller';
  }
}

/** The state word printed by `systemctl is-system-running` (running, degraded, starting, …). */
export function parseSystemRunning(stdout: string): string {
  return stdout.trim().split('\n')[0]?.trim() ?? '';
}

/** Unit names from `systemctl list-units --state=failed --plain --no-legend --no-pager`. */
export function parseFailedUnits(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.replace(/^[●*×]\s*/u, '').trim())
    .filter((line) => line !== '' && !line.startsWith('0 loaded units'))
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((unit) => unit !== '');
}

/** Decides the systemd check from the two outputs. */
export function judgeSystemd(state: string, failedUnits: readonly string[], allowDegraded: boolean): { ok: boolean; detail: string } {
  if (state === 'running' && failedUnits.length === 0) return { ok: true, detail: 'running' };
  if (state === 'degraded' && allowDegraded) return { ok: true, detail: `degraded (allowed): ${failedUnits.join(' ')}` };
  const units = failedUnits.length > 0 ? `; failed units: ${failedUnits.join(' ')}` : '';
  return { ok: false, detail: `system is ${state === '' ? 'unknown' : state}${units}` };
}

async function outputOf(argv: [string, ...string[]], timeoutMs: number): Promise<string> {
  try {
    return (await runCommand({ argv, timeoutMs })).stdout;
  } catch (error) {
    // is-system-running exits non-zero for every state but "running"; its answer is still on stdout.
    if (error instanceof CommandExitError && error.code !== null) return error.stdout;
    throw error;
  }
}

export interface CheckContext {
  /** Sends a signed report to the controller and resolves true when it was accepted. */
  readonly controllerAccepts: () => Promise<{ ok: boolean; detail: string }>;
}

async function runOne(check: HealthCheck, context: CheckContext): Promise<{ ok: boolean; detail: string }> {
  const timeoutMs = check.timeoutSeconds * 1000;
  switch (check.type) {
    case 'http': {
      const response = await request(check.url, {
        method: 'GET',
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const ok =
        check.expectStatus !== undefined ? response.statusCode === check.expectStatus : response.statusCode >= 200 && response.statusCode < 300;
      return { ok, detail: `HTTP ${response.statusCode}` };
    }
    case 'tcp':
      return new Promise((resolve) => {
        const socket = connect({ host: check.host, port: check.port });
        const done = (ok: boolean, detail: string) => {
          socket.destroy();
          resolve({ ok, detail });
        };
        socket.setTimeout(timeoutMs, () => done(false, 'timed out'));
        socket.once('connect', () => done(true, 'connected'));
        socket.once('error', (error) => done(false, error.message));
      });
    case 'command': {
      const [program, ...args] = check.argv;
      await runCommand({ argv: [program ?? '', ...args], timeoutMs });
      return { ok: true, detail: 'exit 0' };
    }
    case 'systemd': {
      const state = parseSystemRunning(await outputOf(['systemctl', 'is-system-running'], timeoutMs));
      const failed = parseFailedUnits(
        await outputOf(['systemctl', 'list-units', '--state=failed', '--plain', '--no-legend', '--no-pager'], timeoutMs),
      );
      return judgeSystemd(state, failed, check.allowDegraded);
    }
    case 'controller':
      return context.controllerAccepts();
  }
}

/** Resolves with a failure once a check has run past its own timeout, whatever it is waiting on. */
function deadline(seconds: number): { promise: Promise<{ ok: boolean; detail: string }>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<{ ok: boolean; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${seconds}s` }), seconds * 1000);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Runs every check once, concurrently; a check that throws or overruns its timeout fails. */
export async function runChecks(checks: readonly HealthCheck[], context: CheckContext): Promise<HealthResult[]> {
  return Promise.all(
    checks.map(async (check) => {
      let outcome: { ok: boolean; detail: string };
      const limit = deadline(check.timeoutSeconds);
      try {
        outcome = await Promise.race([runOne(check, context), limit.promise]);
      } catch (error) {
        outcome = { ok: false, detail: errorMessage(error).slice(0, 500) };
      } finally {
        limit.cancel();
      }
      return { name: checkName(check), type: check.type, ok: outcome.ok, detail: outcome.detail };
    }),
  );
}
