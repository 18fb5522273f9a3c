/**
 * What a distributed executor needs of its job engine, and nothing more: the
 * Future side (`BullMQExecutor`) is written against this interface, so that
 * another engine (NATS JetStream, say) can follow without touching it.
 *
 * The contract each engine keeps:
 * - `enqueue` is idempotent by job id: a batch sent again after a reconnect
 *   creates no second job.
 * - `tryRemove` removes a job only while no worker has taken it, atomically:
 *   true means the job will never run.
 * - `readEvents` returns the completion events after a cursor, in order, and
 *   says when events not yet read may have been lost (a `gap`), at the latest
 *   a few reads after the loss: the caller then reconciles with `readOutcomes`.
 *
 * @internal
 */

/** One job to enqueue: an id chosen by the executor, and the job's data. */
export interface JobSpec {
  readonly id: string;
  /** A label for dashboards (`module.fn`). */
  readonly name: string;
  readonly data: unknown;
}

/** What happened to a job, as the events stream tells it. */
export type JobEvent =
  | { readonly kind: 'active'; readonly jobId: string }
  | { readonly kind: 'completed'; readonly jobId: string; readonly returnvalue: string }
  | { readonly kind: 'failed'; readonly jobId: string; readonly reason: string }
  | { readonly kind: 'removed'; readonly jobId: string };

/** A job's stored state, read to reconcile after events may have been lost. */
export type StoredOutcome =
  | { readonly state: 'missing' }
  | { readonly state: 'waiting' }
  | { readonly state: 'active' }
  | { readonly state: 'completed'; readonly returnvalue: string }
  | { readonly state: 'failed'; readonly reason: string };

/** A batch of events, the cursor after them, and whether events may have been lost before them. */
export interface EventBatch {
  readonly events: JobEvent[];
  readonly cursor: string;
  readonly gap: boolean;
}

export interface JobEngine {
  /** The cursor at the end of the events stream now: events after it are those of jobs added later. */
  eventsEnd(): Promise<string>;
  /** Adds the jobs, idempotently by id. */
  enqueue(jobs: readonly JobSpec[]): Promise<void>;
  /** Removes the job if no worker has taken it; true if removed (it will never run). */
  tryRemove(jobId: string): Promise<boolean>;
  /** Asks the worker running the job to stop it (best effort: the worker may be gone). */
  requestCancel(jobId: string): Promise<void>;
  /**
   * Events after `cursor`; waits up to `blockMs` for the first. Events of jobs
   * this executor does not know are included: the caller ignores them.
   */
  readEvents(cursor: string, blockMs: number): Promise<EventBatch>;
  /** The stored state of each job, in order. */
  readOutcomes(jobIds: readonly string[]): Promise<StoredOutcome[]>;
  /** Calls `listener` each time a connection is back after it was lost (events may be missing). */
  onReconnect(listener: () => void): void;
  /** Idle: let go of the process (unref sockets and reconnect timers); busy: hold it. */
  setIdle(idle: boolean): void;
  /** Closes every connection; the engine is unusable afterwards. */
  close(): Promise<void>;
}
