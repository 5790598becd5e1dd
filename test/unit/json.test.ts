import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { jsonStructureProblem, parseJson, readJsonFile } from '../../shared/json.js';
import { manifestUrl, manifestUrlPath } from '../../shared/layout.js';

const Schema = z.object({ n: z.number() }).strict();
const fail = (detail: string) => new Error(`bad: ${detail}`);

describe('parseJson', () => {
  it('returns the parsed value for text and bytes', () => {
    assert.deepEqual(parseJson('{"n":1}', Schema, fail), { n: 1 });
    assert.deepEqual(parseJson(Buffer.from('{"n":2}'), Schema, fail), { n: 2 });
  });
  it('names invalid JSON and schema issues through the caller’s error', () => {
    assert.throws(() => parseJson('{', Schema, fail), /^Error: bad: not valid JSON$/);
    assert.throws(() => parseJson('{"n":"x"}', Schema, fail), /bad: n: /);
  });
});

describe('readJsonFile', () => {
  it('returns null for a missing file and the value for a good one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'json-'));
    try {
      assert.equal(await readJsonFile(join(dir, 'missing.json'), Schema, fail), null);
      await writeFile(join(dir, 'a.json'), '{"n":3}');
      assert.deepEqual(await readJsonFile(join(dir, 'a.json'), Schema, fail), { n: 3 });
      await assert.rejects(readJsonFile(dir, Schema, fail), /bad: cannot read: EISDIR/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('layout', () => {
  it('builds the manifest path every source uses', () => {
    assert.equal(manifestUrlPath('web-1'), 'v1/hosts/web-1/manifest');
    assert.equal(manifestUrl('http://10.0.0.1:8080/', 'web-1'), 'http://10.0.0.1:8080/v1/hosts/web-1/manifest');
    assert.equal(manifestUrl('file:///srv/export', 'db'), 'file:///srv/export/v1/hosts/db/manifest');
  });
});

describe('jsonStructureProblem', () => {
  const cases: [string, string, string | null][] = [
    ['a plain object', '{"a":1,"b":[1,{"a":2}]}', null],
    ['the same key in sibling objects', '[{"a":1},{"a":2}]', null],
    ['a duplicate key', '{"a":1,"b":2,"a":3}', 'duplicate key "a"'],
    ['a duplicate spelled with an escape', '{"a":1,"\\u0061":2}', 'duplicate key "a"'],
    ['a duplicate in a nested object', '{"x":{"k":1,"k":1}}', 'duplicate key "k"'],
    ['quotes and braces inside strings', '{"a":"}\\"{,","b":"\\\\","c":"]"}', null],
    ['a string value equal to a key', '{"a":"a","b":"a"}', null],
    ['64 levels', `${'['.repeat(64)}${']'.repeat(64)}`, null],
    ['65 levels', `${'['.repeat(65)}${']'.repeat(65)}`, 'nested deeper than 64 levels'],
  ];
  for (const [what, text, expected] of cases) {
    it(`${what}: ${expected ?? 'no problem'}`, () => {
      JSON.parse(text);
      assert.equal(jsonStructureProblem(text), expected);
    });
  }
  it('parseJson refuses a duplicate key through the caller’s error', () => {
    assert.throws(() => parseJson('{"n":1,"n":2}', Schema, fail), /^Error: bad: duplicate key "n"$/);
  });
});
