/**
 * The module tasks of the pool benchmark, run by our executors through
 * `taskModule` and in-process for the serial baseline. The peers' workers
 * (bench/workers/peer-tasks.mjs) define the same functions, character for character.
 */

import { threadId } from 'node:worker_threads';

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
