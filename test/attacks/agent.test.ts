// Attacks on the agent through `tsdeploy-agent once` as a child process: replayed, frozen, mixed-and-matched
// and untrusted manifests from a file source, and hostile HTTP sources (endless, slow). The journal never moves.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, manifest, publicText, RELEASE, removeTempDirs, ROGUE, snapshot, tempDir, type CliResult } from './harness.js';

after(removeTempDirs);

interface AgentSite {
  readonly configFile: string;
  readonly stateDir: string;
  readonly sourceDir: string;
}

async function agentSite(source: string | null, journal: unknown = null, extra: Record<string, unknown> = {}): Promise<AgentSite> {
  const root = await tempDir('agent');
  const stateDir = join(root, 'state');
  const sourceDir = join(root, 'source');
  await mkdir(stateDir);
  if (journal !== null) await writeFile(join(stateDir, 'journal.json'), `${JSON.stringify(journal)}\n`);
  const config = {
    host: 'web-1',
    source: source ?? `file://${sourceDir}`,
    trustedKeys: [publicText(RELEASE)],
    stateDir,
    profile: join(root, 'profile'),
    poll: { waitSeconds: 0 },
    timeouts: { fetchSeconds: 2 },
    ...extra,
  };
  const configFile = join(root, 'agent.json');
  await writeFile(configFile, JSON.stringify(config));
  return { configFile, stateDir, sourceDir };
}

async function serve(site: AgentSite, envelope: string): Promise<void> {
  const path = join(site.sourceDir, 'v1/hosts/web-1/manifest');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, envelope);
}

/** The agent's deployment state: everything in its state directory but the report queue, which says what happened. */
async function deploymentState(stateDir: string): Promise<Record<string, string>> {
  const all = await snapshot(stateDir);
  return Object.fromEntries([...all].filter(([path]) => !path.startsWith('outbox')));
}

/** One cycle; its reason is the `--json` line's, or the one-line error on stderr when the cycle failed before deciding. */
async function once(site: AgentSite): Promise<{ result: CliResult; reason: string }> {
  const result = await cli('agent', ['once', '--config', site.configFile, '--json'], { timeoutMs: 120_000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  if (line.startsWith('{')) return { result, reason: String((JSON.parse(line) as Record<string, unknown>)['reason']) };
  const error = result.stderr.split('\n').filter((text) => text.startsWith('tsdeploy-agent:')).pop() ?? result.stderr;
  return { result, reason: error };
}

/** Runs one cycle, asserting its exit code and reason and that the journal and the rest of the state did not move. */
async function refusedCycle(site: AgentSite, code: number, reason: RegExp): Promise<void> {
  const before = await deploymentState(site.stateDir);
  const { result, reason: why } = await once(site);
  assert.equal(result.code, code, `${result.stdout}${result.stderr}`);
  assert.match(why, reason);
  const after = await deploymentState(site.stateDir);
  assert.deepEqual(after, { ...before, ...pick(after, /^tsdeploy-agent-web-1\.(public|secret)$/) }, 'the deployment state changed');
  assert.equal(after['journal.json'], before['journal.json']);
}

function pick(entries: Record<string, string>, pattern: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter(([path]) => pattern.test(path)));
}

const journalAt = (version: number, envelope: string) => ({
  lastAccepted: { version, digest: createHash('sha256').update(Buffer.from((JSON.parse(envelope) as { payload: string }).payload, 'base64')).digest('hex') },
  deployment: null,
  lastHealth: null,
  failedVersions: [],
});

describe('manifests an agent must refuse', () => {
  it('test_new_targets_version_rollback: an older signed manifest is refused after a restart (journal)', async () => {
    const site = await agentSite(null, journalAt(5, manifest('web-1', 5)));
    await serve(site, manifest('web-1', 3));
    await refusedCycle(site, 3, /version rollback \(3 < 5\)/);
  });
  it('test_fast_forward_attack: the same version with other bytes is a conflict', async () => {
    const site = await agentSite(null, journalAt(5, manifest('web-1', 5)));
    await serve(site, manifest('web-1', 5, { path: '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-other' }));
    await refusedCycle(site, 3, /version conflict/);
  });
  it('test_freeze_attack: an expired manifest is refused', async () => {
    const site = await agentSite(null);
    await serve(site, manifest('web-1', 2, { now: new Date(Date.now() - 9 * 86_400_000), expiresInMs: 86_400_000 }));
    await refusedCycle(site, 3, /expired/);
  });
  it("test_mix_and_match_attack: another host's correctly signed manifest is refused", async () => {
    const site = await agentSite(null);
    await serve(site, manifest('web-2', 9));
    await refusedCycle(site, 3, /wrong host \(manifest is for "web-2", this is "web-1"\)/);
  });
  it('test_sign_with_untrusted_key: a manifest signed by an unknown key is refused', async () => {
    const site = await agentSite(null);
    await serve(site, manifest('web-1', 2, { keys: [ROGUE.secret] }));
    await refusedCycle(site, 3, /0 valid from trusted keys/);
  });
  it('test_endless_data_attack: a file source whose manifest is /dev/zero is refused within bounded memory', async () => {
    const site = await agentSite(null);
    await mkdir(join(site.sourceDir, 'v1/hosts/web-1'), { recursive: true });
    await symlink('/dev/zero', join(site.sourceDir, 'v1/hosts/web-1/manifest'));
    const before = await deploymentState(site.stateDir);
    const result = await cli('agent', ['once', '--config', site.configFile, '--json'], { timeoutMs: 30_000, nodeArgs: ['--max-old-space-size=192'] });
    assert.equal(result.code, 1, `exit ${String(result.code)} ${String(result.signal)}`);
    assert.match(result.stderr, /not a regular file/);
    assert.deepEqual(pick(await deploymentState(site.stateDir), /^journal/), pick(before, /^journal/));
  });
  it('a manifest file over 64 KiB is not read', async () => {
    const site = await agentSite(null);
    await serve(site, `${manifest('web-1', 2)}${' '.repeat(70 * 1024)}`);
    await refusedCycle(site, 1, /more than 65536/);
  });
});

/** A hostile source on 127.0.0.1 that answers every manifest request with `respond`. */
async function hostileSource(respond: (res: import('node:http').ServerResponse, stats: { sent: number; closed: boolean }) => void) {
  const stats = { sent: 0, closed: false };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || !(req.url ?? '').startsWith('/v1/hosts/web-1/manifest')) {
      res.writeHead(404).end();
      return;
    }
    req.socket.on('close', () => (stats.closed = true));
    respond(res, stats);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

describe('hostile HTTP sources', () => {
  it('test_endless_data_attack: an endless manifest body is abandoned at the cap', async () => {
    const source = await hostileSource((res, stats) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && stats.sent < 64 * 1024 * 1024 && res.write(chunk)) stats.sent += chunk.length;
        if (!res.destroyed && stats.sent < 64 * 1024 * 1024) res.once('drain', pump);
      };
      pump();
    });
    try {
      const site = await agentSite(source.url);
      await refusedCycle(site, 1, /larger than 65536 bytes; abandoned/);
      assert.ok(source.stats.sent < 64 * 1024 * 1024, 'the agent stopped reading');
    } finally {
      await source.close();
    }
  });
  it('test_slow_retrieval_attack: a source dripping one byte per second is given up at the fetch deadline', async () => {
    const body = manifest('web-1', 2);
    const source = await hostileSource((res, stats) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      const timer = setInterval(() => {
        if (res.destroyed || stats.closed || stats.sent >= body.length) return clearInterval(timer);
        res.write(body.slice(stats.sent, stats.sent + 1));
        stats.sent += 1;
      }, 1_000);
    });
    try {
      const site = await agentSite(source.url);
      await refusedCycle(site, 1, /cannot read|abort|timeout/i);
      assert.ok(source.stats.sent < body.length, 'the agent gave up before the body was complete');
    } finally {
      await source.close();
    }
  });
  it('test_slow_retrieval_attack: a source that never sends headers is given up', async () => {
    const source = await hostileSource(() => undefined);
    try {
      await refusedCycle(await agentSite(source.url), 1, /cannot fetch|abort|timeout/i);
    } finally {
      await source.close();
    }
  });
});

describe('injection through the source URL', () => {
  for (const source of ['http://127.0.0.1:9/?trusted=true', 'http://127.0.0.1:9/#x', 'http://user:pw@127.0.0.1:9', 'file:///srv/x?trusted=true']) {
    it(`check-config refuses the source ${source}`, async () => {
      const site = await agentSite(source);
      const result = await cli('agent', ['check-config', site.configFile]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /source/);
      await rm(site.configFile);
    });
  }
  it('a host name with a path in it is refused by check-config', async () => {
    const site = await agentSite(null);
    const config = JSON.parse(await readFile(site.configFile, 'utf8')) as Record<string, unknown>;
    await writeFile(site.configFile, JSON.stringify({ ...config, host: '../web-1' }));
    const result = await cli('agent', ['check-config', site.configFile]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /host/);
  });
});
