/**
 * The one interface the pool core knows a worker by. Each transport (worker
 * threads, child processes) is a small adapter behind it, so the scheduler
 * knows nothing about how messages travel or how a worker dies.
 */

import type { TransferListItem } from 'node:worker_threads';
import type { ControlCells, ParentMessage } from './protocol.js';

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
  /** Worker threads: the memory it shares with the pool (see `ControlCells` in protocol.ts). */
  readonly cells?: ControlCells | undefined;
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

/** Set in a worker's environment when the parent runs under tsx (see `workerExecArgv`). */
export const TSX_ENV = 'CONCURRENT_FUTURES_TSX';
