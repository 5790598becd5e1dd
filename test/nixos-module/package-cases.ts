// The flake's outputs and the package's build recipe, evaluated with stand-ins for nixpkgs (imported by module.test.ts).
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentHost, controllerHost, evaluate, evaluateHost, skip } from './nix-eval.js';

interface PackageArgs {
  readonly src: string;
  readonly npmRoot: string;
  readonly npmConfigHook: string;
  readonly npmRebuildFlags: readonly string[];
  readonly installCheckPhase: string;
  readonly doInstallCheck: boolean;
  readonly nativeInstallCheckInputs: readonly string[];
  readonly versionCheckHook: string;
  readonly versionCheckProgram: string;
  readonly versionCheckProgramArg: string;
  readonly meta: { readonly mainProgram: string; readonly homepage: string; readonly maintainers: readonly unknown[] };
  readonly lockPackages: Readonly<Record<string, { version?: string; resolved?: string; integrity?: string; name?: string; optionalDependencies?: object }>>;
}

describe('flake and package (nixpkgs lib; the nixpkgs input and buildNpmPackage are stand-ins)', () => {
  it('exports packages for x86_64-linux and aarch64-linux, overlays.default and three NixOS modules', { skip }, async () => {
    const flake = (await evaluate('flake')) as { outputs: string[]; packages: Record<string, string[]>; nixosModules: string[]; overlayPackage: string };
    assert.deepEqual(flake.packages, { 'aarch64-linux': ['default', 'tsdeploy'], 'x86_64-linux': ['default', 'tsdeploy'] });
    assert.ok(flake.outputs.includes('overlays'));
    assert.equal(flake.overlayPackage, 'tsdeploy-0.1.0');
    assert.deepEqual(flake.nixosModules, ['agent', 'controller', 'default']);
  });

  it("nixosModules.agent works alone, and loads once when imported along with nixosModules.default", { skip }, async () => {
    const alone = await evaluateHost(agentHost(), 'agentModuleAlone');
    assert.deepEqual(alone.failedAssertions, []);
    assert.deepEqual(Object.keys(alone.services), ['tsdeploy-agent']);
    const twice = await evaluateHost(agentHost(), 'agentModuleTwice');
    assert.deepEqual(twice.failedAssertions, []);
  });

  it("defaults the package to pkgs.tsdeploy, else, from the flake's modules, to the flake's own package (as comin)", { skip }, async () => {
    const summary = await evaluateHost(agentHost());
    assert.ok(summary.systemPackages.includes(summary.standIns.tsdeploy));
    const both = [agentHost(), controllerHost()];
    const fromFlake = (await evaluate('flakePackage', both)) as { agent: string; controller: string; flake: string };
    assert.equal(fromFlake.agent, fromFlake.flake);
    assert.equal(fromFlake.controller, fromFlake.flake);
  });

  it('fetches every locked package from its registry URL, except the esbuild binaries the build never uses', { skip }, async () => {
    const pkg = (await evaluate('package', {}, true)) as PackageArgs;
    const entries = Object.entries(pkg.lockPackages).filter(([key]) => key !== '');
    assert.ok(entries.length > 0);
    assert.deepEqual(entries.filter(([key]) => key.includes('@esbuild/')), []);
    assert.equal(pkg.lockPackages['node_modules/esbuild']?.optionalDependencies, undefined);
    assert.ok(pkg.lockPackages['node_modules/typescript'] !== undefined);
    for (const [key, module] of entries) {
      const name = module.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      const base = name.slice(name.lastIndexOf('/') + 1);
      assert.equal(module.resolved, `https://registry.npmjs.org/${name}/-/${base}-${module.version ?? '?'}.tgz`, key);
      assert.match(module.integrity ?? '', /^sha512-/, key);
    }
  });

  it('checks the installed programs with versionCheckHook, and has meta.mainProgram and meta.homepage', { skip }, async () => {
    const pkg = (await evaluate('package', {}, true)) as PackageArgs;
    assert.equal(pkg.doInstallCheck, true);
    assert.deepEqual(pkg.nativeInstallCheckInputs, [pkg.versionCheckHook]);
    assert.match(pkg.versionCheckProgram, /\/bin\/tsdeploy-agent$/);
    assert.equal(pkg.versionCheckProgramArg, '--version');
    assert.match(pkg.installCheckPhase, /runHook preInstallCheck/);
    assert.match(pkg.installCheckPhase, /tsdeploy-controller --version/);
    assert.equal(pkg.meta.mainProgram, 'tsdeploy-agent');
    assert.match(pkg.meta.homepage, /^https:\/\//);
    assert.deepEqual(pkg.meta.maintainers, []);
  });

  it('builds from a source holding only what npm run build reads', { skip }, async () => {
    const pkg = (await evaluate('package', {}, true)) as PackageArgs;
    assert.equal(pkg.npmRoot, pkg.src);
    assert.equal(pkg.npmConfigHook, 'importNpmLock.npmConfigHook-stand-in');
    assert.deepEqual(pkg.npmRebuildFlags, ['--ignore-scripts']);
    const top = (await readdir(pkg.src)).sort();
    assert.deepEqual(top, ['agent', 'controller', 'package-lock.json', 'package.json', 'shared', 'tsconfig.build.json', 'tsconfig.json']);
    const files = await readdir(pkg.src, { recursive: true });
    assert.ok(files.includes(join('agent', 'main.ts')));
    assert.ok(!files.some((file) => file.endsWith('.test.ts') || file.includes('node_modules')));
  });
});
