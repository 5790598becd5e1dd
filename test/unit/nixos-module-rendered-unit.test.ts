// The lab's agent unit is the module's current rendering, checked without Nix: the files it was rendered from still have
// the sha256 that render-unit.ts recorded beside it (the byte-for-byte check itself needs a nixpkgs lib, which CI lacks).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  evaluatedRepoFiles,
  fileDigest,
  parseInputDigests,
  RENDER_COMMAND,
  RENDERED_INPUTS_FILE,
  RENDERED_UNIT_FILE,
  renderedInputPaths,
  sha256,
  staleInputs,
  staleMessage,
} from '../nixos-module/rendered-inputs.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const recorded = parseInputDigests(readFileSync(join(repo, RENDERED_INPUTS_FILE), 'utf8'));

describe("the lab's agent unit (test/nixos-module/rendered/tsdeploy-agent.service)", () => {
  it('was rendered from the nixos-module/ and test/nixos-module/ files as they are now', () => {
    const stale = staleInputs(recorded, (path) => fileDigest(repo, path));
    assert.deepEqual(stale, [], staleMessage(stale));
  });

  it('records the agent module, its settings, the lab host, the stand-ins and the rendering itself', () => {
    const paths = recorded.map(({ path }) => path);
    for (const path of [
      'nixos-module/agent.nix',
      'nixos-module/agent-settings.nix',
      'nixos-module/default.nix',
      'test/nixos-module/rendered/lab-host.nix',
      'test/nixos-module/eval.nix',
      'test/nixos-module/nixos-option-stubs.nix',
      'test/nixos-module/systemd-stubs.nix',
      'test/nixos-module/systemd-render.nix',
      'test/nixos-module/pkgs-stand-in.nix',
      'test/nixos-module/nixpkgs-lib.json',
      RENDERED_UNIT_FILE,
    ]) {
      assert.ok(paths.includes(path), `${RENDERED_INPUTS_FILE} lists ${path}`);
    }
  });
});

describe('rendered-input digests', () => {
  const digests = [
    { path: 'nixos-module/agent-settings.nix', sha256: sha256('old settings') },
    { path: 'nixos-module/agent.nix', sha256: sha256('agent') },
    { path: RENDERED_UNIT_FILE, sha256: sha256('unit') },
  ];
  const files: Record<string, string> = { 'nixos-module/agent-settings.nix': 'new settings', 'nixos-module/agent.nix': 'agent', [RENDERED_UNIT_FILE]: 'unit' };
  const digestIn = (tree: Record<string, string>) => (path: string): string | null => (tree[path] === undefined ? null : sha256(tree[path]));

  it('name a changed module file and the command that renders the unit again', () => {
    const stale = staleInputs(digests, digestIn(files));
    assert.deepEqual(stale, ['nixos-module/agent-settings.nix']);
    assert.equal(
      staleMessage(stale),
      `nixos-module/agent-settings.nix changed since the lab's agent unit was rendered: run ${RENDER_COMMAND} (and review the unit's diff)`,
    );
  });

  it('count a removed input and a hand-edited rendering as changes', () => {
    const { 'nixos-module/agent.nix': _removed, ...rest } = files;
    const stale = staleInputs(digests, digestIn({ ...rest, [RENDERED_UNIT_FILE]: 'unit, edited by hand' }));
    assert.deepEqual(stale, ['nixos-module/agent-settings.nix', 'nixos-module/agent.nix', RENDERED_UNIT_FILE]);
  });

  it("take the repo's files from Nix's debug log, leaving out the nixpkgs lib", () => {
    const log = [
      "evaluating file '/nix/lib/default.nix'",
      "evaluating file '/repo/nixos-module/default.nix'",
      "evaluating file '/repo/nixos-module/agent.nix'",
      "instantiated 'x' -> '/nix/store/…-x.drv'",
      "evaluating file '/repo/test/nixos-module/systemd-stubs.nix'",
    ].join('\n');
    const evaluated = evaluatedRepoFiles(log, '/repo');
    assert.deepEqual(evaluated, ['nixos-module/agent.nix', 'nixos-module/default.nix', 'test/nixos-module/systemd-stubs.nix']);
    assert.deepEqual(renderedInputPaths(evaluated), [
      'nixos-module/agent.nix',
      'nixos-module/default.nix',
      'test/nixos-module/eval.nix',
      'test/nixos-module/nixpkgs-lib.json',
      RENDERED_UNIT_FILE,
      'test/nixos-module/systemd-stubs.nix',
    ]);
  });

  it('refuse a debug log that names no agent module (Nix logs evaluated files otherwise)', () => {
    assert.throws(() => renderedInputPaths([]), /evaluating file '…\/nixos-module\/agent\.nix'/);
  });
});
