// Every scale benchmark in one run, side by side, each figure next to its goal. Prints; asserts nothing.
// Usage: node --import tsx test/bench/run.ts [--quick]   (--quick: smaller fleets, shorter runs)
// Needs root and Nix (the agent-overhead rounds run on the fleet lab) and nginx (apt-get install nginx-light).
import { parseArgs } from 'node:util';
import { agentIdle } from './agent-idle.js';
import { agentOverhead } from './agent-overhead.js';
import { fanout } from './fanout.js';
import { pollsBench } from './polls.js';
import { reportsBench } from './reports.js';
import { storeBench } from './store.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = values.quick === true;
const say = (goal: string, text: string) => process.stdout.write(`${text}\n  goal: ${goal}\n`);

for (const n of quick ? [1000] : [1000, 5000, 10_000]) say('p99 ≤ 1 s from storage to answer at 10,000', await fanout(n));
say('controller ≥ 0.5 × nginx', await pollsBench(1000, quick ? 2 : 5, 64));
say('≥ 2,000 signed reports per second on one core', await reportsBench(quick ? 50 : 200, quick ? 10 : 25, 32));
say('agent ≤ 1.10 × the bare sequence', await agentOverhead(quick ? 64 : 256, quick ? 1 : 3));
say('≤ 60 MB and ≤ 1 s of CPU per hour', await agentIdle(quick ? 0.5 : 3));
say('status and start-up fast at 10,000 hosts', await storeBench(quick ? 1000 : 10_000));
