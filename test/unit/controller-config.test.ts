import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configuredReadToken, ControllerConfigError, loadReadToken, parseControllerConfig, parseListen, ReadTokenFileError } from '../../controller/config.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';

const KEY = formatPublicKey(generateKeyPair('release-1').public);
const KEY2 = formatPublicKey(generateKeyPair('release-2').public);

describe('parseListen', () => {
  const cases: Array<[string, { host: string; port: number } | null]> = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::]:443', { host: '::', port: 443 }],
    ['controller.example.org:80', { host: 'controller.example.org', port: 80 }],
    ['127.0.0.1', null],
    [':8080', null],
    ['127.0.0.1:65536', null],
    ['::1:8080', null],
    ['[nope]:80', null],
    ['host:80x', null],
    ['-bad:80', null],
  ];
  for (const [text, expected] of cases) {
    it(`${expected === null ? 'refuses' : 'parses'} ${JSON.stringify(text)}`, () => assert.deepEqual(parseListen(text), expected));
  }
});

describe('ControllerConfigSchema', () => {
  it('fills every default from a config with only the release keys', () => {
    const config = parseControllerConfig({ trustedReleaseKeys: [KEY] });
    assert.deepEqual(config, {
      listen: '127.0.0.1:8080',
      stateDir: '/var/lib/tsdeploy-controller',
      trustedReleaseKeys: [KEY],
      releaseThreshold: 1,
      heartbeatSeconds: 60,
      silentAfterHeartbeats: 3,
      rolloutTickSeconds: 5,
      maxWaitSeconds: 60,
      reports: { maxLogBytes: 1024 * 1024, keepRotated: 3 },
      limits: { maxConnections: 1024, headersTimeoutSeconds: 10, requestTimeoutSeconds: 30 },
      enrollment: { maxPending: 100, pendingTtlSeconds: 604_800, perAddressPerMinute: 10 },
      logLevel: 'info',
    });
  });
  it('keeps the reserved cacheDir', () => {
    assert.equal(parseControllerConfig({ trustedReleaseKeys: [KEY], cacheDir: '/srv/cache' }).cacheDir, '/srv/cache');
  });
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no release keys', { trustedReleaseKeys: [] }, /trustedReleaseKeys/],
    ['a malformed release key', { trustedReleaseKeys: ['nope'] }, /Nix format/],
    ['a threshold above the distinct keys', { trustedReleaseKeys: [KEY, KEY], releaseThreshold: 2 }, /releaseThreshold 2 is more than the 1/],
    ['an unknown field', { trustedReleaseKeys: [KEY], extra: true }, /extra/],
    ['a relative stateDir', { trustedReleaseKeys: [KEY], stateDir: 'state' }, /absolute/],
    ['a request deadline shorter than the header deadline', { trustedReleaseKeys: [KEY], limits: { headersTimeoutSeconds: 20, requestTimeoutSeconds: 5 } }, /requestTimeoutSeconds/],
    ['no connection allowed', { trustedReleaseKeys: [KEY], limits: { maxConnections: 0 } }, /maxConnections/],
    ['a listen without a port', { trustedReleaseKeys: [KEY], listen: 'localhost' }, /HOST:PORT/],
    ['a wait above 60 seconds', { trustedReleaseKeys: [KEY], maxWaitSeconds: 61 }, /maxWaitSeconds/],
    ['an unknown reports field', { trustedReleaseKeys: [KEY], reports: { keep: 1 } }, /reports/],
    ['both readToken and readTokenFile', { trustedReleaseKeys: [KEY], readToken: 'a'.repeat(16), readTokenFile: '/run/credentials/read-token' }, /readToken or readTokenFile, not both/],
    ['a relative readTokenFile', { trustedReleaseKeys: [KEY], readTokenFile: 'read-token' }, /readTokenFile.*absolute/],
  ];
  for (const [name, json, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parseControllerConfig(json, 'c.json'), (error: unknown) => {
        assert.ok(error instanceof ControllerConfigError);
        assert.match(error.message, message);
        return true;
      });
    });
  }
  it('accepts a threshold of two with two distinct keys', () => {
    assert.equal(parseControllerConfig({ trustedReleaseKeys: [KEY, KEY2], releaseThreshold: 2 }).releaseThreshold, 2);
  });
});

describe('read token files', () => {
  it('reads the token without its trailing newline, refuses a short one and names a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-read-token-'));
    try {
      await writeFile(join(dir, 'good'), 'read-token-0123456789\n');
      await writeFile(join(dir, 'short'), 'short\n');
      assert.equal(await loadReadToken(join(dir, 'good')), 'read-token-0123456789');
      assert.equal(await configuredReadToken({ readTokenFile: join(dir, 'good') }), 'read-token-0123456789');
      assert.equal(await configuredReadToken({ readToken: 'inline-token-0123456' }), 'inline-token-0123456');
      assert.equal(await configuredReadToken({}), undefined);
      await assert.rejects(loadReadToken(join(dir, 'short')), (error: unknown) => error instanceof ReadTokenFileError && /16 to 256 characters/.test(error.message));
      await assert.rejects(loadReadToken(join(dir, 'missing')), (error: unknown) => error instanceof ReadTokenFileError && /missing: cannot read: ENOENT/.test(error.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
