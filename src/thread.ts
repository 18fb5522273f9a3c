/**
 * ThreadPoolExecutor: in-process concurrency for I/O-bound work.
 *
 * Python's threads under the GIL give concurrency, not parallelism; on Node that
 * is the event loop. Up to `maxWorkers` logical workers each run one call at a
 * time, sync or async, closures included. For CPU-bound work use the
 * `InterpreterPoolExecutor` (worker threads) or `ProcessPoolExecutor`.
 */

import { availableParallelism } from 'node:os';
import { BrokenThreadPool, TimeoutError, argTypeError, shutdownError } from './errors.js';
import {
  checkCallDefaults,
  checkCallOptions,
  taskContexts,
  type Control,
  type TaskContext,
} from './control.js';
import { Outcomes, type ExecutorStats } from './stats.js';
import { traceOver, traceStart, traceSubmit } from './tracing.js';
import { Executor, type ShutdownOptions, type TaskFunction } from './executor.js';
import { AbortWatch } from './abort-watch.js';
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
  /** A `timeout` (ms from start) for every call that does not give its own (see `with`). */
  taskTimeout?: number | undefined;
  /** Accepted for symmetry with the parallel executors: a call in this process cannot be ended. */
  gracePeriod?: number | undefined;
}

const OPTIONS = [
  'maxWorkers',
  'threadNamePrefix',
  'initializer',
  'initArgs',
  'taskTimeout',
  'gracePeriod',
];

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

/**
 * A call made with options: its task context, and how to stop it. Its
 * AbortSignal is made the first time the task asks for it (`taskSignal()`):
 * most tasks never do, and an AbortSignal costs more than a small call. A call
 * stopped before that gets a signal that is already aborted.
 */
class CallContext implements TaskContext {
  readonly future: Future<unknown>;
  /** The caller's signal, if any. */
  readonly callerSignal: AbortSignal | undefined;
  readonly progress: ((value: unknown) => void) | undefined;
  #controller: AbortController | undefined;
  #stopped: { reason: unknown } | undefined;

  constructor(
    future: Future<unknown>,
    callerSignal: AbortSignal | undefined,
    onProgress: ((value: unknown, future: Future<unknown>) => void) | undefined,
  ) {
    this.future = future;
    this.callerSignal = callerSignal;
    this.progress =
      onProgress === undefined
        ? undefined
        : (value) => {
            if (future.done()) return;
            try {
              onProgress(value, future);
            } catch (error) {
              future._reportCallbackError(error);
            }
          };
  }

  /** The task's signal (`taskSignal()`). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#stopped !== undefined) this.#controller.abort(this.#stopped.reason);
    }
    return this.#controller.signal;
  }

  /** Fails the call with `reason` (aborted, or past its deadline), and aborts its task signal. */
  stop(reason: unknown): void {
    if (!this.future._settle(true, reason)) return;
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.#stopped ??= { reason };
  }
}

interface WorkerSlot {
  readonly name: string;
  initialized: boolean;
  /** The call it runs, for `shutdown({ abortRunning })`. */
  current: Future<unknown> | undefined;
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
  readonly #callDefaults: { timeout: number; gracePeriod: number };
  readonly #defaultControl: Control | undefined;
  #running = 0;
  readonly #outcomes = new Outcomes();
  #calls = 0;
  /** The calls made with options, until their futures settle: how to stop each. */
  readonly #controlled = new Map<Future<unknown>, CallContext>();
  /** The calls with a signal: queued, cancelled when it aborts; running, failed and stopped. */
  readonly #aborts = new AbortWatch<CallContext>((call, reason) => {
    if (!call.future._cancelAndNotify()) call.stop(reason);
  });
  readonly #onControlledDone = (future: Future<unknown>): void => {
    const call = this.#controlled.get(future);
    if (call === undefined) return;
    this.#controlled.delete(future);
    if (call.callerSignal !== undefined) this.#aborts.delete(call.callerSignal, call);
  };
  /** The timed calls: submitted at, then started at. */
  readonly #stamps = new Map<Future<unknown>, number>();

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
    this.#callDefaults = checkCallDefaults(options);
    this.#defaultControl = checkCallOptions({}, this.#callDefaults);
  }

  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    if (this.#defaultControl !== undefined) {
      return this._submitControlled(this.#defaultControl, fn as TaskFunction, args) as Future<
        Awaited<R>
      >;
    }
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
    this.#enqueue(future, call, args);
    return future;
  }

  /**
   * @internal A call with options: it runs inside its task context; an abort or
   * its deadline fails its future at once and aborts its task signal, but the
   * call itself cannot be ended here, so its worker stays busy until it returns.
   */
  override _submitControlled(
    control: Control | undefined,
    fn: TaskFunction,
    args: unknown[],
  ): Future<unknown> {
    if (control === undefined) return this.submit(fn, ...args);
    if (typeof fn !== 'function') {
      throw argTypeError(`submit: fn must be a function, got ${describe(fn)}`);
    }
    if (this.#broken !== undefined) {
      throw new BrokenThreadPool(this.#broken.message, { cause: this.#broken.cause });
    }
    if (this.#shutdown) throw shutdownError();
    const future = new Future<unknown>();
    const { signal, timeout, onProgress } = control;
    if (signal?.aborted === true) {
      future._cancelAndNotify();
      this.#outcomes.cancelled++;
      return future;
    }
    const ref = taskRefOf(fn);
    const target = ref === undefined ? fn : localCallable(fn, ref);
    const context = new CallContext(future, signal, onProgress);
    if (signal !== undefined) this.#aborts.add(signal, context);
    this.#controlled.set(future, context);
    future.addDoneCallback(this.#onControlledDone);
    const call = (...callArgs: unknown[]): unknown => {
      if (timeout === Infinity) return taskContexts().run(context, target, ...callArgs);
      const timer = setTimeout(() => {
        context.stop(
          new TimeoutError(
            `the task "${fn.name || 'anonymous'}" ran longer than its timeout of ${timeout} ms`,
          ),
        );
      }, timeout);
      const done = (): void => clearTimeout(timer);
      try {
        const value = taskContexts().run(context, target, ...callArgs);
        if (isThenable(value)) return Promise.resolve(value).finally(done);
        done();
        return value;
      } catch (error) {
        done();
        throw error;
      }
    };
    this.#enqueue(future, call, args);
    return future;
  }

  /** @internal */
  override _callDefaults(): { timeout: number; gracePeriod: number } {
    return this.#callDefaults;
  }

  /** A snapshot of the pool: logical workers, calls by state and outcome, recent wait and run times. */
  stats(): ExecutorStats {
    const o = this.#outcomes;
    return {
      workers: {
        alive: this.#workers.length,
        busy: this.#running,
        idle: this.#workers.length - this.#running,
      },
      tasks: {
        queued: this.#pending - this.#running,
        handedAhead: 0,
        running: this.#running,
        completed: o.completed,
        failed: o.failed,
        cancelled: o.cancelled,
      },
      workerDeaths: 0,
      waitMs: o.wait.percentiles(),
      runMs: o.run.percentiles(),
    };
  }

  #enqueue(future: Future<unknown>, call: TaskFunction, args: unknown[]): void {
    // One call in 16 is timed for stats(): the clock is read only for those.
    const timed = (++this.#calls & 15) === 0;
    if (timed) this.#stamps.set(future, performance.now());
    this.#queue.push(future, call, args, timed);
    if (traceSubmit.hasSubscribers) {
      traceSubmit.publish({ future, name: call.name, executor: 'ThreadPoolExecutor' });
    }
    if (this.#pending++ === 0) this.#keepAlive.hold();
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#start(idle);
    } else if (this.#workers.length < this.maxWorkers) {
      const slot: WorkerSlot = {
        name: `${this.#prefix}_${this.#workers.length}`,
        initialized: false,
        current: undefined,
      };
      this.#workers.push(slot);
      this.#start(slot);
    }
  }

  override async shutdown(options?: ShutdownOptions): Promise<void> {
    const { wait, cancelFutures, abortRunning } = checkShutdownOptions(options);
    this.#shutdown = true;
    if (abortRunning) {
      // Running calls fail now and their task signals abort; they still run to their end here.
      for (const slot of this.#workers) {
        const future = slot.current;
        if (future === undefined) continue;
        const error = new DOMException(
          'The executor was shut down with abortRunning',
          'AbortError',
        );
        const call = this.#controlled.get(future);
        if (call !== undefined) call.stop(error);
        else future._settle(true, error);
      }
    }
    if (cancelFutures) {
      for (const future of this.#queue.drainFutures()) {
        this.#stamps.delete(future);
        future._cancelAndNotify();
        this.#settled(future);
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
      let argc = slots[i + 2] as number;
      const arg = slots[i + 3];
      queue.drop();
      const timed = argc < 0;
      if (timed) argc = ~argc;
      if (future._claim()) {
        this.#running++;
        slot.current = future;
        if (timed) this.#started(future);
        if (traceStart.hasSubscribers) {
          traceStart.publish({ future, name: fn.name, executor: 'ThreadPoolExecutor' });
        }
        try {
          const value = argc === 0 ? fn() : argc === 1 ? fn(arg) : fn(...(arg as unknown[]));
          future._settle(false, isThenable(value) ? await value : value);
        } catch (error) {
          future._settle(true, error);
        }
        this.#running--;
        slot.current = undefined;
        if (timed) this.#ended(future);
        traceOver(future, fn, 'ThreadPoolExecutor');
      } else if (timed) {
        this.#stamps.delete(future);
      }
      this.#settled(future);
    }
    this.#idle.push(slot);
  }

  /** A timed call starts: its wait is recorded. */
  #started(future: Future<unknown>): void {
    const now = performance.now();
    this.#outcomes.wait.add(now - this.#stamps.get(future)!);
    this.#stamps.set(future, now);
  }

  #ended(future: Future<unknown>): void {
    this.#outcomes.run.add(performance.now() - this.#stamps.get(future)!);
    this.#stamps.delete(future);
  }

  /** One queued or running call is over. */
  #settled(future: Future<unknown>): void {
    const o = this.#outcomes;
    if (future.cancelled()) o.cancelled++;
    else if (future._failed) o.failed++;
    else o.completed++;
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
      this.#stamps.delete(future);
      if (future._claim()) {
        future.setException(new BrokenThreadPool(BROKEN_MESSAGE, { cause }));
      }
      this.#settled(future);
    }
  }
}
