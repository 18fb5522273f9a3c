/**
 * InterpreterPoolExecutor: worker threads, isolated JavaScript heaps in one
 * process (what Python 3.14's interpreter pool is). True parallelism for
 * CPU-bound work; each worker is one OS thread.
 */

import type { ResourceLimits } from 'node:worker_threads';
import { BrokenInterpreterPool } from './errors.js';
import { ParallelExecutor, type ParallelExecutorOptions } from './parallel.js';
import { threadTransport } from './pool/thread-transport.js';
import { checkOptionsObject } from './validate.js';

/** Options of {@link InterpreterPoolExecutor}. */
export interface InterpreterPoolExecutorOptions<
  I extends unknown[] = unknown[],
> extends ParallelExecutorOptions<I> {
  /** V8 heap limits for each worker thread; a worker that exceeds them dies alone. */
  resourceLimits?: ResourceLimits | undefined;
}

/** Runs calls in a pool of worker threads; a broken pool raises {@link BrokenInterpreterPool}. */
export class InterpreterPoolExecutor<I extends unknown[] = unknown[]> extends ParallelExecutor {
  constructor(options: InterpreterPoolExecutorOptions<I> = {}) {
    checkOptionsObject(options, 'InterpreterPoolExecutor options');
    checkOptionsObject(options.resourceLimits, 'resourceLimits');
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
