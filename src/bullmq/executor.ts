/**
 * `BullMQExecutor`: the Executor contract over a job engine (BullMQ on Redis),
 * so that the same `submit`, `map`, `wait` and `asCompleted` code runs on
 * workers on any number of machines.
 *
 * A call's life, as CPython's futures see it:
 * - `submit` encodes the call and queues it; every call of one tick goes to
 *   Redis in one `addBulk`, under a job id chosen here (so a batch sent again
 *   after a reconnect creates nothing twice). The future is PENDING.
 * - one reader per executor follows the engine's events from a cursor taken
 *   before the first job was added: `active` makes the future RUNNING,
 *   `completed` settles it with the task's result or error (a task's
 *   exception is a result, never retried), `failed` fails it with the
 *   worker's reason.
 * - when events may have been lost (a reconnect, a stream trimmed past the
 *   cursor) the reader reconciles: it reads the stored state of every job it
 *   still waits for, and fails those that vanished. It also reconciles after
 *   a silence (no event about its calls for {@link SILENCE_MS}, then twice as
 *   long each time, up to {@link MAX_SILENCE_MS}): a job that
 *   vanished without an event, in a way no reconnect or gap revealed, fails
 *   all the same.
 *
 * @internal
 */

import { randomBytes } from 'node:crypto';
import { AbortWatch } from '../abort-watch.js';
import {
  RuntimeError,
  TimeoutError,
  argTypeError,
  argValueError,
  codes,
  shutdownError,
  withCode,
} from '../errors.js';
import { Executor, type ShutdownOptions, type TaskFunction } from '../executor.js';
import { Future } from '../future.js';
import { checkCallOptions, type Control } from '../control.js';
import type { Chunk, TaskArgs } from '../pool/protocol.js';
import { decodeError, type WireError } from '../pool/wire-error.js';
import { taskRefOf } from '../task-module.js';
import {
  checkKnownOptions,
  checkOptionsObject,
  checkPositiveInt,
  checkShutdownOptions,
  checkTimeout,
  describe,
} from '../validate.js';
import { BullMQEngine, type RedisConnection } from './bullmq-engine.js';
import type { JobEngine, JobEvent, StoredOutcome } from './engine.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  JOB_VERSION,
  ProtocolError,
  decode,
  defaultModuleId,
  encode,
  readOutcome,
  type JobData,
} from './protocol.js';

/** How many finished jobs BullMQ keeps, by age or count (BullMQ's `KeepJobs`). */
export interface KeepJobs {
  /** Seconds a finished job is kept. */
  age?: number | undefined;
  /** The most finished jobs kept. */
  count?: number | undefined;
}

/** BullMQ job options an executor may set for all its jobs. */
export interface BullMQJobOptions {
  /** BullMQ priority: 1 is the highest, 2,097,152 the lowest; none by default (FIFO, fastest). */
  priority?: number | undefined;
  /** Take the jobs last in, first out. */
  lifo?: boolean | undefined;
  /**
   * How long a finished job (and its result) stays in Redis. Default
   * `{ age: 3600 }` (seconds): long enough for an executor that lost its
   * connection to read the outcome when it is back. `true` removes at once,
   * and then a lost completion event cannot be recovered.
   */
  removeOnComplete?: boolean | number | KeepJobs | undefined;
  /** As {@link removeOnComplete}, for failed jobs; default `{ age: 86400 }`. */
  removeOnFail?: boolean | number | KeepJobs | undefined;
}

/** Options of {@link BullMQExecutor}. */
export interface BullMQExecutorOptions {
  /**
   * Where Redis is: a `redis://` URL, ioredis options, or an ioredis client
   * (which is duplicated: the executor opens and closes connections of its own).
   * `maxRetriesPerRequest: null` is set for you, as BullMQ requires.
   */
  connection: RedisConnection;
  /** The queue's name; the workers are started with the same `--queue`. */
  queue: string;
  /** BullMQ's key prefix (default `bull`); the workers need the same `--prefix`. */
  prefix?: string | undefined;
  /** Options for every job: priority, order, retention (see {@link BullMQJobOptions}). */
  jobOptions?: BullMQJobOptions | undefined;
  /**
   * The largest encoded arguments or result, in bytes (default 8 MiB): a
   * bigger payload fails with `ERR_PAYLOAD_TOO_LARGE`, at `submit` for
   * arguments, on the worker for a result. Workers have their own limit.
   */
  maxPayloadBytes?: number | undefined;
  /**
   * Milliseconds a batch of jobs may wait for an unreachable Redis before its
   * futures fail with `ERR_REDIS_UNAVAILABLE` (default 60,000). Jobs already
   * added wait for Redis as long as it takes.
   */
  redisTimeout?: number | undefined;
  /**
   * The events stream's approximate length (BullMQ's `streams.events.maxLen`,
   * default 10,000): each job writes about four events. Events trimmed before
   * they were read are recovered by reading the jobs' stored state, which costs more.
   */
  eventsMaxLen?: number | undefined;
  /** A `timeout` (ms from start) for every call that does not give its own (see `with`). */
  taskTimeout?: number | undefined;
}

const OPTIONS = [
  'connection',
  'queue',
  'prefix',
  'jobOptions',
  'maxPayloadBytes',
  'redisTimeout',
  'eventsMaxLen',
  'taskTimeout',
];
const JOB_OPTIONS = ['priority', 'lifo', 'removeOnComplete', 'removeOnFail'];
const QUEUE_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** How long the reader blocks waiting for an event before it looks at its work again. */
const BLOCK_MS = 5000;
/** Milliseconds without an event about its calls after which the reader reconciles... */
const SILENCE_MS = 10_000;
/** ...then after twice as long each time, up to this long. */
const MAX_SILENCE_MS = 320_000;
/** Jobs whose stored state one reconciliation round trip reads. */
const RECONCILE_BATCH = 1000;

/**
 * A future of a {@link BullMQExecutor}: a {@link Future} that knows its job.
 * `cancel()` succeeds while no worker has been seen to take the job: the job
 * is removed from the queue if it is still waiting (then it never runs); if a
 * worker took it meanwhile, the worker is asked to stop it and its outcome is
 * ignored. Either way the future never yields a result.
 */
export class BullMQFuture<T = unknown> extends Future<T> {
  /** The BullMQ job id, chosen by the executor (as Dask's `Future.key`). */
  readonly jobId: string;
  readonly #onCancel: (future: BullMQFuture<unknown>) => void;

  /** @internal */
  constructor(jobId: string, onCancel: (future: BullMQFuture<unknown>) => void) {
    super();
    this.jobId = jobId;
    this.#onCancel = onCancel;
  }

  /** As {@link Future.cancel}; a cancelled job that is still waiting is removed from the queue. */
  override cancel(): boolean {
    const wasPending = this._state === 'PENDING';
    const cancelled = super.cancel();
    if (cancelled && wasPending) this.#onCancel(this);
    return cancelled;
  }
}

/** A call the executor waits for: from `submit` until its future settles. */
interface Entry {
  readonly future: BullMQFuture<unknown>;
  readonly data: JobData;
  readonly name: string;
  readonly control: Control | undefined;
  /** True once Redis took the job (only then can it be missing). */
  added: boolean;
  /** Settles once the job's batch was added, or failed to be. */
  sent: Promise<unknown> | undefined;
  /** The deadline timer of a call with a timeout, once it runs. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * An {@link Executor} whose calls run as BullMQ jobs, on workers started with
 * `npx concurrent-futures worker` on any machine that reaches Redis.
 *
 * Only `taskModule` references can be submitted (no code travels on the
 * queue): the worker imports the module it was given under the same id.
 * Delivery is at least once: a task whose worker dies runs again elsewhere,
 * and its future settles once.
 *
 * ```ts
 * import { taskModule } from 'concurrent-futures';
 * import { BullMQExecutor } from 'concurrent-futures/bullmq';
 *
 * // Workers run: npx concurrent-futures worker --redis redis://localhost:6379 \
 * //   --queue math --tasks ./dist/tasks.js=math
 * const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url), {
 *   id: 'math',
 * });
 * await using executor = new BullMQExecutor({ connection: 'redis://localhost:6379', queue: 'math' });
 * for await (const digits of executor.map(tasks.factorialDigits, [5000, 6000])) {
 *   console.log(digits);
 * }
 * ```
 */
export class BullMQExecutor extends Executor {
  /** The queue's name. */
  readonly queue: string;
  readonly #engine: JobEngine;
  readonly #maxPayload: number;
  readonly #redisTimeout: number;
  readonly #callDefaults: { timeout: number; gracePeriod: number };
  readonly #defaultControl: Control | undefined;
  /** Job ids: a random executor id and a sequence number. */
  readonly #idPrefix = `cf-${randomBytes(9).toString('base64url')}-`;
  #nextSeq = 1;
  /** Calls submitted this tick, sent together. */
  #unsent: Entry[] = [];
  /** Every call not settled yet, sent or not, by job id. */
  readonly #pending = new Map<string, Entry>();
  readonly #aborts = new AbortWatch<Entry>((entry, reason) => this.#abort(entry, reason));
  /** Removals and cancel requests under way (shutdown waits for them). */
  #chores = 0;
  #cursor = '0-0';
  #reading = false;
  /** Set while the reader is being started: the cursor is being resolved. */
  #readerStart: Promise<void> | undefined;
  #reconcile = false;
  /** How many reconciliations ran, and how many reads reported a gap (for tests). */
  #reconciliations = 0;
  #gaps = 0;
  /** While set, the reader waits for it before reading (for tests: a paused reader). */
  #hold: Promise<void> | undefined;
  #isShutdown = false;
  #closing: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  readonly #closed: Promise<void>;

  /** Connects lazily: nothing is opened until the first `submit`. */
  constructor(options: BullMQExecutorOptions) {
    super();
    checkOptionsObject(options, 'BullMQExecutor options');
    if (options === undefined || options === null) {
      throw argTypeError('BullMQExecutor needs options: { connection, queue }');
    }
    checkKnownOptions(options, OPTIONS, 'BullMQExecutor');
    const { connection, queue, prefix = 'bull' } = options;
    if (typeof connection !== 'string' && (connection === null || typeof connection !== 'object')) {
      throw argTypeError(
        `connection must be a redis:// URL, ioredis options or an ioredis client, got ${describe(connection)}`,
      );
    }
    if (typeof queue !== 'string' || !QUEUE_NAME.test(queue)) {
      throw argTypeError(
        `queue must be a name of 1 to 100 letters, digits, '.', '_' or '-', got ${describe(queue)}`,
      );
    }
    if (typeof prefix !== 'string' || !QUEUE_NAME.test(prefix)) {
      throw argTypeError(`prefix must be a name like the queue's, got ${describe(prefix)}`);
    }
    const jobOptions = checkJobOptions(options.jobOptions);
    this.#maxPayload =
      options.maxPayloadBytes === undefined
        ? DEFAULT_MAX_PAYLOAD_BYTES
        : checkPositiveInt(options.maxPayloadBytes, 'maxPayloadBytes');
    this.#redisTimeout = checkTimeout(options.redisTimeout ?? 60_000, 'redisTimeout');
    const eventsMaxLen =
      options.eventsMaxLen === undefined
        ? 10_000
        : checkPositiveInt(options.eventsMaxLen, 'eventsMaxLen');
    this.#callDefaults = {
      timeout: checkTimeout(options.taskTimeout, 'taskTimeout'),
      gracePeriod: 0,
    };
    this.#defaultControl = checkCallOptions({}, this.#callDefaults);
    this.queue = queue;
    this.#engine = new BullMQEngine({
      connection,
      queue,
      prefix,
      jobOptions,
      eventsMaxLen,
      warn: (message) => process.emitWarning(message, 'BullMQExecutorWarning'),
    });
    this.#engine.onReconnect(() => (this.#reconcile = true));
    this.#closed = new Promise((resolve) => (this.#onClosed = resolve));
  }

  /**
   * Runs `fn(...args)` as a job. `fn` must be a `taskModule` reference (a
   * worker imports the module by its id); arguments and result are encoded as
   * for the local pools (V8 serialization: `Map`, `BigInt`, `Date`, typed
   * arrays, cycles, errors).
   */
  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    return this.#submit(fn as TaskFunction, args, false, this.#defaultControl) as Future<
      Awaited<R>
    >;
  }

  /** @internal */
  override _submitControlled(
    control: Control | undefined,
    fn: TaskFunction,
    args: unknown[],
  ): Future<unknown> {
    return this.#submit(fn, args, false, control);
  }

  /** @internal One `map` chunk: one job whose result is the list of results. */
  override _submitChunk(
    fn: TaskFunction,
    chunk: Chunk,
    control: Control | undefined = this.#defaultControl,
  ): Future<unknown[]> {
    return this.#submit(fn, chunk, true, control) as Future<unknown[]>;
  }

  /** @internal */
  override _callDefaults(): { timeout: number; gracePeriod: number } {
    return this.#callDefaults;
  }

  #submit(fn: TaskFunction, args: TaskArgs, chunk: boolean, control: Control | undefined) {
    const task = taskOf(fn, chunk ? 'map: fn' : 'submit: fn');
    if (control?.onProgress !== undefined) {
      throw argTypeError(
        'BullMQExecutor does not support onProgress (progress does not cross Redis)',
      );
    }
    if (this.#isShutdown) throw shutdownError();
    const encoded = encode(args, this.#maxPayload, `the arguments of ${task.fn}`);
    const jobId = this.#idPrefix + this.#nextSeq++;
    const future = new BullMQFuture(jobId, this.#onCancel);
    const timeout = control?.timeout ?? Infinity;
    const entry: Entry = {
      future,
      data: {
        cf: JOB_VERSION,
        module: task.module,
        fn: task.fn,
        chunk,
        args: encoded,
        ...(timeout !== Infinity && { timeout }),
      },
      name: `${task.module}.${task.fn}`,
      control,
      added: false,
      sent: undefined,
      timer: undefined,
    };
    const signal = control?.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        future._cancelAndNotify();
        return future;
      }
      this.#aborts.add(signal, entry);
    }
    this.#pending.set(jobId, entry);
    if (this.#unsent.push(entry) === 1) queueMicrotask(this.#flush);
    return future;
  }

  /** @internal For tests: pauses the events reader (before its next read) until the returned function is called. */
  _holdReader(): () => void {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    this.#hold = hold;
    return () => {
      if (this.#hold === hold) this.#hold = undefined;
      release();
    };
  }

  /** @internal For tests: how many times the reader reconciled with the jobs' stored state. */
  get _reconciliations(): number {
    return this.#reconciliations;
  }

  /** @internal For tests: how many reads reported that events may have been lost. */
  get _gaps(): number {
    return this.#gaps;
  }

  /** Sends this tick's calls in one batch. */
  readonly #flush = (): void => {
    const batch = this.#unsent.filter((e) => this.#pending.get(e.future.jobId) === e);
    this.#unsent = [];
    if (batch.length === 0) return void this.#maybeIdle();
    this.#engine.setIdle(false);
    this.#chores++;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      if (this.#redisTimeout === Infinity) return;
      timer = setTimeout(
        () =>
          reject(
            withCode(
              new RuntimeError(
                `Redis did not take the jobs within redisTimeout (${this.#redisTimeout} ms); ` +
                  'they may still be added and run once it is back, but their outcome will not be read',
              ),
              codes.ERR_REDIS_UNAVAILABLE,
            ),
          ),
        this.#redisTimeout,
      );
    });
    const send = async (): Promise<void> => {
      await this.#startReader();
      await this.#engine.enqueue(
        batch.map((e) => ({ id: e.future.jobId, name: e.name, data: e.data })),
      );
    };
    const sending = Promise.race([send(), timedOut]);
    for (const e of batch) e.sent = sending;
    sending
      .then(
        () => {
          for (const e of batch) e.added = true;
        },
        (error: unknown) => {
          const failure =
            (error as { code?: unknown }).code === codes.ERR_REDIS_UNAVAILABLE
              ? error
              : withCode(
                  new RuntimeError(`the jobs could not be added: ${String(error)}`, {
                    cause: error,
                  }),
                  codes.ERR_REDIS_UNAVAILABLE,
                );
          for (const e of batch) this.#finish(e, true, failure);
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.#chores--;
        this.#maybeIdle();
      });
  };

  /** Starts the reader if it is not running, from the stream's end as it is now. */
  #startReader(): Promise<void> {
    if (this.#reading) return Promise.resolve();
    return (this.#readerStart ??= this.#engine.eventsEnd().then(
      (cursor) => {
        this.#readerStart = undefined;
        this.#cursor = cursor;
        this.#reading = true;
        void this.#read();
      },
      (error: unknown) => {
        this.#readerStart = undefined;
        throw error;
      },
    ));
  }

  /** The one reader: follows the events while calls are pending; reconciles when events may be lost. */
  async #read(): Promise<void> {
    let failures = 0;
    let heardAt = performance.now();
    let silenceLimit = SILENCE_MS;
    try {
      while (this.#pending.size > 0 && this.#closing === undefined) {
        try {
          if (this.#hold !== undefined) await this.#hold;
          if (this.#reconcile) {
            this.#reconcile = false;
            this.#reconciliations++;
            await this.#reconcileAll();
          }
          const batch = await this.#engine.readEvents(this.#cursor, BLOCK_MS);
          failures = 0;
          this.#cursor = batch.cursor;
          let heard = false;
          for (const event of batch.events) heard = this.#onEvent(event) || heard;
          if (batch.gap) {
            this.#gaps++;
            this.#reconcile = true;
          }
          const now = performance.now();
          if (heard) {
            heardAt = now;
            silenceLimit = SILENCE_MS;
          } else if (now - heardAt >= silenceLimit) {
            heardAt = now;
            silenceLimit = Math.min(silenceLimit * 2, MAX_SILENCE_MS);
            this.#reconcile = true;
          }
        } catch {
          if (this.#closing !== undefined) break;
          // A command that failed (not one that waits for Redis: those never fail here).
          this.#reconcile = true;
          await new Promise((resolve) =>
            setTimeout(resolve, Math.min(100 * 2 ** failures++, 5000)),
          );
        }
      }
    } finally {
      this.#reading = false;
      this.#maybeIdle();
    }
  }

  /** Applies one event; true if it concerned a call this executor waits for. */
  #onEvent(event: JobEvent): boolean {
    const entry = this.#pending.get(event.jobId);
    if (entry === undefined) return false;
    switch (event.kind) {
      case 'active':
        this.#started(entry);
        break;
      case 'completed':
        this.#complete(entry, event.returnvalue);
        break;
      case 'failed':
        this.#fail(entry, event.reason);
        break;
      case 'removed':
        this.#lost(entry, 'was removed from the queue by someone else');
    }
    return true;
  }

  async #reconcileAll(): Promise<void> {
    const ids = [...this.#pending.values()].filter((e) => e.added).map((e) => e.future.jobId);
    for (let i = 0; i < ids.length; i += RECONCILE_BATCH) {
      const slice = ids.slice(i, i + RECONCILE_BATCH);
      const outcomes = await this.#engine.readOutcomes(slice);
      slice.forEach((id, j) => this.#reconcileOne(id, outcomes[j]!));
    }
  }

  #reconcileOne(jobId: string, outcome: StoredOutcome): void {
    const entry = this.#pending.get(jobId);
    if (entry === undefined) return;
    switch (outcome.state) {
      case 'missing':
        this.#lost(entry, 'vanished from Redis before its outcome was read');
        return;
      case 'active':
        this.#started(entry);
        return;
      case 'completed':
        this.#complete(entry, outcome.returnvalue);
        return;
      case 'failed':
        this.#fail(entry, outcome.reason);
        return;
      case 'waiting':
        return;
    }
  }

  /** A worker took the job: the future is RUNNING (unless cancelled meanwhile). */
  #started(entry: Entry): void {
    if (!entry.future._claim()) {
      this.#forget(entry);
      return;
    }
    const timeout = entry.control?.timeout ?? Infinity;
    if (timeout !== Infinity && entry.timer === undefined) {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        const error = new TimeoutError(
          `the task "${entry.data.fn}" ran longer than its timeout of ${timeout} ms`,
        );
        if (this.#finish(entry, true, error)) this.#requestCancel(entry.future.jobId);
      }, timeout);
    }
  }

  #complete(entry: Entry, returnvalue: string): void {
    let failed: boolean;
    let value: unknown;
    try {
      const outcome = readOutcome(returnvalue);
      failed = !outcome.ok;
      value = outcome.ok
        ? decode(outcome.value, this.#maxPayload, `the result of job ${entry.future.jobId}`)
        : decodeError(
            decode(
              outcome.error,
              this.#maxPayload,
              `the error of job ${entry.future.jobId}`,
            ) as WireError,
          );
    } catch (error) {
      failed = true;
      value =
        error instanceof ProtocolError
          ? argTypeError(
              `job ${entry.future.jobId}: ${error.message}`,
              codes.ERR_INVALID_WORKER_MESSAGE,
              { cause: error.cause },
            )
          : error;
    }
    this.#finish(entry, failed, value);
  }

  #fail(entry: Entry, reason: string): void {
    this.#finish(
      entry,
      true,
      withCode(
        new RuntimeError(
          `job ${entry.future.jobId} (${entry.name}) failed on the worker: ${reason}`,
        ),
        codes.ERR_JOB_FAILED,
      ),
    );
  }

  #lost(entry: Entry, why: string): void {
    this.#finish(
      entry,
      true,
      withCode(
        new RuntimeError(`job ${entry.future.jobId} (${entry.name}) ${why}`),
        codes.ERR_JOB_LOST,
      ),
    );
  }

  /** Settles a call (claiming it first if no `active` event was seen); false if it was settled already. */
  #finish(entry: Entry, failed: boolean, value: unknown): boolean {
    if (this.#pending.get(entry.future.jobId) !== entry) return false;
    this.#forget(entry);
    return entry.future._claim() && entry.future._settle(failed, value);
  }

  /** The executor stops waiting for the call. */
  #forget(entry: Entry): void {
    this.#pending.delete(entry.future.jobId);
    clearTimeout(entry.timer);
    const signal = entry.control?.signal;
    if (signal !== undefined) this.#aborts.delete(signal, entry);
    this.#maybeIdle();
  }

  /** `future.cancel()` succeeded: drop the call, remove its job if it was sent. */
  readonly #onCancel = (future: BullMQFuture<unknown>): void => {
    future.setRunningOrNotifyCancel(); // notifies waiters now: the executor decides nothing more
    const entry = this.#pending.get(future.jobId);
    if (entry === undefined) return;
    this.#forget(entry);
    const sent = entry.sent;
    if (sent === undefined) return; // never sent: the batch drops it
    this.#chore(async () => {
      await sent.catch(() => {}); // a batch in flight: remove the job once it is there
      // Removed if still waiting (then it never runs); a worker that took it is asked to stop.
      if (!(await this.#engine.tryRemove(future.jobId))) {
        await this.#engine.requestCancel(future.jobId);
      }
    });
  };

  /** The call's signal aborted: cancelled if still pending, failed at once if running. */
  #abort(entry: Entry, reason: unknown): void {
    const future = entry.future;
    if (future._state === 'PENDING') {
      future.cancel();
      return;
    }
    if (this.#finish(entry, true, reason)) this.#requestCancel(future.jobId);
  }

  #requestCancel(jobId: string): void {
    this.#chore(() => this.#engine.requestCancel(jobId));
  }

  /** Runs a Redis errand in the background; shutdown waits for it. A failure is harmless. */
  #chore(fn: () => Promise<void>): void {
    this.#chores++;
    this.#engine.setIdle(false);
    fn()
      .catch(() => {})
      .finally(() => {
        this.#chores--;
        this.#maybeIdle();
      });
  }

  /** With nothing pending: let go of the process; after shutdown, close. */
  #maybeIdle(): void {
    if (this.#pending.size > 0 || this.#chores > 0) return;
    this.#engine.setIdle(true);
    if (this.#isShutdown && this.#closing === undefined) {
      this.#closing = this.#engine.close().then(this.#onClosed, this.#onClosed);
    }
  }

  /**
   * Stops accepting calls. `cancelFutures` removes every job still waiting
   * (their futures are cancelled); `abortRunning` also fails the running calls
   * at once with an `AbortError` and asks their workers to stop them. With
   * `wait` (the default) resolves once every call has settled and the
   * connections are closed.
   */
  override shutdown(options?: ShutdownOptions): Promise<void> {
    let checked: ReturnType<typeof checkShutdownOptions>;
    try {
      checked = checkShutdownOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#isShutdown = true;
    if (checked.cancelFutures || checked.abortRunning) {
      for (const entry of [...this.#pending.values()]) {
        if (entry.future._state === 'PENDING') entry.future.cancel();
        else if (checked.abortRunning) {
          this.#abort(
            entry,
            new DOMException('The executor was shut down with abortRunning', 'AbortError'),
          );
        }
      }
    }
    this.#maybeIdle();
    return checked.wait ? this.#closed : Promise.resolve();
  }
}

function taskOf(fn: unknown, what: string): { module: string; fn: string } {
  if (typeof fn !== 'function') {
    throw argTypeError(`${what} must be a function, got ${describe(fn)}`);
  }
  const ref = taskRefOf(fn);
  if (ref === undefined) {
    throw argTypeError(
      `${what}: BullMQExecutor runs taskModule references only (a worker imports the module by ` +
        `its id; no code travels on the queue): export the function from a module and submit ` +
        `taskModule<typeof import('./tasks.js')>(url, { id: 'tasks' }).${fn.name || 'yourFunction'}`,
      codes.ERR_TASK_NOT_SENDABLE,
    );
  }
  const module = ref.id ?? defaultModuleId(ref.url);
  if (module === undefined) {
    throw argTypeError(
      `${what}: the task module ${ref.url} needs a portable id for remote workers: taskModule(url, { id })`,
      codes.ERR_TASK_NOT_SENDABLE,
    );
  }
  return { module, fn: ref.name };
}

function checkJobOptions(options: unknown): Record<string, unknown> {
  checkOptionsObject(options, 'jobOptions');
  checkKnownOptions(options as object | undefined, JOB_OPTIONS, 'jobOptions');
  const o = (options ?? {}) as BullMQJobOptions;
  if (o.priority !== undefined) {
    const p = checkPositiveInt(o.priority, 'jobOptions.priority');
    if (p > 2 ** 21) throw argValueError(`jobOptions.priority must be at most 2097152, got ${p}`);
  }
  if (o.lifo !== undefined && typeof o.lifo !== 'boolean') {
    throw argTypeError(`jobOptions.lifo must be a boolean, got ${describe(o.lifo)}`);
  }
  return {
    removeOnComplete: { age: 3600 },
    removeOnFail: { age: 86_400 },
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    // Failures are the worker's own (a task's exception is a result): a retry would not help.
    attempts: 1,
  };
}
