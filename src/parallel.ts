/**
 * The base of the two parallel executors: validation and the Executor surface
 * over one {@link WorkerPool}. The subclasses only choose a transport and the
 * error class a broken pool raises.
 */

import type { TransferListItem } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  argTypeError,
  argValueError,
  codes,
  shutdownError,
  type BrokenExecutor,
} from './errors.js';
import { Executor, type ShutdownOptions, type TaskFunction } from './executor.js';
import type { Future } from './future.js';
import { functionDef } from './pool/functions.js';
import { WorkerPool, type BrokenErrorClass, type PoolEvent } from './pool/pool.js';
import { NO_ARGS, forEachArgList, type Chunk } from './pool/protocol.js';
import { takeTransfer } from './pool/transfer.js';
import type { Transport } from './pool/transport.js';
import type { WorkerExitReason } from './pool/transport.js';
import {
  checkOptionalArray,
  checkOptionsObject,
  checkPositiveInt,
  checkShutdownOptions,
  checkKnownOptions,
  checkTimeout,
  describe,
} from './validate.js';
import { checkCallDefaults, checkCallOptions, type Control } from './control.js';
import type { ExecutorStats } from './stats.js';

const OPTIONS = [
  'maxWorkers',
  'initializer',
  'initArgs',
  'maxTasksPerChild',
  'execArgv',
  'env',
  'taskTimeout',
  'gracePeriod',
  'minWorkers',
  'idleTimeout',
];

/** Options shared by `InterpreterPoolExecutor` and `ProcessPoolExecutor`. */
export interface ParallelExecutorOptions<I extends unknown[] = unknown[]> {
  /** How many workers at most; default `os.availableParallelism()`. Workers start on demand. */
  maxWorkers?: number | undefined;
  /**
   * Run once in each worker before its first task (awaited if async). A
   * self-contained function or a `taskModule` reference. If it throws, the pool breaks.
   */
  initializer?: ((...args: I) => unknown) | undefined;
  /** The initializer's arguments (cloned into each worker). */
  initArgs?: I | undefined;
  /** Replace a worker after it has run this many tasks (a `map` chunk counts as one). */
  maxTasksPerChild?: number | undefined;
  /** Node options for the workers; default: this process's `execArgv` (so tsx and loaders carry over). */
  execArgv?: string[] | undefined;
  /** Environment of the workers; default: this process's. */
  env?: NodeJS.Dict<string> | undefined;
  /** A `timeout` (ms from start) for every call that does not give its own (see `with`). */
  taskTimeout?: number | undefined;
  /** Milliseconds a stopped call has before its worker is ended; default 1,000 (see `with`). */
  gracePeriod?: number | undefined;
  /** Workers started with the pool and kept warm, idle or not; default 0 (at most `maxWorkers`). */
  minWorkers?: number | undefined;
  /** Milliseconds after which an idle worker beyond `minWorkers` exits (started again on demand); default: never. */
  idleTimeout?: number | undefined;
}

/** The events of a parallel executor, by name (see {@link ParallelExecutor.on}). */
export interface ParallelExecutorEvents {
  /** A worker thread or child process started (`worker` is its label, e.g. "child process 4242"). */
  workerStart: {
    /** The worker's label, e.g. "worker thread 3" or "child process 4242". */
    readonly worker: string;
  };
  /** A worker exited: its exit code or signal, and why (see {@link WorkerExitReason}). */
  workerExit: {
    /** The worker's label. */
    readonly worker: string;
    /** Its exit code, or null if a signal ended it. */
    readonly code: number | null;
    /** The signal that ended it, or null. */
    readonly signal: NodeJS.Signals | null;
    /** Why it exited. */
    readonly reason: WorkerExitReason;
  };
  /** The pool broke: every pending future failed with `error`, and so will every `submit`. */
  broken: {
    /** The error every pending future failed with. */
    readonly error: BrokenExecutor;
  };
}

/**
 * What {@link InterpreterPoolExecutor} and {@link ProcessPoolExecutor} share:
 * the {@link Executor} surface over a pool of workers, plus `maxWorkers`,
 * `terminateWorkers()` and `killWorkers()`. Exported as a type only: construct
 * one of the two executors.
 */
export abstract class ParallelExecutor extends Executor {
  /** The most workers this pool runs at once. */
  readonly maxWorkers: number;
  readonly #pool: WorkerPool;
  readonly #brokenError: BrokenErrorClass;
  readonly #callDefaults: { timeout: number; gracePeriod: number };
  /** Options every call carries when the constructor set defaults (a `taskTimeout`). */
  readonly #defaultControl: Control | undefined;
  readonly #listeners = new Map<string, Set<(event: PoolEvent) => void>>();

  protected constructor(
    className: string,
    options: ParallelExecutorOptions<never[]>,
    extraOptions: readonly string[],
    makeTransport: () => Transport,
    brokenError: BrokenErrorClass,
  ) {
    super();
    checkOptionsObject(options, `${className} options`);
    checkKnownOptions(options, [...OPTIONS, ...extraOptions], className);
    this.maxWorkers =
      options.maxWorkers === undefined
        ? availableParallelism()
        : checkPositiveInt(options.maxWorkers, 'maxWorkers');
    const maxTasksPerChild = checkPositiveInt(options.maxTasksPerChild, 'maxTasksPerChild', true);
    checkOptionalArray(options.initArgs, 'initArgs');
    checkStrings(options.execArgv, 'execArgv');
    checkEnv(options.env);
    const initializer =
      options.initializer === undefined
        ? undefined
        : functionDef(options.initializer, 'initializer');
    const initArgs = options.initArgs ?? [];
    try {
      structuredClone(initArgs);
    } catch (error) {
      throw argTypeError(
        `initArgs cannot be sent to a worker: ${(error as Error).message}`,
        codes.ERR_TASK_NOT_CLONEABLE,
        { cause: error },
      );
    }
    this.#brokenError = brokenError;
    this.#callDefaults = checkCallDefaults(options);
    this.#defaultControl = checkCallOptions({}, this.#callDefaults);
    const minWorkers = options.minWorkers === undefined ? 0 : checkCount(options.minWorkers);
    if (minWorkers > this.maxWorkers) {
      throw argValueError(
        `minWorkers must be at most maxWorkers (${this.maxWorkers}), got ${minWorkers}`,
      );
    }
    const idleTimeout =
      options.idleTimeout === undefined
        ? undefined
        : checkTimeout(options.idleTimeout, 'idleTimeout');
    this.#pool = new WorkerPool({
      name: className,
      minWorkers,
      idleTimeout: idleTimeout === Infinity ? undefined : idleTimeout,
      gracePeriod: this.#callDefaults.gracePeriod,
      emit: (event) => {
        const listeners = this.#listeners.get(event.type);
        if (listeners !== undefined) for (const listener of [...listeners]) listener(event);
      },
      maxWorkers: this.maxWorkers,
      maxTasksPerChild,
      transport: makeTransport(),
      brokenError,
      initializer,
      initArgs,
    });
  }

  /**
   * Runs `fn(...args)` in a worker. `fn` is a `taskModule` reference or a
   * self-contained function (sent as source: it may not use variables from its
   * enclosing scope). Arguments and result are cloned; see `transfer()`.
   */
  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    const def = functionDef(fn, 'submit: fn');
    this.#checkOpen();
    const transfers = unwrapTransfers(args);
    // A call without arguments keeps no list of its own alive while it waits.
    return this.#pool.submit(
      def,
      args.length === 0 ? NO_ARGS : args,
      transfers,
      this.#defaultControl,
    ) as Future<Awaited<R>>;
  }

  /** @internal */
  override _submitControlled(
    control: Control | undefined,
    fn: TaskFunction,
    args: unknown[],
  ): Future<unknown> {
    const def = functionDef(fn, 'submit: fn');
    this.#checkOpen();
    const transfers = unwrapTransfers(args);
    return this.#pool.submit(def, args.length === 0 ? NO_ARGS : args, transfers, control);
  }

  /** @internal */
  override _callDefaults(): { timeout: number; gracePeriod: number } {
    return this.#callDefaults;
  }

  /**
   * @internal Stops a call made with options (by `_submitControlled` or
   * `_submitChunk`) as an abort of its signal would; false if it is over.
   */
  _stop(future: Future<unknown>, reason: unknown): boolean {
    return this.#pool.stop(future, reason);
  }

  /**
   * Calls `listener` with each event of kind `type`: `workerStart`,
   * `workerExit` (with the exit code or signal and the reason) and `broken`.
   * Listeners run synchronously; one that throws is reported on stderr.
   */
  on<K extends keyof ParallelExecutorEvents>(
    type: K,
    listener: (event: ParallelExecutorEvents[K] & { readonly type: K }) => void,
  ): this {
    if (typeof listener !== 'function') throw argTypeError('on: listener must be a function');
    if (!['workerStart', 'workerExit', 'broken'].includes(type)) {
      throw argValueError(
        `on: unknown event '${String(type)}'; the events are workerStart, workerExit, broken`,
      );
    }
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener as unknown as (event: PoolEvent) => void);
    return this;
  }

  /** Removes a listener added by {@link on}. */
  off<K extends keyof ParallelExecutorEvents>(
    type: K,
    listener: (event: ParallelExecutorEvents[K] & { readonly type: K }) => void,
  ): this {
    this.#listeners.get(type)?.delete(listener as unknown as (event: PoolEvent) => void);
    return this;
  }

  /** A snapshot of the pool: workers, tasks by state and outcome, deaths, recent wait and run times. */
  stats(): ExecutorStats {
    return this.#pool.stats();
  }

  /** @internal One `map` chunk: one message, one worker, a list of results. */
  override _submitChunk(
    fn: TaskFunction,
    chunk: Chunk,
    control: Control | undefined = this.#defaultControl,
  ): Future<unknown[]> {
    const def = functionDef(fn, 'map: fn');
    this.#checkOpen();
    let transfers: TransferListItem[] | undefined;
    forEachArgList(chunk, (args) => {
      const more = unwrapTransfers(args);
      if (more !== undefined) (transfers ??= []).push(...more);
    });
    return this.#pool.submit(def, chunk, transfers, control) as Future<unknown[]>;
  }

  override shutdown(options?: ShutdownOptions): Promise<void> {
    let checked: ReturnType<typeof checkShutdownOptions>;
    try {
      checked = checkShutdownOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#pool.shutdown(checked.wait, checked.cancelFutures, checked.abortRunning);
  }

  /**
   * Ends every worker with SIGTERM (threads: `worker.terminate()`), as Python 3.14's
   * `terminate_workers()`: queued futures are cancelled, those the workers held
   * fail with the pool's broken error, and no new work is accepted. Resolves
   * once every worker is gone.
   */
  terminateWorkers(): Promise<void> {
    return this.#pool.forceShutdown('terminate');
  }

  /** As {@link terminateWorkers}, with SIGKILL. */
  killWorkers(): Promise<void> {
    return this.#pool.forceShutdown('kill');
  }

  #checkOpen(): void {
    const broken = this.#pool.broken;
    if (broken !== undefined) throw new this.#brokenError(broken.message, { cause: broken.cause });
    if (this.#pool.isShutdown) throw shutdownError();
  }
}

/** A whole number of 0 or more (`minWorkers`). */
function checkCount(value: unknown): number {
  if (typeof value !== 'number') {
    throw argTypeError(`minWorkers must be a whole number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw argValueError(`minWorkers must be a whole number (0 or more), got ${value}`);
  }
  return value;
}

/** Replaces `transfer()` markers among `args` by their values; returns what to transfer. */
function unwrapTransfers(args: unknown[]): TransferListItem[] | undefined {
  let transfers: TransferListItem[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const taken = takeTransfer(args[i]);
    if (taken !== undefined) {
      args[i] = taken.value;
      (transfers ??= []).push(...taken.transferList);
    }
  }
  return transfers;
}

/** An array of strings (Node options), or `undefined`: a number would reach `node` as a script name. */
function checkStrings(value: unknown, name: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    throw argTypeError(`${name} must be an array of strings, got ${describe(value)}`);
  }
  value.forEach((item: unknown, i) => {
    if (typeof item !== 'string') {
      throw argTypeError(`${name}[${i}] must be a string, got ${describe(item)}`);
    }
  });
}

/** An environment: an object whose values are strings (or `undefined`, as in `process.env`). */
function checkEnv(env: unknown): void {
  checkOptionsObject(env, 'env');
  if (env === undefined) return;
  for (const [key, value] of Object.entries(env as object)) {
    if (value !== undefined && typeof value !== 'string') {
      throw argTypeError(`env.${key} must be a string, got ${describe(value)}`);
    }
  }
}
