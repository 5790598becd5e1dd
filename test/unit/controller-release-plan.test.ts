import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NarInfo } from '../../controller/bundle/narinfo.js';
import { downloadOf, formatPlan, rebootVerdict, releasePlan } from '../../controller/release-plan/plan.js';

const hash = (c: string) => c.repeat(32);
function info(c: string, refs: string[], fileSize: number | null, narSize = 1000): NarInfo {
  return { storePath: `/nix/store/${hash(c)}-p${c}`, url: `nar/${'a'.repeat(52)}.nar.zst`, compression: 'zstd', fileHash: null, fileSize, narHash: 'sha256:x', narSize, references: refs.map((r) => `${hash(r)}-p${r}`), sigs: [] };
}
const path = (c: string) => `/nix/store/${hash(c)}-p${c}`;

describe('release plan (pure)', () => {
  it('needs a reboot when the kernel or initrd differs, and cannot tell without both toplevels', () => {
    assert.equal(rebootVerdict({ kernel: 'k1', initrd: 'i1' }, { kernel: 'k2', initrd: 'i1' }), 'yes');
    assert.equal(rebootVerdict({ kernel: 'k1', initrd: 'i1' }, { kernel: 'k1', initrd: 'i2' }), 'yes');
    assert.equal(rebootVerdict({ kernel: 'k1', initrd: 'i1' }, { kernel: 'k1', initrd: 'i1' }), 'no');
    assert.equal(rebootVerdict(null, { kernel: 'k1', initrd: 'i1' }), 'unknown');
  });

  it('sums FileSize (NarSize without one) of the new closure minus the old, and names paths the cache lacks', () => {
    const narinfos = new Map([
      [hash('a'), info('a', ['a', 'b', 'c'], 100)],
      [hash('b'), info('b', [], 20)],
      [hash('c'), info('c', ['d'], null, 7)],
      [hash('o'), info('o', ['b'], 50)],
    ]);
    const download = downloadOf(path('a'), path('o'), narinfos);
    assert.deepEqual(download, { bytes: 107, paths: 2, missing: [path('d')] });
    assert.equal(downloadOf(path('a'), null, narinfos).bytes, 127);
    const text = formatPlan(releasePlan([{ host: 'web-1', oldPath: path('o'), newPath: path('a'), reboot: 'unknown', download }]));
    assert.match(text, /web-1: .* -> .*; reboot: unknown; download 107 B in 2 path\(s\) \(1 path\(s\) not in the cache\)/);
    assert.match(text, /total download: 107 B \(107 bytes\) for 1 host\(s\)/);
  });
});
