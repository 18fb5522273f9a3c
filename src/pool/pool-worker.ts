/**
 * One worker as the pool sees it: its handle, the tasks it holds, and the
 * function definitions it has been sent. This file knows how a batch of tasks
 * is put on the wire for one worker; `pool.ts` decides which tasks go where.
 */

import type { TransferListItem } from 'node:worker_threads';
import { argTypeError, codes } from '../errors.js';
import type { Control } from '../control.js';
import type { Future } from '../future.js';
import {
  chunkCallArgs,
  chunkLength,
  hasStarted,
  isChunk,
  writeTask,
  type FunctionDef,
  type TaskArgs,
} from './protocol.js';
import type { WorkerExitReason, WorkerHandle } from './transport.js';

/**
 * Function definitions one worker keeps compiled. Past this the least recently
 * used are dropped from the worker (and sent again if used again): 60,000
 * distinct source functions would otherwise grow a worker's heap by ~55 MiB.
 */
export const FUNCTION_CACHE_SIZE = 512;

/**
 * What only some tasks have: a transfer list, or the options of a call made
 * with them (signal, timeout, onProgress) and that call's state. Kept apart so
 * that the plain task, of which a million may be queued, stays small.
 */
export interface TaskExtras {
  readonly transfers: TransferListItem[] | undefined;
  readonly control: Control | undefined;
  /** A call with options: the worker it is handed to, and its deadline or grace timer. */
  worker: PoolWorker | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** One submitted call, from the queue to its settlement. */
export class PoolTask {
  /**
   * Its place in the stream of tasks handed to its current worker, from 1; 0
   * while it has never been handed over. It keeps its number if it is queued
   * again after a death, so a task with one is claimed (its future RUNNING).
   */
  seq = 0;
  /**
   * For the tasks sampled for the wait and run times (see `pool.ts`):
   * `performance.now()` at submit, then at hand-over. Undefined for the others.
   */
  since: number | undefined;
  readonly extras: TaskExtras | undefined;

  constructor(
    readonly id: number,
    readonly future: Future<unknown>,
    readonly def: FunctionDef,
    readonly args: TaskArgs,
    transfers: TransferListItem[] | undefined,
    control: Control | undefined,
    since: number | undefined,
  ) {
    this.since = since;
    this.extras =
      transfers === undefined && control === undefined
        ? undefined
        : { transfers, control, worker: undefined, timer: undefined };
  }

  /** True once the future was moved to RUNNING (it stays so if the task is queued again). */
  get claimed(): boolean {
    return this.seq > 0;
  }

  get transfers(): TransferListItem[] | undefined {
    return this.extras?.transfers;
  }

  /** The options of a call made with them; undefined for a plain call. */
  get control(): Control | undefined {
    return this.extras?.control;
  }
}

export class PoolWorker {
  readonly handle: WorkerHandle;
  /** The key this worker's own messages carry (see protocol.ts). */
  readonly key: number;
  /** Tasks handed to this worker and not yet settled, in the order handed: "the futures it holds". */
  readonly inflight = new Map<number, PoolTask>();
  /** Tasks ever handed over (the last one's `seq`), for `maxTasksPerChild` and requeueing. */
  handed = 0;
  /** How many tasks the worker said it had started as it exited; undefined if it did not say. */
  startedAtExit: number | undefined;
  /** True once the worker has started and run its initializer. */
  ready = false;
  /** True once it is being ended to stop a call that overran its grace period. */
  stopping = false;
  /** running: takes tasks; retiring: done after its last task; closing/killed: exit requested. */
  state: 'running' | 'retiring' | 'closing' | 'killed' = 'running';
  /** Why the pool asked it to exit, for the `workerExit` event. */
  exitReason: WorkerExitReason = 'crashed';
  /** Ends an idle worker after `idleTimeout`. */
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * True when the worker has just shown progress (sent results) or holds
   * nothing: only then may it be filled to full capacity. A worker that holds
   * tasks and has said nothing since the last dispatch may be stuck on a long
   * one, so it gets no more than the minimum: the rest stay queued in the
   * parent, cancellable, until it reports.
   */
  topUp = true;
  /**
   * The call this worker runs alone, if any: a call with options on a child
   * process, or one with a deadline, is handed only to a worker that holds
   * nothing, and the worker gets nothing else until it is free, so that ending
   * the worker to stop the call harms no other task. (On a worker thread, a
   * call with only a signal or onProgress shares it: the thread's control
   * cells tell which tasks it never started, and those run elsewhere.)
   */
  exclusive: PoolTask | undefined;
  /** The tasks a dispatch is assigning to this worker, until it sends them (see `pool.ts`). */
  batch: PoolTask[] | undefined;
  /** Function ids this worker has been sent, with the hand-over number that last used each. */
  readonly #known = new Map<number, number>();
  #handOvers = 0;

  constructor(handle: WorkerHandle, key: number) {
    this.handle = handle;
    this.key = key;
  }

  /** Tasks that were handed over and, by the worker's own count, never started. */
  takeUnstarted(): PoolTask[] {
    const started = this.startedAtExit;
    if (started === undefined) return [];
    const unstarted: PoolTask[] = [];
    for (const task of this.inflight.values()) {
      if (!hasStarted(task.seq, started)) unstarted.push(task);
    }
    for (const task of unstarted) this.inflight.delete(task.id);
    return unstarted;
  }

  /**
   * Sends `batch` in one message; if it cannot be cloned, task by task.
   * Returns the tasks that could not be sent, each with the reason (a
   * `TypeError` naming the argument that cannot travel, or `undefined` when
   * every argument can: then the transport itself failed).
   */
  send(batch: PoolTask[]): { task: PoolTask; error: TypeError | undefined }[] {
    const handOver = ++this.#handOvers;
    const tasks: unknown[] = [];
    let defs: FunctionDef[] | undefined;
    let transfers: TransferListItem[] | undefined;
    let lastDef: FunctionDef | undefined;
    let controlled: number[] | undefined;
    for (const task of batch) {
      const def = task.def;
      const control = task.control;
      if (control !== undefined) (controlled ??= []).push(task.id, progressFlag(control));
      if (def !== lastDef) {
        lastDef = def;
        if (!this.#known.has(def.id)) (defs ??= []).push(def);
        this.#known.set(def.id, handOver);
      }
      if (task.transfers !== undefined) (transfers ??= []).push(...task.transfers);
      writeTask(tasks, task.id, def.id, task.args);
    }
    const drop = this.#known.size > FUNCTION_CACHE_SIZE ? this.#evict(handOver) : undefined;
    try {
      this.handle.send({ t: 'run', defs, drop, tasks, controlled }, transfers);
      return [];
    } catch {
      // Undo what the worker did not receive, then try each task alone.
      if (defs !== undefined) for (const def of defs) this.#known.delete(def.id);
      if (drop !== undefined) for (const id of drop) this.#known.set(id, 0);
    }
    const failed: { task: PoolTask; error: TypeError | undefined }[] = [];
    // The worker numbers what it receives: the tasks sent are renumbered, without the ones that fail.
    let seq = this.handed - batch.length;
    for (const task of batch) {
      const isNew = !this.#known.has(task.def.id);
      const one: unknown[] = [];
      writeTask(one, task.id, task.def.id, task.args);
      try {
        this.handle.send(
          {
            t: 'run',
            defs: isNew ? [task.def] : undefined,
            drop: undefined,
            tasks: one,
            controlled:
              task.control === undefined ? undefined : [task.id, progressFlag(task.control)],
          },
          task.transfers,
        );
        this.#known.set(task.def.id, handOver);
        task.seq = ++seq;
      } catch (error) {
        failed.push({ task, error: cloneError(this.handle, task, error) });
      }
    }
    this.handed = seq;
    return failed;
  }

  /** Forgets the least recently used definitions down to 3/4 of the cache, sparing this hand-over's. */
  #evict(handOver: number): number[] | undefined {
    const victims = [...this.#known].filter(([, last]) => last < handOver);
    victims.sort((a, b) => a[1] - b[1]);
    const excess = this.#known.size - Math.floor((FUNCTION_CACHE_SIZE * 3) / 4);
    const drop = victims.slice(0, excess).map(([id]) => id);
    for (const id of drop) this.#known.delete(id);
    return drop.length > 0 ? drop : undefined;
  }
}

function progressFlag(control: Control): number {
  return control.onProgress === undefined ? 0 : 1;
}

/**
 * Why a task could not be sent: a `TypeError` naming the first argument that
 * cannot be cloned (or its transfer list), or `undefined` if it can travel and
 * the transport failed.
 */
function cloneError(handle: WorkerHandle, task: PoolTask, error: unknown): TypeError | undefined {
  const args = task.args;
  const calls = isChunk(args) ? chunkLength(args) : 1;
  for (let call = 0; call < calls; call++) {
    const list = isChunk(args) ? chunkCallArgs(args, call) : args;
    for (let i = 0; i < list.length; i++) {
      try {
        handle.checkCloneable(list[i]);
      } catch (argError) {
        const where = isChunk(args) ? ` of item ${call} (counting from 0) of its map chunk` : '';
        return argTypeError(
          `argument ${i} (counting from 0)${where} of "${task.def.name}" cannot be sent to a worker: ` +
            `${messageOf(argError)}`,
          codes.ERR_TASK_NOT_CLONEABLE,
          { cause: argError },
        );
      }
    }
  }
  // Every argument clones alone: a transfer list the task gave may be at fault,
  // or else the transport itself failed, which is no fault of the task.
  if (task.transfers === undefined) return undefined;
  return argTypeError(
    `the task "${task.def.name}" cannot be sent to a worker: ${messageOf(error)}`,
    codes.ERR_TASK_NOT_CLONEABLE,
    {
      cause: error,
    },
  );
}

function messageOf(error: unknown): string {
  try {
    return String((error as Error).message);
  } catch {
    return 'an unreadable error';
  }
}
