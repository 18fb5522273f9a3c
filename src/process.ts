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

/**
 * Runs calls in a pool of child processes: full isolation, even from a crash
 * in native code, at the cost of slower start-up and copying every argument
 * and result. A task is a `taskModule` reference or a self-contained function.
 * A worker that dies fails only the futures it held, with {@link BrokenProcessPool}.
 *
 * @example
 * ```ts
 * import { ProcessPoolExecutor } from 'concurrent-futures';
 *
 * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *
 * const pid = await executor.submit(() => process.pid);
 * console.log(pid !== process.pid); // true: the call ran in a child process
 *
 * const crash = executor.submit(() => process.exit(3));
 * console.log((await crash.exception() as { code?: string }).code); // 'ERR_BROKEN_POOL'
 * console.log(await executor.submit((x: number) => x + 1, 1)); // 2: a new worker took over
 * ```
 */
export class ProcessPoolExecutor<I extends unknown[] = unknown[]> extends ParallelExecutor {
  /**
   * Validates `options` up front (wrong type: `TypeError`, out of range:
   * `RangeError`, unknown key: `TypeError`; `initArgs` must be cloneable).
   * Workers start on demand, not here.
   */
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
