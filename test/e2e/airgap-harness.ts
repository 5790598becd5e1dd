// The central side of the air-gap tests: the controller CLI in the machine's root namespace, and state snapshots.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandExitError, runCommand } from '../../shared/command.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { CONTROLLER_MAIN } from './harness.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `tsdeploy-controller <args>` in the machine's root namespace: the central side, which cannot reach the lab. */
export async function centralCli(args: readonly string[], timeoutMs = 300_000): Promise<CliResult> {
  try {
    const result = await runCommand({ argv: [process.execPath, '--import', TSX_IMPORT, CONTROLLER_MAIN, ...args], timeoutMs });
    return { code: 0, ...result };
  } catch (error) {
    if (error instanceof CommandExitError) return { code: error.code, stdout: error.stdout, stderr: error.stderr };
    throw error;
  }
}

/** Every file under `dir` with its bytes, to show that a refused import changed nothing. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string): Promise<void> => {
    const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(sub, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.set(path, (await readFile(join(dir, path))).toString('base64'));
    }
  };
  await walk('.');
  return out;
}
