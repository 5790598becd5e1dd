// Host facts: the manifest layout and the filesystem holding the Nix store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountFor } from '../../agent/adapters/facts.js';
import { manifestUrl } from '../../agent/adapters/source.js';



describe('sources and facts', () => {
  it('uses the same manifest layout for controllers, mirrors and directories', () => {
    assert.equal(manifestUrl('http://ctl:8080', 'web-1'), 'http://ctl:8080/v1/hosts/web-1/manifest');
    assert.equal(manifestUrl('file:///media/bundle/', 'web-1'), 'file:///media/bundle/v1/hosts/web-1/manifest');
  });
  it('finds the filesystem holding the Nix store by the longest mount prefix', () => {
    const mounts = [{ mount: '/' }, { mount: '/nix' }, { mount: '/nixos' }, { mount: '/home' }];
    assert.equal(mountFor(mounts, '/nix/store')?.mount, '/nix');
    assert.equal(mountFor([{ mount: '/' }, { mount: '/home' }], '/nix/store')?.mount, '/');
  });
});
