// The README's exit codes, command by command: every command of both programs given a bad flag value
// exits 2 (usage) with one line naming the flag; a file that cannot be read is 1 (failure).
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { formatPublicKey, generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { inBatches, ROOT, runProgram, type Program } from './run-cli.js';

const STORE_PATH = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';

let work: string;
const f = {
  secret: '',
  public: '',
  publicText: '',
  agentConfig: '',
  controllerConfig: '',
  stateDir: '',
  manifest: '',
  release: '',
};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsdeploy-exit-codes-'));
  const pair = generateKeyPair('release-1');
  const keys = await writeKeyPair(join(work, 'keys'), pair);
  f.secret = keys.secretPath;
  f.public = keys.publicPath;
  f.publicText = formatPublicKey(pair.public);
  f.stateDir = join(work, 'state');
  await mkdir(f.stateDir);
  f.agentConfig = join(work, 'agent.json');
  await writeFile(f.agentConfig, JSON.stringify({ host: 'web-1', source: 'http://127.0.0.1:9', trustedKeys: [f.publicText], stateDir: join(work, 'agent-state') }));
  f.controllerConfig = join(work, 'controller.json');
  await writeFile(f.controllerConfig, JSON.stringify({ trustedReleaseKeys: [f.publicText], stateDir: f.stateDir, listen: '127.0.0.1:0' }));
  f.manifest = join(work, 'web-1.manifest');
  const manifest = buildManifest({ host: 'web-1', storePath: STORE_PATH, version: 7, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() });
  await writeFile(f.manifest, signManifest(manifest, [pair.secret]));
  f.release = join(work, 'release.json');
  await writeFile(f.release, JSON.stringify({ hosts: { 'web-1': STORE_PATH } }));
  await chmod(work, 0o755);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Row {
  readonly program: Program;
  /** The command as its name reads (matched against every command the programs define). */
  readonly command: string;
  readonly args: () => string[];
  readonly code: number;
  /** The whole stderr line after "<program>: ". */
  readonly message: RegExp;
}

const A: Program = 'tsdeploy-agent';
const C: Program = 'tsdeploy-controller';

const TABLE: readonly Row[] = [
  // tsdeploy-agent
  { program: A, command: 'run', args: () => ['run', '--config'], code: 2, message: /^--config needs a value$/ },
  { program: A, command: 'once', args: () => ['once', '--config', f.agentConfig, '--json=yes'], code: 2, message: /^--json takes no value$/ },
  { program: A, command: 'status', args: () => ['status', '--config', f.agentConfig, '--jsno'], code: 2, message: /^unknown option --jsno; did you mean --json\?$/ },
  { program: A, command: 'rollback', args: () => ['rollback', '--config'], code: 2, message: /^--config needs a value$/ },
  { program: A, command: 'check-config', args: () => ['check-config', '--strict', f.agentConfig], code: 2, message: /^unknown option --strict$/ },
  { program: A, command: 'pubkey', args: () => ['pubkey', '--config'], code: 2, message: /^--config needs a value$/ },
  { program: A, command: 'reports export', args: () => ['reports', 'export', '--config', f.agentConfig, '--out'], code: 2, message: /^--out needs a value$/ },
  {
    program: A,
    command: 'verify-manifest',
    args: () => ['verify-manifest', '--trusted-key', f.public, '--host', 'web-1', '--threshold', '0', f.manifest],
    code: 2,
    message: /^--threshold "0": must be a positive integer$/,
  },
  {
    program: A,
    command: 'verify-manifest',
    args: () => ['verify-manifest', '--trusted-key', f.public, '--host', 'Web_1', f.manifest],
    code: 2,
    message: /^--host "Web_1": not a host name/,
  },
  {
    program: A,
    command: 'verify-manifest',
    args: () => ['verify-manifest', '--trusted-key', 'release-1:not-base64', '--host', 'web-1', f.manifest],
    code: 2,
    message: /^--trusted-key "release-1:not-base64": not a public key/,
  },
  {
    program: A,
    command: 'verify-manifest',
    // The bad flag is reported before the file is read: a usage error is never hidden behind a missing file.
    args: () => ['verify-manifest', '--trusted-key', f.public, '--host', 'web-1', '--last-version', '7', '--last-digest', 'abc', join(work, 'missing')],
    code: 2,
    message: /^--last-digest "abc": not a sha256 digest/,
  },
  {
    program: A,
    command: 'verify-manifest',
    args: () => ['verify-manifest', '--trusted-key', f.public, '--host', 'web-1', join(work, 'missing.manifest')],
    code: 1,
    message: /^cannot read .*missing\.manifest: ENOENT/,
  },

  // tsdeploy-controller
  { program: C, command: 'serve', args: () => ['serve', '--config', f.controllerConfig, '--listen', '127.0.0.1'], code: 2, message: /^--listen "127\.0\.0\.1": must be HOST:PORT/ },
  { program: C, command: 'check-config', args: () => ['check-config', '--strict', f.controllerConfig], code: 2, message: /^unknown option --strict$/ },
  { program: C, command: 'keygen', args: () => ['keygen', '--name', 'release 2', '--out-dir', join(work, 'keys2')], code: 2, message: /^--name "release 2": not a key name/ },
  {
    program: C,
    command: 'manifest sign',
    args: () => ['manifest', 'sign', '--key', f.secret, '--host', 'Bad_Host', '--path', STORE_PATH, '--version', '1'],
    code: 2,
    message: /^--host "Bad_Host": not a host name/,
  },
  {
    program: C,
    command: 'manifest sign',
    args: () => ['manifest', 'sign', '--key', f.secret, '--host', 'web-1', '--path', STORE_PATH, '--version', '1', '--expires-in', '100y'],
    code: 2,
    message: /^--expires-in "100y": not a duration: use a number with ms, s, m, h or d/,
  },
  {
    program: C,
    command: 'publish',
    args: () => ['publish', '--controller', '127.0.0.1:18080', '--key', f.secret, '--host', 'web-1', '--path', STORE_PATH],
    code: 2,
    message: /^--controller "127\.0\.0\.1:18080": must be an http:\/\/ or https:\/\/ URL/,
  },
  {
    program: C,
    command: 'publish',
    args: () => ['publish', '--controller', 'http://127.0.0.1:9', '--key', f.secret, '--host', 'Web_1', '--path', STORE_PATH],
    code: 2,
    message: /^--host is not a host name: "Web_1"$/,
  },
  {
    program: C,
    command: 'publish',
    args: () => ['publish', '--controller', 'http://127.0.0.1:9', '--key', f.public, '--host', 'web-1', '--path', STORE_PATH],
    code: 2,
    message: /^.*release-1\.public is a public key, not a secret key: give the secret key file \(NAME\.secret\) made beside it$/,
  },
  {
    program: C,
    command: 'publish',
    args: () => ['publish', '--controller', 'http://127.0.0.1:9', '--key', f.publicText, '--host', 'web-1', '--path', STORE_PATH],
    code: 2,
    message: /^--key "release-1:.*": is a public key, not a secret key/,
  },
  { program: C, command: 'status', args: () => ['status', '--controller', '127.0.0.1:18080'], code: 2, message: /^--controller "127\.0\.0\.1:18080": must be an http/ },
  {
    program: C,
    command: 'status',
    args: () => ['status', '--controller', 'http://127.0.0.1:9', '--watch', '--interval', '0s'],
    code: 2,
    message: /^--interval "0s": zero is not allowed: give a positive duration, for example 2s$/,
  },
  {
    program: C,
    command: 'rollout start',
    args: () => ['rollout', 'start', '--controller', '127.0.0.1:18080', '--key', f.secret, '--release', f.release],
    code: 2,
    message: /^--controller "127\.0\.0\.1:18080": must be an http/,
  },
  { program: C, command: 'rollout status', args: () => ['rollout', 'status', '--controller', '127.0.0.1:18080'], code: 2, message: /^--controller "127\.0\.0\.1:18080": must be an http/ },
  { program: C, command: 'rollout pause', args: () => ['rollout', 'pause', '--state-dir'], code: 2, message: /^--state-dir needs a value$/ },
  { program: C, command: 'rollout resume', args: () => ['rollout', 'resume', '--state-dir'], code: 2, message: /^--state-dir needs a value$/ },
  { program: C, command: 'rollout abort', args: () => ['rollout', 'abort', '--state-dir'], code: 2, message: /^--state-dir needs a value$/ },
  { program: C, command: 'hosts list', args: () => ['hosts', 'list', '--state-dir', f.stateDir, '--json=yes'], code: 2, message: /^--json takes no value$/ },
  { program: C, command: 'hosts approve', args: () => ['hosts', 'approve', 'Bad_Host', '--state-dir', f.stateDir], code: 2, message: /^HOST "Bad_Host": not a host name/ },
  {
    program: C,
    command: 'hosts approve',
    args: () => ['hosts', 'approve', 'web-1', '--key', 'web-1-agent', '--state-dir', f.stateDir],
    code: 2,
    message: /^--key "web-1-agent": not a public key in Nix format/,
  },
  { program: C, command: 'hosts revoke', args: () => ['hosts', 'revoke', 'Bad_Host', '--state-dir', f.stateDir], code: 2, message: /^HOST "Bad_Host": not a host name/ },
  { program: C, command: 'tokens create', args: () => ['tokens', 'create', '--host', 'Bad_Host', '--state-dir', f.stateDir], code: 2, message: /^--host "Bad_Host": not a host name/ },
  { program: C, command: 'tokens create', args: () => ['tokens', 'create', '--host', 'web-1', '--ttl', '0s', '--state-dir', f.stateDir], code: 2, message: /^--ttl "0s": zero is not allowed/ },
  { program: C, command: 'export', args: () => ['export', '--state-dir', f.stateDir, '--out'], code: 2, message: /^--out needs a value$/ },
  {
    program: C,
    command: 'bundle',
    args: () => ['bundle', '--release', f.release, '--key', f.secret, '--cache-key', f.secret, '--out', join(work, 'bundle'), '--version', '0'],
    code: 2,
    message: /^--version "0": must be a positive integer$/,
  },
  { program: C, command: 'bundle verify', args: () => ['bundle', 'verify', join(work, 'bundle'), '--trusted-key', f.public, '--threshold', 'two'], code: 2, message: /^--threshold "two": must be a positive integer$/ },
  {
    program: C,
    command: 'import',
    args: () => ['import', join(work, 'bundle'), '--state-dir', f.stateDir, '--trusted-key', f.public, '--threshold', '0'],
    code: 2,
    message: /^--threshold "0": must be a positive integer$/,
  },
  {
    program: C,
    command: 'reports import',
    args: () => ['reports', 'import', join(work, 'missing.jsonl'), '--state-dir', f.stateDir, '--controller', '127.0.0.1:18080'],
    code: 2,
    message: /^--controller "127\.0\.0\.1:18080": must be an http/,
  },
];

/** Every command the two programs define: the exported commands of agent/commands and controller/commands. */
async function definedCommands(): Promise<Map<Program, Set<string>>> {
  const found = new Map<Program, Set<string>>([
    [A, new Set()],
    [C, new Set()],
  ]);
  for (const [program, dir] of [
    [A, 'agent/commands'],
    [C, 'controller/commands'],
  ] as const) {
    for (const file of (await readdir(join(ROOT, dir))).filter((name) => name.endsWith('.ts'))) {
      const module = (await import(pathToFileURL(join(ROOT, dir, file)).href)) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        if (typeof value === 'object' && value !== null && 'invoke' in value && 'name' in value && typeof value.name === 'string') {
          found.get(program)?.add(value.name);
        }
      }
    }
  }
  return found;
}

describe('exit codes, command by command', () => {
  it('has a row for every command of both programs', async () => {
    const defined = await definedCommands();
    for (const program of [A, C]) {
      const covered = new Set(TABLE.filter((row) => row.program === program).map((row) => row.command));
      assert.deepEqual([...(defined.get(program) ?? [])].filter((name) => !covered.has(name)).sort(), [], `${program} commands without a row`);
      assert.ok((defined.get(program)?.size ?? 0) > 5);
    }
  });

  it('gives 2 and one line naming the flag for a bad flag value, and 1 for an unreadable file', async () => {
    const runs = await inBatches(
      TABLE.map((row) => () => runProgram(row.program, row.args())),
      4,
    );
    const failures: string[] = [];
    TABLE.forEach((row, i) => {
      const run = runs[i];
      if (run === undefined) return;
      const lines = run.stderr.split('\n').filter((line) => line !== '');
      const line = lines[0] ?? '';
      const prefix = `${row.program}: `;
      const ok =
        run.code === row.code &&
        run.stdout === '' &&
        lines.length === 1 &&
        line.startsWith(prefix) &&
        row.message.test(line.slice(prefix.length));
      if (!ok) failures.push(`${row.program} ${row.args().join(' ')}\n    → exit ${String(run.code)}, stderr ${JSON.stringify(run.stderr)}`);
    });
    assert.deepEqual(failures, []);
  });
});
