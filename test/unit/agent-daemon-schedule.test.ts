// The daemon's wait between polls: a poll.cron schedule is cut short when a held activation's window (or a
// reboot's) opens sooner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentConfig } from '../../agent/config.js';
import { waitForNextPoll } from '../../agent/daemon/schedule.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';

const base = { host: 'web-1', source: 'file:///srv/tsdeploy', trustedKeys: [formatPublicKey(generateKeyPair('release-1').public)] };

/** Resolves with which came first: the wait, or a guard long after the expected wake-up. */
const race = (wait: Promise<void>, guardMs: number) =>
  Promise.race([wait.then(() => 'woke' as const), new Promise<'slept on'>((resolve) => setTimeout(() => resolve('slept on'), guardMs).unref())]);

describe('daemon schedule: waiting for the next poll', () => {
  it('a yearly poll.cron still wakes when the window opens', async () => {
    const config = parseAgentConfig({ ...base, poll: { cron: '0 0 1 1 *' } });
    assert.equal(await race(waitForNextPoll(config, 60_000, new AbortController().signal, 20), 5_000), 'woke');
  });

  it('without poll.cron the interval is cut short by the window', async () => {
    const config = parseAgentConfig(base);
    assert.equal(await race(waitForNextPoll(config, 3_600_000, new AbortController().signal, 20), 5_000), 'woke');
  });

  it('with nothing waiting, a cron schedule is not cut short', async () => {
    const config = parseAgentConfig({ ...base, poll: { cron: '0 0 1 1 *' } });
    const stop = new AbortController();
    const wait = waitForNextPoll(config, 10, stop.signal);
    assert.equal(await race(wait, 200), 'slept on');
    stop.abort();
    await wait;
  });

  it('an opening further off than a timer can wait (about 24.8 days) does not wake at once', async () => {
    const config = parseAgentConfig({ ...base, poll: { cron: '0 0 1 1 *' } });
    const stop = new AbortController();
    const wait = waitForNextPoll(config, 10, stop.signal, 40 * 86_400_000);
    assert.equal(await race(wait, 200), 'slept on');
    stop.abort();
    await wait;
  });
});
