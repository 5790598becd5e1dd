import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileOverCapError, NotRegularFileError, readRegularFileCapped } from '../../shared/bounded-read.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdeploy-bounded-'));
  await writeFile(join(dir, 'small'), 'hello');
  await writeFile(join(dir, 'large'), 'x'.repeat(100));
  await symlink(join(dir, 'small'), join(dir, 'link'));
  await symlink('/dev/zero', join(dir, 'zero'));
  spawnSync('mkfifo', [join(dir, 'fifo')]);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('readRegularFileCapped', () => {
  it('reads a regular file within the cap', async () => {
    assert.equal((await readRegularFileCapped(join(dir, 'small'), 5, { followSymlinks: false }))?.toString(), 'hello');
  });
  it('is null for a file that does not exist', async () => {
    assert.equal(await readRegularFileCapped(join(dir, 'none'), 5, { followSymlinks: false }), null);
  });
  it('refuses a file one byte over the cap', async () => {
    await assert.rejects(readRegularFileCapped(join(dir, 'large'), 99, { followSymlinks: false }), FileOverCapError);
  });
  it('refuses a symlink unless links are followed', async () => {
    await assert.rejects(readRegularFileCapped(join(dir, 'link'), 99, { followSymlinks: false }), NotRegularFileError);
    assert.equal((await readRegularFileCapped(join(dir, 'link'), 99, { followSymlinks: true }))?.toString(), 'hello');
  });
  it('refuses /dev/zero behind a followed link (endless data) and a FIFO, without blocking', async () => {
    await assert.rejects(readRegularFileCapped(join(dir, 'zero'), 99, { followSymlinks: true }), /a device or socket/);
    await assert.rejects(readRegularFileCapped(join(dir, 'fifo'), 99, { followSymlinks: true }), /a FIFO/);
  });
});
