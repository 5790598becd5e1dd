// The NixOS modules, the flake and the package, evaluated with nixpkgs' real lib.evalModules; NixOS options and
// pkgs are stand-ins (nixos-option-stubs.nix, systemd-stubs.nix, pkgs-stand-in.nix). Skipped, with the reason
// and the command that fetches the pinned lib, when TSDEPLOY_NIXPKGS_LIB is not set.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { nixpkgsLibFromEnv, skip } from './nix-eval.js';
import './agent-cases.js';
import './controller-cases.js';
import './unit-cases.js';
import './package-cases.js';
import './vm-cases.js';

it('finds a nixpkgs lib directory at TSDEPLOY_NIXPKGS_LIB', { skip }, () => {
  const lib = nixpkgsLibFromEnv() ?? '';
  assert.ok(existsSync(join(lib, 'default.nix')), `${lib}/default.nix does not exist`);
});
