// Enrollments for the crash test: anonymous and token requests racing a SIGKILL, and the check that each acknowledged one survived whole.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createToken } from '../../controller/fleet/hosts-and-tokens.js';
import type { ControllerStore } from '../../controller/storage/store.js';
import { generateKeyPair } from '../../shared/keys.js';
import { publicText } from './fixtures.js';

/** Requests per round and kind: enough to race the kill, below any pending cap. */
const PER_ROUND = 15;

export interface AckedEnrollment {
  readonly host: string;
  readonly publicKey: string;
  readonly status: 'pending' | 'enrolled';
}

/**
 * Two loops for one round: anonymous requests (acknowledged by 202) and token requests (201), each
 * for a host of its own, stopping at the first request the dying server does not answer.
 */
export async function enrollers(
  round: number,
  store: ControllerStore,
  post: (url: string, body: string) => Promise<number>,
  url: string,
  stopped: () => boolean,
  ack: (enrollment: AckedEnrollment) => void,
): Promise<Array<Promise<void>>> {
  const tokens = await Promise.all(
    Array.from({ length: PER_ROUND }, (_, i) => createToken(store, `t${round}-${i}`, 3_600_000, new Date()).then(({ token }) => token)),
  );
  const loop = async (kind: 'pending' | 'enrolled') => {
    for (let i = 0; i < PER_ROUND && !stopped(); i += 1) {
      const host = `${kind === 'pending' ? 'p' : 't'}${round}-${i}`;
      const publicKey = publicText(generateKeyPair(`${host}-agent`));
      const body = JSON.stringify(kind === 'pending' ? { host, publicKey } : { host, publicKey, token: tokens[i] });
      const status: number | null = await post(`${url}/v1/enroll`, body).catch(() => null);
      if (status === null) return;
      assert.equal(status, kind === 'pending' ? 202 : 201, `${host}: enrollment answered ${status}`);
      ack({ host, publicKey, status: kind });
    }
  };
  return [loop('pending'), loop('enrolled')];
}

/**
 * Every acknowledged enrollment is on disk, whole, with its key and state, and every record parses.
 * A killed write's temp file may stay in hosts/ or tokens/ (the admin CLI writes there too, so a
 * restart removes only temp files older than a minute); it is never a record's name.
 */
export async function checkEnrollments(stateDir: string, store: ControllerStore, acked: readonly AckedEnrollment[]): Promise<void> {
  for (const dir of ['hosts', 'tokens']) {
    for (const name of await readdir(join(stateDir, dir))) {
      assert.ok(/^[^.].*\.json$/.test(name) || /^\..*\.tmp$/.test(name), `${dir}/${name}: a record or a temp file, nothing else`);
    }
  }
  assert.ok((await store.listHosts()).length >= acked.length, 'every host record parses');
  for (const enrollment of acked) {
    const record = await store.readHost(enrollment.host);
    assert.ok(record !== null, `${enrollment.host}: acknowledged enrollment is on disk`);
    assert.equal(record.publicKey, enrollment.publicKey, `${enrollment.host}: with the acknowledged key`);
    assert.equal(record.status, enrollment.status, `${enrollment.host}: ${enrollment.status}`);
  }
}
