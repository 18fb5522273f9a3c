/**
 * ThreadPoolExecutor: in-process concurrency for I/O-bound work.
 *
 * Python's threads under the GIL give concurrency, not parallelism; on Node that
 * is the event loop. Up to `maxWorkers` logical workers each run one call at a
 * time, sync or async, closures included. For CPU-bound work use the
 * `InterpreterPoolExecutor` (worker threads) or `ProcessPoolExecutor`.
 */

import { availableParallelism } from 'node:os';
import { BrokenThreadPool, argTypeError, shutdownError } from './errors.js';
import { Executor, type ShutdownOptions, type TaskFunction } from './executor.js';
import { Future } from './future.js';
import { isThenable } from './thenable.js';
import { CallQueue } from './call-queue.js';
import { KeepAlive } from './keep-alive.js';
import { localCallable, taskRefOf } from './task-module.js';
import {
  checkOptionalArray,
  checkOptionalFunction,
  checkOptionsObject,
  checkKnownOptions,
  checkPositiveInt,
  checkShutdownOptions,
  describe,
} from './validate.js';

/** Options of {@link ThreadPoolExecutor}. */
export interface ThreadPoolExecutorOptions<I extends unknown[] = unknown[]> {
  /** How many calls may run at once; default `min(32, availableParallelism() + 4)`. */
  maxWorkers?: number | undefined;
  /** Prefix of the logical workers' names; default `ThreadPoolExecutor-N`. */
  threadNamePrefix?: string | undefined;
  /** Called (and awaited) once by each logical worker before its first call; if it throws the pool breaks. */
  initializer?: ((...args: I) => unknown) | undefined;
  /** The initializer's arguments. */
  initArgs?: I | undefined;
}

const OPTIONS = ['maxWorkers', 'threadNamePrefix', 'initializer', 'initArgs'];

const BROKEN_MESSAGE = 'A thread initializer failed, the thread pool is not usable anymore';

/**
 * How long a run of calls may hold the event loop before the workers yield to
 * timers and I/O (one `setImmediate`, shared by all pools).
 */
const SLICE_MS = 4;
let sliceStart = performance.now();
let pendingYield: Promise<void> | undefined;

function yieldToEventLoop(): Promise<void> {
  return (pendingYield ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      pendingYield = undefined;
      sliceStart = performance.now();
      resolve();
    }),
  ));
}

interface WorkerSlot {
  readonly name: string;
  initialized: boolean;
}

let poolCounter = 0;

/**
 * Runs calls concurrently on the event loop, at most `maxWorkers` at a time:
 * the executor for I/O-bound work. Calls run in your process, sync or async,
 * closures included; a broken pool (its initializer threw) raises
 * {@link BrokenThreadPool}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { ThreadPoolExecutor } from 'concurrent-futures';
 *
 * async function download(name: string, ms: number): Promise<string> {
 *   await sleep(ms); // stands in for real I/O
 *   return `${name} downloaded`;
 * }
 *
 * await using executor = new ThreadPoolExecutor({ maxWorkers: 3 });
 *
 * const future = executor.submit(download, 'a.pdf', 100); // Future<string>
 * console.log(await future); // 'a.pdf downloaded'
 * console.log(await executor.submit(download, 'b.pdf', 10).result(500)); // at most 500 ms
 * ```
 */
export class ThreadPoolExecutor<I extends unknown[] = unknown[]> extends Executor {
  /** The most calls that run at once. */
  readonly maxWorkers: number;
  readonly #prefix: string;
  readonly #initializer: ((...args: I) => unknown) | undefined;
  readonly #initArgs: I;
  readonly #queue = new CallQueue();
  readonly #workers: WorkerSlot[] = [];
  readonly #idle: WorkerSlot[] = [];
  /** Calls queued or running: while above zero the process stays alive. */
  #pending = 0;
  readonly #keepAlive = new KeepAlive();
  #shutdown = false;
  #broken: BrokenThreadPool | undefined;
  #drained: (() => void)[] = [];

  /**
   * Validates `options` up front: a wrong type is a `TypeError`, a value out of
   * range a `RangeError`, an unknown key a `TypeError` (codes in the errors guide).
   */
  constructor(options: ThreadPoolExecutorOptions<I> = {}) {
    super();
    checkOptionsObject(options, 'ThreadPoolExecutor options');
    checkKnownOptions(options, OPTIONS, 'ThreadPoolExecutor');
    this.maxWorkers =
      options.maxWorkers === undefined
        ? Math.min(32, availableParallelism() + 4)
        : checkPositiveInt(options.maxWorkers, 'maxWorkers');
    if (options.threadNamePrefix !== undefined && typeof options.threadNamePrefix !== 'string') {
      throw argTypeError(
        `threadNamePrefix must be a string, got ${describe(options.threadNamePrefix)}`,
      );
    }
    checkOptionalFunction(options.initializer, 'initializer');
    checkOptionalArray(options.initArgs, 'initArgs');
    this.#prefix = options.threadNamePrefix || `ThreadPoolExecutor-${poolCounter++}`;
    this.#initializer = options.initializer;
    this.#initArgs = (options.initArgs ?? []) as I;
  }

  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    if (typeof fn !== 'function') {
      throw argTypeError(`submit: fn must be a function, got ${describe(fn)}`);
    }
    if (this.#broken !== undefined) {
      throw new BrokenThreadPool(this.#broken.message, { cause: this.#broken.cause });
    }
    if (this.#shutdown) throw shutdownError();
    const future = new Future<Awaited<R>>();
    const ref = taskRefOf(fn);
    // A taskModule reference runs here too: the module is imported in-process.
    const call = ref === undefined ? (fn as TaskFunction) : localCallable(fn, ref);
    this.#queue.push(future, call, args);
    if (this.#pending++ === 0) this.#keepAlive.hold();
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#start(idle);
    } else if (this.#workers.length < this.maxWorkers) {
      const slot: WorkerSlot = {
        name: `${this.#prefix}_${this.#workers.length}`,
        initialized: false,
      };
      this.#workers.push(slot);
      this.#start(slot);
    }
    return future;
  }

  override async shutdown(options?: ShutdownOptions): Promise<void> {
    const { wait, cancelFutures } = checkShutdownOptions(options);
    this.#shutdown = true;
    if (cancelFutures) {
      for (const future of this.#queue.drainFutures()) {
        future._cancelAndNotify();
        this.#settled();
      }
    }
    if (this.#pending === 0) this.#keepAlive.dispose();
    else if (wait) await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  /** Starts a worker's loop on a later microtask: `submit` never runs the call itself. */
  #start(slot: WorkerSlot): void {
    queueMicrotask(() => void this.#run(slot));
  }

  async #run(slot: WorkerSlot): Promise<void> {
    if (!slot.initialized) {
      slot.initialized = true;
      if (this.#initializer !== undefined) {
        try {
          await this.#initializer(...this.#initArgs);
        } catch (error) {
          this.#breakPool(error);
          return;
        }
      }
    }
    const queue = this.#queue;
    for (;;) {
      if (this.#broken !== undefined) return;
      // Nothing queued: go idle now, before any yield, so that a submit made as
      // soon as a result is read (submit, await, submit) reuses this worker.
      if (queue.empty) break;
      // The slice is checked before every call, not after: otherwise each of
      // the maxWorkers workers that starts, or resumes from the shared yield,
      // runs one more call first, and a slice of 4 ms becomes maxWorkers calls.
      if (performance.now() - sliceStart >= SLICE_MS) {
        await yieldToEventLoop();
        continue;
      }
      const slots = queue.head.slots;
      const i = queue.headIndex;
      const future = slots[i] as Future<unknown>;
      const fn = slots[i + 1] as TaskFunction;
      const argc = slots[i + 2] as number;
      const arg = slots[i + 3];
      queue.drop();
      if (future._claim()) {
        try {
          const value = argc === 0 ? fn() : argc === 1 ? fn(arg) : fn(...(arg as unknown[]));
          future._settle(false, isThenable(value) ? await value : value);
        } catch (error) {
          future._settle(true, error);
        }
      }
      this.#settled();
    }
    this.#idle.push(slot);
  }

  /** One queued or running call is over. */
  #settled(): void {
    if (--this.#pending > 0) return;
    if (this.#shutdown || this.#broken !== undefined) this.#keepAlive.dispose();
    else this.#keepAlive.release();
    const drained = this.#drained;
    this.#drained = [];
    for (const resolve of drained) resolve();
  }

  #breakPool(cause: unknown): void {
    if (this.#broken === undefined) {
      this.#broken = new BrokenThreadPool(BROKEN_MESSAGE, { cause });
    }
    for (const future of this.#queue.drainFutures()) {
      if (future._claim()) {
        future.setException(new BrokenThreadPool(BROKEN_MESSAGE, { cause }));
      }
      this.#settled();
    }
  }
}
