import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAgentConfig, parseAgentConfig } from '../../agent/config.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';
import { base, KEY, problems } from './agent-config-fixtures.js';

const KEY2 = formatPublicKey(generateKeyPair('release-2').public);


describe('agent config', () => {
  it('fills every default', () => {
    const config = parseAgentConfig(base);
    assert.equal(config.stateDir, '/var/lib/tsdeploy-agent');
    assert.equal(config.profile, '/nix/var/nix/profiles/system');
    assert.equal(config.threshold, 1);
    assert.deepEqual(config.rollback, { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true });
    assert.equal(config.health.timeoutSeconds, 120);
    assert.equal(config.poll.intervalSeconds, 60);
  });
  it('strips a trailing slash from the source', () => {
    assert.equal(parseAgentConfig({ ...base, source: 'file:///media/bundle/' }).source, 'file:///media/bundle');
  });
  it('accepts every check type', () => {
    const config = parseAgentConfig({
      ...base,
      health: {
        checks: [
          { type: 'http', url: 'http://127.0.0.1:9100/health' },
          { type: 'tcp', host: '127.0.0.1', port: 22 },
          { type: 'command', argv: ['/run/current-system/sw/bin/true'] },
          { type: 'systemd', allowDegraded: true },
          { type: 'controller' },
        ],
      },
    });
    assert.equal(config.health.checks.length, 5);
  });
  const bad: Array<[string, unknown, RegExp]> = [
    ['a missing host', { source: base.source, trustedKeys: [KEY] }, /host/],
    ['a host that is not a label', { ...base, host: 'web_1' }, /host: not an RFC 1123/],
    ['an ftp source', { ...base, source: 'ftp://x' }, /source: must be an http/],
    ['no trusted keys', { ...base, trustedKeys: [] }, /trustedKeys/],
    ['a malformed trusted key', { ...base, trustedKeys: ['release-1:abc'] }, /trustedKeys.0: not a public key/],
    ['a threshold above the distinct keys', { ...base, trustedKeys: [KEY, KEY], threshold: 2 }, /threshold 2 is more than the 1 distinct/],
    ['a relative state dir', { ...base, stateDir: 'state' }, /stateDir: must be an absolute path/],
    ['an unknown field', { ...base, substituters: ['http://x'] }, /substituters/],
    ['a command check through a shell-like relative program', { ...base, health: { checks: [{ type: 'command', argv: ['curl'] }] } }, /absolute path/],
    ['an unknown check type', { ...base, health: { checks: [{ type: 'ping' }] } }, /health.checks.0/],
    ['a controller check with a file source', { ...base, source: 'file:///m', health: { checks: [{ type: 'controller' }] } }, /needs an http/],
    ['an invalid cron expression', { ...base, poll: { cron: 'every day' } }, /poll.cron: not a valid cron/],
  ];
  for (const [what, json, pattern] of bad) {
    it(`refuses ${what}`, () => {
      const found = problems(json);
      assert.ok(found.some((p) => pattern.test(p)), `expected ${pattern} in ${JSON.stringify(found)}`);
    });
  }
  it('accepts two keys with a threshold of two', () => {
    assert.equal(parseAgentConfig({ ...base, trustedKeys: [KEY, KEY2], threshold: 2 }).threshold, 2);
  });
  it('names the file and the JSON error for an unparsable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-config-'));
    await writeFile(join(dir, 'bad.json'), '{ host: ');
    await assert.rejects(loadAgentConfig(join(dir, 'bad.json')), /invalid config .*bad.json: not valid JSON/);
    await assert.rejects(loadAgentConfig(join(dir, 'missing.json')), /cannot read: ENOENT/);
  });
});
