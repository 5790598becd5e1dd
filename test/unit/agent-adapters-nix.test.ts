// The nix argv builders and output parsers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dryRunArgs,
  parseDryRun,
  parseGenerationLink,
  realiseArgs,
  setProfileArgs,
  switchArgs,
  switchGenerationArgs,
} from '../../agent/adapters/nix.js';



const P = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';

describe('nix argv builders', () => {
  it('realises with a GC root held by the agent and no options from anywhere else', () => {
    assert.deepEqual(realiseArgs(P, '/var/lib/tsdeploy-agent/gcroots/desired'), [
      'nix-store',
      '--realise',
      P,
      '--add-root',
      '/var/lib/tsdeploy-agent/gcroots/desired',
    ]);
  });
  it('dry-runs the realisation for the pre-flight', () => {
    assert.deepEqual(dryRunArgs(P), ['nix-store', '--realise', '--dry-run', P]);
  });
  it('sets the system profile and switches generations by number', () => {
    assert.deepEqual(setProfileArgs('/nix/var/nix/profiles/system', P), ['nix-env', '--profile', '/nix/var/nix/profiles/system', '--set', P]);
    assert.deepEqual(switchGenerationArgs('/nix/var/nix/profiles/system', 4), [
      'nix-env',
      '--profile',
      '/nix/var/nix/profiles/system',
      '--switch-generation',
      '4',
    ]);
  });
  it('runs the system\'s own switch-to-configuration with the action', () => {
    assert.deepEqual(switchArgs(P, 'dry-activate'), [`${P}/bin/switch-to-configuration`, 'dry-activate']);
  });
});

describe('nix output parsing', () => {
  it('reads the size of what a realisation would fetch', () => {
    const out = `these 3 paths will be fetched (1.50 MiB download, 4.00 MiB unpacked):\n  ${P}\n`;
    assert.deepEqual(parseDryRun(out), { paths: 3, downloadBytes: 1572864, unpackedBytes: 4194304 });
  });
  it('reads the single-path form', () => {
    assert.deepEqual(parseDryRun('this path will be fetched (0.00 MiB download, 1.00 MiB unpacked):'), {
      paths: 1,
      downloadBytes: 0,
      unpackedBytes: 1048576,
    });
  });
  it('returns null when nothing needs fetching', () => {
    assert.equal(parseDryRun(''), null);
    assert.equal(parseDryRun(`don't know how to build these paths:\n  ${P}`), null);
  });
  it('reads generation numbers from profile links', () => {
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'system-12-link'), 12);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', '/nix/var/nix/profiles/system-3-link'), 3);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'other-3-link'), null);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'system-x-link'), null);
  });
});
