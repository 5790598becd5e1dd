// `hosts list|approve|revoke` and `tokens create`: act on the controller's state directory directly.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EXIT, optionalFlag, parseFlags, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { UserError } from '../../shared/errors.js';
import { approveHost, createToken, revokeHost } from '../admin.js';
import { loadControllerConfig } from '../config.js';
import { createFileStore, type ControllerStore } from '../store.js';

type Out = (text: string) => void;

export const DEFAULT_STATE_DIR = '/var/lib/tsdeploy-controller';

export class NoStateDirError extends UserError {
  override name = 'NoStateDirError' as const;
  constructor(readonly stateDir: string) {
    super(`no controller state directory at ${stateDir}: start the controller once, or pass --state-dir DIR or --config FILE`);
  }
}

const STATE_FLAGS = { 'state-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } } as const;

/** --state-dir, else the stateDir of --config, else the default. */
export async function stateDirOf(values: Record<string, unknown>): Promise<string> {
  const flag = optionalFlag(values, 'state-dir');
  if (flag !== undefined) return resolve(flag);
  const config = optionalFlag(values, 'config');
  if (config !== undefined) return (await loadControllerConfig(config)).stateDir;
  return DEFAULT_STATE_DIR;
}

/**
 * Opens an existing state directory. Run as root on a directory owned by the service's user,
 * new files are given to that user so the server can still replace them.
 */
export async function openStateDir(stateDir: string, uid: number | null): Promise<ControllerStore> {
  const info = await stat(stateDir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new NoStateDirError(stateDir);
  const owner = uid === 0 && info.uid !== 0 ? { uid: info.uid, gid: info.gid } : undefined;
  return createFileStore(stateDir, { maxLogBytes: 1024 * 1024, keepRotated: 3 }, owner === undefined ? {} : { owner });
}

export const HOSTS_USAGE =
  'Usage: tsdeploy-controller hosts list [--json] [--state-dir DIR | --config FILE]\n' +
  '       tsdeploy-controller hosts approve HOST [--key NAME:BASE64] [--state-dir DIR | --config FILE]\n' +
  '       tsdeploy-controller hosts revoke HOST [--state-dir DIR | --config FILE]\n';

export async function hostsCommand(args: readonly string[], io: { out: Out; now: () => Date; uid: number | null }): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, { ...STATE_FLAGS, json: { type: 'boolean' }, key: { type: 'string' } });
  if (sub === undefined || sub === '--help' || values.help === true) {
    io.out(HOSTS_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const store = await openStateDir(await stateDirOf(values), io.uid);
  switch (sub) {
    case 'list': {
      if (positionals.length > 0) throw new UsageError('hosts list takes no arguments');
      const records = await store.listHosts();
      if (values.json === true) {
        io.out(`${JSON.stringify({ hosts: records }, null, 2)}\n`);
        return EXIT.ok;
      }
      if (records.length === 0) {
        io.out('no hosts have asked to enroll yet\n');
        return EXIT.ok;
      }
      const width = Math.max(4, ...records.map((r) => r.host.length));
      io.out(`${'HOST'.padEnd(width)}  ${'STATUS'.padEnd(8)}  KEY\n`);
      for (const r of records) io.out(`${r.host.padEnd(width)}  ${r.status.padEnd(8)}  ${r.publicKey}\n`);
      return EXIT.ok;
    }
    case 'approve':
    case 'revoke': {
      if (positionals.length !== 1) throw new UsageError(`hosts ${sub} takes exactly one HOST`);
      const host = positionals[0] ?? '';
      if (sub === 'approve') {
        const { record, changed } = await approveHost(store, host, optionalFlag(values, 'key'), io.now());
        io.out(changed ? `${host}: enrolled (key ${record.publicKey})\n` : `${host}: already enrolled (key ${record.publicKey})\n`);
      } else {
        if (values.key !== undefined) throw new UsageError('--key is only for hosts approve');
        const { record, changed } = await revokeHost(store, host, io.now());
        io.out(changed ? `${host}: revoked (key ${record.publicKey})\n` : `${host}: already revoked\n`);
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown hosts subcommand "${sub}" (expected: list, approve, revoke)`);
  }
}

export const TOKENS_USAGE = 'Usage: tsdeploy-controller tokens create --host HOST [--ttl 1h] [--json] [--state-dir DIR | --config FILE]\n';

export async function tokensCommand(args: readonly string[], io: { out: Out; now: () => Date; uid: number | null }): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, { ...STATE_FLAGS, host: { type: 'string' }, ttl: { type: 'string', default: '1h' }, json: { type: 'boolean' } });
  if (sub === undefined || sub === '--help' || values.help === true) {
    io.out(TOKENS_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== 'create') throw new UsageError(`unknown tokens subcommand "${sub}" (expected: create)`);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const host = requireFlag(values, 'host');
  const ttlMs = parseDuration(values.ttl ?? '1h');
  const store = await openStateDir(await stateDirOf(values), io.uid);
  const { token, expiresAt } = await createToken(store, host, ttlMs, io.now());
  io.out(values.json === true ? `${JSON.stringify({ host, token, expiresAt })}\n` : `${token}\n`);
  return EXIT.ok;
}
