// One command runner: argv arrays only (never a shell), a timeout, bounded output capture.
import { spawn } from 'node:child_process';
import { UserError } from './errors.js';

export interface CommandSpec {
  readonly argv: readonly [string, ...string[]];
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly input?: string;
  /** Called with each complete line of stdout or stderr, for logs and progress. */
  readonly onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** The program could not be started at all (missing, not executable). */
export class CommandSpawnError extends UserError {
  override name = 'CommandSpawnError' as const;
  constructor(readonly argv: readonly string[], override readonly cause: unknown) {
    super(`could not start ${argv[0] ?? '?'}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The program ran and failed. */
export class CommandExitError extends UserError {
  override name = 'CommandExitError' as const;
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    const how = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'a signal'}`;
    const tail = failureSummary(stderr);
    super(`${argv.join(' ')} ${how}${tail === '' ? '' : `: ${tail}`}`);
  }
}

export class CommandTimeoutError extends UserError {
  override name = 'CommandTimeoutError' as const;
  constructor(readonly argv: readonly string[], readonly timeoutMs: number) {
    super(`${argv.join(' ')} did not finish within ${Math.round(timeoutMs / 1000)}s and was killed`);
  }
}

/**
 * What a failed command said, in one line: its `error:` lines (Nix puts the cause, such as "No space
 * left on device", before the "build of … failed" that ends its output), the last three joined; else
 * its last line. At most 500 characters.
 */
export function failureSummary(stderr: string): string {
  const lines = stderr.trim().split('\n').map((line) => line.trim());
  const errors = [...new Set(lines.filter((line) => line.startsWith('error:')))].slice(-3);
  const summary = errors.length > 0 ? errors.join('; ') : (lines[lines.length - 1] ?? '');
  return summary.slice(0, 500);
}

const CAPTURE_LIMIT = 1024 * 1024;

/** Runs argv to completion; resolves with its output or rejects with one of the three errors above. */
export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = spec.argv;
    const child = spawn(program, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: spec.env === undefined ? process.env : { ...spec.env },
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    });
    const out = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };
    let timedOut = false;
    const timer =
      spec.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, spec.timeoutMs);
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (out[stream].length < CAPTURE_LIMIT) out[stream] += text;
      if (spec.onLine !== undefined) {
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) spec.onLine(stream, line);
      }
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.stdin.on('error', () => undefined);
    child.stdin.end(spec.input ?? '');
    child.on('error', (error) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(new CommandSpawnError(spec.argv, error));
    });
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      for (const stream of ['stdout', 'stderr'] as const) {
        if (spec.onLine !== undefined && partial[stream] !== '') spec.onLine(stream, partial[stream]);
      }
      if (timedOut) reject(new CommandTimeoutError(spec.argv, spec.timeoutMs ?? 0));
      else if (code === 0) resolve(out);
      else reject(new CommandExitError(spec.argv, code, signal, out.stderr, out.stdout));
    });
  });
}
