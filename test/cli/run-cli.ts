// Runs the real programs (agent/main.ts, controller/main.ts through tsx) as child processes, argv arrays only.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Program = 'tsdeploy-agent' | 'tsdeploy-controller';

export const ENTRY: Record<Program, string> = {
  'tsdeploy-agent': 'agent/main.ts',
  'tsdeploy-controller': 'controller/main.ts',
};

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Node running TypeScript (tsx), as the tests run every program and helper. */
export const NODE_TSX: readonly string[] = [process.execPath, '--import', 'tsx'];

/** The argv that runs `program` with `args`: node with tsx, the program's main module. */
export function programArgv(program: Program, args: readonly string[]): string[] {
  return [...NODE_TSX, `${ROOT}${ENTRY[program]}`, ...args];
}

/** Runs `argv` (the first element is the executable) from the repository root and collects its output. */
export function runArgv(argv: readonly string[], options: { readonly uid?: number; readonly gid?: number } = {}): Promise<CliRun> {
  const [file, ...rest] = argv;
  if (file === undefined) throw new Error('empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(file, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function runProgram(program: Program, args: readonly string[], options: { readonly uid?: number; readonly gid?: number } = {}): Promise<CliRun> {
  return runArgv(programArgv(program, args), options);
}

/** Runs `jobs` at most `width` at a time (the CI machine has two cores), keeping their order. */
export async function inBatches<T>(jobs: ReadonlyArray<() => Promise<T>>, width: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < jobs.length; i += width) {
    results.push(...(await Promise.all(jobs.slice(i, i + width).map((job) => job()))));
  }
  return results;
}
