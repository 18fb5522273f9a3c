/**
 * Control of one call while it runs: per-call options (`signal`, `timeout`,
 * `onProgress`), and, inside a task, `taskSignal()` and `reportProgress()`.
 *
 * Inside a task the running call is found through an AsyncLocalStorage that
 * only calls with options enter, so that plain calls pay nothing. It is kept
 * on a registered symbol, so that a task module importing its own copy of the
 * package still finds the worker's context.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Future } from './future.js';
import { argTypeError } from './errors.js';
import { checkKnownOptions, checkOptionsObject, checkTimeout, describe } from './validate.js';

/** Options for one call, or a batch of calls: `executor.with(options).submit(...)`. */
export interface CallOptions {
  /**
   * Stops the call: while it is queued it is cancelled (never runs); while it
   * runs its future fails at once with `signal.reason` and the task is asked
   * to stop (see {@link taskSignal}), then, after `gracePeriod`, its worker is
   * ended and replaced.
   */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds the call may run, counted from the moment it starts (time in
   * the queue does not count). On expiry its future fails with `TimeoutError`
   * and the task is stopped as for `signal`.
   */
  timeout?: number | undefined;
  /** Milliseconds a stopped task has to finish before its worker is ended; default 1,000. */
  gracePeriod?: number | undefined;
  /** Receives each value the task passes to {@link reportProgress}, in order (coalesced). */
  onProgress?: ((value: unknown, future: Future<unknown>) => void) | undefined;
}

/** The checked form of {@link CallOptions} (not exported from the package). */
export interface Control {
  readonly signal: AbortSignal | undefined;
  /** Milliseconds from start, or Infinity. */
  readonly timeout: number;
  readonly gracePeriod: number;
  readonly onProgress: ((value: unknown, future: Future<unknown>) => void) | undefined;
}

/** The grace period when none is given. */
export const DEFAULT_GRACE_MS = 1000;
const CALL_OPTIONS = ['signal', 'timeout', 'gracePeriod', 'onProgress'];

/**
 * @internal Validates per-call options over the executor's defaults; undefined
 * when nothing is controlled (the fast path).
 */
export function checkCallOptions(
  options: CallOptions | undefined,
  defaults: { timeout: number; gracePeriod: number },
  name = 'with',
): Control | undefined {
  checkOptionsObject(options, `${name} options`);
  const o = options ?? {};
  checkKnownOptions(o, CALL_OPTIONS, name);
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw argTypeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw argTypeError(`onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  const timeout = o.timeout === undefined ? defaults.timeout : checkTimeout(o.timeout, 'timeout');
  const gracePeriod =
    o.gracePeriod === undefined ? defaults.gracePeriod : checkGrace(o.gracePeriod, 'gracePeriod');
  if (signal === undefined && timeout === Infinity && o.onProgress === undefined) return undefined;
  return { signal, timeout, gracePeriod, onProgress: o.onProgress };
}

/**
 * @internal The control of a call its caller stops through the executor
 * (`ParallelExecutor._stop`) rather than with a signal: `timeout` (ms, or
 * Infinity) is already checked.
 */
export function stoppableControl(
  timeout: number,
  defaults: { timeout: number; gracePeriod: number },
): Control {
  return {
    signal: undefined,
    timeout: timeout === Infinity ? defaults.timeout : timeout,
    gracePeriod: defaults.gracePeriod,
    onProgress: undefined,
  };
}

/** @internal The executor-wide defaults of per-call options, from an executor's constructor options. */
export function checkCallDefaults(options: { taskTimeout?: unknown; gracePeriod?: unknown }): {
  timeout: number;
  gracePeriod: number;
} {
  return {
    timeout: checkTimeout(options.taskTimeout, 'taskTimeout'),
    gracePeriod:
      options.gracePeriod === undefined
        ? DEFAULT_GRACE_MS
        : checkGrace(options.gracePeriod, 'gracePeriod'),
  };
}

/** @internal A grace period: a number of milliseconds, 0 or more. */
export function checkGrace(value: unknown, name: string): number {
  const ms = checkTimeout(value, name);
  return ms === Infinity ? 2 ** 31 - 1 : ms;
}

/** @internal What a task running with options sees of itself. */
export interface TaskContext {
  readonly signal: AbortSignal;
  /** Called by {@link reportProgress}; undefined when nobody listens. */
  readonly progress: ((value: unknown) => void) | undefined;
}

const STORE = Symbol.for('concurrent-futures.task-context');
const globals = globalThis as { [STORE]?: AsyncLocalStorage<TaskContext> };

/** @internal The storage every copy of this module in a thread or process shares. */
export function taskContexts(): AsyncLocalStorage<TaskContext> {
  return (globals[STORE] ??= new AsyncLocalStorage<TaskContext>());
}

const NEVER = new AbortController().signal;

/**
 * Inside a task: the `AbortSignal` of the running call, to pass on to `fetch`,
 * streams and timers, or to check in a loop. It aborts when the call's
 * `signal` aborts or its `timeout` expires (the reason is the signal's reason,
 * or the `TimeoutError`). Outside a task, or in a call made without a signal or
 * timeout, it is a signal that never aborts.
 *
 * In a worker thread, `signal.aborted` and `signal.throwIfAborted()` see the
 * abort at once, even in a synchronous loop that never yields (they read
 * shared memory). In a child process and in `ThreadPoolExecutor` the abort
 * arrives when the event loop turns. Functions sent as source have
 * `taskSignal` in scope.
 *
 * @example
 * ```ts
 * import { InterpreterPoolExecutor, taskSignal } from 'concurrent-futures';
 *
 * await using executor = new InterpreterPoolExecutor({ maxWorkers: 1 });
 * const future = executor.with({ timeout: 50 }).submit(() => {
 *   const signal = taskSignal();
 *   for (;;) signal.throwIfAborted(); // stops at the deadline
 * });
 * console.log(String(await future.exception()));
 * // TimeoutError: the task "anonymous" ran longer than its timeout of 50 ms
 * ```
 */
export function taskSignal(): AbortSignal {
  return taskContexts().getStore()?.signal ?? NEVER;
}

/**
 * Inside a task: sends `value` (anything that can be cloned) to the caller's
 * `onProgress`. Values are coalesced: the caller receives the latest of those
 * reported since the last delivery, in order. Outside a task, or in a call
 * made without `onProgress`, it does nothing. Functions sent as source have
 * `reportProgress` in scope.
 */
export function reportProgress(value: unknown): void {
  taskContexts().getStore()?.progress?.(value);
}
