// Table tests of the bundle index and the pure bundle checks: signatures, file list, manifests, cache, version rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BUNDLE_INDEX_MAX_BYTES,
  BUNDLE_INDEX_PAYLOAD_TYPE,
  BundleIndexError,
  buildBundleIndex,
  checkBundleCache,
  checkBundleFiles,
  checkBundleManifests,
  defaultBundleVersion,
  importVersionRefusal,
  isBundleFilePath,
  openBundleIndex,
  signBundleIndex,
  type BundleIndex,
  type PresentFile,
} from '../../controller/bundle/index-file.js';
import { fileHashOf } from '../../controller/bundle/narinfo.js';
import { decodeEnvelope, encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { contents, F, file, H, indexOf, manifestFor, narinfo, NOW, RELEASE, ROGUE, SECOND, sha, SYS1, SYS2 } from './bundle-index-fixtures.js';

describe('isBundleFilePath', () => {
  const cases: Array<[string, boolean]> = [
    ['cache/nix-cache-info', true],
    [`cache/${H('a')}.narinfo`, true],
    [`cache/nar/${F('1')}.nar.xz`, true],
    ['v1/hosts/web-1/manifest', true],
    ['index.json', false],
    ['cache/log/x', false],
    [`cache/../${H('a')}.narinfo`, false],
    ['v1/hosts/../manifest', false],
    ['v1/hosts/-bad-/manifest', false],
    ['v1/hosts/web-1/manifest/x', false],
    ['/etc/passwd', false],
    ['../outside', false],
  ];
  for (const [path, expected] of cases) it(`${path} → ${expected}`, () => assert.equal(isBundleFilePath(path), expected));
});

describe('buildBundleIndex, signBundleIndex and openBundleIndex', () => {
  const index = indexOf(contents());
  const signed = signBundleIndex(index, [RELEASE.secret]);
  const bytes = (text: string) => new Uint8Array(Buffer.from(text));

  it('builds the same bytes for the same bundle: hosts and files sorted by name', () => {
    assert.deepEqual(Object.keys(index.hosts), ['web-1', 'web-2']);
    assert.deepEqual(Object.keys(index.files), [...Object.keys(index.files)].sort());
    assert.equal(signBundleIndex(indexOf(contents()), [RELEASE.secret]), signed);
  });

  it('opens an index signed by a trusted key', () => {
    assert.deepEqual(openBundleIndex(bytes(signed), [RELEASE.public], 1), index);
  });

  const tampered = (() => {
    const envelope = decodeEnvelope(bytes(signed));
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as BundleIndex;
    const changed = { ...payload, hosts: { ...payload.hosts, 'web-1': { version: 7, storePath: SYS2 } } };
    return encodeEnvelope({ ...envelope, payload: Buffer.from(JSON.stringify(changed)).toString('base64') });
  })();
  const escaping = signBundleIndex({ ...index, files: { ...index.files, '../../etc/cron.d/x': file('x') } } as BundleIndex, [RELEASE.secret]);
  const noManifest = (() => {
    const { ['v1/hosts/web-2/manifest']: _dropped, ...files } = index.files;
    return signBundleIndex({ ...index, files } as BundleIndex, [RELEASE.secret]);
  })();
  const refusals: Array<[string, string, readonly (typeof RELEASE.public)[], number, RegExp]> = [
    ['signed by an untrusted key', signBundleIndex(index, [ROGUE.secret]), [RELEASE.public], 1, /0 valid from trusted keys, 1 required/],
    ['with fewer signatures than the threshold', signed, [RELEASE.public, SECOND.public], 2, /1 valid from trusted keys, 2 required/],
    ['whose payload was changed after signing', tampered, [RELEASE.public], 1, /bad or too few signatures/],
    ['of another payload type (a manifest)', manifestFor('web-1', SYS1, 7), [RELEASE.public], 1, /unknown payload type/],
    ['that is not JSON', 'index', [RELEASE.public], 1, /not valid JSON/],
    ['listing a file outside cache/ and v1/', escaping, [RELEASE.public], 1, /malformed: files\.\.\.\/\.\.\/etc\/cron\.d\/x/],
    ['listing a host without its manifest', noManifest, [RELEASE.public], 1, /does not list v1\/hosts\/web-2\/manifest/],
  ];
  for (const [name, text, keys, threshold, pattern] of refusals) {
    it(`refuses an index ${name}`, () =>
      assert.throws(() => openBundleIndex(bytes(text), keys, threshold), (error: unknown) => error instanceof BundleIndexError && pattern.test(error.message)));
  }

  it('refuses an index larger than the cap before parsing it', () => {
    assert.throws(() => openBundleIndex(new Uint8Array(BUNDLE_INDEX_MAX_BYTES + 1), [RELEASE.public], 1), /too large/);
  });

  it('counts two distinct keys towards a threshold of two', () => {
    assert.deepEqual(openBundleIndex(bytes(signBundleIndex(index, [RELEASE.secret, SECOND.secret])), [RELEASE.public, SECOND.public], 2), index);
  });

  it('uses its own payload type', () => {
    assert.equal(decodeEnvelope(bytes(signed)).payloadType, BUNDLE_INDEX_PAYLOAD_TYPE);
    assert.equal(BUNDLE_INDEX_PAYLOAD_TYPE, 'application/vnd.tsdeploy.bundle-index.v1+json');
  });

  it('refuses to build an index with no hosts', () => {
    assert.throws(() => buildBundleIndex({ version: 1, now: NOW, hosts: {}, files: new Map([['cache/nix-cache-info', file('x')]]) }), /lists no hosts/);
  });

  it('a signature over another type does not open as an index (DSSE binds the type)', () => {
    const other = encodeEnvelope(signEnvelope('application/x-other', Buffer.from(JSON.stringify(index)), [RELEASE.secret]));
    const relabelled = encodeEnvelope({ ...decodeEnvelope(bytes(other)), payloadType: BUNDLE_INDEX_PAYLOAD_TYPE });
    assert.throws(() => openBundleIndex(bytes(relabelled), [RELEASE.public], 1), /bad or too few signatures/);
  });
});

describe('checkBundleFiles', () => {
  const files = contents();
  const index = indexOf(files);
  const present = (edit: (map: Map<string, PresentFile>) => void): Map<string, PresentFile> => {
    const map = new Map<string, PresentFile>([...files].map(([path, text]) => [path, { kind: 'file', ...file(text) }]));
    edit(map);
    return map;
  };
  const nar = `cache/nar/${F('1')}.nar.xz`;
  const cases: Array<[string, Map<string, PresentFile>, string[]]> = [
    ['a complete bundle has no problems', present(() => undefined), []],
    ['a missing file is named', present((m) => m.delete(nar)), [`missing: ${nar}`]],
    ['a file of another size is named as altered', present((m) => m.set(nar, { kind: 'file', size: 3, sha256: null })), [`altered: ${nar} (3 bytes, the index says 12)`]],
    [
      'a file with other bytes of the same size is named as altered',
      present((m) => m.set(nar, { kind: 'file', ...file('nar of web-X') })),
      [`altered: ${nar} (sha256 differs from the index)`],
    ],
    ['a symlink where a file belongs is named as altered', present((m) => m.set(nar, { kind: 'other' })), [`altered: ${nar} (not a regular file)`]],
    [
      'files the index does not list are named',
      present((m) => {
        m.set('cache/nar/extra.nar', { kind: 'file', size: 1, sha256: null });
        m.set('v1/hosts/web-3/manifest', { kind: 'other' });
      }),
      ['unlisted: cache/nar/extra.nar', 'unlisted: v1/hosts/web-3/manifest (not a regular file)'],
    ],
  ];
  for (const [name, map, expected] of cases) it(name, () => assert.deepEqual(checkBundleFiles(index, map), expected));
});

describe('checkBundleManifests', () => {
  const index = indexOf(contents());
  const manifests = (web1: string) =>
    new Map([
      ['web-1', new Uint8Array(Buffer.from(web1))],
      ['web-2', new Uint8Array(Buffer.from(manifestFor('web-2', SYS2, 7)))],
    ]);
  const cases: Array<[string, string, Date, string[]]> = [
    ['manifests signed by a trusted key and matching the index pass', manifestFor('web-1', SYS1, 7), NOW, []],
    [
      'a manifest signed by another key is refused',
      manifestFor('web-1', SYS1, 7, { key: ROGUE }),
      NOW,
      ['refused: v1/hosts/web-1/manifest: bad or too few signatures (0 valid from trusted keys, 1 required)'],
    ],
    [
      "another host's manifest under this host's name is refused",
      manifestFor('web-1', SYS1, 7, { manifestHost: 'web-2' }),
      NOW,
      ['refused: v1/hosts/web-1/manifest: wrong host (manifest is for "web-2", this is "web-1")'],
    ],
    ['a manifest of another version than the index is named', manifestFor('web-1', SYS1, 6), NOW, ['altered: v1/hosts/web-1/manifest (version 6, the index says 7)']],
    [
      'a manifest of another store path than the index is named',
      manifestFor('web-1', SYS2, 7),
      NOW,
      [`altered: v1/hosts/web-1/manifest (store path ${SYS2}, the index says ${SYS1})`],
    ],
    [
      'an expired manifest is refused',
      manifestFor('web-1', SYS1, 7),
      new Date(NOW.getTime() + 2 * 86_400_000),
      ['refused: v1/hosts/web-1/manifest: expired (at 2026-03-02T10:00:00.000Z)', 'refused: v1/hosts/web-2/manifest: expired (at 2026-03-02T10:00:00.000Z)'],
    ],
  ];
  for (const [name, web1, now, expected] of cases) {
    it(name, () => assert.deepEqual(checkBundleManifests(index, manifests(web1), [RELEASE.public], 1, now), expected));
  }
});

describe('checkBundleCache', () => {
  const files = contents();
  const index = indexOf(files);
  const narinfos = (edit: (map: Map<string, string>) => void = () => undefined) => {
    const map = new Map([...files].filter(([path]) => path.endsWith('.narinfo')));
    edit(map);
    return map;
  };
  const a = `cache/${H('a')}.narinfo`;
  const b = `cache/${H('b')}.narinfo`;
  const cases: Array<[string, Map<string, string>, string | null, string[]]> = [
    ['a complete cache has no problems', narinfos(), 'StoreDir: /nix/store\n', []],
    [
      'a narinfo whose FileHash does not match its NAR is named',
      narinfos((m) => m.set(b, (m.get(b) ?? '').replace(/FileHash: .*/, `FileHash: ${fileHashOf(sha('other'))}`))),
      null,
      [`altered: ${b} (FileHash does not match cache/nar/${F('2')}.nar.xz)`],
    ],
    [
      'a narinfo whose FileSize does not match its NAR is named',
      narinfos((m) => m.set(b, (m.get(b) ?? '').replace(/FileSize: .*/, 'FileSize: 5'))),
      null,
      [`altered: ${b} (FileSize 5, cache/nar/${F('2')}.nar.xz has 12)`],
    ],
    ['a narinfo filed under the wrong name is named', narinfos((m) => m.set(b, m.get(a) ?? '')), null, [`altered: ${b} (describes ${SYS1})`]],
    ['a narinfo that does not parse is named', narinfos((m) => m.set(b, 'garbage')), null, [`malformed: ${b} (malformed line "garbage")`]],
    ['a cache for another store directory is named', narinfos(), 'StoreDir: /gnu/store\n', ['altered: cache/nix-cache-info (its StoreDir is not /nix/store)']],
  ];
  for (const [name, map, cacheInfo, expected] of cases) {
    it(name, () => assert.deepEqual(checkBundleCache(index, map, cacheInfo).problems, expected));
  }

  it('names a store path referenced but never copied, with the host whose closure needs it', () => {
    const lib = `/nix/store/${H('c')}-lib`;
    const map = narinfos((m) => m.set(b, narinfo(SYS2, `nar/${F('2')}.nar.xz`, 'nar of web-2', [lib])));
    const withoutB = new Map([...files].filter(([path]) => path !== b));
    const result = checkBundleCache(indexOf(new Map([...withoutB, [b, map.get(b) ?? '']])), map, null);
    assert.deepEqual(result.problems, [`missing: cache/${H('c')}.narinfo (${lib}, in the closure of web-1)`]);
  });

  it('returns every store path of the closures', () => {
    assert.deepEqual(checkBundleCache(index, narinfos(), null).paths.sort(), [SYS1, SYS2]);
  });
});

describe('the version rule', () => {
  const defaults: Array<[string, number]> = [
    ['1970-01-01T00:00:01.999Z', 1],
    ['2026-03-01T10:00:00.000Z', 1772359200],
    ['2026-03-01T10:00:00.999Z', 1772359200],
    ['2026-03-01T10:00:01.000Z', 1772359201],
  ];
  for (const [iso, expected] of defaults) {
    it(`a bundle made at ${iso} defaults to version ${expected} (seconds since the epoch)`, () => assert.equal(defaultBundleVersion(new Date(iso)), expected));
  }

  const imports: Array<[number, number | null, RegExp | null]> = [
    [5, null, null],
    [6, 5, null],
    [5, 5, /already imported/],
    [4, 5, /older than the last imported bundle \(version 5\): a replayed bundle/],
  ];
  for (const [version, last, refusal] of imports) {
    it(`importing version ${version} after ${last ?? 'none'} is ${refusal === null ? 'allowed' : 'refused'}`, () => {
      const result = importVersionRefusal(version, last);
      if (refusal === null) assert.equal(result, null);
      else assert.match(result ?? '', refusal);
    });
  }
});
