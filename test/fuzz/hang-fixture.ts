// A fuzz target whose fourth case never returns, run under a 0.3 s watchdog: watchdog.test.ts expects the hang line.
import fc from 'fast-check';
import { target } from './property.js';
import { runningSeed, startWatchdog } from './watchdog.js';

let calls = 0;
const hanging = target('hanging fixture', fc.nat(), () => {
  calls += 1;
  if (calls === 2) {
    const until = Date.now() + 50;
    while (Date.now() < until);
  }
  if (calls === 4) for (;;);
});
runningSeed(7);
startWatchdog(300, [hanging.name]);
fc.check(hanging.property, { numRuns: 10, seed: 7 });
process.stdout.write('the run ended: the watchdog did not fire\n');
