// Attacks on air-gapped bundles through `bundle verify` and `import` as child processes: tampered files,
// unlisted files, replayed bundles, untrusted signers, symlinks and endless data. A refused import changes nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, envelopeOf, manifest, publicText, RELEASE, removeTempDirs, ROGUE, snapshot, assertUnchanged, tempDir, type CliResult, type KeyPair } from './harness.js';

const INDEX_TYPE = 'application/vnd.tsdeploy.bundle-index.v1+json';
const H = 'a'.repeat(32);
const NAR = `nar/${'1'.repeat(52)}.nar.xz`;
const SYSTEM = `/nix/store/${H}-nixos-system-ship-1`;
const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

after(removeTempDirs);

/** The files of a one-host bundle, as the bundle command lays them out. */
function files(version: number): Map<string, string> {
  const narinfo = [`StorePath: ${SYSTEM}`, `URL: ${NAR}`, 'Compression: xz', `NarHash: sha256:${'9'.repeat(52)}`, 'NarSize: 100', `References: ${H}-nixos-system-ship-1`, 'Sig: cache-1:c2ln', ''];
  return new Map([
    ['cache/nix-cache-info', 'StoreDir: /nix/store\n'],
    [`cache/${NAR}`, `nar bytes of ship-1 (${version})`],
    [`cache/${H}.narinfo`, narinfo.join('\n')],
    ['v1/hosts/ship-1/manifest', manifest('ship-1', version, { path: SYSTEM })],
  ]);
}

function index(version: number, contents: ReadonlyMap<string, string>, keys: readonly KeyPair[] = [RELEASE]): string {
  const listed = Object.fromEntries([...contents].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, text]) => [path, { size: Buffer.byteLength(text), sha256: sha(text) }]));
  const payload = { version, createdAt: new Date().toISOString(), hosts: { 'ship-1': { version, storePath: SYSTEM } }, files: listed };
  return envelopeOf(INDEX_TYPE, payload, keys.map((key) => key.secret));
}

async function writeBundle(version: number, options: { keys?: readonly KeyPair[]; extra?: Map<string, string> } = {}): Promise<string> {
  const dir = await tempDir(`bundle-v${version}`);
  const contents = files(version);
  for (const [path, text] of [...contents, ...(options.extra ?? [])]) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await writeFile(join(dir, 'index.json'), index(version, contents, options.keys));
  return dir;
}

/** A hang or a memory blow-up ends in SIGKILL after `timeoutMs`, which fails the exit-code assertion. */
const verify = (dir: string, nodeArgs: readonly string[] = [], timeoutMs = 90_000): Promise<CliResult> =>
  cli('controller', ['bundle', 'verify', dir, '--trusted-key', publicText(RELEASE)], { nodeArgs, timeoutMs });

async function siteState(): Promise<string> {
  const dir = await tempDir('site');
  await mkdir(join(dir, 'state'));
  return join(dir, 'state');
}

/** `import` into `state`, asserting that a refusal left the state directory as it was. */
async function refusedImport(state: string, dir: string, message: RegExp): Promise<void> {
  const before = await snapshot(state);
  const result = await cli('controller', ['import', '--state-dir', state, '--trusted-key', publicText(RELEASE), dir], { timeoutMs: 90_000 });
  assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
  assert.match(result.stderr, message);
  await assertUnchanged(state, before);
}

async function refusedVerify(dir: string, message: RegExp, nodeArgs: readonly string[] = [], timeoutMs?: number): Promise<void> {
  const result = await verify(dir, nodeArgs, timeoutMs);
  assert.equal(result.code, 3, `exit ${String(result.code)} ${String(result.signal)}: ${result.stdout}${result.stderr.slice(0, 400)}`);
  assert.match(result.stderr, message);
}

describe('tampered bundles', () => {
  it('a good bundle verifies (the baseline the attacks alter)', async () => {
    const result = await verify(await writeBundle(5));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /good \(version 5/);
  });
  it('test_tampered_nar: a NAR altered in place, same size, is named', async () => {
    const dir = await writeBundle(5);
    await writeFile(join(dir, 'cache', NAR), 'nar bytes of ship-X (5)');
    await refusedVerify(dir, new RegExp(`altered: cache/${NAR} \\(sha256 differs`));
    await refusedImport(await siteState(), dir, /altered/);
  });
  it('test_tampered_narinfo: a narinfo pointing at another path is named', async () => {
    const dir = await writeBundle(5);
    await writeFile(join(dir, 'cache', `${H}.narinfo`), files(5).get(`cache/${H}.narinfo`)?.replace('NarSize: 100', 'NarSize: 999') ?? '');
    await refusedVerify(dir, new RegExp(`altered: cache/${H}\\.narinfo`));
  });
  it('test_tampered_index: an index edited after signing is refused before any file is read', async () => {
    const dir = await writeBundle(5);
    const envelope = JSON.parse(index(5, files(5))) as { payload: string };
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { version: number };
    payload.version = 999;
    envelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
    await writeFile(join(dir, 'index.json'), JSON.stringify(envelope));
    await refusedVerify(dir, /refused: index\.json: bad or too few signatures/);
    await refusedImport(await siteState(), dir, /index\.json/);
  });
  it('test_tampered_manifest: a manifest swapped for another signed one is named', async () => {
    const dir = await writeBundle(5);
    await writeFile(join(dir, 'v1/hosts/ship-1/manifest'), manifest('ship-1', 5, { path: SYSTEM }).replace(/\n$/, ' \n'));
    await refusedVerify(dir, /altered: v1\/hosts\/ship-1\/manifest/);
  });
  it('test_untrusted_index_signer: a bundle signed without the release key is refused', async () => {
    const dir = await writeBundle(5, { keys: [ROGUE] });
    await refusedVerify(dir, /index\.json: bad or too few signatures/);
    await refusedImport(await siteState(), dir, /index\.json/);
  });
  it('test_unlisted_file: a narinfo the index does not list is named', async () => {
    const extra = new Map([[`cache/${'b'.repeat(32)}.narinfo`, 'StorePath: /nix/store/x\n']]);
    const dir = await writeBundle(5, { extra });
    await refusedVerify(dir, /unlisted: cache\/b{32}\.narinfo/);
    await refusedImport(await siteState(), dir, /unlisted/);
  });
  it('an index that lists a path outside the bundle layout is refused', async () => {
    const dir = await writeBundle(5);
    const contents = new Map([...files(5), ['cache/../../etc/passwd', 'x']]);
    await writeFile(join(dir, 'index.json'), index(5, contents));
    await refusedVerify(dir, /index\.json: malformed.*cache\/\.\.\/\.\.\/etc\/passwd/);
  });
});

describe('replayed bundles', () => {
  it('test_replayed_older_bundle: after version 7, version 6 is refused and nothing changes', async () => {
    const state = await siteState();
    const newer = await cli('controller', ['import', '--state-dir', state, '--trusted-key', publicText(RELEASE), await writeBundle(7)]);
    assert.equal(newer.code, 0, newer.stderr);
    await refusedImport(state, await writeBundle(6), /older than the last imported bundle \(version 7\)/);
    await refusedImport(state, await writeBundle(7), /already imported/);
  });
});

describe('symlinks and endless data', () => {
  it('test_symlinked_cache_dir: a cache directory that is a symlink is refused', async () => {
    const dir = await writeBundle(5);
    const elsewhere = await tempDir('elsewhere');
    await rm(elsewhere, { recursive: true });
    await rename(join(dir, 'cache'), elsewhere);
    await symlink(elsewhere, join(dir, 'cache'));
    await refusedVerify(dir, /cache.*symlink|not a directory/);
    await refusedImport(await siteState(), dir, /cache.*symlink|not a directory/);
  });
  it('a symlinked NAR is refused (never followed)', async () => {
    const dir = await writeBundle(5);
    const target = join(await tempDir('target'), 'nar');
    await rename(join(dir, 'cache', NAR), target);
    await symlink(target, join(dir, 'cache', NAR));
    await refusedVerify(dir, /not a regular file/);
  });
  it('test_endless_data_attack: an index.json that never ends (/dev/zero) is refused within bounded memory', async () => {
    const dir = await writeBundle(5);
    await rm(join(dir, 'index.json'));
    await symlink('/dev/zero', join(dir, 'index.json'));
    await refusedVerify(dir, /index\.json/, ['--max-old-space-size=192'], 30_000);
    await refusedImport(await siteState(), dir, /index\.json/);
  });
  it('test_endless_data_attack: an index.json that is a FIFO is refused without blocking', async () => {
    const dir = await writeBundle(5);
    await rm(join(dir, 'index.json'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'index.json')]).status, 0);
    await refusedVerify(dir, /index\.json/, [], 30_000);
  });
});
