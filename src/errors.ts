/**
 * The error classes of `concurrent.futures`, in Python's hierarchy.
 *
 * Every class sets `name` to its own class name, so that errors print and
 * serialize the way they are spelled in the docs.
 */

/** Base class of the errors a {@link Future} raises about itself (Python's `_base.Error`). */
export class FuturesError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The future was cancelled: thrown by `result()` and `exception()` of a cancelled future. */
export class CancelledError extends FuturesError {}

/** A future was asked to move to a state its current state does not allow. */
export class InvalidStateError extends FuturesError {}

/**
 * A wait ran out of time: `result(timeout)`, `exception(timeout)`, `asCompleted`
 * and `map` with a `timeout` throw it. (Python uses its builtin `TimeoutError`.)
 */
export class TimeoutError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Python's `RuntimeError`: misuse of an executor or future, such as submitting
 * after `shutdown()` or calling `setRunningOrNotifyCancel()` twice.
 */
export class RuntimeError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The executor can no longer run work: a worker failed in a way the pool cannot recover from. */
export class BrokenExecutor extends RuntimeError {}

/** A {@link ThreadPoolExecutor} is broken (its initializer threw). */
export class BrokenThreadPool extends BrokenExecutor {}

/** An `InterpreterPoolExecutor` is broken: a worker thread died or its initializer threw. */
export class BrokenInterpreterPool extends BrokenThreadPool {}

/** A `ProcessPoolExecutor` is broken: a child process died or its initializer threw. */
export class BrokenProcessPool extends BrokenExecutor {}

/** The message Python uses for any submit after `shutdown()`. */
export const SHUTDOWN_MESSAGE = 'cannot schedule new futures after shutdown';
