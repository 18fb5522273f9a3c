/**
 * The executors the contract suite runs on, as CPython's `create_executor_tests`:
 * each test body is written once against {@link ExecutorKind} and runs on every
 * entry of {@link EXECUTORS}. A kind says how to make its executor and how a
 * task holds a worker; the task functions are the same module references
 * (`tasks`) on all three; the per-call options (signals, deadlines, progress)
 * have theirs in control.test.ts.
 *
 * No `node:test` import here: child scripts (fixtures/) use this list too.
 */

import {
  BrokenInterpreterPool,
  BrokenProcessPool,
  BrokenThreadPool,
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  taskModule,
  type BrokenExecutor,
  type Executor,
  type ExecutorStats,
  type ParallelExecutorOptions,
  type ThreadPoolExecutorOptions,
} from 'concurrent-futures';
import { makeLatch, type TestLatch } from '../pool/helpers.js';

export const tasks = taskModule<typeof import('./tasks.js')>(
  new URL('./tasks.js', import.meta.url),
);

/** The constructor options every executor takes (maxWorkers, initializer, taskTimeout, ...). */
export type CommonOptions = Pick<
  ThreadPoolExecutorOptions,
  keyof ThreadPoolExecutorOptions & keyof ParallelExecutorOptions
>;

export interface ExecutorKind {
  readonly name: 'ThreadPoolExecutor' | 'InterpreterPoolExecutor' | 'ProcessPoolExecutor';
  /** A new executor of this kind. */
  make(options?: CommonOptions): Executor & { stats(): ExecutorStats };
  /** The error class of a broken pool of this kind. */
  readonly Broken: new (message?: string) => BrokenExecutor;
  /** A latch its tasks can see: shared memory, or files for child processes. */
  latch(): TestLatch;
  /** What to pass to `tasks.gate` as `blocking`: false where tasks run on the test's thread. */
  readonly blocking: boolean;
  /**
   * How many futures submitted behind a busy worker it may already hold (hand-ahead:
   * they count as running and can no longer be cancelled). 0 on threads.
   */
  readonly handAhead: number;
  /** Can it end a call that never yields (by replacing its worker)? */
  readonly forcible: boolean;
  /** Does a synchronous loop see its task signal abort without yielding (shared memory)? */
  readonly seesAbortInLoop: boolean;
}

export const EXECUTORS: readonly ExecutorKind[] = [
  {
    name: 'ThreadPoolExecutor',
    make: (options) => new ThreadPoolExecutor(options),
    Broken: BrokenThreadPool,
    latch: () => makeLatch('sab'),
    blocking: false,
    handAhead: 0,
    forcible: false,
    seesAbortInLoop: false,
  },
  {
    name: 'InterpreterPoolExecutor',
    make: (options) => new InterpreterPoolExecutor(options),
    Broken: BrokenInterpreterPool,
    latch: () => makeLatch('sab'),
    blocking: true,
    handAhead: 2,
    forcible: true,
    seesAbortInLoop: true,
  },
  {
    name: 'ProcessPoolExecutor',
    make: (options) => new ProcessPoolExecutor(options),
    Broken: BrokenProcessPool,
    latch: () => makeLatch('file'),
    blocking: true,
    handAhead: 2,
    forcible: true,
    seesAbortInLoop: false,
  },
];

/** The kind named `name` (for child scripts that get it on the command line). */
export function kindNamed(name: string): ExecutorKind {
  const kind = EXECUTORS.find((k) => k.name === name);
  if (kind === undefined) throw new Error(`no executor kind ${name}`);
  return kind;
}

/** A generous bound for one test: a busy 2-core machine starts workers slowly. */
export const TIMEOUT = 60_000;

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** Lets dispatch (a microtask) and a turn of the event loop run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
