/**
 * The worker side: a BullMQ `Worker` that hands each job to a local
 * `InterpreterPoolExecutor` or `ProcessPoolExecutor`, so that CPU-bound tasks
 * never block the event loop that renews BullMQ's locks (a blocked loop lets
 * locks expire, and the job runs twice: bullmq's "stalled" complaints).
 *
 * Security: the worker imports only the task modules it was given at start,
 * under their ids. A job names a module id and an export, never a path or
 * code; a job naming anything else fails at once and is not retried
 * (`UnrecoverableError`). Everything in a job is untrusted and checked.
 *
 * @internal
 */

import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { InterpreterPoolExecutor } from '../interpreter.js';
import { ProcessPoolExecutor } from '../process.js';
import type { ParallelExecutor } from '../parallel.js';
import { stoppableControl } from '../control.js';
import { checkTimeout } from '../validate.js';
import type { Future } from '../future.js';
import { importModule } from '../pool/import-module.js';
import { encodeError } from '../pool/wire-error.js';
import { MODULE_ID, taskModule } from '../task-module.js';
import type { TaskFunction } from '../executor.js';
import type { Chunk } from '../pool/protocol.js';
import { dependencies } from './deps.js';
import { makeClient, type RedisConnection } from './bullmq-engine.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  checkTaskArgs,
  decode,
  encode,
  readJobData,
  type Encoded,
  type JobOutcome,
} from './protocol.js';

/** Options of {@link TaskWorker.start} (the `worker` command's flags). */
export interface TaskWorkerOptions {
  /** Where Redis is: a `redis://` URL, ioredis options or an ioredis client. */
  connection: RedisConnection;
  /** The queue's name, as the executor's. */
  queue: string;
  /** BullMQ's key prefix, as the executor's (default `bull`). */
  prefix?: string | undefined;
  /** The task modules this worker runs: module id → file path or URL. */
  tasks: Readonly<Record<string, string | URL>>;
  /** Where tasks run: worker threads (`interpreter`, the default) or child processes (`process`). */
  pool?: 'interpreter' | 'process' | undefined;
  /** The local pool's size; default `os.availableParallelism()`. */
  maxWorkers?: number | undefined;
  /** Jobs held at once; default `maxWorkers`. */
  concurrency?: number | undefined;
  /** The largest encoded arguments or result, in bytes (default 8 MiB). */
  maxPayloadBytes?: number | undefined;
  /** BullMQ's lock duration, ms (default 30,000): a dead worker's jobs run again after about this long. */
  lockDuration?: number | undefined;
  /** BullMQ's stalled-job check interval, ms (default 30,000). */
  stalledInterval?: number | undefined;
  /** Receives one line per start, stop and failure; default: stderr. */
  log?: ((line: string) => void) | undefined;
  /**
   * Gives up the start: an abort while the worker loads its modules or waits
   * for Redis (which may be down) closes what it opened, and `start` rejects
   * with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

interface LoadedModule {
  readonly url: string;
  /** Export name → the `taskModule` reference the local pool runs. */
  readonly functions: ReadonlyMap<string, TaskFunction>;
}

/** A file path or URL given on the command line, as a URL string. */
export function moduleUrl(location: string | URL): string {
  if (location instanceof URL) return location.href;
  if (/^file:/i.test(location)) return location;
  return pathToFileURL(isAbsolute(location) ? location : resolve(location)).href;
}

/** Imports each module once, keeping its function exports; throws if one does not load. */
async function loadModules(
  tasks: Readonly<Record<string, string | URL>>,
): Promise<Map<string, LoadedModule>> {
  const modules = new Map<string, LoadedModule>();
  for (const [id, location] of Object.entries(tasks)) {
    if (!MODULE_ID.test(id)) throw new Error(`invalid module id '${id}'`);
    const url = moduleUrl(location);
    let namespace: Record<string, unknown>;
    try {
      namespace = await importModule(url);
    } catch (error) {
      throw new Error(`the task module '${id}' (${url}) does not load: ${String(error)}`, {
        cause: error,
      });
    }
    const refs = taskModule<Record<string, TaskFunction>>(url) as Record<string, TaskFunction>;
    const functions = new Map<string, TaskFunction>();
    for (const [name, value] of Object.entries(namespace)) {
      if (typeof value === 'function') functions.set(name, refs[name]!);
    }
    modules.set(id, { url, functions });
  }
  return modules;
}

/** A running worker: a BullMQ `Worker` over a local pool. */
export class TaskWorker {
  readonly #worker: Worker;
  readonly #pool: ParallelExecutor;
  readonly #client: Redis;
  readonly #subscriber: Redis;
  readonly #log: (line: string) => void;
  #closing: Promise<void> | undefined;
  #abandoned = false;

  private constructor(
    worker: Worker,
    pool: ParallelExecutor,
    client: Redis,
    subscriber: Redis,
    log: (line: string) => void,
  ) {
    this.#worker = worker;
    this.#pool = pool;
    this.#client = client;
    this.#subscriber = subscriber;
    this.#log = log;
  }

  /** Loads the task modules (failing at once if one does not load), then takes jobs. */
  static async start(options: TaskWorkerOptions): Promise<TaskWorker> {
    const { bullmq } = dependencies();
    const signal = options.signal;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const prefix = options.prefix ?? 'bull';
    const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    const modules = await unlessAborted(loadModules(options.tasks), signal);
    const ids = [...modules.keys()].join(', ');
    const pool =
      options.pool === 'process'
        ? new ProcessPoolExecutor({ maxWorkers: options.maxWorkers })
        : new InterpreterPoolExecutor({ maxWorkers: options.maxWorkers });
    const concurrency = options.concurrency ?? pool.maxWorkers;
    const client = makeClient(options.connection, 'concurrent-futures:worker');
    const subscriber = makeClient(options.connection, 'concurrent-futures:worker-cancel');
    client.on('error', () => {});
    subscriber.on('error', () => {});

    /**
     * The calls running for jobs, by job id, so that an executor's cancel
     * request stops its job's call. (The processor takes no BullMQ signal:
     * BullMQ would make an AbortController per job, which costs more than a
     * small task, for cancels that come only from us.)
     */
    const running = new Map<string, Future<unknown>>();
    const processor = async (job: Job): Promise<JobOutcome> => {
      const { UnrecoverableError } = bullmq;
      let data;
      try {
        data = readJobData(job.data);
      } catch (error) {
        throw new UnrecoverableError((error as Error).message);
      }
      const module = modules.get(data.module);
      if (module === undefined) {
        throw new UnrecoverableError(
          `this worker has no task module '${data.module}' (it runs: ${ids}); ` +
            `start a worker with --tasks <file>=${data.module}`,
        );
      }
      const fn = module.functions.get(data.fn);
      if (fn === undefined) {
        throw new UnrecoverableError(
          `the task module '${data.module}' (${module.url}) has no exported function '${data.fn}'`,
        );
      }
      let args;
      try {
        args = checkTaskArgs(
          decode(data.args, maxPayload, `the arguments of job ${job.id}`),
          data.chunk,
        );
      } catch (error) {
        throw new UnrecoverableError((error as Error).message);
      }
      const control = stoppableControl(
        checkTimeout(data.timeout, 'the job timeout'),
        pool._callDefaults(),
      );
      let future: Future<unknown>;
      if (data.chunk) future = pool._submitChunk(fn, args as Chunk, control);
      else future = pool._submitControlled(control, fn, args as unknown[]);
      const jobId = job.id!;
      running.set(jobId, future);
      try {
        const value = await future;
        return { ok: true, value: encode(value, maxPayload, `the result of ${data.fn}`) };
      } catch (error) {
        // A task's exception is its outcome: the job completes with it (never retried).
        return { ok: false, error: encodeFailure(error, maxPayload) };
      } finally {
        if (running.get(jobId) === future) running.delete(jobId);
      }
    };

    const worker = new bullmq.Worker(checkQueueName(options.queue), processor, {
      connection: client,
      prefix,
      concurrency,
      ...(options.lockDuration !== undefined && { lockDuration: options.lockDuration }),
      ...(options.stalledInterval !== undefined && { stalledInterval: options.stalledInterval }),
      autorun: false,
    });
    worker.on('failed', (job, error) => {
      log(`concurrent-futures worker: job ${job?.id ?? '?'} failed: ${error.message}`);
    });
    // While Redis is away, every retry of every connection fails: one line for
    // the outage and one when it is over, not one per retry.
    const outage = new RepeatedFailures(log);
    worker.on('error', (error) => outage.failed(error.message));
    client.on('ready', () => outage.over());
    const self = new TaskWorker(worker, pool, client, subscriber, log);
    try {
      // Aborts from executors (a call's signal, a deadline, shutdown with abortRunning).
      // This wait, and the next, last as long as Redis cannot be reached: `signal` gives them up.
      await unlessAborted(subscriber.subscribe(`${prefix}:${options.queue}:cf:cancel`), signal);
      subscriber.on('message', (_channel: string, jobId: string) => {
        const future = running.get(jobId);
        if (future !== undefined) {
          pool._stop(future, new DOMException('aborted by the executor', 'AbortError'));
        }
      });
      void worker
        .run()
        .catch((error: unknown) => log(`concurrent-futures worker: ${String(error)}`));
      await unlessAborted(worker.waitUntilReady(), signal);
    } catch (error) {
      await self.#release();
      throw error;
    }
    log(
      `concurrent-futures worker: started on queue '${options.queue}' (prefix '${prefix}'), ` +
        `${options.pool ?? 'interpreter'} pool of ${pool.maxWorkers}, concurrency ${concurrency}, ` +
        `tasks: ${[...modules].map(([id, m]) => `${id}=${m.url}`).join(' ')}`,
    );
    return self;
  }

  /**
   * Stops taking jobs. Graceful (the default): finishes the running jobs, then
   * closes. `force`: closes now; the running jobs are taken again by another
   * worker once their locks expire (at-least-once).
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    const force = options.force === true;
    if (this.#closing !== undefined && !force) return this.#closing;
    const closing = force ? this.#abandon() : this.#finish();
    this.#closing = closing;
    return closing;
  }

  async #finish(): Promise<void> {
    await this.#worker.close();
    await this.#pool.shutdown();
    this.#subscriber.disconnect();
    await this.#client.quit().catch(() => this.#client.disconnect());
    if (!this.#abandoned) this.#log('concurrent-futures worker: stopped');
  }

  /** Closes what {@link TaskWorker.start} opened, when it gives up: no job was taken. */
  async #release(): Promise<void> {
    this.#client.disconnect();
    this.#subscriber.disconnect();
    await this.#worker.close(true).catch(() => {});
    await this.#pool.shutdown();
  }

  /**
   * Leaves the running jobs as they are: the connection goes first, so that
   * nothing about them is written (no outcome of a killed task), their locks
   * expire and another worker takes them as stalled.
   */
  async #abandon(): Promise<void> {
    this.#abandoned = true;
    this.#client.disconnect();
    this.#subscriber.disconnect();
    await this.#pool.killWorkers();
    // BullMQ's close waits for the processors; those settle now, but their outcome goes nowhere.
    await Promise.race([
      this.#worker.close(true).catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
    this.#log('concurrent-futures worker: stopped now; the jobs it held run again elsewhere');
  }
}

/** A failure repeated within this long after it was logged is counted, not logged. */
const REPEAT_LOG_MS = 60_000;
/** How many kinds of failure are remembered at once. */
const MAX_FAILURE_KINDS = 100;

/**
 * Logs each failure once, then its repeats at most once a minute (with their
 * count), and one line when the connection is back: while Redis is away every
 * retry of every connection fails, and the log should show the outage, not
 * each retry.
 *
 * @internal
 */
export class RepeatedFailures {
  readonly #log: (line: string) => void;
  /** Failures logged since the connection was last ready: message → when, and repeats since. */
  readonly #seen = new Map<string, { loggedAt: number; repeats: number }>();

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  failed(message: string): void {
    const now = performance.now();
    const seen = this.#seen.get(message);
    if (seen !== undefined && now - seen.loggedAt < REPEAT_LOG_MS) {
      seen.repeats++;
      return;
    }
    const repeats = seen?.repeats ?? 0;
    this.#log(
      `concurrent-futures worker: ${message}` +
        (repeats > 0 ? ` (again ${repeats} times since the last report)` : ''),
    );
    // Messages may name jobs: keep the most recent ones only, so that a long-lived worker's
    // memory stays bounded (a forgotten message is merely logged again).
    if (seen === undefined && this.#seen.size >= MAX_FAILURE_KINDS) {
      this.#seen.delete(this.#seen.keys().next().value!);
    }
    this.#seen.set(message, { loggedAt: now, repeats: 0 });
  }

  /** A connection is ready: says so if failures were logged since the last time. */
  over(): void {
    if (this.#seen.size === 0) return;
    let repeats = 0;
    for (const seen of this.#seen.values()) repeats += seen.repeats;
    this.#seen.clear();
    this.#log(
      'concurrent-futures worker: connected to Redis again' +
        (repeats > 0 ? ` (${repeats} more failures were not logged)` : ''),
    );
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    // What is given up may still fail later (a disconnected client): that goes nowhere.
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The queue name, checked as the executor checks it. */
function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) {
    throw new TypeError(`queue must be a name of 1 to 100 letters, digits, '.', '_' or '-'`);
  }
  return name;
}

/** What a task threw, encoded; a record too large to send is replaced by one that says so. */
function encodeFailure(error: unknown, maxPayload: number): Encoded {
  try {
    return encode(encodeError(error), maxPayload, 'the error');
  } catch (tooLarge) {
    return encode(encodeError(tooLarge), maxPayload, 'the error');
  }
}
