/**
 * concurrent-futures: Python's `concurrent.futures` for TypeScript.
 *
 * @packageDocumentation
 * @module concurrent-futures
 * @document ../docs/guides/choosing-an-executor.md
 * @document ../docs/guides/defining-tasks.md
 * @document ../docs/guides/crossing-the-boundary.md
 * @document ../docs/guides/worker-deaths.md
 * @document ../docs/guides/dispatch-and-cancellation.md
 * @document ../docs/guides/control.md
 * @document ../docs/guides/progress.md
 * @document ../docs/guides/errors.md
 * @document ../docs/guides/benchmarks.md
 * @document ../docs/distributed.md
 * @document ../docs/runtimes.md
 * @document ../docs/python-differences.md
 * @document ../docs/stability.md
 * @document ../CHANGELOG.md
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
  ExecutorView,
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
export type {
  ParallelExecutorOptions,
  ParallelExecutor,
  ParallelExecutorEvents,
} from './parallel.js';
export type { WorkerExitReason } from './pool/transport.js';
export type { TaskTraceMessage } from './tracing.js';
export {
  taskModule,
  type TaskModule,
  type TaskModuleOptions,
  type TaskRef,
} from './task-module.js';
export { transfer } from './pool/transfer.js';
export { taskSignal, reportProgress, type CallOptions } from './control.js';
export type { ExecutorStats, Percentiles } from './stats.js';
