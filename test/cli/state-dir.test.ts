// A state directory that is a file, read-only or unreadable: both programs say so in one line naming the
// directory and what to do (exit 1), never "internal error" and a stack. Needs root (a private mount
// namespace for the read-only mount; another uid for the unreadable directory).
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';
import { NODE_TSX, programArgv, ROOT, runArgv, type CliRun, type Program } from './run-cli.js';

const NOBODY = 65534;

/**
 * Why uid `uid` cannot run this checkout's programs, or null when it can: a directory on the way to the
 * checkout that others may not enter (a clone under `mktemp -d`, mode 0700). The programs then fail to load
 * before they look at any state directory, so there is nothing to test.
 */
function checkoutClosedTo(uid: number): string | null {
  for (let dir = ROOT; ; dir = dirname(dir)) {
    const stats = statSync(dir);
    if (stats.uid !== uid && (stats.mode & 0o001) === 0) return `uid ${uid} cannot enter ${dir} (mode ${(stats.mode & 0o777).toString(8)}), on the way to this checkout: clone it under a directory others may enter`;
    if (dirname(dir) === dir) return null;
  }
}
const closedToNobody = checkoutClosedTo(NOBODY);
let work: string;
const key = formatPublicKey(generateKeyPair('release-1').public);

/** Writes an agent and a controller config whose state directory is `stateDir`. */
async function configs(name: string, stateDir: string): Promise<{ agent: string; controller: string }> {
  const agent = join(work, `${name}-agent.json`);
  const controller = join(work, `${name}-controller.json`);
  await writeFile(agent, JSON.stringify({ host: 'web-1', source: 'http://127.0.0.1:9', trustedKeys: [key], stateDir }));
  await writeFile(controller, JSON.stringify({ trustedReleaseKeys: [key], stateDir, listen: '127.0.0.1:0' }));
  await chmod(agent, 0o644);
  await chmod(controller, 0o644);
  return { agent, controller };
}

/** The commands that use the state directory, for both programs: the agent's config, the controller's config and directory. */
function commands(cfg: { agent: string; controller: string }, stateDir: string): Array<{ program: Program; args: string[]; writes: boolean }> {
  return [
    { program: 'tsdeploy-agent', args: ['pubkey', '--config', cfg.agent], writes: true },
    { program: 'tsdeploy-agent', args: ['once', '--config', cfg.agent], writes: true },
    { program: 'tsdeploy-agent', args: ['status', '--config', cfg.agent], writes: false },
    { program: 'tsdeploy-controller', args: ['serve', '--config', cfg.controller], writes: true },
    { program: 'tsdeploy-controller', args: ['tokens', 'create', '--host', 'web-1', '--state-dir', stateDir], writes: true },
    { program: 'tsdeploy-controller', args: ['hosts', 'list', '--state-dir', stateDir], writes: false },
  ];
}

function assertOneLine(run: CliRun, program: Program, stateDir: string, detail: RegExp, what: string): void {
  assert.equal(run.code, 1, `${what}: ${run.stderr}`);
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(run.stderr)}`);
  assert.ok((lines[0] ?? '').startsWith(`${program}: state directory ${stateDir} `), `${what}: names the directory: ${run.stderr}`);
  assert.match(lines[0] ?? '', detail, what);
  assert.doesNotMatch(run.stderr, /internal error|\n\s+at /, what);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsdeploy-state-dir-'));
  await chmod(work, 0o755);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a state directory that cannot be used', () => {
  it('is a file: one line saying so and what to do, for every command of both programs', async () => {
    const stateDir = join(work, 'a-file');
    await writeFile(stateDir, 'not a directory\n');
    for (const { program, args } of commands(await configs('file', stateDir), stateDir)) {
      const run = await runArgv(programArgv(program, args));
      assertOneLine(run, program, stateDir, /is not a directory \(a file is in its place.*\): move the file aside, or set .* to another directory$/, args.join(' '));
    }
  });

  it('is read-only: writing commands say so in one line, reading ones work', async () => {
    const stateDir = join(work, 'read-only');
    await mkdir(stateDir);
    await mkdir(join(stateDir, 'hosts'));
    for (const { program, args, writes } of commands(await configs('ro', stateDir), stateDir)) {
      const argv = ['unshare', '--mount', '--propagation', 'private', '--', ...NODE_TSX, `${ROOT}test/cli/read-only-exec.ts`, stateDir, '--', ...programArgv(program, args)];
      const run = await runArgv(argv);
      if (writes) assertOneLine(run, program, stateDir, /is on a read-only file system \(EROFS\): remount it read-write, or set .* to another directory$/, args.join(' '));
      else assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    }
  });

  it('is not readable by the user running the command: one line naming the uid and what to do', { skip: closedToNobody ?? false }, async () => {
    const stateDir = join(work, 'root-only');
    await mkdir(stateDir, { mode: 0o700 });
    await mkdir(join(stateDir, 'hosts'));
    for (const { program, args, writes } of commands(await configs('denied', stateDir), stateDir)) {
      const run = await runArgv(programArgv(program, args), { uid: NOBODY, gid: NOBODY });
      assertOneLine(run, program, stateDir, new RegExp(`cannot be ${writes ? 'written' : 'read'} by uid ${NOBODY} \\(EACCES\\): run as root or as the directory's owner`), args.join(' '));
    }
  });

  it('has a subdirectory the command cannot read: still one line with the path, not a stack', { skip: closedToNobody ?? false }, async () => {
    const stateDir = join(work, 'closed-hosts');
    await mkdir(join(stateDir, 'hosts'), { recursive: true });
    await chmod(stateDir, 0o755);
    await chmod(join(stateDir, 'hosts'), 0o700);
    const run = await runArgv(programArgv('tsdeploy-controller', ['hosts', 'list', '--state-dir', stateDir]), { uid: NOBODY, gid: NOBODY });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr, `tsdeploy-controller: cannot scandir ${stateDir}/hosts: permission denied (EACCES); check that path (permissions, owner, read-only mount, free space)\n`);
  });
});
