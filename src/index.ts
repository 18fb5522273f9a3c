/**
 * concurrent-futures: Python's `concurrent.futures` for TypeScript.
 *
 * @packageDocumentation
 */

export {
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
  wait,
  asCompleted,
  type ReturnWhen,
  type WaitOptions,
  type AsCompletedOptions,
  type DoneAndNotDone,
  type FutureCollection,
  type CompletedFuture,
} from './wait.js';
export {
  Future,
  setCallbackErrorHandler,
  type FutureState,
  type DoneCallback,
  type CallbackErrorHandler,
} from './future.js';
export {
  Executor,
  type MapOptions,
  type ShutdownOptions,
  type MapIterables,
  type MapResults,
  type TaskFunction,
} from './executor.js';
export { ThreadPoolExecutor, type ThreadPoolExecutorOptions } from './thread.js';
export {
  FuturesError,
  CancelledError,
  InvalidStateError,
  TimeoutError,
  RuntimeError,
  BrokenExecutor,
  BrokenThreadPool,
  BrokenInterpreterPool,
  BrokenProcessPool,
  codes,
  type ErrorCode,
} from './errors.js';
export { InterpreterPoolExecutor, type InterpreterPoolExecutorOptions } from './interpreter.js';
export { ProcessPoolExecutor, type ProcessPoolExecutorOptions } from './process.js';
export type { ParallelExecutorOptions, ParallelExecutor } from './parallel.js';
export { taskModule, type TaskModule, type TaskRef } from './task-module.js';
export { transfer } from './pool/transfer.js';
