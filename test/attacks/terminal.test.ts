// Terminal escape injection through the operator's CLIs: a controller's answers, carried reports and bundle
// contents reach stdout and stderr with every control and reordering character escaped, and change nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLE_INDEX_PAYLOAD_TYPE } from '../../controller/bundle/index-file.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { hostileController, type HostileController } from './hostile-controller.js';
import {
  cli,
  closeHttp,
  envelopeOf,
  generateKeyPair,
  manifest,
  publicText,
  RELEASE,
  removeTempDirs,
  reportBody,
  signedReport,
  startControllerProcess,
  storePath,
  tempDir,
  unchanged,
  writeKeyFiles,
  type CliResult,
  type ControllerProcess,
} from './harness.js';

const ESC = '\u001b';
/** Clears the screen, retitles the window, fakes a green line, and (C1 CSI, bidi override) survives JSON.stringify. */
const HOSTILE = `${ESC}[2J${ESC}]0;owned\u0007${ESC}[31mfake OK\r\u009b1m\u202eevil`;
/** Any control or reordering character but the newline that ends each line. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const oneLine = (envelope: string): string => JSON.stringify(JSON.parse(envelope));

function assertClean(result: CliResult): void {
  assert.doesNotMatch(result.stdout, CONTROL, `a control character reached stdout: ${JSON.stringify(result.stdout)}`);
  assert.doesNotMatch(result.stderr, CONTROL, `a control character reached stderr: ${JSON.stringify(result.stderr)}`);
}

let operatorDir: string;
let keys: { secret: string; public: string };
let releaseFile: string;
let fake: HostileController;
let controller: ControllerProcess;

before(async () => {
  operatorDir = await tempDir('operator');
  keys = await writeKeyFiles(join(operatorDir, 'keys'), RELEASE);
  releaseFile = join(operatorDir, 'release.json');
  await writeFile(releaseFile, JSON.stringify({ hosts: { 'web-1': storePath(1) } }));
  fake = await hostileController();
  controller = await startControllerProcess();
});
after(async () => {
  await fake.close();
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

describe('a controller that answers with escape sequences', () => {
  const rolloutStart = (extra: readonly string[] = []) =>
    cli('controller', ['rollout', 'start', '--controller', fake.url, '--key', keys.secret, '--release', releaseFile, '--system', 'x86_64-linux', '--id', 'r1', ...extra]);

  it('test_terminal_escape_injection_rollout_refusal: "rollout refused" quotes the error escaped (exit 3)', async () => {
    fake.answer('POST /v1/rollouts', 409, { error: `a rollout is running ${HOSTILE}` });
    const result = await unchanged(operatorDir, () => rolloutStart());
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /rollout refused \(HTTP 409\): a rollout is running \\x1b\[2J\\x1b\]0;owned\\x07/);
    assertClean(result);
  });

  it('test_terminal_escape_injection_rollout_json: the answer printed by rollout start --json keeps no C1 or bidi character', async () => {
    fake.answer('POST /v1/rollouts', 201, { rollout: { id: 'r1', state: `running${HOSTILE}` } });
    const result = await unchanged(operatorDir, () => rolloutStart(['--json']));
    assert.equal(result.code, 0, result.stderr);
    assertClean(result);
    assert.equal((JSON.parse(result.stdout) as { rollout: { state: string } }).rollout.state, `running${HOSTILE}`, 'the JSON still parses to what was sent');
  });

  it('test_terminal_escape_injection_publish_json: publish --json quotes a refusal without raw control characters', async () => {
    fake.answer('POST /v1/manifests', 400, { error: `refused ${HOSTILE}` });
    const state = join(await tempDir('publish-state'), 'versions.json');
    const result = await unchanged(operatorDir, () =>
      cli('controller', ['publish', '--controller', fake.url, '--key', keys.secret, '--host', 'web-1', '--path', storePath(1), '--system', 'x86_64-linux', '--state', state, '--json']),
    );
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assertClean(result);
    assert.match(result.stdout, /refused \\u001b\[2J/);
  });

  it('test_terminal_escape_injection_report_import_through_controller: reports import prints the refusal escaped, state unchanged', async () => {
    fake.answer('POST /v1/hosts/web-1/reports', 400, { error: `bad report ${HOSTILE}` });
    const file = join(await tempDir('carried'), 'reports.jsonl');
    await writeFile(file, `${oneLine(signedReport(generateKeyPair('web-1-agent').secret, reportBody('web-1', 1)))}\n`);
    // The real controller holds its state directory, so the import goes through --controller: the hostile one.
    const result = await unchanged(controller.stateDir, () => cli('controller', ['reports', 'import', file, '--state-dir', controller.stateDir, '--controller', fake.url]));
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /line 1 \(web-1 seq 1\): refused: bad report \\x1b\[2J/);
    assertClean(result);
  });

  it('test_terminal_escape_injection_import_refusal: import prints a host refused by the controller escaped, state unchanged', async () => {
    fake.answer('POST /v1/manifests', 403, { error: `not today ${HOSTILE}` });
    const bundle = await writeBundle(1);
    const cacheDir = await tempDir('cache');
    const result = await unchanged(controller.stateDir, () =>
      cli('controller', ['import', bundle, '--state-dir', controller.stateDir, '--trusted-key', publicText(RELEASE), '--cache-dir', cacheDir, '--controller', fake.url]),
    );
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /ship-1: version 1 refused: not today \\x1b\[2J/);
    assertClean(result);
  });
});

describe('carried reports and bundles with escape sequences', () => {
  it('test_terminal_escape_injection_carried_report: a carried report whose payload type is an escape sequence is refused, escaped', async () => {
    const state = join(await tempDir('site'), 'state');
    await mkdir(state);
    const agent = generateKeyPair('ship-1-agent');
    const approved = await cli('controller', ['hosts', 'approve', 'ship-1', '--key', publicText(agent), '--state-dir', state]);
    assert.equal(approved.code, 0, approved.stderr);
    const file = join(await tempDir('carried'), 'reports.jsonl');
    await writeFile(file, `${oneLine(envelopeOf(`report${HOSTILE}`, reportBody('ship-1', 1), [agent.secret]))}\n`);
    // An import of nothing lays out the state directory, so the refused one has nothing left to create.
    await writeFile(`${file}.empty`, '');
    assert.equal((await cli('controller', ['reports', 'import', `${file}.empty`, '--state-dir', state])).code, 0);
    const result = await unchanged(state, () => cli('controller', ['reports', 'import', file, '--state-dir', state]));
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /refused: unknown payload type "report\\x1b\[2J/);
    assertClean(result);
  });

  it('test_terminal_escape_injection_bundle_file_name: bundle verify names an unlisted file with an escape sequence in its name, escaped', async () => {
    const bundle = await writeBundle(1, new Map([[`cache/${ESC}[2J${ESC}]0;owned\u0007.narinfo`, 'StorePath: x\n']]));
    const result = await unchanged(bundle, () => cli('controller', ['bundle', 'verify', bundle, '--trusted-key', publicText(RELEASE)]));
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /unlisted: cache\/\\x1b\[2J\\x1b\]0;owned\\x07\.narinfo/);
    assertClean(result);
  });
});

describe('what the agent prints of a signed manifest', () => {
  it('test_terminal_escape_injection_manifest_note: verify-manifest prints a signed note without C1 or bidi characters', async () => {
    const draft = buildManifest({ host: 'web-1', storePath: storePath(1), version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date(), note: `release ${HOSTILE}` });
    const result = await cli('agent', ['verify-manifest', '--trusted-key', publicText(RELEASE), '--host', 'web-1', '-'], { input: signManifest(draft, [RELEASE.secret]) });
    assert.equal(result.code, 0, result.stderr);
    assertClean(result);
    assert.equal((JSON.parse(result.stdout) as { note: string }).note, `release ${HOSTILE}`);
  });

  it('test_terminal_escape_injection_rejection: a rejection quoting a signed store path prints it escaped (exit 3)', async () => {
    // Signed as it is: buildManifest refuses such a path, the agent must refuse it too and say which.
    const draft = { ...buildManifest({ host: 'web-1', storePath: storePath(1), version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() }) };
    draft.storePath = `/nix/store/${'a'.repeat(32)}-x${HOSTILE}`;
    const result = await cli('agent', ['verify-manifest', '--trusted-key', publicText(RELEASE), '--host', 'web-1', '-'], { input: signManifest(draft, [RELEASE.secret]) });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /rejected: store path invalid .*\\x9b1m/);
    assertClean(result);
  });
});

describe('what the agent prints of its journal and of a rejected manifest', () => {
  /** An agent with a file source serving `envelope` for web-1 and, if given, `journal` as its journal. */
  async function agentSite(envelope: string | null, journal: unknown = null): Promise<{ config: string; stateDir: string }> {
    const root = await tempDir('agent');
    const stateDir = join(root, 'state');
    await mkdir(stateDir);
    if (journal !== null) await writeFile(join(stateDir, 'journal.json'), `${JSON.stringify(journal)}\n`);
    if (envelope !== null) {
      await mkdir(join(root, 'source/v1/hosts/web-1'), { recursive: true });
      await writeFile(join(root, 'source/v1/hosts/web-1/manifest'), envelope);
    }
    const config = join(root, 'agent.json');
    const settings = { host: 'web-1', source: `file://${join(root, 'source')}`, trustedKeys: [publicText(RELEASE)], stateDir, profile: join(root, 'profile'), poll: { waitSeconds: 0 } };
    await writeFile(config, JSON.stringify(settings));
    return { config, stateDir };
  }

  it('test_terminal_escape_injection_journal_reason: status prints a failed deployment\'s reason (Nix, a cache) escaped, text and --json', async () => {
    const now = new Date().toISOString();
    const deployment = { version: 2, storePath: storePath(2), activation: 'switch', phase: 'failed', previous: null, generation: null, reason: `realise failed: ${HOSTILE}`, resumes: 0, startedAt: now, updatedAt: now };
    const site = await agentSite(null, { lastAccepted: { version: 2, digest: 'a'.repeat(64) }, deployment, lastHealth: null, failedVersions: [2] });
    for (const json of [[], ['--json']]) {
      const result = await unchanged(site.stateDir, () => cli('agent', ['status', '--config', site.config, ...json]));
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /realise failed: \\(x1b|u001b)\[2J/);
      assertClean(result);
    }
  });

  it('test_terminal_escape_injection_once_rejection: once prints the rejection of a signed hostile store path escaped (exit 3)', async () => {
    const draft = { ...buildManifest({ host: 'web-1', storePath: storePath(1), version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() }) };
    draft.storePath = `/nix/store/${'a'.repeat(32)}-x${HOSTILE}`;
    const site = await agentSite(signManifest(draft, [RELEASE.secret]));
    const result = await cli('agent', ['once', '--config', site.config]);
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /rejected: store path invalid .*\\x9b1m/);
    assertClean(result);
  });
});

/** A one-host bundle (ship-1, no closure beyond one NAR), signed by the release key, plus `extra` files it does not list. */
async function writeBundle(version: number, extra: ReadonlyMap<string, string> = new Map()): Promise<string> {
  const h = 'a'.repeat(32);
  const nar = `nar/${'1'.repeat(52)}.nar.xz`;
  const system = `/nix/store/${h}-nixos-system-ship-1`;
  const narinfo = [`StorePath: ${system}`, `URL: ${nar}`, 'Compression: xz', `NarHash: sha256:${'9'.repeat(52)}`, 'NarSize: 100', `References: ${h}-nixos-system-ship-1`, 'Sig: cache-1:c2ln', ''];
  const contents = new Map([
    ['cache/nix-cache-info', 'StoreDir: /nix/store\n'],
    [`cache/${nar}`, `nar bytes of ship-1 (${version})`],
    [`cache/${h}.narinfo`, narinfo.join('\n')],
    ['v1/hosts/ship-1/manifest', manifest('ship-1', version, { path: system })],
  ]);
  const dir = await tempDir(`bundle-v${version}`);
  for (const [path, text] of [...contents, ...extra]) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const files = Object.fromEntries([...contents].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, text]) => [path, { size: Buffer.byteLength(text), sha256: sha(text) }]));
  const payload = { version, createdAt: new Date().toISOString(), hosts: { 'ship-1': { version, storePath: system } }, files };
  await writeFile(join(dir, 'index.json'), envelopeOf(BUNDLE_INDEX_PAYLOAD_TYPE, payload, [RELEASE.secret]));
  return dir;
}
