// Table tests of the binary-cache pieces of bundles: cache file names (also what /nix-cache/ serves), narinfo parsing, Nix base-32, the closure walk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cacheContentType,
  cacheFileKind,
  fileHashOf,
  NarInfoError,
  nixBase32,
  parseNarInfo,
  walkClosure,
  type NarInfo,
} from '../../controller/bundle/narinfo.js';
import { matchRoute } from '../../controller/http/respond.js';
import { cacheControlOf, cacheDirOf } from '../../controller/nix-cache/nix-cache.js';

const H = (c: string) => c.repeat(32);
const F = (c: string) => c.repeat(52);

describe('cacheFileKind (the only names a bundle holds and /nix-cache/ serves)', () => {
  const cases: Array<[string, ReturnType<typeof cacheFileKind>]> = [
    ['nix-cache-info', 'nix-cache-info'],
    [`${H('a')}.narinfo`, 'narinfo'],
    [`nar/${F('0')}.nar.xz`, 'nar'],
    [`nar/${F('0')}.nar.zst`, 'nar'],
    [`nar/${F('0')}.nar.bz2`, 'nar'],
    [`nar/${F('0')}.nar`, 'nar'],
    [`nar/${F('0')}.nar.gzip`, null],
    [`${H('e')}.narinfo`, null], // "e" is not in Nix's base-32 alphabet
    [`${H('a').slice(1)}.narinfo`, null],
    [`${H('A')}.narinfo`, null],
    [`nar/${F('0').slice(1)}.nar.xz`, null],
    [`../${H('a')}.narinfo`, null],
    [`nar/../${H('a')}.narinfo`, null],
    ['nar/', null],
    ['', null],
    ['nix-cache-info/', null],
    [`log/${H('a')}-hello`, null],
    [`${H('a')}.ls`, null],
    ['%2e%2e/last-bundle.json', null],
    [`/${H('a')}.narinfo`, null],
  ];
  for (const [name, expected] of cases) {
    it(`${JSON.stringify(name)} is ${expected ?? 'refused'}`, () => assert.equal(cacheFileKind(name), expected));
  }

  it('gives each kind the content type and caching Nix caches use', () => {
    assert.deepEqual(
      (['nix-cache-info', 'narinfo', 'nar'] as const).map((kind) => [cacheContentType(kind), cacheControlOf(kind)]),
      [
        ['text/x-nix-cache-info', 'no-cache'],
        ['text/x-nix-narinfo', 'no-cache'],
        ['application/x-nix-nar', 'public, max-age=31536000, immutable'],
      ],
    );
  });
});

describe('the /nix-cache/ route', () => {
  const cases: Array<[string, string, ReturnType<typeof matchRoute>]> = [
    ['GET', '/nix-cache/nix-cache-info', { kind: 'nix-cache', name: 'nix-cache-info' }],
    ['HEAD', `/nix-cache/nar/${F('1')}.nar.xz`, { kind: 'nix-cache', name: `nar/${F('1')}.nar.xz` }],
    ['GET', '/nix-cache/anything/else', { kind: 'nix-cache', name: 'anything/else' }],
    ['POST', '/nix-cache/nix-cache-info', { kind: 'method-not-allowed', allow: 'GET, HEAD' }],
    ['PUT', `/nix-cache/${H('a')}.narinfo`, { kind: 'method-not-allowed', allow: 'GET, HEAD' }],
    ['GET', '/nix-cache', { kind: 'not-found' }],
  ];
  for (const [method, path, expected] of cases) {
    it(`${method} ${path}`, () => assert.deepEqual(matchRoute(method, path), expected));
  }

  it('serves <stateDir>/nix-cache unless cacheDir is set', () => {
    assert.equal(cacheDirOf({ stateDir: '/var/lib/c' }), '/var/lib/c/nix-cache');
    assert.equal(cacheDirOf({ stateDir: '/var/lib/c', cacheDir: '/srv/cache' }), '/srv/cache');
  });
});

describe('nixBase32 (values from `nix hash to-base32`)', () => {
  const cases: Array<[string, string]> = [
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73'],
    ['ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', '1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'],
    ['851fc76bfb06255d83fae819b87a6280301c04c3caeecfd19504f42d988b842f', '0bw4ifc2vx04jp8wzvnaqc21qc40c9xbh6g8za1ms986zdmwf7w5'],
    ['a9993e364706816aba3e25717850c26c9cd0d89d', 'kpcd173cq987hw957sx6m0868wv3x6d9'],
    ['900150983cd24fb0d6963f7d28e17f72', '3jgzhjhz9zjvbb0kyj7jc500ch'],
  ];
  for (const [hex, expected] of cases) {
    it(`${hex.slice(0, 12)}… → ${expected.slice(0, 12)}…`, () => assert.equal(nixBase32(new Uint8Array(Buffer.from(hex, 'hex'))), expected));
  }
  it('fileHashOf prefixes sha256:', () => {
    assert.equal(fileHashOf('851fc76bfb06255d83fae819b87a6280301c04c3caeecfd19504f42d988b842f'), 'sha256:0bw4ifc2vx04jp8wzvnaqc21qc40c9xbh6g8za1ms986zdmwf7w5');
  });
});

const SYSTEM = `/nix/store/${H('3')}-nixos-system`;
const NARINFO = [
  `StorePath: ${SYSTEM}`,
  `URL: nar/${F('1')}.nar.xz`,
  'Compression: xz',
  `FileHash: sha256:${F('1')}`,
  'FileSize: 1792',
  `NarHash: sha256:${F('9')}`,
  'NarSize: 5384',
  `References: ${H('2')}-service ${H('3')}-nixos-system`,
  `Deriver: ${H('4')}-nixos-system.drv`,
  'Sig: cache-1:c2ln',
  'Sig: cache-2:c2ln',
  '',
].join('\n');

describe('parseNarInfo', () => {
  it('reads the fields a closure check needs, every signature, and ignores the rest', () => {
    assert.deepEqual(parseNarInfo(NARINFO), {
      storePath: SYSTEM,
      url: `nar/${F('1')}.nar.xz`,
      compression: 'xz',
      fileHash: `sha256:${F('1')}`,
      fileSize: 1792,
      narHash: `sha256:${F('9')}`,
      narSize: 5384,
      references: [`${H('2')}-service`, `${H('3')}-nixos-system`],
      sigs: ['cache-1:c2ln', 'cache-2:c2ln'],
    });
  });
  it('an empty References: line means no references', () => {
    assert.deepEqual(parseNarInfo(NARINFO.replace(/References: .*/, 'References: ')).references, []);
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['no StorePath', NARINFO.replace(/StorePath: .*\n/, ''), /StorePath/],
    ['a StorePath outside the store', NARINFO.replace(/StorePath: .*/, 'StorePath: /etc/passwd'), /StorePath/],
    ['a URL outside nar/', NARINFO.replace(/URL: .*/, 'URL: ../../etc/passwd'), /URL/],
    ['a URL with another name', NARINFO.replace(/URL: .*/, 'URL: nar/x.nar'), /URL/],
    ['no NarHash', NARINFO.replace(/NarHash: .*\n/, ''), /NarHash/],
    ['no NarSize', NARINFO.replace(/NarSize: .*\n/, ''), /NarSize/],
    ['a NarSize that is not a number', NARINFO.replace(/NarSize: .*/, 'NarSize: -1'), /NarSize/],
    ['a reference that is not a store path', NARINFO.replace(/References: .*/, 'References: ../x'), /reference/],
    ['a field given twice', `${NARINFO}URL: nar/${F('2')}.nar.xz\n`, /URL given twice/],
    ['a line that is no field', `${NARINFO}<html>\n`, /malformed line/],
  ];
  for (const [name, text, pattern] of refusals) {
    it(`refuses ${name}`, () => assert.throws(() => parseNarInfo(text), (error: unknown) => error instanceof NarInfoError && pattern.test(error.message)));
  }
});

function info(path: string, refs: readonly string[], url: string): NarInfo {
  return {
    storePath: path,
    url,
    compression: 'xz',
    fileHash: null,
    fileSize: null,
    narHash: 'sha256:x',
    narSize: 1,
    references: refs.map((ref) => ref.slice('/nix/store/'.length)),
    sigs: [],
  };
}

describe('walkClosure', () => {
  const sys = `/nix/store/${H('a')}-system`;
  const svc = `/nix/store/${H('b')}-service`;
  const lib = `/nix/store/${H('c')}-lib`;
  const other = `/nix/store/${H('d')}-other-system`;
  const nar = (c: string) => `nar/${F(c)}.nar.xz`;
  const full = new Map([
    [H('a'), info(sys, [sys, svc], nar('1'))],
    [H('b'), info(svc, [lib], nar('2'))],
    [H('c'), info(lib, [], nar('3'))],
    [H('d'), info(other, [lib], nar('4'))],
  ]);
  const allNars = new Set([nar('1'), nar('2'), nar('3'), nar('4')]);
  const without = <T>(map: ReadonlyMap<string, T>, key: string) => new Map([...map].filter(([k]) => k !== key));

  const cases: Array<[string, ReadonlyMap<string, NarInfo>, ReadonlySet<string>, ReadonlySet<string>, string[], number]> = [
    // name, narinfos, NAR files, already reported, problems, paths reached
    ['a complete cache reaches every path once, shared ones included', full, allNars, new Set(), [], 4],
    [
      'a missing narinfo deep in the closure is named once, with the host that needs it',
      without(full, H('c')),
      allNars,
      new Set(),
      [`missing: cache/${H('c')}.narinfo (${lib}, in the closure of web-1)`],
      4,
    ],
    ['a narinfo already named elsewhere is not named again', without(full, H('c')), allNars, new Set([H('c')]), [], 4],
    [
      'a missing NAR is named with its store path',
      full,
      new Set([nar('1'), nar('3'), nar('4')]),
      new Set(),
      [`missing: cache/${nar('2')} (NAR of ${svc}, in the closure of web-1)`],
      4,
    ],
    [
      'a narinfo filed under another path is named as altered',
      new Map([...full, [H('b'), info(lib, [], nar('2'))]]),
      allNars,
      new Set(),
      [`altered: cache/${H('b')}.narinfo (describes ${lib}, not ${svc})`],
      4,
    ],
  ];
  for (const [name, narinfos, nars, reported, problems, reached] of cases) {
    it(name, () => {
      const walk = walkClosure(
        [
          { host: 'web-1', storePath: sys },
          { host: 'web-2', storePath: other },
        ],
        narinfos,
        nars,
        reported,
      );
      assert.deepEqual(walk.problems, problems);
      assert.equal(walk.paths.length, reached);
    });
  }
});
