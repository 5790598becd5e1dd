import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ArgumentValueError, defineCommand, runProgram, UsageError, type Output } from '../../shared/cli.js';
import { exitCodeFor } from '../../shared/errors.js';

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

describe('flag and argument values', () => {
  const seen: string[] = [];
  const sign = defineCommand({
    name: 'sign',
    summary: 'Sign.',
    usage: '',
    flags: {
      version: { type: 'string', check: (value: string) => (/^[1-9]\d*$/.test(value) ? null : 'must be a positive integer') },
      key: { type: 'string', multiple: true, check: (value: string) => (value.endsWith('.public') ? 'is a public key' : null) },
      json: { type: 'boolean' },
    },
    positionals: { min: 0, max: 1, names: '[HOST]', check: (value: string) => (/^[a-z0-9-]+$/.test(value) ? null : 'not a host name') },
    async run({ values }) {
      seen.push(values.version ?? '-');
      return 0;
    },
  });
  const program = [sign];

  it('checks every flag value before the command runs, and refuses a bad one with exit 2 naming the flag', async () => {
    seen.length = 0;
    await assert.rejects(runProgram('prog', '', program, ['sign', '--version', '0'], capture()), (error: unknown) => {
      assert.ok(error instanceof ArgumentValueError);
      assert.equal(error.message, '--version "0": must be a positive integer');
      assert.equal(exitCodeFor(error), 2);
      return true;
    });
    assert.deepEqual(seen, []);
    assert.equal(await runProgram('prog', '', program, ['sign', '--version', '3'], capture()), 0);
    assert.deepEqual(seen, ['3']);
  });
  it('checks each value of a repeated flag, and the positionals', async () => {
    await assert.rejects(runProgram('prog', '', program, ['sign', '--key', 'a.secret', '--key', 'a.public'], capture()), /^ArgumentValueError: --key "a\.public": is a public key$/);
    await assert.rejects(runProgram('prog', '', program, ['sign', 'Web_1'], capture()), /^ArgumentValueError: HOST "Web_1": not a host name$/);
  });
  it("says in its own words that a flag needs a value or takes none, instead of Node's", async () => {
    await assert.rejects(runProgram('prog', '', program, ['sign', '--version'], capture()), /^UsageError: --version needs a value$/);
    await assert.rejects(runProgram('prog', '', program, ['sign', '--json=yes'], capture()), /^UsageError: --json takes no value$/);
    await assert.rejects(runProgram('prog', '', program, ['sign', '--version', '--json'], capture()), /^UsageError: --version needs a value \(to give one that starts with "-", write --version=VALUE\)$/);
  });
  it('suggests the closest command, and says options go after the command', async () => {
    await assert.rejects(runProgram('prog', '', program, ['sing'], capture()), /^UsageError: unknown command "sing" \(did you mean sign\?\); run prog --help$/);
    await assert.rejects(runProgram('prog', '', program, ['--version=2', 'sign'], capture()), /unknown option --version=2 before the command; options go after it/);
  });
});
