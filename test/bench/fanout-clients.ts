// The fan-out benchmark's agents, in a process of their own: one long-poll per host, re-polled on 304,
// each answer's arrival time recorded. Prints READY once every poll is sent, then one JSON line.
// Usage (from fanout.ts): node --import tsx test/bench/fanout-clients.ts URL HOSTS PREFIX
import { Agent, request } from 'undici';

const [url = '', countText = '0', prefix = 'host'] = process.argv.slice(2);
const count = Number(countText);
const dispatcher = new Agent({ connections: count + 16, pipelining: 0, keepAliveTimeout: 120_000 });
const answered: Record<string, number> = {};
let errors = 0;

async function etagOf(host: string): Promise<string> {
  const response = await request(`${url}/v1/hosts/${host}/manifest`, { dispatcher });
  await response.body.dump();
  return String(response.headers['etag'] ?? '');
}

async function poll(host: string, etag: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      const response = await request(`${url}/v1/hosts/${host}/manifest?wait=55`, {
        dispatcher,
        headers: { 'if-none-match': etag },
        headersTimeout: 70_000,
        bodyTimeout: 70_000,
      });
      await response.body.dump();
      if (response.statusCode === 200) {
        answered[host] = Date.now();
        return;
      }
      if (response.statusCode !== 304) errors += 1;
    } catch {
      errors += 1;
    }
  }
}

const hosts = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const etags: string[] = [];
for (let i = 0; i < hosts.length; i += 200) etags.push(...(await Promise.all(hosts.slice(i, i + 200).map(etagOf))));
const polls = hosts.map((host, i) => poll(host, etags[i] ?? ''));
await new Promise((resolve) => setTimeout(resolve, 2000));
process.stdout.write('READY\n');
await Promise.all(polls);
process.stdout.write(`${JSON.stringify({ answered, errors })}\n`);
await dispatcher.close();
