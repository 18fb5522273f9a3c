/**
 * The pool core shared by the worker-thread and child-process executors: the
 * queue, dispatch, worker lifecycle, crash containment and shutdown. It knows
 * workers only through the {@link WorkerHandle} a {@link Transport} gives it.
 *
 * Dispatch hands each worker a small, adaptive number of tasks ahead (see
 * {@link PoolWorker.capacity}): enough that short tasks never leave a worker
 * waiting on a round trip, few enough that long tasks stay cancellable in the
 * parent's queue and never pile up on one worker while another idles.
 */

import type { TransferListItem } from 'node:worker_threads';
import type { BrokenExecutor } from '../errors.js';
import { Future } from '../future.js';
import { Queue } from '../queue.js';
import { FAILED, type ChunkArgs, type FunctionDef, type WorkerMessage } from './protocol.js';
import type { ExitInfo, Transport, WorkerHandle } from './transport.js';
import { decodeError, type WireError } from './wire-error.js';

/** Consecutive worker deaths, with no task completed in between, that break the pool. */
export const CRASH_LOOP_LIMIT = 3;
/** Bounds on the tasks handed to one worker ahead of its results. */
export const MIN_AHEAD = 2;
export const MAX_AHEAD = 1024;
/** Hand a worker about this many milliseconds of work at a time. */
const TARGET_AHEAD_MS = 2;

export type BrokenErrorClass = new (message: string, options?: ErrorOptions) => BrokenExecutor;

export interface PoolOptions {
  readonly maxWorkers: number;
  readonly maxTasksPerChild: number | undefined;
  readonly transport: Transport;
  readonly brokenError: BrokenErrorClass;
  readonly initializer: FunctionDef | undefined;
  readonly initArgs: unknown[];
}

class PoolTask {
  constructor(
    readonly id: number,
    readonly future: Future<unknown>,
    readonly def: FunctionDef,
    readonly args: unknown[] | ChunkArgs,
    readonly transfers: TransferListItem[] | undefined,
  ) {}
}

class PoolWorker {
  handle!: WorkerHandle;
  /** Tasks handed to this worker and not yet settled: "the futures it holds". */
  readonly inflight = new Map<number, PoolTask>();
  readonly knownFns = new Set<number>();
  /** Tasks ever handed over, for `maxTasksPerChild`. */
  handed = 0;
  /** running: takes tasks; retiring: done after its last task; closing/killed: exit requested. */
  state: 'running' | 'retiring' | 'closing' | 'killed' = 'running';
  /**
   * True when the worker has just shown progress (sent results) or holds
   * nothing: only then may it be filled to full capacity. A worker that holds
   * tasks and has said nothing since the last dispatch may be stuck on a long
   * one, so it gets no more than {@link MIN_AHEAD}: the rest stay queued here,
   * cancellable, until it reports.
   */
  topUp = true;
}

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #queue = new Queue<PoolTask>();
  readonly #workers = new Set<PoolWorker>();
  /** Tasks queued or in flight; while above zero the workers keep the process alive. */
  #pending = 0;
  #nextTaskId = 1;
  #dispatchScheduled = false;
  /** Average milliseconds per task of each function (by definition id), as the workers report it. */
  readonly #taskMs = new Map<number, number>();
  #deaths = 0;
  #shutdown = false;
  #broken: BrokenExecutor | undefined;
  #exited: (() => void)[] = [];

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  get broken(): BrokenExecutor | undefined {
    return this.#broken;
  }

  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Queues one task; it is handed to a worker on the next microtask, with all others of this tick. */
  submit(
    def: FunctionDef,
    args: unknown[] | ChunkArgs,
    transfers: TransferListItem[] | undefined,
  ): Future<unknown> {
    const future = new Future<unknown>();
    this.#queue.push(new PoolTask(this.#nextTaskId++, future, def, args, transfers));
    if (this.#pending++ === 0) this.#setRef(true);
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      queueMicrotask(() => this.#dispatch());
    }
    return future;
  }

  /** Stops taking work; cancels queued work if asked; resolves once every worker has exited, if waited on. */
  shutdown(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.#shutdown = true;
    if (cancelFutures) this.#cancelQueued();
    this.#closeIfIdle();
    return wait ? this.#allExited() : Promise.resolve();
  }

  /** Ends every worker now (`terminate`: SIGTERM, `kill`: SIGKILL); what they held fails. */
  forceShutdown(mode: 'terminate' | 'kill'): Promise<void> {
    this.#shutdown = true;
    this.#cancelQueued();
    const how = `its worker was ended by ${mode === 'kill' ? 'killWorkers' : 'terminateWorkers'}()`;
    for (const w of this.#workers) {
      this.#failHeld(w, () => new this.#options.brokenError(`The future did not complete: ${how}`));
      this.#endWorker(w, mode);
    }
    return this.#allExited();
  }

  #allExited(): Promise<void> {
    if (this.#workers.size === 0 && this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#exited.push(resolve));
  }

  #cancelQueued(): void {
    for (const task of this.#queue.drain()) {
      task.future._cancelAndNotify();
      this.#taskOver();
    }
  }

  /** One queued or in-flight task is over (settled, cancelled or failed). */
  #taskOver(): void {
    if (--this.#pending === 0) {
      this.#setRef(false);
      this.#closeIfIdle();
    }
  }

  #setRef(busy: boolean): void {
    for (const w of this.#workers) {
      // Workers asked to exit stay referenced so that their exit is waited for.
      if (w.state === 'running' || w.state === 'retiring') {
        if (busy) w.handle.ref();
        else w.handle.unref();
      }
    }
  }

  #closeIfIdle(): void {
    if (this.#shutdown && this.#pending === 0) {
      for (const w of this.#workers) this.#endWorker(w, 'close');
    }
    this.#checkAllExited();
  }

  #checkAllExited(): void {
    if (this.#workers.size > 0 || this.#pending > 0 || this.#exited.length === 0) return;
    const exited = this.#exited;
    this.#exited = [];
    for (const resolve of exited) resolve();
  }

  /**
   * How many tasks a worker may hold when the next one is of `def`: about
   * {@link TARGET_AHEAD_MS} of work at that function's measured speed, within
   * bounds. A function never measured gets {@link MIN_AHEAD}: a burst of long
   * tasks after many short ones must not all land on one worker.
   */
  #capacity(def: FunctionDef): number {
    const ms = this.#taskMs.get(def.id);
    if (ms === undefined) return MIN_AHEAD;
    if (ms <= 0) return MAX_AHEAD;
    return Math.max(MIN_AHEAD, Math.min(MAX_AHEAD, Math.floor(TARGET_AHEAD_MS / ms)));
  }

  /**
   * Hands queued tasks to workers, one task at a time to the least-loaded
   * worker (starting a new one while every worker holds something and the pool
   * may grow), then sends each worker its share in one message.
   */
  #dispatch(): void {
    this.#dispatchScheduled = false;
    if (this.#broken !== undefined) return;
    const queue = this.#queue;
    const { maxWorkers, maxTasksPerChild } = this.#options;
    const batches = new Map<PoolWorker, PoolTask[]>();
    for (let task = queue.peek(); task !== undefined; task = queue.peek()) {
      if (task.future.cancelled()) {
        // Dropped (and notified) before anything is started for it.
        queue.shift();
        task.future._claim();
        this.#taskOver();
        continue;
      }
      // The least-loaded worker with room; a new one while every worker holds something.
      const capacity = this.#capacity(task.def);
      let best: PoolWorker | undefined;
      let load = Infinity;
      let leastLoad = Infinity;
      for (const w of this.#workers) {
        if (w.state !== 'running') continue;
        const held = w.inflight.size;
        if (held < leastLoad) leastLoad = held;
        if (held < load && held < (w.topUp || held === 0 ? capacity : MIN_AHEAD)) {
          best = w;
          load = held;
        }
      }
      if (leastLoad > 0 && this.#workers.size < maxWorkers) best = this.#spawn();
      if (best === undefined) break;
      queue.shift();
      task.future._claim();
      best.inflight.set(task.id, task);
      if (maxTasksPerChild !== undefined && ++best.handed >= maxTasksPerChild)
        best.state = 'retiring';
      const batch = batches.get(best);
      if (batch === undefined) batches.set(best, [task]);
      else batch.push(task);
    }
    for (const w of this.#workers) w.topUp = false;
    for (const [w, batch] of batches) this.#handOver(w, batch);
  }

  #spawn(): PoolWorker | undefined {
    const w = new PoolWorker();
    try {
      w.handle = this.#options.transport({
        onMessage: (message) => this.#onMessage(w, message),
        onExit: (info) => this.#onExit(w, info),
      });
      w.handle.send({
        t: 'init',
        initializer: this.#options.initializer,
        initArgs: this.#options.initArgs,
      });
    } catch (error) {
      if (this.#workers.size === 0) this.#breakPool('A worker could not be started', error);
      return undefined;
    }
    if (this.#options.initializer !== undefined) w.knownFns.add(this.#options.initializer.id);
    this.#workers.add(w);
    if (this.#pending > 0) w.handle.ref();
    else w.handle.unref();
    return w;
  }

  /** Sends `w` the tasks just assigned to it, in one message; they count as running from now. */
  #handOver(w: PoolWorker, batch: PoolTask[]): void {
    const tasks: unknown[] = [];
    let defs: FunctionDef[] | undefined;
    let transfers: TransferListItem[] | undefined;
    for (const task of batch) {
      if (!w.knownFns.has(task.def.id)) {
        w.knownFns.add(task.def.id);
        (defs ??= []).push(task.def);
      }
      if (task.transfers !== undefined) (transfers ??= []).push(...task.transfers);
      tasks.push(task.id, task.def.id, task.args);
    }
    try {
      w.handle.send({ t: 'run', defs, tasks }, transfers);
    } catch {
      if (defs !== undefined) for (const def of defs) w.knownFns.delete(def.id);
      for (const task of batch) this.#handOverAlone(w, task);
    }
  }

  /** After a batch failed to clone: sends each task alone, failing only those that cannot travel. */
  #handOverAlone(w: PoolWorker, task: PoolTask): void {
    const isNew = !w.knownFns.has(task.def.id);
    try {
      w.handle.send(
        {
          t: 'run',
          defs: isNew ? [task.def] : undefined,
          tasks: [task.id, task.def.id, task.args],
        },
        task.transfers,
      );
      if (isNew) w.knownFns.add(task.def.id);
    } catch (error) {
      w.inflight.delete(task.id);
      w.handed--;
      if (w.state === 'retiring') w.state = 'running';
      task.future.setException(cloneError(w.handle, task, error));
      this.#taskOver();
    }
  }

  #onMessage(w: PoolWorker, message: WorkerMessage): void {
    switch (message.t) {
      case 'results':
        this.#onResults(w, message.results, message.busy);
        return;
      case 'initFailed':
        this.#breakPool(
          'A worker initializer failed, the pool is not usable anymore',
          decodeError(message.error),
        );
        return;
      case 'ready':
        return;
    }
  }

  #onResults(w: PoolWorker, results: unknown[], busy: number): void {
    const sample = busy / (results.length / 3);
    let measured: FunctionDef | undefined;
    for (let i = 0; i < results.length; i += 3) {
      const id = results[i] as number;
      const task = w.inflight.get(id);
      if (task === undefined) continue;
      w.inflight.delete(id);
      if (task.def !== measured) {
        measured = task.def;
        const old = this.#taskMs.get(measured.id);
        this.#taskMs.set(measured.id, old === undefined ? sample : old * 0.7 + sample * 0.3);
      }
      const failed = results[i + 1] === FAILED;
      const value = results[i + 2];
      task.future._settle(failed, failed ? decodeError(value as WireError) : value);
      this.#taskOver();
    }
    this.#deaths = 0;
    w.topUp = true;
    if (w.state === 'retiring' && w.inflight.size === 0) this.#endWorker(w, 'close');
    if (this.#queue.length > 0) this.#dispatch();
  }

  #onExit(w: PoolWorker, info: ExitInfo): void {
    this.#workers.delete(w);
    const expected = w.state === 'closing' || w.state === 'killed';
    if (!expected || w.inflight.size > 0) {
      const how =
        info.signal !== null
          ? `was killed by signal ${info.signal}`
          : `exited with code ${info.code}`;
      const message = `A ${w.handle.label} ${how} while the future was running or waiting in it`;
      this.#failHeld(w, () => new this.#options.brokenError(message, { cause: info.error }));
      if (!expected && this.#broken === undefined && ++this.#deaths >= CRASH_LOOP_LIMIT) {
        this.#breakPool(
          `${this.#deaths} workers in a row died before any task completed (the last: ${w.handle.label} ${how}); ` +
            'the pool is not usable anymore',
          info.error,
        );
      }
    }
    if (this.#queue.length > 0) this.#dispatch();
    this.#checkAllExited();
  }

  #failHeld(w: PoolWorker, makeError: () => BrokenExecutor): void {
    for (const task of w.inflight.values()) {
      task.future._settle(true, makeError());
      this.#taskOver();
    }
    w.inflight.clear();
  }

  #endWorker(w: PoolWorker, mode: 'close' | 'terminate' | 'kill'): void {
    // A worker already asked to exit may still be killed, but is not asked twice to close.
    if (mode === 'close' && (w.state === 'closing' || w.state === 'killed')) return;
    w.state = mode === 'close' ? 'closing' : 'killed';
    w.handle.ref();
    try {
      if (mode === 'close') w.handle.send({ t: 'close' });
      else if (mode === 'kill') w.handle.kill();
      else w.handle.terminate();
    } catch {
      w.handle.kill();
    }
  }

  #breakPool(message: string, cause: unknown): void {
    if (this.#broken !== undefined) return;
    const Broken = this.#options.brokenError;
    this.#broken = new Broken(message, { cause });
    this.#shutdown = true;
    for (const task of this.#queue.drain()) {
      if (task.future._claim()) task.future.setException(new Broken(message, { cause }));
      this.#taskOver();
    }
    for (const w of this.#workers) {
      this.#failHeld(w, () => new Broken(message, { cause }));
      this.#endWorker(w, 'terminate');
    }
  }
}

/** The error for a task whose arguments cannot be cloned, naming the first argument that cannot. */
function cloneError(handle: WorkerHandle, task: PoolTask, error: unknown): TypeError {
  const reason = (error as Error | undefined)?.message ?? String(error);
  const args = task.args;
  const lists = Array.isArray(args)
    ? [args]
    : 'flat' in args
      ? args.flat.map((x) => [x])
      : args.chunk;
  for (let item = 0; item < lists.length; item++) {
    const list = lists[item]!;
    for (let i = 0; i < list.length; i++) {
      try {
        handle.checkCloneable(list[i]);
      } catch (argError) {
        const where = Array.isArray(args)
          ? ''
          : ` of item ${item} (counting from 0) of its map chunk`;
        return new TypeError(
          `argument ${i} (counting from 0)${where} of "${task.def.name}" cannot be sent to a worker: ` +
            `${(argError as Error).message}`,
          { cause: argError },
        );
      }
    }
  }
  return new TypeError(`the task "${task.def.name}" cannot be sent to a worker: ${reason}`, {
    cause: error,
  });
}
