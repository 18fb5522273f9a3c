/**
 * The module tasks of the pool benchmark, run by our executors through
 * `taskModule` and in-process for the serial baseline. The peers' workers
 * (bench/workers/peer-tasks.mjs) define the same functions, character for character.
 */

import { threadId } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { taskSignal } from 'concurrent-futures';

export function noop(): void {}

export function double(x: number): number {
  return x * 2;
}

export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** Which worker ran the call: `pid:threadId`, to check that every worker has started. */
export function whoami(): string {
  return `${process.pid}:${threadId}`;
}

/** Ends the worker that runs it: a crashing task for the crash-containment figure. */
export function exitNow(code: number): never {
  process.exit(code);
}

/** Spins for `ms` milliseconds, checking nothing: only a forced stop ends it early. */
export function spinFor(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

/** Waits `ms`, or stops at once when its task signal aborts (a cooperative task). */
export function sleepWithSignal(ms: number): Promise<string> {
  return sleep(ms, 'slept', { signal: taskSignal() });
}

/** Spins for `ms`, checking its task signal: a worker thread sees an abort at once. */
export function spinChecking(ms: number): number {
  const signal = taskSignal();
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    signal.throwIfAborted();
    n++;
  }
  return n;
}
