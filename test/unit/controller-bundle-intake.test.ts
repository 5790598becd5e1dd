// Table tests of the pure parts around bundle effects: Nix argv, Nix's verify output, the server URL, report outcomes, report lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportOutcome, urlOfListen } from '../../controller/bundle/intake.js';
import { BundleDirError, copyArgs, fileStoreUrl, signArgs, verifyArgs, verifyProblems } from '../../controller/bundle/nix.js';
import { peekReport } from '../../controller/commands/reports-import.js';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { generateKeyPair } from '../../shared/keys.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';

const P1 = `/nix/store/${'a'.repeat(32)}-system`;
const P2 = `/nix/store/${'b'.repeat(32)}-system`;

describe('Nix argv for bundles', () => {
  it('signs the closures with the cache key file', () => {
    assert.deepEqual(signArgs('/keys/cache.secret', [P1, P2]), [
      'nix', '--extra-experimental-features', 'nix-command', 'store', 'sign', '--key-file', '/keys/cache.secret', '--recursive', P1, P2,
    ]);
  });
  it('copies the closures into file://DIR', () => {
    assert.deepEqual(copyArgs('/media/b/cache', [P1]), ['nix', '--extra-experimental-features', 'nix-command', 'copy', '--to', 'file:///media/b/cache', P1]);
  });
  it('verifies against the given cache keys only, as one space-separated setting', () => {
    assert.deepEqual(verifyArgs('/media/b/cache', ['c1:AAAA', 'c2:BBBB'], [P1]), [
      'nix', '--extra-experimental-features', 'nix-command', 'store', 'verify',
      '--store', 'file:///media/b/cache', '--trusted-public-keys', 'c1:AAAA c2:BBBB', '--recursive', P1,
    ]);
  });
  const badDirs = ['relative/cache', '/media/b?trusted=true/cache', '/media/b#x'];
  for (const dir of badDirs) {
    it(`refuses a cache directory Nix would misread: ${dir}`, () => assert.throws(() => fileStoreUrl(dir), BundleDirError));
  }
  it("keeps only the lines of nix store verify that say what is wrong", () => {
    const stderr = [
      `checking '${P1}'...`,
      `path '${P1}' is untrusted`,
      `checking '${P2}'...`,
      `path '${P2}' was modified! expected hash 'sha256:x', got 'sha256:y'`,
      '',
    ].join('\n');
    assert.deepEqual(verifyProblems(stderr), [
      `nix store verify: path '${P1}' is untrusted`,
      `nix store verify: path '${P2}' was modified! expected hash 'sha256:x', got 'sha256:y'`,
    ]);
  });
});

describe('urlOfListen (where import reaches a running server)', () => {
  const cases: Array<[string, string | null]> = [
    ['10.213.4.1:8090', 'http://10.213.4.1:8090'],
    ['127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['0.0.0.0:8080', 'http://127.0.0.1:8080'],
    ['[::]:8080', 'http://[::1]:8080'],
    ['[fd00::1]:80', 'http://[fd00::1]:80'],
    ['controller.site:8080', 'http://controller.site:8080'],
    ['127.0.0.1:0', null],
    ['nonsense', null],
  ];
  for (const [listen, expected] of cases) it(`${listen} → ${expected ?? 'unknown'}`, () => assert.equal(urlOfListen(listen), expected));
});

describe('reportOutcome', () => {
  const cases: Array<[number, string]> = [
    [202, 'stored'],
    [409, 'duplicate'],
    [403, 'refused'],
    [400, 'refused'],
    [413, 'refused'],
    [500, 'refused'],
  ];
  for (const [status, kind] of cases) it(`HTTP ${status} counts as ${kind}`, () => assert.equal(reportOutcome(status, 'e').kind, kind));
});

describe('peekReport', () => {
  const key = generateKeyPair('agent-1');
  const line = (payload: unknown) =>
    JSON.stringify(JSON.parse(encodeEnvelope(signEnvelope(REPORT_PAYLOAD_TYPE, Buffer.from(JSON.stringify(payload)), [key.secret]))));
  const cases: Array<[string, string, { host: string; seq: number } | null]> = [
    ['a report envelope gives its host and seq', line({ host: 'ship-7', seq: 12, other: 'fields' }), { host: 'ship-7', seq: 12 }],
    ['a line that is not JSON', 'not json', null],
    ['an envelope whose payload is not JSON', line('x').replace(/"payload":"[^"]*"/, '"payload":"eA=="'), null],
    ['a payload with a host that is no host name', line({ host: '../x', seq: 1 }), null],
    ['a payload without seq', line({ host: 'ship-7' }), null],
  ];
  for (const [name, text, expected] of cases) it(name, () => assert.deepEqual(peekReport(text), expected));
});
