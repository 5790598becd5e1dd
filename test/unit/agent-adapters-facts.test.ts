// Host facts: the manifest layout, the store's filesystem from statfs, and the OS name read once per os-release.
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createHostFacts, createOsName, filesystemOf, storeFilesystem } from '../../agent/adapters/facts.js';
import { manifestUrl } from '../../agent/adapters/source.js';
import { HostFactsSchema } from '../../shared/report.js';

describe('sources and facts', () => {
  it('uses the same manifest layout for controllers, mirrors and directories', () => {
    assert.equal(manifestUrl('http://ctl:8080', 'web-1'), 'http://ctl:8080/v1/hosts/web-1/manifest');
    assert.equal(manifestUrl('file:///media/bundle/', 'web-1'), 'file:///media/bundle/v1/hosts/web-1/manifest');
  });

  it('sizes the store filesystem as df does: used is all blocks less the free ones, available what others may use', () => {
    assert.deepEqual(filesystemOf({ bsize: 4096, blocks: 100, bfree: 40, bavail: 30 }), { sizeBytes: 409_600, usedBytes: 245_760, availableBytes: 122_880 });
  });

  it('reads the filesystem of a real directory, and null for one that does not exist', async () => {
    const here = await storeFilesystem(tmpdir());
    assert.ok(here !== null && here.sizeBytes > 0 && here.availableBytes <= here.sizeBytes);
    assert.equal(await storeFilesystem('/nonexistent/nix/store'), null);
  });

  it('asks for the OS name again only when os-release points at another file (a switch)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-facts-'));
    try {
      await writeFile(join(dir, 'a'), 'NAME=A\n');
      await writeFile(join(dir, 'b'), 'NAME=B\n');
      const link = join(dir, 'os-release');
      await symlink(join(dir, 'a'), link);
      let calls = 0;
      const osName = createOsName(link, async () => ({ distro: 'NixOS', release: String(++calls) }));
      assert.equal(await osName(), 'NixOS 1');
      assert.equal(await osName(), 'NixOS 1');
      await rm(link);
      await symlink(join(dir, 'b'), link);
      assert.equal(await osName(), 'NixOS 2');
      assert.equal(calls, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives facts the report schema takes', async () => {
    const facts = await createHostFacts(async () => 'Debian GNU/Linux 12')();
    assert.deepEqual(HostFactsSchema.parse(facts), facts);
    assert.equal(facts.os, 'Debian GNU/Linux 12');
  });
});
