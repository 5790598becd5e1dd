// What can be checked of the NixOS VM test without KVM: its nodes, and that its Python script compiles.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { evaluate, skip } from './nix-eval.js';

const run = promisify(execFile);

interface VmTest {
  readonly name: string;
  readonly nodes: readonly string[];
  readonly script: string;
}

describe('NixOS VM test nixos-module/tests/vm.nix (it needs KVM and nixpkgs to run; here only read)', () => {
  it('has a controller and two agents, and a script that compiles as Python', { skip }, async (t) => {
    const vm = (await evaluate('vmTest')) as VmTest;
    assert.equal(vm.name, 'tsdeploy');
    assert.deepEqual(vm.nodes, ['controller', 'web1', 'web2']);
    for (const step of ['--activation switch', 'hosts approve web1', 'tokens create --host web2', 'restart tsdeploy-controller.service', 'web1.shutdown()', '"rolled-back"']) {
      assert.ok(vm.script.includes(step), step);
    }
    const python = await run('python3', ['--version']).then(
      () => true,
      () => false,
    );
    if (!python) {
      t.skip('python3 is not installed');
      return;
    }
    const compile = 'import sys; compile(sys.stdin.read(), "vm-script", "exec")';
    const child = execFile('python3', ['-c', compile]);
    child.stdin?.end(vm.script);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
  });
});
