// Fills a controller state directory for the benchmarks: hosts enrolled with their own keys, each with
// a signed manifest, through the controller's own store (as `hosts approve --key` and publish would).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPublicKey, generateKeyPair, type SecretKey } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { approveHost } from '../../controller/fleet/hosts-and-tokens.js';
import { createFileStore } from '../../controller/storage/store.js';
import { storePath } from '../controller/fixtures.js';
import type { BenchKeys } from './bench-lib.js';

export interface SeededHost {
  readonly host: string;
  readonly key: SecretKey;
}

export async function seedState(keys: BenchKeys, count: number, prefix = 'host'): Promise<{ stateDir: string; hosts: SeededHost[] }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tsdeploy-bench-state-'));
  const store = createFileStore(stateDir, { maxLogBytes: 1024 * 1024, keepRotated: 3 });
  await store.ensureLayout();
  const hosts: SeededHost[] = [];
  const now = new Date();
  for (let i = 0; i < count; i += 1) {
    const host = `${prefix}-${i}`;
    const pair = generateKeyPair(`tsdeploy-agent-${host}`);
    await approveHost(store, host, formatPublicKey(pair.public), now);
    const manifest = buildManifest({ host, storePath: storePath(1), version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now });
    await store.writeManifest(host, Buffer.from(signManifest(manifest, [keys.secret])));
    hosts.push({ host, key: pair.secret });
  }
  return { stateDir, hosts };
}
