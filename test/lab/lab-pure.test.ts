// Table tests of the fleet lab's pure parts: prerequisites, host nix.conf, system build argv, cache paths.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheContentType, copyArgs, isCachePath, signArgs } from './cache.js';
import { hostNixConf } from './lab.js';
import { machineNixConfigured, platformProblem } from './prereqs.js';
import { InvalidSystemError, SYSTEM_NIX, systemBuildArgs } from './systems.js';

describe('lab prerequisites', () => {
  const cases: Array<[string, string, number | undefined, string, RegExp | null]> = [
    ['linux as root with node outside /nix', 'linux', 0, '/usr/bin/node', null],
    ['another platform', 'darwin', 0, '/usr/bin/node', /needs Linux/],
    ['a non-root user', 'linux', 1000, '/usr/bin/node', /needs root/],
    ['node inside /nix', 'linux', 0, '/nix/store/x-nodejs/bin/node', /node is in \/nix/],
  ];
  for (const [name, platform, uid, node, expected] of cases) {
    test(`names the one missing thing for ${name}`, () => {
      const problem = platformProblem(platform, uid, node);
      if (expected === null) assert.equal(problem, null);
      else assert.match(problem ?? '', expected);
    });
  }

  const confs: Array<[string, string, boolean]> = [
    ['sandbox off and no substituters', 'sandbox = false\nsubstituters = \n', true],
    ['the last setting winning', 'substituters = https://cache.nixos.org\nsandbox = false\nsubstituters =\n', true],
    ['the default public cache', 'sandbox = false\n', false],
    ['a sandbox', 'sandbox = true\nsubstituters =\n', false],
  ];
  for (const [name, conf, expected] of confs) {
    test(`accepts the machine's nix.conf only when builds need nothing outside: ${name}`, () => {
      assert.equal(machineNixConfigured(conf), expected);
    });
  }
});

describe('host nix.conf', () => {
  test('substitutes only from the lab cache, trusts only its key and requires signatures', () => {
    const conf = hostNixConf('http://10.213.1.1:8080', 'lab-1:AAAA');
    assert.match(conf, /^substituters = http:\/\/10\.213\.1\.1:8080$/m);
    assert.match(conf, /^trusted-public-keys = lab-1:AAAA$/m);
    assert.match(conf, /^require-sigs = true$/m);
    assert.doesNotMatch(conf, /extra-substituters|trusted-substituters/);
  });
});

describe('system build argv', () => {
  test('passes variant, label and the defaults to nix-build without a result link', () => {
    const argv = systemBuildArgs('good', 'v1', { node: '/usr/bin/node' });
    assert.deepEqual(argv.slice(0, 3), ['nix-build', SYSTEM_NIX, '--no-out-link']);
    const args = new Map<string, string>();
    for (let i = 3; i < argv.length; i += 3) args.set(argv[i + 1] ?? '', argv[i + 2] ?? '');
    assert.deepEqual(Object.fromEntries(args), {
      variant: 'good',
      label: 'v1',
      sizeMiB: '0',
      kernelVersion: '6.1.0-lab',
      node: '/usr/bin/node',
      port: '9100',
      signer: 'cache',
    });
  });

  const invalid: Array<[string, () => unknown]> = [
    ['a label with a slash', () => systemBuildArgs('good', 'a/b')],
    ['a label starting with a dot', () => systemBuildArgs('good', '.x')],
    ['a size for a non-large system', () => systemBuildArgs('good', 'v1', { sizeMiB: 4 })],
    ['a fractional size', () => systemBuildArgs('large', 'v1', { sizeMiB: 1.5 })],
    ['a signer with spaces', () => systemBuildArgs('good', 'v1', { signer: 'a b' })],
  ];
  for (const [name, build] of invalid) {
    test(`refuses ${name}`, () => {
      assert.throws(build, InvalidSystemError);
    });
  }
});

describe('binary cache', () => {
  test('signs recursively with the key file and copies with zstd into a file cache', () => {
    const key = { publicKey: 'k:AAAA', secretKeyFile: '/k.secret' };
    assert.deepEqual(signArgs(['/nix/store/p'], key).slice(-4), ['--key-file', '/k.secret', '--recursive', '/nix/store/p']);
    assert.deepEqual(copyArgs(['/nix/store/p'], '/c').slice(-3), ['--to', 'file:///c?compression=zstd', '/nix/store/p']);
  });

  const paths: Array<[string, boolean, string]> = [
    ['/nix-cache-info', true, 'text/x-nix-cache-info'],
    ['/0123456789abcdfghijklmnpqrsvwxyz.narinfo', true, 'text/x-nix-narinfo'],
    ['/nar/0123456789abcdfghijklmnpqrsvwxyz0123456789abcdfghi.nar.zst', true, 'application/x-nix-nar'],
    ['/nar/abc.nar', true, 'application/x-nix-nar'],
    ['/../etc/passwd', false, 'text/plain'],
    ['/nar/../../keys/x.secret', false, 'text/plain'],
    ['/keys/lab.secret', false, 'text/plain'],
    ['/', false, 'text/plain'],
  ];
  for (const [path, served, type] of paths) {
    test(`${served ? 'serves' : 'refuses'} ${path}`, () => {
      assert.equal(isCachePath(path), served);
      if (served) assert.equal(cacheContentType(path), type);
    });
  }
});
