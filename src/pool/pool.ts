/**
 * The pool core shared by the worker-thread and child-process executors: the
 * queue, dispatch, worker lifecycle, crash containment and shutdown. It knows
 * workers only through the {@link WorkerHandle} a {@link Transport} gives it,
 * and trusts nothing a worker or a transport does: a malformed message, an
 * unreadable one or a transport call that throws ends that worker alone.
 *
 *   submit ──► queue ──dispatch──► PoolWorker.send ──'run'──► worker-entry
 *                ▲                                               │ runs FIFO
 *                └── requeue: tasks a dead worker never started  │
 *   Future ◄──settle── #onResults ◄──────────'results'───────────┘
 *
 * Dispatch hands each worker a small, adaptive number of tasks ahead (see
 * {@link WorkerPool.capacity}): enough that short tasks never leave a worker
 * waiting on a round trip, few enough that long tasks stay cancellable in the
 * parent's queue and never pile up on one worker while another idles.
 */

import type { TransferListItem } from 'node:worker_threads';
import { TimeoutError, argTypeError, codes, type BrokenExecutor } from '../errors.js';
import type { Control } from '../control.js';
import { Outcomes, type ExecutorStats } from '../stats.js';
import { AbortWatch } from '../abort-watch.js';
import { Future } from '../future.js';
import { Queue } from '../queue.js';
import { PoolTask, PoolWorker } from './pool-worker.js';
import { traceOver, traceStart, traceSubmit } from '../tracing.js';
import {
  MalformedMessage,
  clearAborted,
  closeStarts,
  hasStarted,
  markAborted,
  startedCount,
  readWorkerMessage,
  resultCount,
  resultFailed,
  resultId,
  resultValue,
  type FunctionDef,
  type TaskArgs,
  type WorkerMessage,
} from './protocol.js';
import type { ExitInfo, Transport, WorkerExitReason } from './transport.js';
import { decodeError, type WireError } from './wire-error.js';

/**
 * Workers in a row that die before they are ready (started, initializer run)
 * that break the pool: evidence that no worker can work. A task that kills
 * its worker fails alone and does not count.
 */
export const CRASH_LOOP_LIMIT = 3;
/** Bounds on the tasks handed to one worker ahead of its results. */
export const MIN_AHEAD = 2;
export const MAX_AHEAD = 1024;
/** Hand a worker about this many milliseconds of work at a time. */
const TARGET_AHEAD_MS = 2;
/**
 * After a worker dies, tasks go one at a time to each worker until this many
 * have completed with no further death: a crash then takes no bystanders.
 */
const RECOVERY_TASKS = 64;
/**
 * One task in this many is timed for `stats()` (the first one always, and every
 * call made with options): reading the clock twice per task, and keeping the
 * time alive on it, was a measurable share of the cost of a no-op task.
 */
const SAMPLE_EVERY = 16;
/** Functions whose speed the pool remembers; past this it forgets and measures again. */
const MEASURED_FUNCTIONS = 4096;

export type BrokenErrorClass = new (message: string, options?: ErrorOptions) => BrokenExecutor;

/** What a pool tells its executor about its workers (see `ParallelExecutor.on`). */
export type PoolEvent =
  | { readonly type: 'workerStart'; readonly worker: string }
  | {
      readonly type: 'workerExit';
      readonly worker: string;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly reason: WorkerExitReason;
    }
  | { readonly type: 'broken'; readonly error: BrokenExecutor };

export interface PoolOptions {
  /** The executor's class name, for tracing. */
  readonly name: string;
  readonly maxWorkers: number;
  /** Workers started at once and kept, idle or not. */
  readonly minWorkers: number;
  /** Milliseconds after which an idle worker beyond `minWorkers` exits; undefined: never. */
  readonly idleTimeout: number | undefined;
  /** The grace period of `shutdown({ abortRunning })`. */
  readonly gracePeriod: number;
  readonly emit: (event: PoolEvent) => void;
  readonly maxTasksPerChild: number | undefined;
  readonly transport: Transport;
  readonly brokenError: BrokenErrorClass;
  readonly initializer: FunctionDef | undefined;
  readonly initArgs: unknown[];
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
  /** Workers in a row that died before they were ready. */
  #bootDeaths = 0;
  /** Tasks still to complete before hand-ahead resumes after a worker's death. */
  #recovering = 0;
  #shutdown = false;
  #broken: BrokenExecutor | undefined;
  #exited: (() => void)[] = [];
  readonly #outcomes = new Outcomes();
  #deaths = 0;
  readonly #aborts = new AbortWatch<PoolTask>((task, reason) => this.#abort(task, reason));
  /** The calls made with options, until they are over: {@link WorkerPool.stop} finds them here. */
  readonly #controlled = new Map<Future<unknown>, PoolTask>();

  constructor(options: PoolOptions) {
    this.#options = options;
    for (let i = 0; i < options.minWorkers; i++) this.#spawn();
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
    args: TaskArgs,
    transfers: TransferListItem[] | undefined,
    control?: Control,
  ): Future<unknown> {
    const future = new Future<unknown>();
    const id = this.#nextTaskId++;
    const timed = id % SAMPLE_EVERY === 1 || control !== undefined;
    const since = timed ? performance.now() : undefined;
    const task = new PoolTask(id, future, def, args, transfers, control, since);
    const signal = control?.signal;
    if (signal !== undefined) {
      // Aborted already: returned cancelled, never queued.
      if (signal.aborted) {
        future._cancelAndNotify();
        this.#outcomes.cancelled++;
        return future;
      }
      this.#aborts.add(signal, task);
    }
    if (control !== undefined) this.#controlled.set(future, task);
    this.#queue.push(task);
    if (this.#pending++ === 0) this.#setRef(true);
    this.#scheduleDispatch();
    if (traceSubmit.hasSubscribers) {
      traceSubmit.publish({ future, name: def.name, executor: this.#options.name });
    }
    return future;
  }

  /**
   * Stops a call made with options as an abort of its signal would (a caller
   * that must stop single calls, such as the BullMQ worker, need not make an
   * AbortSignal for each); false if the call is over or was made without options.
   */
  stop(future: Future<unknown>, reason: unknown): boolean {
    const task = this.#controlled.get(future);
    if (task === undefined) return false;
    this.#abort(task, reason);
    return true;
  }

  /** A snapshot of the pool's figures. */
  stats(): ExecutorStats {
    let busy = 0;
    let held = 0;
    for (const w of this.#workers) {
      if (w.inflight.size > 0) busy++;
      held += w.inflight.size;
    }
    const o = this.#outcomes;
    return {
      workers: { alive: this.#workers.size, busy, idle: this.#workers.size - busy },
      tasks: {
        queued: this.#queue.length,
        handedAhead: held - busy,
        running: busy,
        completed: o.completed,
        failed: o.failed,
        cancelled: o.cancelled,
      },
      workerDeaths: this.#deaths,
      waitMs: o.wait.percentiles(),
      runMs: o.run.percentiles(),
    };
  }

  /**
   * Stops taking work; cancels queued work if asked, and stops running work
   * if asked (its futures fail now with an AbortError; its workers are ended
   * after the grace period); resolves once every worker has exited, if waited on.
   */
  shutdown(wait: boolean, cancelFutures: boolean, abortRunning = false): Promise<void> {
    this.#shutdown = true;
    if (cancelFutures) this.#cancelQueued();
    if (abortRunning) this.#abortRunning();
    this.#closeIfIdle();
    return wait ? this.#allExited() : Promise.resolve();
  }

  /** Ends every worker now (`terminate`: SIGTERM, `kill`: SIGKILL); what they held fails. */
  forceShutdown(mode: 'terminate' | 'kill'): Promise<void> {
    this.#shutdown = true;
    this.#cancelQueued();
    const how = `its worker was ended by ${mode === 'kill' ? 'killWorkers' : 'terminateWorkers'}()`;
    const error = (): BrokenExecutor =>
      new this.#options.brokenError(`The future did not complete: ${how}`);
    // Tasks queued again after a death are running futures: they fail, they cannot be cancelled.
    for (const task of this.#queue.drain()) this.#failTask(task, error());
    for (const w of this.#workers) {
      this.#failHeld(w, error);
      this.#endWorker(w, mode);
    }
    return this.#allExited();
  }

  #allExited(): Promise<void> {
    if (this.#workers.size === 0 && this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#exited.push(resolve));
  }

  /** Cancels every queued task that has not started; tasks queued again after a death stay. */
  #cancelQueued(): void {
    const keep: PoolTask[] = [];
    for (const task of this.#queue.drain()) {
      if (task.claimed) {
        keep.push(task);
      } else {
        task.future._cancelAndNotify();
        this.#taskOver(task);
      }
    }
    this.#queue.prepend(keep);
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    queueMicrotask(() => this.#dispatch());
  }

  /** One queued or in-flight task is over (settled, cancelled or failed): counted, and let go. */
  #taskOver(task: PoolTask): void {
    const future = task.future;
    const o = this.#outcomes;
    if (future.cancelled()) o.cancelled++;
    else if (future._failed) o.failed++;
    else o.completed++;
    if (task.control !== undefined) this.#release(task);
    traceOver(future, task.def, this.#options.name);
    if (--this.#pending === 0) {
      this.#setRef(false);
      this.#closeIfIdle();
    } else if (this.#queue.length > 0) {
      // Whatever ended this task may have freed room: the queue must keep moving.
      this.#scheduleDispatch();
    }
  }

  #setRef(busy: boolean): void {
    for (const w of this.#workers) {
      // Workers asked to exit stay referenced so that their exit is waited for.
      if (w.state === 'running' || w.state === 'retiring') this.#ref(w, busy);
    }
  }

  /** Refs or unrefs a worker. Liveness is advisory: a transport that cannot do it loses nothing. */
  #ref(w: PoolWorker, busy: boolean): void {
    try {
      if (busy) w.handle.ref();
      else w.handle.unref();
    } catch {
      // Nothing to undo: at worst an idle pool keeps the process alive, or a busy one does not.
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
   * tasks after many short ones must not all land on one worker. Just after a
   * worker died, one task at a time.
   */
  capacity(def: FunctionDef): number {
    if (this.#recovering > 0) return 1;
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
    // An array, not the set: this loop runs once per task handed over.
    const workers = [...this.#workers];
    // The workers given tasks, in the order first given; each one's tasks are in its `batch`.
    const given: PoolWorker[] = [];
    // Consecutive tasks mostly share a function: its capacity is looked up once per run of them.
    let lastDef: FunctionDef | undefined;
    let lastCapacity = MIN_AHEAD;
    for (let task = queue.peek(); task !== undefined; task = queue.peek()) {
      if (task.future.done()) {
        // Cancelled, or settled by hand: dropped (and a cancelled one notified), never started.
        queue.shift();
        if (!task.claimed && task.future.cancelled()) task.future._claim();
        this.#taskOver(task);
        continue;
      }
      // The least-loaded worker with room; a new one while every worker holds something.
      // A call that must run alone goes only to a worker that holds nothing.
      if (workers.length === 0) {
        // The first worker: how a call with options may be placed depends on its transport.
        const started = this.#spawn();
        if (started === undefined) break;
        workers.push(started);
      }
      const alone = task.control !== undefined && this.#runsAlone(task.control, workers[0]!);
      let capacity = 1;
      if (!alone) {
        if (task.def !== lastDef) {
          lastDef = task.def;
          lastCapacity = this.capacity(lastDef);
        }
        capacity = lastCapacity;
      }
      let best: PoolWorker | undefined;
      let load = Infinity;
      let leastLoad = Infinity;
      for (let i = 0; i < workers.length; i++) {
        const w = workers[i]!;
        if (w.state !== 'running' || w.exclusive !== undefined) continue;
        const held = w.inflight.size;
        if (held < leastLoad) leastLoad = held;
        const room = w.topUp || held === 0 ? capacity : Math.min(capacity, MIN_AHEAD);
        if (held < load && held < room) {
          best = w;
          load = held;
        }
      }
      if (leastLoad > 0 && this.#workers.size < maxWorkers) {
        const started = this.#spawn();
        if (started !== undefined) workers.push((best = started));
      }
      if (best === undefined) break;
      queue.shift();
      if (!task.claimed) task.future._claim();
      task.seq = ++best.handed;
      best.inflight.set(task.id, task);
      if (task.since !== undefined) {
        const now = performance.now();
        this.#outcomes.wait.add(now - task.since);
        task.since = now;
      }
      if (best.idleTimer !== undefined) {
        clearTimeout(best.idleTimer);
        best.idleTimer = undefined;
      }
      if (traceStart.hasSubscribers) {
        traceStart.publish({
          future: task.future,
          name: task.def.name,
          executor: this.#options.name,
        });
      }
      if (task.control !== undefined) {
        task.extras!.worker = best;
        if (alone) {
          best.exclusive = task;
          if (best.ready) this.#startDeadline(task);
        }
      }
      if (maxTasksPerChild !== undefined && best.handed >= maxTasksPerChild)
        best.state = 'retiring';
      if (best.batch === undefined) {
        best.batch = [task];
        given.push(best);
      } else {
        best.batch.push(task);
      }
    }
    for (const w of this.#workers) w.topUp = false;
    for (const w of given) {
      const batch = w.batch!;
      w.batch = undefined;
      this.#handOver(w, batch);
    }
  }

  /**
   * True if a call with these options must have a worker to itself: one with a
   * deadline (it counts from the call's start, which a worker busy with other
   * tasks would delay), and any on a transport without control cells (child
   * processes), where the pool could not tell which tasks a worker ended to
   * stop the call had started. `worker` is any worker of the pool.
   */
  #runsAlone(control: Control, worker: PoolWorker): boolean {
    return control.timeout !== Infinity || worker.handle.cells === undefined;
  }

  /** Starts a worker; undefined if the transport cannot (the pool breaks if it has none at all). */
  #spawn(): PoolWorker | undefined {
    let w: PoolWorker | undefined;
    // A number no task can guess by chance; it only has to tell our messages from a task's own.
    const key = 1 + Math.floor(Math.random() * 2 ** 52);
    try {
      const handle = this.#options.transport({
        onMessage: (message) => this.#onMessage(w!, message),
        onUnreadable: (error) => this.#workerFault(w!, 'sent a message that cannot be read', error),
        onExit: (info) => this.#onExit(w!, info),
      });
      w = new PoolWorker(handle, key);
    } catch (error) {
      if (this.#workers.size === 0) this.#breakPool('A worker could not be started', error);
      return undefined;
    }
    // Tracked from here on, whatever happens next: it is a running thread or process.
    this.#workers.add(w);
    try {
      w.handle.send({
        t: 'init',
        key,
        cells: w.handle.cells,
        initializer: this.#options.initializer,
        initArgs: this.#options.initArgs,
      });
    } catch (error) {
      this.#workerFault(w, 'could not be started', error);
      return undefined;
    }
    this.#ref(w, this.#pending > 0);
    this.#emit({ type: 'workerStart', worker: w.handle.label });
    return w;
  }

  /** Tells the executor's listeners; a listener that throws is reported, never thrown here. */
  #emit(event: PoolEvent): void {
    try {
      this.#options.emit(event);
    } catch (error) {
      console.error(`concurrent-futures: a '${event.type}' listener threw`, error);
    }
  }

  /** A worker that holds nothing: it exits after `idleTimeout`, unless the pool is at `minWorkers`. */
  #idle(w: PoolWorker): void {
    const { idleTimeout, minWorkers } = this.#options;
    if (idleTimeout === undefined || w.idleTimer !== undefined || w.state !== 'running') return;
    w.idleTimer = setTimeout(() => {
      w.idleTimer = undefined;
      if (w.inflight.size === 0 && w.state === 'running' && this.#staying() > minWorkers) {
        this.#endWorker(w, 'close', 'idle');
      }
    }, idleTimeout);
    w.idleTimer.unref();
  }

  /** Workers not asked to exit. */
  #staying(): number {
    let n = 0;
    for (const w of this.#workers) if (w.state === 'running' || w.state === 'retiring') n++;
    return n;
  }

  /** `shutdown({ abortRunning })`: every running future fails now; its worker is stopped. */
  #abortRunning(): void {
    const reason = (): DOMException =>
      new DOMException('The executor was shut down with abortRunning', 'AbortError');
    for (const task of this.#queue.drain()) this.#failTask(task, reason());
    for (const w of this.#workers) {
      if (w.inflight.size === 0) continue;
      const error = reason();
      for (const task of w.inflight.values()) {
        if (!task.future._settle(true, error)) continue;
        if (task.control !== undefined) this.#stop(task, error, false);
      }
      // Calls without options cannot be asked to stop: their worker is ended after the grace period.
      const timer = setTimeout(() => {
        if (w.inflight.size > 0) this.#endWorker(w, 'kill', 'stopped');
      }, this.#options.gracePeriod);
      timer.unref();
    }
  }

  /** Sends `w` the tasks just assigned to it; they count as running from now. */
  #handOver(w: PoolWorker, batch: PoolTask[]): void {
    const failed = w.send(batch);
    if (failed.length === 0) return;
    let transportFailed: unknown;
    for (const { task, error } of failed) {
      w.inflight.delete(task.id);
      if (error !== undefined) {
        task.future._settle(true, error);
        this.#taskOver(task);
      } else {
        // It can travel, but the transport failed: it never reached the worker; run it elsewhere.
        this.#queue.prepend([task]);
        transportFailed = true;
      }
    }
    if (w.state === 'retiring' && w.inflight.size === 0) w.state = 'running';
    if (transportFailed !== undefined)
      this.#workerFault(w, 'could not be sent its tasks', undefined);
    if (this.#queue.length > 0) this.#scheduleDispatch();
  }

  #onMessage(w: PoolWorker, raw: unknown): void {
    const message = readWorkerMessage(raw, w.key);
    if (message === undefined) return; // Not the pool's: a task posted it on its own.
    if (message instanceof MalformedMessage) {
      this.#workerFault(w, `sent a malformed message (${message.reason})`, undefined);
      return;
    }
    this.#handle(w, message);
  }

  #handle(w: PoolWorker, message: WorkerMessage): void {
    switch (message.t) {
      case 'results':
        this.#onResults(w, message.results, message.busy, message.progress);
        return;
      case 'ready':
        w.ready = true;
        this.#bootDeaths = 0;
        // A call's deadline counts from its start, not from the worker's start-up.
        if (w.exclusive !== undefined) this.#startDeadline(w.exclusive);
        if (w.inflight.size === 0) this.#idle(w);
        return;
      case 'exiting':
        w.startedAtExit = message.started;
        return;
      case 'initFailed':
        this.#breakPool(
          'A worker initializer failed, the pool is not usable anymore',
          decode(message.error),
        );
        return;
    }
  }

  #onResults(
    w: PoolWorker,
    results: unknown[],
    busy: number,
    progress: unknown[] | undefined,
  ): void {
    if (progress !== undefined) this.#onProgress(w, progress);
    const count = resultCount(results);
    const sample = count > 0 ? busy / count : 0;
    let measured: FunctionDef | undefined;
    for (let i = 0; i < count; i++) {
      const id = resultId(results, i);
      const task = typeof id === 'number' ? w.inflight.get(id) : undefined;
      if (task === undefined) continue; // Already failed or settled: an outcome that came too late.
      w.inflight.delete(task.id);
      if (task.def !== measured) {
        measured = task.def;
        this.#measure(measured.id, sample);
      }
      const failed = resultFailed(results, i);
      const value = resultValue(results, i);
      task.future._settle(failed, failed ? decode(value) : value);
      if (task.since !== undefined) this.#outcomes.run.add(performance.now() - task.since);
      if (this.#recovering > 0) this.#recovering--;
      this.#taskOver(task);
    }
    w.topUp = true;
    if (w.inflight.size === 0) {
      if (w.state === 'retiring') this.#endWorker(w, 'close', 'retired');
      else this.#idle(w);
    }
    if (this.#queue.length > 0) this.#dispatch();
  }

  #measure(id: number, sample: number): void {
    const old = this.#taskMs.get(id);
    if (old === undefined && this.#taskMs.size >= MEASURED_FUNCTIONS) this.#taskMs.clear();
    this.#taskMs.set(id, old === undefined ? sample : old * 0.7 + sample * 0.3);
  }

  #onExit(w: PoolWorker, info: ExitInfo): void {
    if (!this.#workers.delete(w)) return;
    const expected = w.state === 'closing' || w.state === 'killed';
    clearTimeout(w.idleTimer);
    this.#emit({
      type: 'workerExit',
      worker: w.handle.label,
      code: info.code,
      signal: info.signal,
      reason: expected ? w.exitReason : 'crashed',
    });
    if (!expected || w.stopping) this.#deaths++;
    if (!expected || w.inflight.size > 0) {
      // What it never started runs elsewhere; what it may have started fails.
      const unstarted = w.takeUnstarted();
      for (const task of unstarted) this.#unassign(task);
      this.#queue.prepend(unstarted);
      const how = w.stopping
        ? 'was ended to stop a call that ran past its grace period'
        : info.signal !== null
          ? `was killed by signal ${info.signal}`
          : `exited with code ${info.code}`;
      const message = `A ${w.handle.label} ${how} while the future was running or waiting in it`;
      this.#failHeld(w, () => new this.#options.brokenError(message, { cause: info.error }));
      if (!expected) this.#recovering = RECOVERY_TASKS;
      if (!expected && !w.ready && ++this.#bootDeaths >= CRASH_LOOP_LIMIT) {
        this.#breakPool(
          `${this.#bootDeaths} workers in a row died before they were ready (the last: ${w.handle.label} ${how}); ` +
            'the pool is not usable anymore',
          info.error,
        );
      }
    }
    if (this.#queue.length > 0) this.#dispatch();
    // minWorkers are kept warm: a worker that died is replaced at once.
    if (!this.#shutdown && this.#staying() < this.#options.minWorkers) this.#spawn();
    this.#checkAllExited();
  }

  /** A worker broke the protocol or its transport failed: its held futures fail, it is ended. */
  #workerFault(w: PoolWorker, what: string, cause: unknown): void {
    if (w.state === 'killed') return;
    const message = `A ${w.handle.label} ${what}; the futures it held cannot complete`;
    this.#failHeld(w, () => new this.#options.brokenError(message, { cause }));
    this.#endWorker(w, 'kill', 'faulty');
    if (!w.ready && ++this.#bootDeaths >= CRASH_LOOP_LIMIT) {
      this.#breakPool(
        `${this.#bootDeaths} workers in a row failed before they were ready (the last: ${message})`,
        cause,
      );
    }
  }

  #failHeld(w: PoolWorker, makeError: () => BrokenExecutor): void {
    const held = [...w.inflight.values()];
    w.inflight.clear();
    for (const task of held) {
      task.future._settle(true, makeError());
      this.#taskOver(task);
    }
  }

  /** Fails a queued task, claiming it first if it never was. */
  #failTask(task: PoolTask, error: unknown): void {
    const future = task.future;
    if (task.claimed) future._settle(true, error);
    else if (future.cancelled())
      future._claim(); // notifies
    else if (!future.done() && future._claim()) future._settle(true, error);
    this.#taskOver(task);
  }

  #endWorker(
    w: PoolWorker,
    mode: 'close' | 'terminate' | 'kill',
    reason: WorkerExitReason = mode === 'close' ? 'closed' : 'terminated',
  ): void {
    // A worker already asked to exit may still be killed, but is not asked twice to close.
    if (mode === 'close' && (w.state === 'closing' || w.state === 'killed')) return;
    w.state = mode === 'close' ? 'closing' : 'killed';
    w.exitReason = reason;
    this.#ref(w, true);
    try {
      if (mode === 'close') w.handle.send({ t: 'close' });
      else if (mode === 'kill') w.handle.kill();
      else w.handle.terminate();
    } catch {
      try {
        w.handle.kill();
      } catch {
        // The transport cannot end it either; its exit, when it comes, is still awaited.
      }
    }
  }

  /** Delivers progress records (id, value, ...) to the callers that asked for them. */
  #onProgress(w: PoolWorker, records: unknown[]): void {
    for (let i = 0; i < records.length; i += 2) {
      const id = records[i];
      const task = typeof id === 'number' ? w.inflight.get(id) : undefined;
      const onProgress = task?.control?.onProgress;
      if (task === undefined || onProgress === undefined || task.future.done()) continue;
      try {
        onProgress(records[i + 1], task.future);
      } catch (error) {
        task.future._reportCallbackError(error);
      }
    }
  }

  #startDeadline(task: PoolTask): void {
    const call = task.extras!;
    const timeout = call.control!.timeout;
    if (timeout === Infinity || call.timer !== undefined) return;
    call.timer = setTimeout(() => {
      call.timer = undefined;
      const error = new TimeoutError(
        `the task "${task.def.name}" ran longer than its timeout of ${timeout} ms`,
      );
      if (task.future._settle(true, error)) this.#stop(task, error, true);
    }, timeout);
  }

  /** The call's signal aborted: cancelled while queued; failed at once and stopped while it runs. */
  #abort(task: PoolTask, reason: unknown): void {
    const future = task.future;
    if (!task.claimed) {
      if (future._cancelAndNotify()) this.#scheduleDispatch(); // dispatch drops it from the queue
      return;
    }
    if (future._settle(true, reason)) this.#stop(task, reason, false);
  }

  /**
   * Asks a running call to stop (its task signal aborts), and ends its worker
   * if it has not finished a grace period later. A worker that held other
   * tasks too (a thread) gives back the ones it had not started.
   */
  #stop(task: PoolTask, reason: unknown, timedOut: boolean): void {
    const call = task.extras!;
    const w = call.worker;
    if (w === undefined) {
      this.#scheduleDispatch(); // Queued again after a death: dispatch drops it.
      return;
    }
    const cells = w.handle.cells;
    if (cells !== undefined) markAborted(cells, task.id, timedOut);
    try {
      w.handle.send({ t: 'abort', id: task.id, timedOut, reason });
    } catch {
      try {
        // The reason cannot be cloned: the task's signal aborts with a reason of its own.
        w.handle.send({ t: 'abort', id: task.id, timedOut, reason: undefined });
      } catch {
        // The transport failed: the grace period below ends the worker all the same.
      }
    }
    clearTimeout(call.timer);
    const grace = call.control!.gracePeriod;
    // On a shared thread the call may still wait behind other tasks, which are not to blame:
    // the thread is ended only once the call has been running for a whole grace period.
    let running = cells === undefined || w.exclusive === task || this.#hasStarted(w, task);
    const overrun = (): void => {
      call.timer = undefined;
      if (w.inflight.get(task.id) !== task) return;
      if (!running) {
        // Not started when last looked at: if it has started since, it has one more period.
        running = this.#hasStarted(w, task);
        call.timer = setTimeout(overrun, grace);
        return;
      }
      if (cells !== undefined) w.startedAtExit = closeStarts(cells);
      w.stopping = true;
      this.#endWorker(w, 'kill', 'stopped');
    };
    call.timer = setTimeout(overrun, grace);
  }

  /** True if thread `w` has started `task` (or skipped it: a call aborted before its turn never runs). */
  #hasStarted(w: PoolWorker, task: PoolTask): boolean {
    return hasStarted(task.seq, startedCount(w.handle.cells!));
  }

  /** A call with options left its worker (it is queued again): its deadline stops. */
  #unassign(task: PoolTask): void {
    const call = task.extras;
    if (call?.control === undefined) return;
    const w = call.worker;
    if (w !== undefined) {
      if (w.exclusive === task) w.exclusive = undefined;
      if (w.handle.cells !== undefined) clearAborted(w.handle.cells, task.id);
    }
    call.worker = undefined;
    clearTimeout(call.timer);
    call.timer = undefined;
  }

  /** A call with options is over: its timers go, and its signal is no longer watched. */
  #release(task: PoolTask): void {
    this.#unassign(task);
    this.#controlled.delete(task.future);
    const signal = task.control!.signal;
    if (signal !== undefined) this.#aborts.delete(signal, task);
  }

  #breakPool(message: string, cause: unknown): void {
    if (this.#broken !== undefined) return;
    const Broken = this.#options.brokenError;
    this.#broken = new Broken(message, { cause });
    this.#shutdown = true;
    this.#emit({ type: 'broken', error: this.#broken });
    for (const task of this.#queue.drain()) this.#failTask(task, new Broken(message, { cause }));
    for (const w of this.#workers) {
      this.#failHeld(w, () => new Broken(message, { cause }));
      this.#endWorker(w, 'terminate');
    }
  }
}

/** Decodes a worker's error; the worker is untrusted, so a record that cannot be decoded is described. */
function decode(wire: unknown): unknown {
  try {
    return decodeError(wire as WireError);
  } catch (error) {
    return argTypeError(
      'the worker sent an error record that cannot be read',
      codes.ERR_INVALID_WORKER_MESSAGE,
      { cause: error },
    );
  }
}
