// A program's state directory, checked before use: a file in its place, a read-only mount or missing
// permissions is one line naming the directory and what to do, never a stack trace.
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { EnvironmentError, errnoCode } from './errors.js';

/** What a command does with the directory: only reads it (`status`, `hosts list`), or also writes. */
export type StateDirAccess = 'read' | 'write';

/** The state directory cannot be used as it is; `code` is the errno (or NOTDIR for a file in its place). */
export class StateDirError extends EnvironmentError {
  override name = 'StateDirError' as const;
  constructor(readonly path: string, readonly code: string, readonly detail: string) {
    super(`state directory ${path} ${detail}`);
  }
}

export interface StateDirOptions {
  readonly access: StateDirAccess;
  /** Make it (and its parents) when it does not exist; otherwise a missing directory is reported as 'missing'. */
  readonly create: boolean;
  /** How the operator names another directory, for the advice: "stateDir in the config", "--state-dir DIR". */
  readonly setting: string;
}

function user(): string {
  return typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'this user';
}

/** The one line for an errno met on the state directory itself. */
export function stateDirError(path: string, error: unknown, options: Pick<StateDirOptions, 'access' | 'setting'>): StateDirError {
  const code = errnoCode(error) ?? 'UNKNOWN';
  const elsewhere = `or set ${options.setting} to another directory`;
  switch (code) {
    case 'ENOTDIR':
    case 'EEXIST':
      return new StateDirError(path, code, `is not a directory (a file is in its place, or in a parent's): move the file aside, ${elsewhere}`);
    case 'EROFS':
      return new StateDirError(path, code, `is on a read-only file system (EROFS): remount it read-write, ${elsewhere}`);
    case 'EACCES':
    case 'EPERM':
      return new StateDirError(
        path,
        code,
        `cannot be ${options.access === 'read' ? 'read' : 'written'} by ${user()} (${code}): run as root or as the directory's owner, or give it to this user (chown)`,
      );
    case 'ENOSPC':
      return new StateDirError(path, code, `cannot be written: no space left on its file system (ENOSPC)`);
    default:
      return new StateDirError(path, code, `cannot be used (${code}): check it, ${elsewhere}`);
  }
}

/**
 * Checks that `path` is a directory this process can read (and write, for `access: 'write'`), making it
 * first when asked. Resolves 'missing' when it does not exist and `create` is false.
 */
export async function checkStateDir(path: string, options: StateDirOptions): Promise<'ok' | 'missing'> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw stateDirError(path, error, options);
    if (!options.create) return 'missing';
    try {
      await mkdir(path, { recursive: true });
    } catch (mkdirError) {
      throw stateDirError(path, mkdirError, options);
    }
    isDirectory = true;
  }
  if (!isDirectory) throw stateDirError(path, Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), options);
  const mode = options.access === 'read' ? constants.R_OK | constants.X_OK : constants.R_OK | constants.W_OK | constants.X_OK;
  try {
    await access(path, mode);
  } catch (error) {
    throw stateDirError(path, error, options);
  }
  return 'ok';
}
