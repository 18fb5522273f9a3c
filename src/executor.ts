/**
 * The Executor contract: `submit`, `map`, `shutdown` and `await using`.
 *
 * A concrete executor implements `submit` and `shutdown`; `map` and disposal
 * come from this base class, as in CPython's `_base.Executor`.
 */

import type { Future } from './future.js';
import { argTypeError, argValueError } from './errors.js';
import { checkCallOptions, DEFAULT_GRACE_MS, type CallOptions, type Control } from './control.js';
import { MapIterator, type MapSource, type MapSubmitter } from './map.js';
import type { Chunk } from './pool/protocol.js';
import {
  checkKnownOptions,
  checkOptionsObject,
  checkPositiveInt,
  checkTimeout,
  describe,
} from './validate.js';

/** Options of {@link Executor.map}. */
export interface MapOptions {
  /** Milliseconds from the `map()` call by which each result must be ready, or iteration throws `TimeoutError`. */
  timeout?: number | undefined;
  /** Items per task for the parallel executors (a chunk travels as one message); 1 by default. */
  chunksize?: number | undefined;
  /** Read and submit only this many inputs (chunks) ahead of the consumer; works on infinite inputs. */
  buffersize?: number | undefined;
}

const MAP_OPTIONS = ['timeout', 'chunksize', 'buffersize'];

/** Options of {@link Executor.shutdown}. */
export interface ShutdownOptions {
  /** Resolve only once all pending work has finished and the workers are gone (default true). */
  wait?: boolean | undefined;
  /** Cancel the futures that have not started yet (default false). */
  cancelFutures?: boolean | undefined;
  /**
   * Also stop the calls that are running (default false): their futures fail
   * at once with an `AbortError`, and each task is asked to stop, then its
   * worker is ended after the grace period, as for an aborted `signal`. Implies
   * `cancelFutures`. The way to end a pool now but cleanly (Ctrl-C).
   */
  abortRunning?: boolean | undefined;
}

/** One input iterable of `map`, sync or async, per parameter of the function. */
export type MapIterables<A extends readonly unknown[]> = {
  [K in keyof A]: Iterable<A[K]> | AsyncIterable<A[K]>;
};

/** A function an executor can run: any function, sync or async. */
export type TaskFunction<A extends unknown[] = unknown[], R = unknown> = (...args: A) => R;

/** The async iterator `map` returns: results in input order. */
export type MapResults<R> = AsyncIterableIterator<R>;

function isIterableSource(value: unknown): value is MapSource {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function' || typeof value === 'string') &&
    (Symbol.iterator in Object(value) || Symbol.asyncIterator in Object(value))
  );
}

/**
 * An object that runs calls asynchronously and returns a {@link Future} for each.
 * Subclasses implement `submit` and `shutdown`.
 */
export abstract class Executor {
  /**
   * Schedules `fn(...args)` and returns a future for its outcome. Throws
   * `RuntimeError` after `shutdown()` and the pool's broken error once broken.
   */
  abstract submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>>;

  /**
   * Signals that no more work will be submitted. With `wait` (the default)
   * the promise resolves once pending work is done and workers are gone.
   */
  abstract shutdown(options?: ShutdownOptions): Promise<void>;

  /**
   * `fn` over the zipped `iterables`, like `Array.prototype.map` over several
   * inputs; the calls run concurrently, results come in input order. Every call
   * is submitted now (or `buffersize` of them); the first error ends iteration.
   * A trailing plain object is taken as the {@link MapOptions}.
   *
   * @example
   * ```ts
   * import { ThreadPoolExecutor } from 'concurrent-futures';
   *
   * await using executor = new ThreadPoolExecutor({ maxWorkers: 2 });
   *
   * // Two iterables, zipped: multiply(1, 10), multiply(2, 20), multiply(3, 30).
   * const multiply = async (a: number, b: number) => a * b;
   * for await (const product of executor.map(multiply, [1, 2, 3], [10, 20, 30])) {
   *   console.log(product); // 10, 40, 90: in input order
   * }
   *
   * // An endless async input: only `buffersize` calls are ever submitted ahead.
   * async function* naturals() {
   *   for (let i = 0; ; i++) yield i;
   * }
   * for await (const square of executor.map((x: number) => x * x, naturals(), { buffersize: 4 })) {
   *   if (square > 50) break; // leaving the loop cancels the calls that have not started
   * }
   * ```
   */
  map<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    ...iterables: MapIterables<A>
  ): MapResults<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    ...iterablesAndOptions: [...MapIterables<A>, MapOptions]
  ): MapResults<Awaited<R>>;
  map(fn: TaskFunction, ...rest: unknown[]): MapResults<unknown> {
    return startMap(this, fn, rest);
  }

  /**
   * A view of this executor whose `submit` and `map` calls carry `options`: an
   * `AbortSignal` that stops the call, a `timeout` counted from the moment it
   * starts, and an `onProgress` callback for what the task reports with
   * `reportProgress()`. The view is typed exactly like the executor; `submit`
   * and `map` themselves keep Python's signatures.
   *
   * @example
   * ```ts
   * import { ThreadPoolExecutor, taskSignal } from 'concurrent-futures';
   * import { setTimeout as sleep } from 'node:timers/promises';
   *
   * await using executor = new ThreadPoolExecutor();
   * const controller = new AbortController();
   * const future = executor
   *   .with({ signal: controller.signal })
   *   .submit(() => sleep(10_000, 'done', { signal: taskSignal() }));
   * setTimeout(() => controller.abort(), 50); // while it runs
   * console.log(String(await future.exception())); // AbortError: This operation was aborted
   * ```
   */
  with(options: CallOptions): ExecutorView {
    return new ExecutorView(this, checkCallOptions(options, this._callDefaults()));
  }

  /**
   * @internal Submits one call with its checked options; `undefined` control is
   * a plain `submit`. Executors that support per-call options override it.
   */
  _submitControlled(
    control: Control | undefined,
    fn: TaskFunction,
    args: unknown[],
  ): Future<unknown> {
    if (control !== undefined) {
      throw argTypeError(`${this.constructor.name} does not support per-call options`);
    }
    return this.submit(fn, ...args);
  }

  /** @internal The executor-wide defaults of per-call options (constructor options). */
  _callDefaults(): { timeout: number; gracePeriod: number } {
    return NO_DEFAULTS;
  }

  /**
   * @internal Submits a chunk of argument lists as one task whose result is the
   * list of results. Executors that gain nothing from chunking leave it out.
   */
  _submitChunk?(fn: TaskFunction, chunk: Chunk, control?: Control): Future<unknown[]>;

  /** `await using executor = ...`: shuts down and waits for pending work on leaving the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

const NO_DEFAULTS = { timeout: Infinity, gracePeriod: DEFAULT_GRACE_MS };

/**
 * An executor seen through per-call options (see {@link Executor.with}): its
 * `submit` and `map` are the executor's, each call carrying the options.
 */
export class ExecutorView {
  readonly #executor: Executor;
  readonly #control: Control | undefined;
  readonly #submitter: MapSubmitter;

  /** @internal */
  constructor(executor: Executor, control: Control | undefined) {
    this.#executor = executor;
    this.#control = control;
    this.#submitter = {
      submit: (fn, ...args) => executor._submitControlled(control, fn, args),
      ...(executor._submitChunk !== undefined && {
        _submitChunk: (fn, chunk) => executor._submitChunk!(fn, chunk, control),
      }),
    };
  }

  /** As {@link Executor.submit}, the call carrying this view's options. */
  submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    return this.#executor._submitControlled(this.#control, fn as TaskFunction, args) as Future<
      Awaited<R>
    >;
  }

  /** As {@link Executor.map}, every call (or chunk) carrying this view's options. */
  map<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    ...iterables: MapIterables<A>
  ): MapResults<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    ...iterablesAndOptions: [...MapIterables<A>, MapOptions]
  ): MapResults<Awaited<R>>;
  map(fn: TaskFunction, ...rest: unknown[]): MapResults<unknown> {
    return startMap(this.#submitter, fn, rest);
  }
}

/** `map`'s argument checks, then the iterator that submits through `submitter`. */
function startMap(submitter: MapSubmitter, fn: TaskFunction, rest: unknown[]): MapResults<unknown> {
  if (typeof fn !== 'function') {
    throw argTypeError(`map: fn must be a function, got ${describe(fn)}`);
  }
  const last = rest[rest.length - 1];
  let options: MapOptions | undefined;
  if (rest.length > 0 && last !== null && typeof last === 'object' && !isIterableSource(last)) {
    options = last;
    rest = rest.slice(0, -1);
  }
  checkOptionsObject(options, 'map options');
  checkKnownOptions(options, MAP_OPTIONS, 'map');
  const timeout = checkTimeout(options?.timeout, 'timeout');
  const chunksize = checkPositiveInt(options?.chunksize ?? 1, 'chunksize');
  const buffersize = checkBuffersize(options?.buffersize);
  rest.forEach((it, i) => {
    if (!isIterableSource(it)) {
      throw argTypeError(
        `map: argument ${i + 1} after fn must be an iterable or async iterable, got ${describe(it)}`,
      );
    }
  });
  const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
  return new MapIterator(submitter, fn, rest as MapSource[], { chunksize, buffersize, deadline });
}

function checkBuffersize(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw argTypeError(
      `buffersize must be an integer or undefined, got ${typeof value === 'number' ? value : describe(value)}`,
    );
  }
  if (value < 1) throw argValueError(`buffersize must be undefined or > 0, got ${value}`);
  return value;
}
