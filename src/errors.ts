/**
 * The error classes of `concurrent.futures`, in Python's hierarchy, and the
 * stable error codes every error the library creates carries.
 *
 * Every class sets `name` to its own class name, so that errors print and
 * serialize the way they are spelled in the docs. `code` is an own enumerable
 * property, as on Node's errors, so that it survives structured clone and the
 * worker boundary.
 */

/**
 * The stable error codes, in Node's style: every error the library creates
 * carries one in `error.code`, whichever class it is. Branch on the code, not
 * on the message: codes keep their meaning across versions (see the stability
 * policy), messages may be reworded. A code is a plain string, so it arrives
 * intact from a worker thread or child process.
 *
 * @example
 * ```ts
 * import { ThreadPoolExecutor, codes } from 'concurrent-futures';
 *
 * const executor = new ThreadPoolExecutor();
 * await executor.shutdown();
 * try {
 *   executor.submit(() => 1);
 * } catch (error) {
 *   console.log((error as { code?: string }).code === codes.ERR_EXECUTOR_SHUTDOWN); // true
 * }
 * ```
 *
 * @namespace
 */
export const codes = {
  /** A cancelled future's outcome was read ({@link CancelledError}). */
  ERR_FUTURE_CANCELLED: 'ERR_FUTURE_CANCELLED',
  /** A wait with a timeout ran out of time ({@link TimeoutError}). */
  ERR_FUTURE_TIMEOUT: 'ERR_FUTURE_TIMEOUT',
  /**
   * A future was asked to move to a state its current state does not allow
   * ({@link InvalidStateError}, and the `RuntimeError` of `setRunningOrNotifyCancel`).
   */
  ERR_INVALID_STATE: 'ERR_INVALID_STATE',
  /** `submit` (or `map`) after `shutdown()`, `terminateWorkers()` or `killWorkers()` ({@link RuntimeError}). */
  ERR_EXECUTOR_SHUTDOWN: 'ERR_EXECUTOR_SHUTDOWN',
  /**
   * The pool is broken, or a worker died holding the future: every
   * {@link BrokenExecutor} (`BrokenThreadPool`, `BrokenInterpreterPool`,
   * `BrokenProcessPool`). The class tells which pool; the message and `cause` tell why.
   */
  ERR_BROKEN_POOL: 'ERR_BROKEN_POOL',
  /** An argument (or `initArgs`) cannot be cloned to a worker (`TypeError`). */
  ERR_TASK_NOT_CLONEABLE: 'ERR_TASK_NOT_CLONEABLE',
  /** A task's result cannot be cloned back to the parent (`TypeError`). */
  ERR_RESULT_NOT_CLONEABLE: 'ERR_RESULT_NOT_CLONEABLE',
  /** A bound function, native function or class was submitted to a parallel executor (`TypeError`). */
  ERR_TASK_NOT_SENDABLE: 'ERR_TASK_NOT_SENDABLE',
  /** A function sent as source text did not compile in the worker (`SyntaxError`). */
  ERR_TASK_NOT_COMPILABLE: 'ERR_TASK_NOT_COMPILABLE',
  /** A function sent as source text used a variable of the scope it was written in (`ReferenceError`). */
  ERR_TASK_NOT_SELF_CONTAINED: 'ERR_TASK_NOT_SELF_CONTAINED',
  /** A `taskModule` reference was called directly instead of being submitted (`TypeError`). */
  ERR_TASK_REFERENCE_CALLED: 'ERR_TASK_REFERENCE_CALLED',
  /** A task module has no exported function of the referenced name (`TypeError`). */
  ERR_TASK_EXPORT_NOT_FOUND: 'ERR_TASK_EXPORT_NOT_FOUND',
  /** An argument or option has the wrong type (`TypeError`). */
  ERR_INVALID_ARG_TYPE: 'ERR_INVALID_ARG_TYPE',
  /** An argument or option has the right type but a value it may not take (`RangeError` or `TypeError`). */
  ERR_INVALID_ARG_VALUE: 'ERR_INVALID_ARG_VALUE',
  /** An options object has a key the function does not know, a typo most likely (`TypeError`). */
  ERR_UNKNOWN_OPTION: 'ERR_UNKNOWN_OPTION',
  /**
   * A worker sent a message or error record that cannot be read: the worker is
   * untrusted, so this fails the task it concerns instead of the pool (`TypeError`).
   */
  ERR_INVALID_WORKER_MESSAGE: 'ERR_INVALID_WORKER_MESSAGE',
  /** Arguments or a result larger than the executor's `maxPayloadBytes` (`RangeError`; BullMQExecutor). */
  ERR_PAYLOAD_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  /** A BullMQ job failed on the worker's side before or around its task: unknown module, stalled too often ({@link RuntimeError}). */
  ERR_JOB_FAILED: 'ERR_JOB_FAILED',
  /** A BullMQ job vanished from Redis (removed by someone else, or lost) before it finished ({@link RuntimeError}). */
  ERR_JOB_LOST: 'ERR_JOB_LOST',
  /** Redis did not take a batch of jobs within the executor's `redisTimeout` ({@link RuntimeError}). */
  ERR_REDIS_UNAVAILABLE: 'ERR_REDIS_UNAVAILABLE',
  /** A bug in this library: please report it. */
  ERR_INTERNAL_ASSERTION: 'ERR_INTERNAL_ASSERTION',
} as const;
Object.freeze(codes);

/** One of the stable error {@link codes}. */
export type ErrorCode = (typeof codes)[keyof typeof codes];

/**
 * Sets `error.code` (an own enumerable property, as Node's errors have, so it
 * crosses the worker boundary) and returns the error, for `throw withCode(new SyntaxError(...), ...)`.
 *
 * @internal
 */
export function withCode<E extends Error>(error: E, code: ErrorCode): E & { code: ErrorCode } {
  return Object.assign(error, { code });
}

/**
 * A `TypeError` with the code `ERR_INVALID_ARG_TYPE` (or the code given),
 * whose stack starts at the caller.
 *
 * @internal
 */
export function argTypeError(
  message: string,
  code: ErrorCode = codes.ERR_INVALID_ARG_TYPE,
  options?: ErrorOptions,
): TypeError & { code: ErrorCode } {
  const error = withCode(new TypeError(message, options), code);
  Error.captureStackTrace(error, argTypeError);
  return error;
}

/**
 * A `RangeError` with the code `ERR_INVALID_ARG_VALUE`, whose stack starts at the caller.
 *
 * @internal
 */
export function argValueError(message: string): RangeError & { code: ErrorCode } {
  const error = withCode(new RangeError(message), codes.ERR_INVALID_ARG_VALUE);
  Error.captureStackTrace(error, argValueError);
  return error;
}

/**
 * Base class of the errors a {@link Future} raises about itself (Python's `_base.Error`).
 */
export class FuturesError extends Error {
  /** The stable error code (see {@link codes}); set by every subclass the library throws. */
  declare readonly code?: ErrorCode | undefined;

  /** `message` and `options` as for `Error`. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The future was cancelled: thrown by `result()` and `exception()` of a
 * cancelled future, and by `await future`. Its `code` is `ERR_FUTURE_CANCELLED`.
 */
export class CancelledError extends FuturesError {
  /** Always `ERR_FUTURE_CANCELLED`. */
  override readonly code = codes.ERR_FUTURE_CANCELLED;
}

/**
 * A future was asked to move to a state its current state does not allow, such
 * as `setResult` on a future that is already done. Its `code` is `ERR_INVALID_STATE`.
 */
export class InvalidStateError extends FuturesError {
  /** Always `ERR_INVALID_STATE`. */
  override readonly code = codes.ERR_INVALID_STATE;
}

/**
 * A wait ran out of time: `result(timeout)`, `exception(timeout)`, `asCompleted`
 * and `map` with a `timeout` throw it (never `wait`). Python uses its builtin
 * `TimeoutError`. Its `code` is `ERR_FUTURE_TIMEOUT`.
 */
export class TimeoutError extends Error {
  /** Always `ERR_FUTURE_TIMEOUT`. */
  readonly code = codes.ERR_FUTURE_TIMEOUT;

  /** `message` and `options` as for `Error`. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Python's `RuntimeError`: misuse of an executor or future, such as submitting
 * after `shutdown()` (`code` `ERR_EXECUTOR_SHUTDOWN`) or calling
 * `setRunningOrNotifyCancel()` twice (`ERR_INVALID_STATE`).
 */
export class RuntimeError extends Error {
  /** The stable error code (see {@link codes}); the library sets one on every `RuntimeError` it throws. */
  declare readonly code?: ErrorCode | undefined;

  /** `message` and `options` as for `Error`. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The executor can no longer run work, or a worker died holding the future: a
 * worker failed in a way the pool cannot recover from. Its `code` is `ERR_BROKEN_POOL`.
 */
export class BrokenExecutor extends RuntimeError {
  /** Always `ERR_BROKEN_POOL`, for every broken pool class. */
  override readonly code: ErrorCode = codes.ERR_BROKEN_POOL;
}

/** A {@link ThreadPoolExecutor} is broken (its initializer threw). */
export class BrokenThreadPool extends BrokenExecutor {}

/**
 * An {@link InterpreterPoolExecutor} is broken: its initializer threw, a worker
 * thread died holding the future, or 3 workers died in a row.
 */
export class BrokenInterpreterPool extends BrokenThreadPool {}

/**
 * A {@link ProcessPoolExecutor} is broken: its initializer threw, a child
 * process died holding the future, or 3 workers died in a row.
 */
export class BrokenProcessPool extends BrokenExecutor {}

/** The message Python uses for any submit after `shutdown()`. */
export const SHUTDOWN_MESSAGE = 'cannot schedule new futures after shutdown';

/**
 * The error `submit` throws after `shutdown()`: a `RuntimeError` with Python's
 * message and the code `ERR_EXECUTOR_SHUTDOWN`.
 *
 * @internal
 */
export function shutdownError(): RuntimeError {
  return withCode(new RuntimeError(SHUTDOWN_MESSAGE), codes.ERR_EXECUTOR_SHUTDOWN);
}
