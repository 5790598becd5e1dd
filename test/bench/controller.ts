// Benchmark: prints figures, asserts nothing. Ed25519 on node:crypto against tweetnacl (the same signatures),
// acceptance throughput, and the controller holding many long-polling agents: memory per waiter and how long
// it takes to answer them all after publishes.
// All traffic is on 127.0.0.1, bounded in count and time. Usage: node --import tsx test/bench/controller.ts [--waiters 1000]
import { parseArgs } from 'node:util';
import nacl from 'tweetnacl';
import { Agent, request } from 'undici';
import { acceptManifest } from '../../shared/accept.js';
import { generateKeyPair, signBytes, verifyBytes } from '../../shared/keys.js';
import { RELEASE, signedManifest, startController, storePath } from '../controller/fixtures.js';

const { values } = parseArgs({ options: { waiters: { type: 'string', default: '1000' }, verify: { type: 'string', default: '2000' } } });
const waiters = Math.min(Number(values.waiters), 5000);
const verifications = Math.min(Number(values.verify), 100_000);
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

// 0. Ed25519 sign and verify, node:crypto (what the programs use) and tweetnacl (the test oracle), same key and bytes.
{
  const pair = generateKeyPair('bench-1');
  const message = Buffer.from(signedManifest('web-1', 2, storePath(1)));
  const rate = (label: string, count: number, fn: () => unknown) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i += 1) fn();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { label, perSecond: count / seconds };
  };
  const signature = signBytes(pair.secret, message);
  const results = [
    rate('node:crypto sign', 2000, () => signBytes(pair.secret, message)),
    rate('tweetnacl sign', 100, () => nacl.sign.detached(message, pair.secret.key)),
    rate('node:crypto verify', 2000, () => verifyBytes(pair.public, message, signature)),
    rate('tweetnacl verify', 100, () => nacl.sign.detached.verify(message, signature, pair.public.key)),
  ];
  for (const r of results) process.stdout.write(`ed25519 ${r.label}: ${Math.round(r.perSecond)}/s (${message.length}-byte message)\n`);
  const [ns, ts, nv, tv] = results.map((r) => r.perSecond) as [number, number, number, number];
  process.stdout.write(`ed25519 node:crypto / tweetnacl: sign ${(ns / ts).toFixed(0)}×, verify ${(nv / tv).toFixed(0)}×\n`);
}

// 1. The acceptance function: signature check over the exact bytes, then parsing.
{
  const bytes = Buffer.from(signedManifest('web-1', 2, storePath(1)));
  const started = process.hrtime.bigint();
  for (let i = 0; i < verifications; i += 1) {
    acceptManifest({ bytes, trustedKeys: [RELEASE.public], threshold: 1, host: 'web-1', last: { version: 1, digest: null }, now: new Date() });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`acceptManifest: ${verifications} in ${seconds.toFixed(2)} s = ${Math.round(verifications / seconds)} manifests/s\n`);
}

// 2. Long-polls: `waiters` agents (one per host) wait on ?wait=; then every host gets a new manifest.
{
  const running = await startController({ config: { maxWaitSeconds: 60 } });
  const dispatcher = new Agent({ connections: waiters + 10, pipelining: 0 });
  const hosts = Array.from({ length: waiters }, (_, i) => `host-${i}`);
  for (const host of hosts) {
    await request(`${running.url}/v1/manifests`, { method: 'POST', body: signedManifest(host, 1, storePath(1)), dispatcher }).then((r) => r.body.dump());
  }
  const etags = await Promise.all(
    hosts.map(async (host) => {
      const response = await request(`${running.url}/v1/hosts/${host}/manifest`, { dispatcher });
      await response.body.dump();
      return String(response.headers['etag']);
    }),
  );
  global.gc?.();
  const before = process.memoryUsage().rss;
  const answered: number[] = [];
  const polls = hosts.map((host, i) =>
    request(`${running.url}/v1/hosts/${host}/manifest?wait=55`, { dispatcher, headers: { 'if-none-match': etags[i] ?? '' }, headersTimeout: 70_000 }).then(
      async (response) => {
        await response.body.dump();
        answered.push(Date.now());
        return response.statusCode;
      },
    ),
  );
  for (let i = 0; i < 100 && running.controller.waiters() < waiters; i += 1) await new Promise((r) => setTimeout(r, 50));
  const held = running.controller.waiters();
  const after = process.memoryUsage().rss;
  const publishStarted = Date.now();
  for (const host of hosts) {
    await request(`${running.url}/v1/manifests`, { method: 'POST', body: signedManifest(host, 2, storePath(2)), dispatcher }).then((r) => r.body.dump());
  }
  const publishDone = Date.now();
  const statuses = await Promise.all(polls);
  const last = Math.max(...answered);
  process.stdout.write(
    `long-poll: ${held} waiters held; RSS (client and server in one process) +${mib(after - before)} = ${((after - before) / Math.max(held, 1) / 1024).toFixed(1)} KiB per waiter\n` +
      `long-poll: ${waiters} publishes took ${publishDone - publishStarted} ms; all ${statuses.filter((s) => s === 200).length} waiters answered 200 by ${last - publishStarted} ms after the first publish\n`,
  );
  await dispatcher.close();
  await running.stop();
}
