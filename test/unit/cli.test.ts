import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { defineCommand, runProgram, UsageError, type Output } from '../../shared/cli.js';

function capture(): Output & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}

const calls: string[] = [];
const greet = defineCommand({
  name: 'greet',
  summary: 'Say hello.',
  usage: '  --name NAME   who to greet\n',
  flags: { name: { type: 'string' }, loud: { type: 'boolean' } },
  positionals: { min: 0, max: 1, names: '[GREETING]' },
  async run({ values, positionals }, io: Output) {
    io.out(`${positionals[0] ?? 'hello'} ${values.name ?? 'world'}${values.loud === true ? '!' : ''}\n`);
    return 0;
  },
});
const hostsApprove = defineCommand({
  name: 'hosts approve',
  summary: 'Approve a host.',
  usage: '',
  flags: {},
  positionals: { min: 1, max: 1, names: 'HOST' },
  async run({ positionals }) {
    calls.push(`approve ${positionals[0] ?? ''}`);
    return 0;
  },
});
const hostsList = defineCommand({ name: 'hosts list', summary: 'List hosts.', usage: '', flags: {}, run: async () => 0 });
const commands = [greet, hostsApprove, hostsList];

describe('defineCommand and runProgram', () => {
  it('parses typed flags and positionals and runs the command', async () => {
    const io = capture();
    assert.equal(await runProgram('prog', 'HELP\n', commands, ['greet', '--name', 'ops', '--loud', 'hi'], io), 0);
    assert.equal(io.stdout, 'hi ops!\n');
  });

  it('prints the command usage for --help without running it', async () => {
    const io = capture();
    assert.equal(await runProgram('prog', 'HELP\n', commands, ['greet', '--help'], io), 0);
    assert.match(io.stdout, /^Usage: prog greet \[GREETING\]/);
    assert.match(io.stdout, /--name NAME/);
  });

  it('prints the program help for no command, help and --help', async () => {
    for (const argv of [[], ['help'], ['--help']]) {
      const io = capture();
      assert.equal(await runProgram('prog', 'HELP\n', commands, argv, io), 0);
      assert.equal(io.stdout, 'HELP\n');
    }
  });

  it('answers --version and version with the package.json version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const argv of [['--version'], ['version']]) {
      const io = capture();
      assert.equal(await runProgram('prog', 'HELP\n', commands, argv, io), 0);
      assert.equal(io.stdout, `prog ${version}\n`);
    }
  });

  it('refuses an unknown flag, too few or too many positionals, and unknown commands as usage errors', async () => {
    await assert.rejects(runProgram('prog', '', commands, ['greet', '--nme', 'x'], capture()), UsageError);
    await assert.rejects(runProgram('prog', '', commands, ['greet', 'a', 'b'], capture()), /unexpected argument "b"/);
    await assert.rejects(runProgram('prog', '', commands, ['hosts', 'approve'], capture()), /missing HOST/);
    await assert.rejects(runProgram('prog', '', commands, ['deploy'], capture()), /unknown command "deploy"/);
    await assert.rejects(runProgram('prog', '', commands, ['hosts', 'remove'], capture()), /unknown hosts subcommand "remove" \(expected: approve, list\)/);
  });

  it('matches the longest command name', async () => {
    calls.length = 0;
    assert.equal(await runProgram('prog', '', commands, ['hosts', 'approve', 'web-1'], capture()), 0);
    assert.deepEqual(calls, ['approve web-1']);
  });
});

describe('unknown flags', () => {
  it('suggests the closest known flag', async () => {
    await assert.rejects(runProgram('prog', '', commands, ['greet', '--nmae', 'x'], capture()), /^UsageError: unknown option --nmae; did you mean --name\?$/);
  });
  it('suggests nothing when no flag is close', async () => {
    await assert.rejects(runProgram('prog', '', commands, ['greet', '--frobnicate'], capture()), /^UsageError: unknown option --frobnicate$/);
  });
});
