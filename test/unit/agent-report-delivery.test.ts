// Report delivery to a controller that accepts connections and never answers (a real TCP server on loopback):
// queuing a report, a whole deployment and closing the client never wait for the unanswered delivery.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createControllerClient, type Delivery } from '../../agent/adapters/controller-client.js';
import { createOutbox } from '../../agent/adapters/outbox.js';
import { parseAgentConfig } from '../../agent/config.js';
import { EMPTY_JOURNAL, type Journal } from '../../agent/core/journal.js';
import { createAgent } from '../../agent/driver.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';
import { createLogger } from '../../shared/log.js';
import type { Report } from '../../shared/report.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { createFakeNix, NEW } from './agent-fakes.js';

/** Accepts every connection, reads what is sent, answers nothing. */
let server: Server;
let url = '';
const sockets = new Set<Socket>();
let requestSeen: Promise<void>;
let sawRequest: () => void = () => undefined;

function expectRequest(): void {
  requestSeen = new Promise((resolve) => (sawRequest = resolve));
}

before(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => sawRequest());
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const agentKey = generateKeyPair('tsdeploy-agent-web-1');

function draft(phase: Report['phase']): Omit<Report, 'seq'> {
  return {
    host: 'web-1', time: new Date().toISOString(), kind: 'phase', manifestVersion: 1, desiredPath: null, phase,
    outcome: 'in-progress', currentSystem: null, bootedSystem: null, generation: null, health: [], error: null, facts: null,
  };
}

/** Tracks whether a promise has settled yet, without waiting for it. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done, promise };
}

// A regression would hang on the unanswered delivery; the timeout only turns that hang into a failure.
describe('report delivery to a controller that never answers', { timeout: 60_000 }, () => {
  it('queues further reports while a delivery hangs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-hung-'));
    const outbox = createOutbox(dir, agentKey.secret, 100);
    // The delivery deadline is far beyond this test: nothing can settle the delivery but closing the client.
    const client = createControllerClient(url, 'web-1', 600);
    await outbox.enqueue(draft('accepted'));
    expectRequest();
    const flush = watch(outbox.flush((envelope) => client.sendReport(envelope)));
    await requestSeen;
    assert.equal(await outbox.enqueue(draft('realising')), 2);
    assert.equal(await outbox.enqueue(draft('realised')), 3);
    assert.equal((await outbox.stats()).queued, 3);
    assert.equal(flush.settled(), false, 'the first delivery is still unanswered');
    await client.close();
    assert.equal(await flush.promise, false);
    assert.equal((await outbox.stats()).queued, 3, 'nothing was lost');
  });

  it('a deployment runs to confirmed while its first report is still unanswered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-hung-'));
    const release = generateKeyPair('release-1');
    const config = parseAgentConfig({
      host: 'web-1',
      source: url,
      trustedKeys: [formatPublicKey(release.public)],
      stateDir: dir,
      minFreeBytes: 0,
      health: { checks: [], timeoutSeconds: 4, stableSeconds: 0, intervalSeconds: 1 },
      timeouts: { fetchSeconds: 600 },
    });
    const outbox = createOutbox(dir, agentKey.secret, 100);
    const client = createControllerClient(url, 'web-1', config.timeouts.fetchSeconds);
    const deliveries: Delivery[] = [];
    let journal: Journal = EMPTY_JOURNAL;
    const manifest = buildManifest({ host: 'web-1', storePath: NEW, version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() });
    const bytes = Buffer.from(signManifest(manifest, [release.secret]));
    const agent = createAgent({
      config,
      log: createLogger('test', 'silent'),
      nix: createFakeNix(),
      source: { kind: 'http', fetch: async () => ({ kind: 'manifest', bytes, etag: '"1"' }), close: async () => undefined },
      reports: {
        enqueue: (report) => outbox.enqueue(report),
        flush: () => outbox.flush(async (envelope) => {
          const delivery = await client.sendReport(envelope);
          deliveries.push(delivery);
          return delivery;
        }),
        queued: async () => (await outbox.stats()).queued,
      },
      journal: { read: async () => journal, write: async (next) => void (journal = next) },
      health: { run: async () => [{ name: 'service', type: 'http', ok: true, detail: '200' }] },
      host: { facts: async () => null, freeBytes: async () => 1 << 30 },
      clock: { now: () => new Date(), sleep: async () => undefined },
      trustedKeys: [release.public],
      hasController: true,
    });
    expectRequest();
    const result = await agent.cycle(0);
    assert.equal(result.kind, 'deployed');
    assert.equal(journal.deployment?.phase, 'confirmed');
    await requestSeen;
    assert.deepEqual(deliveries, [], 'no delivery has ended: none was waited for');
    const phases = ['accepted', 'realising', 'realised', 'probation', 'checking-health', 'staging-boot', 'confirmed'];
    assert.equal((await outbox.stats()).queued, phases.length, 'every phase change was queued');
    await client.close();
  });

  it('closing the client ends a hung delivery at once instead of waiting for its deadline', async () => {
    const client = createControllerClient(url, 'web-1', 3600);
    expectRequest();
    const delivery = watch(client.sendReport('{}'));
    await requestSeen;
    await client.close();
    const ended = await delivery.promise;
    assert.equal(ended.kind, 'unreachable');
  });
});
