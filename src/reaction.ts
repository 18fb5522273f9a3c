/**
 * What `then` on a pending future returns: the callbacks to call once the
 * future is done, and the promise of their outcome, made only if somebody asks
 * for it. (On a done future `then` chains on a settled promise: nothing
 * stays alive, and the platform's own promise jobs are the cheapest there.)
 *
 * `await future`, `Promise.all`, `Promise.race` and `Promise.resolve(future)`
 * call `then` with the resolving functions of a promise of their own and never
 * look at what it returns. Measured on a million futures collected with
 * `Promise.all`, garbage collection was three quarters of the time, copying
 * what stays alive while a future is pending: 832 bytes per future when `then`
 * chained on a promise of the future's own, 448 with a reaction, of which 376
 * are `Promise.all`'s and the resolve-thenable job's own. A reaction is one
 * small object; its promise is made when something calls its `then`, `catch`
 * or `finally`, or when the outcome must be reported as a promise would report
 * it (a rejection nobody handles).
 */

import { isThenable } from './thenable.js';

type OnFulfilled<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;
type OnRejected<R> = ((reason: unknown) => R | PromiseLike<R>) | null | undefined;
type Settle = readonly [resolve: (value: unknown) => void, reject: (reason: unknown) => void];

const NOT_RUN: unknown = Symbol('not run');

/**
 * One `then` registration on a future, and the promise-like it returned.
 * Behaves as the promise `then` would have returned, but it is not
 * `instanceof Promise`.
 */
export class Reaction<T> implements Promise<T> {
  // Few fields: a reaction lives as long as its pending future, and a million may be pending.
  #onFulfilled: OnFulfilled<never, unknown>;
  #onRejected: OnRejected<unknown>;
  /** The callback's value once it ran, while nobody has asked for the promise. */
  #value: unknown = NOT_RUN;
  #promise: Promise<T> | undefined = undefined;
  /** The promise's resolving functions, if it was asked for before the callback ran. */
  #settle: Settle | undefined = undefined;

  constructor(onFulfilled: OnFulfilled<never, unknown>, onRejected: OnRejected<unknown>) {
    this.#onFulfilled = onFulfilled;
    this.#onRejected = onRejected;
  }

  /**
   * Calls the callback for the future's outcome (a non-function passes the
   * outcome through, as on a promise) and settles the promise if one was made.
   * Never throws.
   */
  run(failed: boolean, outcome: unknown): void {
    const callback = failed ? this.#onRejected : this.#onFulfilled;
    this.#onFulfilled = this.#onRejected = undefined;
    let rejected = failed;
    let value = outcome;
    if (typeof callback === 'function') {
      try {
        value = (callback as (outcome: unknown) => unknown)(outcome);
        rejected = false;
      } catch (error) {
        value = error;
        rejected = true;
      }
    }
    if (value === this && !rejected) {
      value = new TypeError('Chaining cycle detected for promise');
      rejected = true;
    }
    const settle = this.#settle;
    if (settle !== undefined) {
      this.#settle = undefined;
      settle[rejected ? 1 : 0](value);
    } else if (rejected) {
      // As the promise would: unhandled unless somebody chains on it in time.
      this.#promise = Promise.reject(value);
    } else {
      this.#keep(value);
    }
  }

  /** A value nobody has asked for yet: kept as is, or followed at once if it is a thenable. */
  #keep(value: unknown): void {
    let thenable: boolean;
    try {
      thenable = isThenable(value);
    } catch (error) {
      this.#promise = Promise.reject(error); // a throwing `then` getter rejects, as on a promise
      return;
    }
    // Followed now, not when asked: a rejection of that thenable must surface as on a promise.
    if (thenable) this.#promise = new Promise<T>((resolve) => resolve(value as T));
    else this.#value = value;
  }

  #materialize(): Promise<T> {
    if (this.#promise === undefined) {
      if (this.#value !== NOT_RUN) {
        this.#promise = Promise.resolve(this.#value as T);
        this.#value = undefined;
      } else {
        // Also when asked by the callback itself, while it runs: it must wait for its value.
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#settle = [resolve as (value: unknown) => void, reject];
        });
      }
    }
    return this.#promise;
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: OnFulfilled<T, R1>,
    onrejected?: OnRejected<R2>,
  ): Promise<R1 | R2> {
    return this.#materialize().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: OnRejected<R>): Promise<T | R> {
    return this.#materialize().catch(onrejected);
  }

  finally(onfinally?: (() => unknown) | null): Promise<T> {
    return this.#materialize().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Promise';
  }
}
