// A hang is a crash too. The properties are synchronous, so a case that never returns cannot be interrupted from
// its own thread: a watchdog thread reads the case in flight from shared memory and ends the process once it
// has run past its budget, saying which target, case and seed, and the slowest case that did finish.
import { Worker } from 'node:worker_threads';

/** Shared between the fuzz thread and the watchdog: see the slot names. */
export const SLOTS = { target: 0, caseNumber: 1, seed: 2, slowestMs: 3 } as const;

export interface WatchdogData {
  readonly counters: SharedArrayBuffer;
  /** Date.now() when the case in flight started; 0 when none is. */
  readonly started: SharedArrayBuffer;
  readonly names: readonly string[];
  readonly budgetMs: number;
}

const counters = new Int32Array(new SharedArrayBuffer(4 * 4));
const started = new BigInt64Array(new SharedArrayBuffer(8));
const names: string[] = [];
let watchdog: Worker | null = null;

/** Marks the start of one case of `name`, the `caseNumber`-th (from 0) of a run with `seed`. */
export function caseStarted(name: string, caseNumber: number): void {
  let index = names.indexOf(name);
  if (index === -1) index = names.push(name) - 1;
  Atomics.store(counters, SLOTS.target, index);
  Atomics.store(counters, SLOTS.caseNumber, caseNumber);
  Atomics.store(started, 0, BigInt(Date.now()));
}

export function caseEnded(slowestMs: number): void {
  Atomics.store(started, 0, 0n);
  Atomics.store(counters, SLOTS.slowestMs, Math.ceil(slowestMs));
}

/** The seed the cases that follow run with, for the replay line a hang prints. */
export function runningSeed(seed: number): void {
  Atomics.store(counters, SLOTS.seed, seed);
}

/**
 * Starts the watchdog thread (once): a case running longer than `budgetMs` prints one "hang:" line on
 * stderr and ends the process with SIGKILL, which the runner and node:test count as a failure.
 */
export function startWatchdog(budgetMs: number, targetNames: readonly string[]): void {
  if (watchdog !== null) return;
  for (const name of targetNames) if (!names.includes(name)) names.push(name);
  const data: WatchdogData = { counters: counters.buffer as SharedArrayBuffer, started: started.buffer as SharedArrayBuffer, names, budgetMs };
  // A worker does not inherit tsx's loader: the thread's TypeScript is imported through tsx's API.
  const thread = JSON.stringify(new URL('./watchdog-thread.ts', import.meta.url).href);
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  watchdog = new Worker(`import(${api}).then(({ tsImport }) => tsImport(${thread}, ${thread}))`, { eval: true, workerData: data });
  // The watchdog never keeps a finished run alive.
  watchdog.unref();
}
