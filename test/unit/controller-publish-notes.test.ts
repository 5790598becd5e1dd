import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publishNotes } from '../../controller/commands/publish-notes.js';
import type { PublishOutcome } from '../../controller/commands/publish-host.js';
import type { StatusResponse } from '../../controller/fleet/host-status.js';

const PATH = '/nix/store/0c7b2zy1z4i7ajvhw0hlx8zqvxgz8g3p-nixos-system-web-1';

function row(host: string, fields: Record<string, unknown>): StatusResponse['hosts'][number] {
  return { host, enrolled: 'enrolled', manifestVersion: null, outcome: null, error: null, ...fields } as unknown as StatusResponse['hosts'][number];
}
const status = (rows: Array<StatusResponse['hosts'][number]>): StatusResponse => ({ hosts: rows } as unknown as StatusResponse);
const unchanged: PublishOutcome = { host: 'web-1', result: 'unchanged', version: 5, storePath: PATH };
const published: PublishOutcome = { host: 'web-1', result: 'published', from: 4, version: 5, storePath: PATH };

describe('publish notes', () => {
  const cases: Array<[string, PublishOutcome, StatusResponse | null, { url: string; missing: Set<string> } | null, RegExp[]]> = [
    ['an enrolled host that took nothing wrong: no note', published, status([row('web-1', {})]), null, []],
    ['a host never seen', published, status([]), null, [/^warning: web-1 has no enrolled agent \(never seen\)/]],
    ['a pending host', published, status([row('web-1', { enrolled: 'pending' })]), null, [/no enrolled agent \(pending\)/]],
    ['no status read: no enrollment note', published, null, null, []],
    [
      'unchanged, but the host rolled that version back',
      unchanged,
      status([row('web-1', { manifestVersion: 5, outcome: 'rolled-back', error: 'health check failed: web (HTTP 500)' })]),
      null,
      [/^note: web-1 already refused version 5 of this path \(rolled-back: health check failed: web \(HTTP 500\)\).*--force/],
    ],
    ['unchanged, an older version failed: no note', unchanged, status([row('web-1', { manifestVersion: 4, outcome: 'failure' })]), null, []],
    ['a path the cache lacks', published, status([row('web-1', {})]), { url: 'http://cache', missing: new Set([PATH]) }, [/^warning: web-1: .* is not in the binary cache http:\/\/cache/]],
    ['a path the cache has', published, status([row('web-1', {})]), { url: 'http://cache', missing: new Set() }, []],
  ];
  for (const [name, outcome, fleet, cache, expected] of cases) {
    it(name, () => {
      const notes = publishNotes([outcome], fleet, cache);
      assert.equal(notes.length, expected.length, notes.join('\n'));
      expected.forEach((pattern, i) => assert.match(notes[i] ?? '', pattern));
    });
  }
});
