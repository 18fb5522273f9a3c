/**
 * `wait` and `asCompleted`: waiting on many futures at once, as CPython does it.
 *
 * Both count a future as complete only when it FINISHED or was cancelled *and
 * notified*: a bare `cancel()` is not enough until its executor reaches it.
 */

import { TimeoutError, argTypeError, argValueError } from './errors.js';
import { EXPECTED, type Expected, type HasExpected } from './expected.js';
import { Future, type Waiter } from './future.js';
import { checkKnownOptions, checkOptionsObject, checkTimeout, describe } from './validate.js';

/** `wait` returns as soon as any future finishes or is cancelled. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** `wait` returns when any future finishes by raising, or when all are complete. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** `wait` returns when every future is complete. */
export const ALL_COMPLETED = 'ALL_COMPLETED';

/** When {@link wait} returns: one of the three constants. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** The futures to wait on: any iterable of futures, or a `Map` keyed by futures. */
export type FutureCollection<F extends Future<unknown>> = Iterable<F> | ReadonlyMap<F, unknown>;

/** Options of {@link wait}. */
export interface WaitOptions {
  /** The most milliseconds to wait; no limit when left out. A timeout never throws. */
  timeout?: number | undefined;
  /** When to return: {@link ALL_COMPLETED} (the default), {@link FIRST_COMPLETED} or {@link FIRST_EXCEPTION}. */
  returnWhen?: ReturnWhen | undefined;
}

/** What `wait` resolves to (Python's `DoneAndNotDoneFutures`). */
export interface DoneAndNotDone<F> {
  /** The futures that finished or were cancelled (and notified) before `wait` returned. */
  done: Set<F>;
  /** The others: still pending or running when `wait` returned. */
  notDone: Set<F>;
}

/**
 * A future as `asCompleted` yields it. TypeScript types `for await` over an
 * async iterable as if it awaited each value (microsoft/TypeScript#21115), which
 * would turn a `PromiseLike` future into its result type; hiding `then` keeps
 * the element typed as the future it really is. Read its outcome with
 * `future.result()` or `future.exception()`.
 */
export type CompletedFuture<F extends Future<unknown>> = F & {
  /** Hidden: read the outcome with `result()` or `exception()`. */
  readonly then: never;
};

/** Options of {@link asCompleted}. */
export interface AsCompletedOptions {
  /** Milliseconds from the call after which iteration throws `TimeoutError`; no limit when left out. */
  timeout?: number | undefined;
}

/** FINISHED or CANCELLED_AND_NOTIFIED: what `wait` and `asCompleted` count as complete. */
function isComplete(f: Future<unknown>): boolean {
  const state = f._state;
  return state === 'FINISHED' || state === 'CANCELLED_AND_NOTIFIED';
}

/** `instanceof Future`, false for a value whose prototype cannot be read (a revoked Proxy). */
function isFuture(value: unknown): boolean {
  try {
    return value instanceof Future;
  } catch {
    return false;
  }
}

/** Reads the collection once into a set of distinct futures, checking every element. */
function toFutureSet<F extends Future<unknown>>(fs: FutureCollection<F>, fnName: string): Set<F> {
  if (fs === null || typeof fs !== 'object' || !(Symbol.iterator in fs)) {
    throw argTypeError(`${fnName}: fs must be an iterable of futures or a Map keyed by futures`);
  }
  const items: Iterable<unknown> = fs instanceof Map ? fs.keys() : fs;
  const set = new Set<F>();
  for (const f of items) {
    if (!isFuture(f)) {
      throw argTypeError(`${fnName}: every element of fs must be a Future, got ${describe(f)}`);
    }
    set.add(f as F);
  }
  return set;
}

function checkReturnWhen(value: unknown): ReturnWhen {
  if (value === undefined) return ALL_COMPLETED;
  if (typeof value !== 'string') {
    throw argTypeError(
      `returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${typeof value}`,
    );
  }
  if (value !== FIRST_COMPLETED && value !== FIRST_EXCEPTION && value !== ALL_COMPLETED) {
    throw argValueError(
      `returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got '${value}'`,
    );
  }
  return value;
}

/**
 * Waits for the futures to complete, as `returnWhen` says, for at most `timeout` ms.
 * Resolves to the `done` and `notDone` sets; it never rejects on a timeout.
 * Bad arguments reject the returned promise (`TypeError`/`RangeError`).
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { ThreadPoolExecutor, wait, FIRST_COMPLETED } from 'concurrent-futures';
 *
 * await using executor = new ThreadPoolExecutor();
 * const slow = executor.submit((ms: number) => sleep(ms, 'slow'), 300);
 * const fast = executor.submit((ms: number) => sleep(ms, 'fast'), 10);
 *
 * const { done, notDone } = await wait([slow, fast], { returnWhen: FIRST_COMPLETED });
 * console.log(done.has(fast), notDone.has(slow)); // true true
 *
 * const all = await wait([slow, fast], { timeout: 5_000 }); // ALL_COMPLETED by default
 * console.log(all.done.size, all.notDone.size); // 2 0
 * ```
 */
export function wait<F extends Future<unknown>>(
  fs: ReadonlyMap<F, unknown>,
  options?: WaitOptions,
): Promise<DoneAndNotDone<F>>;
export function wait<F extends Future<unknown>>(
  fs: Iterable<F>,
  options?: WaitOptions,
): Promise<DoneAndNotDone<F>>;
export function wait<F extends Future<unknown>>(
  fs: FutureCollection<F>,
  options?: WaitOptions,
): Promise<DoneAndNotDone<F>> {
  let all: Set<F>;
  let timeout: number;
  let returnWhen: ReturnWhen;
  try {
    checkOptionsObject(options, 'wait options');
    checkKnownOptions(options, ['timeout', 'returnWhen'], 'wait');
    timeout = checkTimeout(options?.timeout, 'timeout');
    returnWhen = checkReturnWhen(options?.returnWhen);
    all = toFutureSet(fs, 'wait');
  } catch (error) {
    return Promise.reject(error);
  }

  const done = new Set<F>();
  for (const f of all) if (isComplete(f)) done.add(f);
  const split = (): DoneAndNotDone<F> => {
    const notDone = new Set<F>();
    for (const f of all) if (!done.has(f)) notDone.add(f);
    return { done, notDone };
  };

  if (returnWhen === FIRST_COMPLETED && done.size > 0) return Promise.resolve(split());
  if (returnWhen === FIRST_EXCEPTION) {
    for (const f of done) {
      if (f._state === 'FINISHED' && f._failed) return Promise.resolve(split());
    }
  }
  if (done.size === all.size || timeout <= 0) return Promise.resolve(split());

  return new Promise((resolve) => {
    const pending: F[] = [];
    for (const f of all) if (!done.has(f)) pending.push(f);
    let remaining = pending.length;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      if (remaining === 0) {
        // Every future notified us (and dropped its waiters as it did): all done.
        resolve({ done: all, notDone: new Set<F>() });
        return;
      }
      // Notifications are synchronous, so "complete now" is "notified us".
      for (const f of pending) {
        f._removeWaiter(waiter);
        if (isComplete(f)) done.add(f);
      }
      resolve(split());
    };
    const countDown = (): void => {
      if (--remaining === 0 || returnWhen === FIRST_COMPLETED) finish();
    };
    const waiter: Waiter = {
      addResult: countDown,
      addCancelled: countDown,
      addException() {
        remaining--;
        if (returnWhen !== ALL_COMPLETED || remaining === 0) finish();
      },
    };
    for (const f of pending) f._addWaiter(waiter);
    if (timeout !== Infinity) timer = setTimeout(finish, timeout);
  });
}

/**
 * Yields the futures as they complete: those already complete first, then in
 * completion order; each distinct future once. If `timeout` ms pass from this
 * call with futures still unfinished, iteration throws `TimeoutError`
 * ("N (of M) futures unfinished"). Accepts a `Map` keyed by futures.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { ThreadPoolExecutor, asCompleted } from 'concurrent-futures';
 *
 * await using executor = new ThreadPoolExecutor();
 * const download = (name: string, ms: number) => sleep(ms, `${name} downloaded`);
 *
 * // A Map from future to task, as Python's `{executor.submit(fn, x): x for x in ...}`.
 * const futures = new Map(
 *   ['x.pdf', 'y.pdf', 'z.pdf'].map((name, i) => [executor.submit(download, name, 300 - 100 * i), i] as const),
 * );
 * for await (const future of asCompleted(futures, { timeout: 5_000 })) {
 *   console.log(`task ${futures.get(future)}: ${await future.result()}`); // task 2 first, task 0 last
 * }
 * ```
 */
export function asCompleted<F extends Future<unknown>>(
  fs: ReadonlyMap<F, unknown>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<CompletedFuture<F>>;
export function asCompleted<F extends Future<unknown>>(
  fs: Iterable<F>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<CompletedFuture<F>>;
export function asCompleted<F extends Future<unknown>>(
  fs: FutureCollection<F>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<CompletedFuture<F>> {
  checkOptionsObject(options, 'asCompleted options');
  checkKnownOptions(options, ['timeout'], 'asCompleted');
  const timeout = checkTimeout(options?.timeout, 'timeout');
  const iterator = new AsCompletedIterator(toFutureSet(fs, 'asCompleted'), timeout);
  return iterator as unknown as AsyncIterableIterator<CompletedFuture<F>>;
}

type Request<F> = {
  resolve: (r: IteratorResult<F, undefined>) => void;
  reject: (e: unknown) => void;
};

class AsCompletedIterator<F extends Future<unknown>>
  implements AsyncIterableIterator<F>, Waiter, HasExpected
{
  /** Complete futures not yet yielded, in the order they completed. */
  readonly #ready: F[] = [];
  /** Futures not complete yet; each carries this iterator as a waiter. */
  readonly #pending = new Set<F>();
  readonly #total: number;
  readonly #deadline: number;
  readonly #requests: Request<F>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(all: Set<F>, timeout: number) {
    this.#total = all.size;
    this.#deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    for (const f of all) {
      if (isComplete(f)) {
        this.#ready.push(f);
      } else {
        this.#pending.add(f);
        f._addWaiter(this);
      }
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** @internal Every distinct future is yielded once: for `progress`. */
  get [EXPECTED](): Expected {
    return { items: this.#total, known: true };
  }

  next(): Promise<IteratorResult<F, undefined>> {
    return new Promise((resolve, reject) => {
      this.#requests.push({ resolve, reject });
      this.#serve();
    });
  }

  return(): Promise<IteratorResult<F, undefined>> {
    this.#end();
    this.#serve(); // answers any next() still waiting: done
    return Promise.resolve({ done: true, value: undefined });
  }

  addResult(f: Future<unknown>): void {
    this.#completed(f as F);
  }

  addException(f: Future<unknown>): void {
    this.#completed(f as F);
  }

  addCancelled(f: Future<unknown>): void {
    this.#completed(f as F);
  }

  #completed(f: F): void {
    if (!this.#pending.delete(f)) return;
    f._removeWaiter(this);
    this.#ready.push(f);
    this.#serve();
  }

  /** Answers waiting `next()` calls from what is ready; arms the deadline timer if still waiting. */
  #serve(): void {
    const requests = this.#requests;
    while (requests.length > 0) {
      if (this.#ended) {
        requests.shift()!.resolve({ done: true, value: undefined });
        continue;
      }
      const f = this.#ready.shift();
      if (f !== undefined) {
        requests.shift()!.resolve({ done: false, value: f });
        continue;
      }
      if (this.#pending.size === 0) {
        this.#end();
        continue;
      }
      const remaining = this.#deadline - performance.now();
      if (remaining <= 0) {
        this.#timeOut();
        continue;
      }
      if (this.#timer === undefined && remaining !== Infinity) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#serve();
        }, Math.ceil(remaining));
      }
      return;
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #timeOut(): void {
    const error = new TimeoutError(`${this.#pending.size} (of ${this.#total}) futures unfinished`);
    this.#end();
    this.#requests.shift()!.reject(error);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const f of this.#pending) f._removeWaiter(this);
    this.#pending.clear();
    this.#ready.length = 0;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
