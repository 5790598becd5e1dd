// Table tests of the systemd lab hosts' pure parts: Debian suite and mirror, the agent unit's adaptation, system build argv.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LAB_HOST_PATH, RenderedUnitError, labAgentUnit, readRenderedAgentUnit } from './agent-unit.js';
import { debianMirror, debianSuite } from './rootfs.js';
import { SYSTEMD_SYSTEM_NIX, systemdSystemBuildArgs } from './systemd-systems.js';
import { InvalidSystemError } from './systems.js';

describe('systemd host rootfs', () => {
  test('reads the machine suite from os-release, quoted or not', () => {
    assert.equal(debianSuite('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n'), 'bookworm');
    assert.equal(debianSuite('VERSION_CODENAME="trixie"\n'), 'trixie');
    assert.equal(debianSuite('NAME=Other\n'), null);
  });

  const sources: Array<[string, string[], string | null]> = [
    ['a one-line source', ['deb http://mirror.example/debian bookworm main\n'], 'http://mirror.example/debian'],
    ['a one-line source with options', ['deb [arch=amd64] http://m.example/debian bookworm main\n'], 'http://m.example/debian'],
    ['a deb822 stanza', ['Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n'], 'http://deb.debian.org/debian'],
    ['only the security suite', ['Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n'], null],
    ['a source stanza only', ['Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n'], null],
    ['another distribution first', ['deb http://other.example/x jammy main\n', 'deb http://deb.example/debian bookworm main\n'], 'http://deb.example/debian'],
  ];
  for (const [name, texts, expected] of sources) {
    test(`finds the archive apt uses for the suite: ${name}`, () => {
      assert.equal(debianMirror(texts, 'bookworm'), expected);
    });
  }
});

describe('agent unit on a systemd lab host', () => {
  const argv = ['/usr/bin/node', '--import', 'file:///repo/node_modules/tsx/dist/loader.mjs', '/repo/agent/main.ts'];

  test('rewrites ExecStart to the repo agent and the config path, and nothing else but store-path environment', () => {
    const rendered = readRenderedAgentUnit();
    const { text, rewrites } = labAgentUnit(rendered, { agentArgv: argv });
    assert.match(text, /^ExecStart=\/usr\/bin\/node --import file:\/\/\/repo\/node_modules\/tsx\/dist\/loader\.mjs \/repo\/agent\/main\.ts run --config \/etc\/tsdeploy\/agent\.json$/m);
    assert.match(text, new RegExp(`^Environment="PATH=${LAB_HOST_PATH}"$`, 'm'));
    assert.doesNotMatch(text, /\/nix\/store\//);
    assert.ok(rewrites.every(({ from }) => /^(ExecStart|Environment)=/.test(from)));
    const kept = rendered.split('\n').filter((line) => !rewrites.some(({ from }) => from === line));
    for (const line of kept) assert.ok(text.split('\n').includes(line), line);
  });

  test('quotes an argument with spaces the way systemd reads it', () => {
    const { text } = labAgentUnit('[Service]\nExecStart=/nix/store/x-tsdeploy/bin/tsdeploy-agent run --config /nix/store/y-c.json\n', {
      agentArgv: ['/usr/bin/node', '/a dir/main.ts'],
    });
    assert.match(text, /^ExecStart=\/usr\/bin\/node "\/a dir\/main\.ts" run --config \/etc\/tsdeploy\/agent\.json$/m);
  });

  test('refuses a rendering without the agent ExecStart', () => {
    assert.throws(() => labAgentUnit('[Service]\nExecStart=/bin/true\n', { agentArgv: argv }), RenderedUnitError);
  });
});

describe('systemd lab systems', () => {
  test('builds argv for nix-build with the variant, a new kernel for new-kernel, and the agent unit text', () => {
    const args = systemdSystemBuildArgs('new-kernel', 'v1', { agentUnit: '[Unit]\n', node: '/usr/bin/node' });
    assert.deepEqual(args.slice(0, 3), ['nix-build', SYSTEMD_SYSTEM_NIX, '--no-out-link']);
    const arg = (name: string): string | undefined => args[args.indexOf(name) + 1];
    assert.equal(arg('variant'), 'new-kernel');
    assert.equal(arg('kernelVersion'), '6.6.0-lab');
    assert.equal(arg('agentUnit'), '[Unit]\n');
    const good = systemdSystemBuildArgs('good', 'v1');
    assert.equal(good[good.indexOf('kernelVersion') + 1], '6.1.0-lab');
    assert.equal(good[good.indexOf('agentUnit') + 1], '', 'no agent unit unless asked for');
  });

  test('a large system carries a blob of the asked size (16 MiB by default), no other system one', () => {
    const args = systemdSystemBuildArgs('large', 'v1', { sizeMiB: 64 });
    assert.equal(args[args.indexOf('sizeMiB') + 1], '64');
    const plain = systemdSystemBuildArgs('large', 'v1');
    assert.equal(plain[plain.indexOf('sizeMiB') + 1], '16');
    assert.ok(!systemdSystemBuildArgs('good', 'v1').includes('sizeMiB'));
  });

  test('refuses bad labels, an agent-unit-change system without the agent unit, and a size for a system that is not large', () => {
    assert.throws(() => systemdSystemBuildArgs('good', '../x'), InvalidSystemError);
    assert.throws(() => systemdSystemBuildArgs('agent-unit-change', 'v1'), InvalidSystemError);
    assert.throws(() => systemdSystemBuildArgs('good', 'v1', { sizeMiB: 4 }), InvalidSystemError);
    assert.throws(() => systemdSystemBuildArgs('large', 'v1', { sizeMiB: 1.5 }), InvalidSystemError);
  });
});
