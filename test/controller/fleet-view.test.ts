import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadFleetView, recoverStatuses } from '../../controller/fleet/fleet-view.js';
import { revokeHost } from '../../controller/fleet/hosts-and-tokens.js';
import { createFileStore } from '../../controller/storage/store.js';
import { closeHttp, enrollWithToken, http, post, removeDir, report, signedManifest, signedReport, startController, storePath, testConfig, type Running } from './fixtures.js';

after(closeHttp);

async function freshSnapshot(stateDir: string) {
  const store = createFileStore(stateDir, testConfig(stateDir).reports);
  const view = await loadFleetView(store);
  await recoverStatuses(store, view);
  return view.snapshot();
}

async function statusBody(running: Running): Promise<unknown> {
  const answer = await http(`${running.url}/v1/status`);
  assert.equal(answer.status, 200);
  return answer.json();
}

describe('fleet view (in-memory status)', () => {
  it('equals a fresh load from disk after publishes, reports, enrollments and an admin revoke, and a restart shows the same status', async () => {
    const clock = new Date();
    let running = await startController({ now: () => clock });
    const { stateDir } = running;
    try {
      const hosts = ['web-1', 'web-2', 'db-1'];
      const keys = new Map<string, Awaited<ReturnType<typeof enrollWithToken>>>();
      for (const host of hosts) keys.set(host, await enrollWithToken(running, host));
      for (const host of hosts) assert.equal((await post(`${running.url}/v1/manifests`, signedManifest(host, 1, storePath(1)))).status, 201);
      assert.equal((await post(`${running.url}/v1/manifests`, signedManifest('web-1', 2, storePath(2)))).status, 201);
      assert.equal((await post(`${running.url}/v1/manifests`, signedManifest('never-enrolled', 1, storePath(3)))).status, 201);
      for (const [i, host] of hosts.entries()) {
        const key = keys.get(host)?.secret;
        assert.ok(key !== undefined);
        for (let seq = 1; seq <= i + 2; seq += 1) {
          const body = signedReport(key, report(host, seq, { phase: seq === 1 ? 'realising' : 'confirmed', outcome: seq === 1 ? 'in-progress' : 'success', currentSystem: storePath(1) }));
          assert.equal((await post(`${running.url}/v1/hosts/${host}/reports`, body)).status, 202);
        }
      }
      // The admin CLI revokes from its own process, through its own store.
      await revokeHost(createFileStore(stateDir, testConfig(stateDir).reports), 'db-1', clock);
      const dbKey = keys.get('db-1')?.secret;
      assert.ok(dbKey !== undefined);
      assert.equal((await post(`${running.url}/v1/hosts/db-1/reports`, signedReport(dbKey, report('db-1', 10)))).status, 403, 'a revoke by the CLI counts at once');

      const live = await running.controller.fleetSnapshot();
      assert.deepEqual(live, await freshSnapshot(stateDir));
      assert.equal(live.identities['db-1']?.status, 'revoked');
      assert.equal(live.statuses['db-1']?.lastSeq, 4);
      assert.equal(Object.keys(live.manifests).length, 4);

      const before = await statusBody(running);
      const rows = (before as { hosts: Array<{ host: string; enrolled: string }> }).hosts;
      assert.deepEqual(rows.map((row) => [row.host, row.enrolled]), [['db-1', 'revoked'], ['never-enrolled', 'unknown'], ['web-1', 'enrolled'], ['web-2', 'enrolled']]);
      await running.stop();
      running = await startController({ stateDir, now: () => clock });
      assert.deepEqual(await statusBody(running), before);
      assert.deepEqual(await running.controller.fleetSnapshot(), live);
    } finally {
      await running.stop();
      await removeDir(stateDir);
    }
  });
});
