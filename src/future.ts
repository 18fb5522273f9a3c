/**
 * The Future: the eventual outcome of one call, as Python's `concurrent.futures.Future`.
 *
 * A future is an explicit state machine (PENDING → RUNNING → FINISHED, or
 * PENDING → CANCELLED → CANCELLED_AND_NOTIFIED) and is `PromiseLike`, so
 * `await future` gives its result or throws its error. No Promise is allocated
 * until somebody asks for one (`result`, `exception`, or chaining on what
 * `then` returned).
 */

import { isProxy } from 'node:util/types';
import {
  CancelledError,
  InvalidStateError,
  RuntimeError,
  TimeoutError,
  argTypeError,
  codes,
  withCode,
} from './errors.js';
import { Reaction } from './reaction.js';
import { isThenable } from './thenable.js';
import { checkTimeout, describeUnreadable, safeKind } from './validate.js';

/** The five states of a future, spelled as in CPython. */
export type FutureState =
  'PENDING' | 'RUNNING' | 'CANCELLED' | 'CANCELLED_AND_NOTIFIED' | 'FINISHED';

/** A function called with the future once it is done. Its return value is ignored. */
export type DoneCallback<T> = (future: Future<T>) => unknown;

/**
 * Receives the error of a done callback that threw (or whose promise rejected).
 * The default reports it with `console.error`, as CPython logs it.
 */
export type CallbackErrorHandler = (error: unknown, future: Future<unknown>) => void;

/** @internal Told about state changes by `wait()` and `asCompleted()`, as CPython's waiters. */
export interface Waiter {
  addResult(future: Future<unknown>): void;
  addException(future: Future<unknown>): void;
  addCancelled(future: Future<unknown>): void;
}

const defaultCallbackErrorHandler: CallbackErrorHandler = (error, future) => {
  const what = `exception calling callback for ${String(future)}`;
  try {
    readReportedFields(error);
    console.error(what, error);
  } catch (inspectError) {
    // Printing the error ran its getters (or Proxy traps), and one threw: describe it instead.
    console.error(what, `${safeKind(error)} ${describeUnreadable(inspectError)}`);
  }
};

/**
 * Reads what printing an error reads, so that a throwing getter is reported the
 * same way on every runtime: Node 20's `inspect` throws on it, Node 22+ prints
 * `[object Error]` and hides which getter failed.
 */
function readReportedFields(error: unknown): void {
  if (typeof error !== 'object' || error === null || isProxy(error)) return;
  const fields = error as { name?: unknown; message?: unknown; stack?: unknown };
  void fields.name;
  void fields.message;
  void fields.stack;
}
let callbackErrorHandler = defaultCallbackErrorHandler;

/**
 * Installs the handler that receives errors thrown by done callbacks; `undefined`
 * restores the default (`console.error`). Returns the previous handler.
 */
export function setCallbackErrorHandler(handler?: CallbackErrorHandler): CallbackErrorHandler {
  if (handler !== undefined && typeof handler !== 'function') {
    throw argTypeError('setCallbackErrorHandler: handler must be a function or undefined');
  }
  const previous = callbackErrorHandler;
  callbackErrorHandler = handler ?? defaultCallbackErrorHandler;
  return previous;
}

function reportCallbackError(error: unknown, future: Future<unknown>): void {
  try {
    callbackErrorHandler(error, future);
  } catch (handlerError) {
    // A broken handler must not turn one report into an uncaught exception.
    defaultCallbackErrorHandler(handlerError, future);
    defaultCallbackErrorHandler(error, future);
  }
}

/** The class name of a result or error, for `toString`. Never throws, whatever the value's getters do. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  if (isProxy(value)) return 'Proxy';
  try {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    const name = ctor?.name;
    return typeof name === 'string' && name !== '' ? name : 'Object';
  } catch {
    return safeKind(value);
  }
}

let nextFutureId = 1;

/**
 * The eventual result of an asynchronous call.
 *
 * Executors create futures; applications read them (`await`, `result`,
 * `exception`, `addDoneCallback`) and may `cancel` them while still pending.
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state: FutureState = 'PENDING';
  #result: T | undefined = undefined;
  #exception: unknown = undefined;
  #failed = false;
  // Typed loosely so that Future<T> stays covariant (a Future<number> is a Future<unknown>).
  #callbacks: ((future: never) => unknown)[] | undefined = undefined;
  /** One waiter is stored as is: most futures have one (`wait`, `asCompleted`) or none. */
  #waiters: Waiter | Waiter[] | undefined = undefined;
  /** Wake-ups for `result(timeout)` and `exception(timeout)` calls that are waiting. */
  #wakeups: (() => void)[] | undefined = undefined;
  /** `then` registrations not yet run; one is stored as is. Run on a later microtask once done. */
  #reactions: Reaction<unknown> | Reaction<unknown>[] | undefined = undefined;
  readonly #id = nextFutureId++;

  /** Attempts to cancel the call: true if it is now cancelled, false if it is running or done. */
  cancel(): boolean {
    const state = this.#state;
    if (state === 'RUNNING' || state === 'FINISHED') return false;
    if (state === 'CANCELLED' || state === 'CANCELLED_AND_NOTIFIED') return true;
    this.#state = 'CANCELLED';
    this.#wake();
    this.#invokeCallbacks();
    return true;
  }

  /** True if the call was cancelled. */
  cancelled(): boolean {
    return this.#state === 'CANCELLED' || this.#state === 'CANCELLED_AND_NOTIFIED';
  }

  /** True if the call is running and cannot be cancelled. */
  running(): boolean {
    return this.#state === 'RUNNING';
  }

  /** True if the call finished or was cancelled. */
  done(): boolean {
    return this.#state !== 'PENDING' && this.#state !== 'RUNNING';
  }

  /** @internal The raw state, for `wait`, `asCompleted` and the executors. */
  get _state(): FutureState {
    return this.#state;
  }

  /**
   * The call's result. Rejects with the call's own error, `CancelledError` if it
   * was cancelled, or `TimeoutError` if it is not done within `timeout` ms
   * (0 or less: do not wait; `undefined`: wait as long as it takes).
   */
  result(timeout?: number): Promise<T> {
    if (this.#state === 'FINISHED') {
      return this.#failed ? Promise.reject(this.#exception) : Promise.resolve(this.#result as T);
    }
    return this.#waitDone(timeout).then(() => this.#outcome());
  }

  /**
   * The call's error, or `undefined` if it succeeded. Rejects with
   * `CancelledError` or `TimeoutError` under the same rules as {@link result}.
   */
  exception(timeout?: number): Promise<unknown> {
    if (this.#state === 'FINISHED') return Promise.resolve(this.#exception);
    return this.#waitDone(timeout).then(() => {
      if (this.cancelled()) throw new CancelledError();
      return this.#exception;
    });
  }

  /**
   * Calls `fn(future)` when the future is done; at once, before returning, if it
   * is done already. Callbacks run in the order added. One that throws (or
   * returns a rejected promise) is reported through {@link setCallbackErrorHandler}.
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    if (typeof fn !== 'function') {
      throw argTypeError('addDoneCallback: fn must be a function');
    }
    if (this.done()) {
      this.#invokeCallback(fn);
    } else {
      (this.#callbacks ??= []).push(fn);
    }
  }

  /**
   * For executors: marks the future RUNNING and returns true, or, if it was
   * cancelled, notifies its waiters and returns false (the work must be skipped).
   * Throws `RuntimeError` in any other state.
   */
  setRunningOrNotifyCancel(): boolean {
    if (this.#state === 'PENDING') {
      this.#state = 'RUNNING';
      return true;
    }
    if (this.#state === 'CANCELLED') {
      this.#state = 'CANCELLED_AND_NOTIFIED';
      this.#notify('addCancelled');
      return false;
    }
    throw withCode(
      new RuntimeError(`Future in unexpected state: ${String(this)}`),
      codes.ERR_INVALID_STATE,
    );
  }

  /** For executors: stores the call's result. Throws `InvalidStateError` if already done. */
  setResult(value: T): void {
    this.#checkNotDone();
    this.#result = value;
    this.#state = 'FINISHED';
    this.#notify('addResult');
    this.#finish();
  }

  /**
   * For executors: stores the call's error (any value, `undefined` included:
   * the call failed all the same). Throws `InvalidStateError` if already done.
   */
  setException(error: unknown): void {
    this.#checkNotDone();
    this.#exception = error;
    this.#failed = true;
    this.#state = 'FINISHED';
    this.#notify('addException');
    this.#finish();
  }

  /** @internal True if the future finished with an error. */
  get _failed(): boolean {
    return this.#failed;
  }

  /** @internal The error of a future that finished with one. */
  get _error(): unknown {
    return this.#exception;
  }

  /**
   * @internal For executors, before they start the call: true if the call
   * must run, false if it must be skipped (and counted as over). Unlike the
   * public method it never throws, whatever the user did to the future first:
   * - PENDING: moves to RUNNING, true.
   * - RUNNING (claimed by hand with `setRunningOrNotifyCancel`): stays
   *   RUNNING, true; the call's outcome settles it unless somebody else does first.
   * - CANCELLED: notifies the waiters, false; CANCELLED_AND_NOTIFIED: false.
   * - FINISHED (settled by hand with `setResult`/`setException` before the
   *   executor reached it, which the docs allow): false, the first outcome stands.
   */
  _claim(): boolean {
    switch (this.#state) {
      case 'RUNNING':
        return true;
      case 'FINISHED':
      case 'CANCELLED_AND_NOTIFIED':
        return false;
      default:
        return this.setRunningOrNotifyCancel();
    }
  }

  /**
   * @internal For executors cancelling work themselves (`shutdown` with
   * `cancelFutures`, a closed `map`): cancels and notifies at once, so that
   * `wait` and `asCompleted` never hang on it. Returns `cancel()`'s answer.
   */
  _cancelAndNotify(): boolean {
    if (!this.cancel()) return false;
    if (this.#state === 'CANCELLED') this.setRunningOrNotifyCancel();
    return true;
  }

  /**
   * @internal For executors: stores the outcome of a RUNNING future's call and
   * returns true. Does nothing (false) if the future was settled meanwhile, by
   * hand (`setResult` on an executor's future is allowed), by an abort or a
   * deadline: the first outcome stands.
   */
  _settle(failed: boolean, value: unknown): boolean {
    if (this.#state !== 'RUNNING') return false;
    if (failed) this.setException(value);
    else this.setResult(value as T);
    return true;
  }

  /** @internal Reports an error of a callback about this future (an `onProgress`) as done callbacks' are. */
  _reportCallbackError(error: unknown): void {
    reportCallbackError(error, this);
  }

  /** @internal */
  _addWaiter(waiter: Waiter): void {
    const waiters = this.#waiters;
    if (waiters === undefined) this.#waiters = waiter;
    else if (Array.isArray(waiters)) waiters.push(waiter);
    else this.#waiters = [waiters, waiter];
  }

  /** @internal */
  _removeWaiter(waiter: Waiter): void {
    const waiters = this.#waiters;
    if (waiters === waiter) {
      this.#waiters = undefined;
    } else if (Array.isArray(waiters)) {
      const i = waiters.indexOf(waiter);
      if (i !== -1) waiters.splice(i, 1);
    }
  }

  /** Tells every waiter once: each state change that notifies is final, so the list is dropped. */
  #notify(event: keyof Waiter): void {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    if (Array.isArray(waiters)) for (const w of waiters) w[event](this);
    else waiters[event](this);
  }

  /**
   * `await future`: the result, or the call's error, or `CancelledError`.
   * The callbacks run on a later microtask, never inside `then`. What it
   * returns behaves as a promise; on a pending future it is not `instanceof Promise`.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const reactions = this.#reactions;
    // Done, and every earlier callback has run: a settled promise orders this one as well.
    if (reactions === undefined && this.done())
      return this.#outcome().then(onfulfilled, onrejected);
    const reaction = new Reaction<R1 | R2>(onfulfilled, onrejected);
    if (reactions === undefined) {
      this.#reactions = reaction;
    } else if (Array.isArray(reactions)) {
      reactions.push(reaction);
    } else {
      this.#reactions = [reactions, reaction];
    }
    return reaction;
  }

  /** `future.catch(fn)`, as on a promise. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  /** `future.finally(fn)`, as on a promise: `fn`'s value is ignored, a throw or rejection replaces the outcome. */
  finally(onfinally?: (() => unknown) | null): Promise<T> {
    if (typeof onfinally !== 'function') return this.then(onfinally, onfinally);
    return this.then(
      (value) => Promise.resolve(onfinally()).then(() => value),
      (reason: unknown) =>
        Promise.resolve(onfinally()).then(() => {
          throw reason;
        }),
    );
  }

  /**
   * Futures done whose reactions wait for the next run of {@link Future.#runScheduled}:
   * the first `#scheduledCount` slots. The array keeps its capacity between runs
   * (truncating it would make the next `push` allocate again).
   */
  static readonly #scheduled: (Future<unknown> | undefined)[] = [];
  static #scheduledCount = 0;
  static readonly #resolved = Promise.resolve();

  /**
   * Runs a done future's reactions on a later microtask. One microtask serves
   * every future that settles before it runs.
   */
  static #schedule(future: Future<unknown>): void {
    Future.#scheduled[Future.#scheduledCount] = future;
    if (Future.#scheduledCount++ === 0) void Future.#resolved.then(Future.#runScheduled);
  }

  static #runScheduled(this: void): void {
    const futures = Future.#scheduled;
    // Reactions may settle more futures: they join this run.
    for (let i = 0; i < Future.#scheduledCount; i++) {
      const future = futures[i]!;
      futures[i] = undefined;
      future.#runReactions();
    }
    Future.#scheduledCount = 0;
  }

  #runReactions(): void {
    const reactions = this.#reactions;
    if (reactions === undefined) return;
    this.#reactions = undefined;
    const failed = this.#state !== 'FINISHED' || this.#failed;
    const outcome =
      this.#state === 'FINISHED' ? (failed ? this.#exception : this.#result) : new CancelledError();
    if (Array.isArray(reactions)) for (const r of reactions) r.run(failed, outcome);
    else reactions.run(failed, outcome);
  }

  /** A short description: `<Future #3 state=finished returned number>`. */
  toString(): string {
    const name = this.constructor.name;
    switch (this.#state) {
      case 'FINISHED':
        return this.#failed
          ? `<${name} #${this.#id} state=finished raised ${errorName(this.#exception)}>`
          : `<${name} #${this.#id} state=finished returned ${describeValue(this.#result)}>`;
      case 'CANCELLED':
      case 'CANCELLED_AND_NOTIFIED':
        return `<${name} #${this.#id} state=cancelled>`;
      default:
        return `<${name} #${this.#id} state=${this.#state.toLowerCase()}>`;
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** `'Future'`, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  #checkNotDone(): void {
    const state = this.#state;
    if (state === 'CANCELLED' || state === 'CANCELLED_AND_NOTIFIED' || state === 'FINISHED') {
      throw new InvalidStateError(`${state}: ${String(this)}`);
    }
  }

  #finish(): void {
    this.#wake();
    this.#invokeCallbacks();
  }

  #wake(): void {
    if (this.#reactions !== undefined) Future.#schedule(this);
    const wakeups = this.#wakeups;
    if (wakeups !== undefined) {
      this.#wakeups = undefined;
      for (const wake of wakeups) wake();
    }
  }

  #invokeCallbacks(): void {
    const callbacks = this.#callbacks;
    if (callbacks === undefined) return;
    this.#callbacks = undefined;
    for (const fn of callbacks) this.#invokeCallback(fn as DoneCallback<T>);
  }

  #invokeCallback(fn: DoneCallback<T>): void {
    try {
      const returned = fn(this);
      if (isThenable(returned)) {
        returned.then(undefined, (error: unknown) =>
          reportCallbackError(error, this as Future<unknown>),
        );
      }
    } catch (error) {
      reportCallbackError(error, this);
    }
  }

  /** The outcome of a done future as a settled promise. */
  #outcome(): Promise<T> {
    if (this.cancelled()) return Promise.reject(new CancelledError());
    return this.#failed ? Promise.reject(this.#exception) : Promise.resolve(this.#result as T);
  }

  /** Resolves once the future is done, or rejects with `TimeoutError` after `timeout` ms. */
  #waitDone(timeout: number | undefined): Promise<void> {
    let ms: number;
    try {
      ms = checkTimeout(timeout, 'timeout');
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.done()) return Promise.resolve();
    if (ms <= 0) return Promise.reject(new TimeoutError());
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      (this.#wakeups ??= []).push(wake);
      if (ms !== Infinity) {
        timer = setTimeout(() => {
          const wakeups = this.#wakeups;
          const i = wakeups === undefined ? -1 : wakeups.indexOf(wake);
          if (i !== -1) wakeups!.splice(i, 1);
          reject(new TimeoutError());
        }, ms);
      }
    });
  }
}

/** The name of a raised error (or the class of a raised non-error), for `toString`. Never throws. */
function errorName(error: unknown): string {
  if (isProxy(error)) return 'Proxy';
  try {
    if (error instanceof Error) {
      const name = error.name;
      if (typeof name === 'string') return name;
    }
  } catch {
    // A name getter that throws: the class will do.
  }
  return describeValue(error);
}
