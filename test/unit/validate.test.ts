import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHostName, isStorePath } from '../../shared/validate.js';
import { parseDuration } from '../../shared/duration.js';
import { exitCodeFor } from '../../shared/errors.js';

const HASH = '0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz';

describe('store paths', () => {
  const cases: Array<[string, boolean, string]> = [
    [`/nix/store/${HASH}-nixos-system-web-1-24.05`, true, 'a NixOS toplevel'],
    [`/nix/store/${HASH}-a`, true, 'a one-character name'],
    [`/nix/store/${HASH}-a+b-c._?=`, true, 'every allowed punctuation'],
    [`/nix/store/${HASH}-${'x'.repeat(211)}`, true, 'a name of 211 characters'],
    [`/nix/store/${HASH}-${'x'.repeat(212)}`, false, 'a name of 212 characters'],
    [`/nix/store/${HASH}-.hidden`, false, 'a name starting with a dot'],
    [`/nix/store/${HASH.replace('c', 'e')}-x`, false, 'an e in the hash'],
    [`/nix/store/${HASH.replace('c', 'o')}-x`, false, 'an o in the hash'],
    [`/nix/store/${HASH.replace('c', 'u')}-x`, false, 'a u in the hash'],
    [`/nix/store/${HASH.replace('c', 't')}-x`, false, 'a t in the hash'],
    [`/nix/store/${HASH.toUpperCase()}-x`, false, 'an upper-case hash'],
    [`/nix/store/${HASH.slice(1)}-x`, false, 'a 31-character hash'],
    [`/nix/store/${HASH}`, false, 'no name'],
    [`/nix/store/${HASH}-`, false, 'an empty name'],
    [`/nix/store/${HASH}-a/bin/sh`, false, 'a path inside a store path'],
    [`/nix/store/${HASH}-a b`, false, 'a space in the name'],
    [`/nix/store/${HASH}-a;rm`, false, 'a semicolon in the name'],
    [`/nix/store/${HASH}-a\nb`, false, 'a newline in the name'],
    [`/gnu/store/${HASH}-a`, false, 'another store directory'],
    [`nix/store/${HASH}-a`, false, 'a relative path'],
    [`/nix/store/../store/${HASH}-a`, false, 'a path with ..'],
  ];
  for (const [path, ok, what] of cases) {
    it(`${ok ? 'accepts' : 'refuses'} ${what}`, () => assert.equal(isStorePath(path), ok));
  }
});

describe('host names', () => {
  const cases: Array<[string, boolean]> = [
    ['web-1', true],
    ['A', true],
    ['x'.repeat(63), true],
    ['x'.repeat(64), false],
    ['-web', false],
    ['web-', false],
    ['web_1', false],
    ['web.example.org', false],
    ['', false],
    ['../etc', false],
    ['web 1', false],
  ];
  for (const [host, ok] of cases) {
    it(`${ok ? 'accepts' : 'refuses'} ${JSON.stringify(host)}`, () => assert.equal(isHostName(host), ok));
  }
});

describe('durations', () => {
  it('parses each unit', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 604_800_000);
  });
  it('refuses zero, no unit and unknown units', () => {
    for (const bad of ['0s', '7', '7w', '-1h', 'h', '']) assert.throws(() => parseDuration(bad), /invalid duration/);
    assert.throws(() => parseDuration('0s'), /zero is not allowed/);
    assert.throws(() => parseDuration('100y'), /use a number with ms, s, m, h or d/);
    assert.throws(() => parseDuration('99999999999999d'), /too large/);
    assert.throws(() => parseDuration('100y'), (error: unknown) => exitCodeFor(error) === 2);
  });
});
