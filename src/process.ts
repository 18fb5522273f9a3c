/**
 * ProcessPoolExecutor: child processes, full isolation. Each worker is a
 * direct child of this process, talking over IPC with structured clone.
 */

import { BrokenProcessPool } from './errors.js';
import { ParallelExecutor, type ParallelExecutorOptions } from './parallel.js';
import { processTransport } from './pool/process-transport.js';
import { checkOptionsObject } from './validate.js';

/** Options of {@link ProcessPoolExecutor}. */
export type ProcessPoolExecutorOptions<I extends unknown[] = unknown[]> =
  ParallelExecutorOptions<I>;

/** Runs calls in a pool of child processes; a broken pool raises {@link BrokenProcessPool}. */
export class ProcessPoolExecutor<I extends unknown[] = unknown[]> extends ParallelExecutor {
  constructor(options: ProcessPoolExecutorOptions<I> = {}) {
    checkOptionsObject(options, 'ProcessPoolExecutor options');
    super(
      'ProcessPoolExecutor',
      options as ParallelExecutorOptions<never[]>,
      [],
      () => processTransport({ execArgv: options.execArgv, env: options.env }),
      BrokenProcessPool,
    );
  }
}
