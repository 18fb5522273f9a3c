/**
 * InterpreterPoolExecutor: worker threads, isolated JavaScript heaps in one
 * process (what Python 3.14's interpreter pool is). True parallelism for
 * CPU-bound work; each worker is one OS thread.
 */

import type { ResourceLimits } from 'node:worker_threads';
import { BrokenInterpreterPool, argTypeError, argValueError } from './errors.js';
import { ParallelExecutor, type ParallelExecutorOptions } from './parallel.js';
import { threadTransport } from './pool/thread-transport.js';
import { checkKnownOptions, checkOptionsObject, describe } from './validate.js';

/** The limits `new Worker()` knows; it ignores any other key, and any value that is not a number. */
const RESOURCE_LIMITS = [
  'maxYoungGenerationSizeMb',
  'maxOldGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
];

/** Options of {@link InterpreterPoolExecutor}. */
export interface InterpreterPoolExecutorOptions<
  I extends unknown[] = unknown[],
> extends ParallelExecutorOptions<I> {
  /** V8 heap limits for each worker thread; a worker that exceeds them dies alone. */
  resourceLimits?: ResourceLimits | undefined;
}

/**
 * Runs calls in a pool of worker threads (Python 3.14's interpreter pool, with
 * V8 isolates for sub-interpreters): the default executor for CPU-bound work.
 * A task is a `taskModule` reference or a self-contained function; arguments
 * and results are cloned (see `transfer()` to move buffers instead). A worker
 * that dies fails only the futures it held, with {@link BrokenInterpreterPool}.
 *
 * @example
 * ```ts
 * import { InterpreterPoolExecutor } from 'concurrent-futures';
 *
 * // Self-contained: it uses only its parameters and the worker's globals.
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2);
 * }
 *
 * await using executor = new InterpreterPoolExecutor({ maxWorkers: 2 });
 * console.log(await executor.submit(fib, 25)); // 75025, computed in a worker thread
 * for await (const n of executor.map(fib, [10, 15, 20], { chunksize: 2 })) {
 *   console.log(n); // 55, 610, 6765
 * }
 * ```
 */
export class InterpreterPoolExecutor<I extends unknown[] = unknown[]> extends ParallelExecutor {
  /**
   * Validates `options` up front (wrong type: `TypeError`, out of range:
   * `RangeError`, unknown key: `TypeError`; `initArgs` must be cloneable).
   * Workers start on demand, not here.
   */
  constructor(options: InterpreterPoolExecutorOptions<I> = {}) {
    checkOptionsObject(options, 'InterpreterPoolExecutor options');
    checkResourceLimits(options.resourceLimits);
    super(
      'InterpreterPoolExecutor',
      options as ParallelExecutorOptions<never[]>,
      ['resourceLimits'],
      () =>
        threadTransport({
          resourceLimits: options.resourceLimits,
          execArgv: options.execArgv,
          env: options.env,
        }),
      BrokenInterpreterPool,
    );
  }
}

function checkResourceLimits(limits: unknown): void {
  checkOptionsObject(limits, 'resourceLimits');
  if (limits === undefined) return;
  checkKnownOptions(limits as object, RESOURCE_LIMITS, 'resourceLimits');
  for (const [key, value] of Object.entries(limits as object)) {
    if (value === undefined) continue;
    if (typeof value !== 'number') {
      throw argTypeError(
        `resourceLimits.${key} must be a number of megabytes, got ${describe(value)}`,
      );
    }
    if (!(value > 0) || value === Infinity) {
      throw argValueError(
        `resourceLimits.${key} must be a positive number of megabytes, got ${value}`,
      );
    }
  }
}
