/**
 * The one interface the pool core knows a worker by. Each transport (worker
 * threads, child processes) is a small adapter behind it, so the scheduler
 * knows nothing about how messages travel or how a worker dies.
 */

import type { TransferListItem } from 'node:worker_threads';
import type { ParentMessage } from './protocol.js';

/** How a worker ended: its exit code or the signal that killed it, and the error it died of, if known. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: unknown;
}

/**
 * Why a worker exited: `retired` (maxTasksPerChild), `idle` (idleTimeout),
 * `closed` (shutdown), `terminated` (terminateWorkers/killWorkers, a broken
 * pool), `stopped` (ended to stop a call after its grace period), `faulty`
 * (it broke the protocol or its transport failed), `crashed` (it died unasked).
 */
export type WorkerExitReason =
  'retired' | 'idle' | 'closed' | 'terminated' | 'stopped' | 'faulty' | 'crashed';

/** One running worker, as the pool sees it. */
export interface WorkerHandle {
  /** A short description for error messages: "worker thread 3", "child process 1234". */
  readonly label: string;
  /** Worker threads: the shared cells that signal an abort to a synchronous loop (see protocol.ts). */
  readonly abortFlag?: Int32Array | undefined;
  /** Sends a message; throws synchronously if it cannot be cloned. */
  send(message: ParentMessage, transferList?: readonly TransferListItem[]): void;
  /** Throws the transport's own clone error if `value` cannot travel to a worker. */
  checkCloneable(value: unknown): void;
  /** Lets the process exit while this worker runs (idle), or keeps it alive (busy). */
  ref(): void;
  unref(): void;
  /** Ends the worker: SIGTERM for a process; a thread is terminated either way. */
  terminate(): void;
  /** Ends the worker at once: SIGKILL for a process. */
  kill(): void;
}

/** What a transport reports back to the pool. */
export interface WorkerEvents {
  /** Any message the worker's thread or process posted: untrusted, read by `readWorkerMessage`. */
  onMessage(message: unknown): void;
  /** A message arrived that cannot be deserialized. */
  onUnreadable(error: unknown): void;
  onExit(info: ExitInfo): void;
}

/** Starts one worker running the worker entry module. */
export type Transport = (events: WorkerEvents) => WorkerHandle;

/** The worker entry module, beside this file (compiled to dist/pool/worker-entry.js). */
export const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);

/** Set in a worker's environment when the parent runs under tsx (see {@link workerExecArgv}). */
export const TSX_ENV = 'CONCURRENT_FUTURES_TSX';

const TSX_ARG = /(^|[/\\])tsx([/\\]|$)/;
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * The Node options for a new worker: the caller's `execArgv` as given, or
 * this process's without tsx's flags. Loading tsx eagerly costs every worker
 * tens of milliseconds and megabytes (and on Node 20 its hooks do not even
 * reach worker threads), so a worker registers tsx itself, only when it first
 * imports a task module, if `env` carries {@link TSX_ENV}.
 */
export function workerExecArgv(
  execArgv: string[] | undefined,
  env: NodeJS.Dict<string> | undefined,
): { execArgv: string[]; env: NodeJS.Dict<string> | undefined } {
  if (execArgv !== undefined) return { execArgv, env };
  const kept: string[] = [];
  let tsx = false;
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (LOADER_FLAGS.has(flag)) {
      const value = eq === -1 ? args[i + 1] : arg.slice(eq + 1);
      if (value !== undefined && TSX_ARG.test(value)) {
        tsx = true;
        if (eq === -1) i++;
        continue;
      }
    }
    kept.push(arg);
  }
  return { execArgv: kept, env: tsx ? { ...(env ?? process.env), [TSX_ENV]: '1' } : env };
}
