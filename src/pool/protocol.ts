/**
 * The wire protocol between the pool (parent) and its workers, in one place:
 * the only module that knows how task records, result records and `map`
 * chunks are laid out. Everything else reads and writes them through the
 * small helpers below.
 *
 * Batches are flat arrays of fixed-stride records, not arrays of objects: one
 * message carries every task handed over in a tick, and cloning one flat
 * array is markedly cheaper than cloning an object per task.
 *
 * Whatever a worker sends is untrusted: a task runs in the same thread or
 * process as the worker's side of the protocol and can post on the same
 * channel. Every message the pool's worker code sends carries the key the
 * parent gave that worker in `init`; {@link readWorkerMessage} ignores
 * messages without it (a task's own posts) and rejects ours when malformed.
 */

import type { WireError } from './wire-error.js';

/** How a worker finds a task's function: its source text, or a module export. */
export type FunctionDef =
  | { readonly id: number; readonly kind: 'source'; readonly name: string; readonly source: string }
  | { readonly id: number; readonly kind: 'module'; readonly name: string; readonly url: string };

// ---------------------------------------------------------------------------
// Map chunks
// ---------------------------------------------------------------------------

/**
 * A chunk of `map` calls submitted as one task: one argument list per call,
 * or, over a single input, the items themselves (`flat`). Cloning one array of
 * 10,000 values is about ten times cheaper than 10,000 one-element arrays.
 * A chunk is an object, a plain task's arguments an array: that is how the two
 * are told apart ({@link isChunk}).
 */
export type Chunk = { readonly flat: unknown[] } | { readonly lists: unknown[][] };

/** A task's arguments on the wire: an argument list, or a chunk. */
export type TaskArgs = unknown[] | Chunk;

export function flatChunk(items: unknown[]): Chunk {
  return { flat: items };
}

export function listChunk(lists: unknown[][]): Chunk {
  return { lists };
}

export function isChunk(args: TaskArgs): args is Chunk {
  return !Array.isArray(args);
}

/** The calls in a chunk. */
export function chunkLength(chunk: Chunk): number {
  return 'flat' in chunk ? chunk.flat.length : chunk.lists.length;
}

/** The argument list of call `i` of a chunk (allocates for a flat chunk: for error paths only). */
export function chunkCallArgs(chunk: Chunk, i: number): unknown[] {
  return 'flat' in chunk ? [chunk.flat[i]] : chunk.lists[i]!;
}

/**
 * Calls `fn` once per call of the chunk, in order, and returns the results as
 * a list. Built by push, not preallocated (as Array.prototype.map does): V8
 * clones a packed array several times faster than a holey one.
 */
export function runChunk(chunk: Chunk, fn: (...args: unknown[]) => unknown): unknown[] {
  const out: unknown[] = [];
  if ('flat' in chunk) {
    const items = chunk.flat;
    for (let i = 0; i < items.length; i++) out.push(fn(items[i]));
  } else {
    const lists = chunk.lists;
    for (let i = 0; i < lists.length; i++) out.push(fn(...lists[i]!));
  }
  return out;
}

/** Every argument of every call in `args`, in order, for transfer markers. */
export function forEachArgList(args: TaskArgs, visit: (list: unknown[]) => void): void {
  if (!isChunk(args)) visit(args);
  else if ('flat' in args) visit(args.flat);
  else for (const list of args.lists) visit(list);
}

// ---------------------------------------------------------------------------
// Task records (parent → worker): task id, function id, argument count, then
// the arguments themselves, inline; a chunk is written as count -1 and the chunk.
// ---------------------------------------------------------------------------

/** The argument count that marks a chunk. */
const CHUNK = -1;

/**
 * The argument list of every call made without arguments, shared: most tasks
 * have none, and an empty array per task is one more object to clone on the
 * wire and to keep alive while the task is queued. Never written to.
 */
export const NO_ARGS: unknown[] = Object.freeze([]) as unknown as unknown[];

/**
 * Appends one task record to a batch. The arguments go inline, not as an
 * array of their own: a batch of no-argument tasks is then a flat array of
 * numbers, the cheapest thing to clone.
 */
export function writeTask(batch: unknown[], id: number, fnId: number, args: TaskArgs): void {
  if (isChunk(args)) {
    batch.push(id, fnId, CHUNK, args);
    return;
  }
  const count = args.length;
  batch.push(id, fnId, count);
  for (let i = 0; i < count; i++) batch.push(args[i]);
}

/** One task record as read by {@link readTask}: reused from record to record. */
export interface TaskRecord {
  id: number;
  fnId: number;
  args: TaskArgs;
}

/** A fresh record to read into. */
export function taskRecord(): TaskRecord {
  return { id: 0, fnId: 0, args: NO_ARGS };
}

/**
 * Reads the task record at offset `at` of a batch into `into`; returns the
 * offset of the next record (the batch's length after the last one). Records
 * have no fixed stride: a batch is read in order, from offset 0.
 */
export function readTask(batch: readonly unknown[], at: number, into: TaskRecord): number {
  into.id = batch[at] as number;
  into.fnId = batch[at + 1] as number;
  const count = batch[at + 2] as number;
  const first = at + 3;
  if (count === CHUNK) {
    into.args = batch[first] as Chunk;
    return first + 1;
  }
  into.args = count === 0 ? NO_ARGS : batch.slice(first, first + count);
  return first + count;
}

// ---------------------------------------------------------------------------
// Result records (worker → parent): task id, status, value or WireError
// ---------------------------------------------------------------------------

const RESULT_STRIDE = 3;
/** Result status codes. */
export const OK = 0;
export const FAILED = 1;

export function writeResult(batch: unknown[], id: number, status: number, value: unknown): void {
  batch.push(id, status, value);
}

export function resultCount(batch: readonly unknown[]): number {
  return batch.length / RESULT_STRIDE;
}

export function resultId(batch: readonly unknown[], i: number): unknown {
  return batch[i * RESULT_STRIDE];
}

export function resultFailed(batch: readonly unknown[], i: number): boolean {
  return batch[i * RESULT_STRIDE + 1] === FAILED;
}

/** The returned value, or the {@link WireError} of a failed task. */
export function resultValue(batch: readonly unknown[], i: number): unknown {
  return batch[i * RESULT_STRIDE + 2];
}

/** One result record alone, for a batch that must be split. */
export function resultSlice(batch: readonly unknown[], i: number): unknown[] {
  return batch.slice(i * RESULT_STRIDE, (i + 1) * RESULT_STRIDE);
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** Parent → worker. */
export type ParentMessage =
  | {
      readonly t: 'init';
      /** The key this worker signs its messages with. */
      readonly key: number;
      /** Worker threads only: the cells this worker and the parent share (see {@link ControlCells}). */
      readonly cells: ControlCells | undefined;
      readonly initializer: FunctionDef | undefined;
      readonly initArgs: unknown[];
    }
  | {
      readonly t: 'run';
      /** Function definitions this worker has not seen yet. */
      readonly defs: FunctionDef[] | undefined;
      /** Function ids this worker may forget: the parent will send them again if needed. */
      readonly drop: number[] | undefined;
      /** Task records (see {@link writeTask}). */
      readonly tasks: unknown[];
      /**
       * The calls of the batch made with options (signal, timeout, onProgress),
       * as pairs: task id, then 1 if it reports progress, else 0. Each runs
       * with a task context. Undefined when there is none.
       */
      readonly controlled: number[] | undefined;
    }
  | {
      /** Stop a call made with options: its signal aborts with `reason` (when it could be cloned). */
      readonly t: 'abort';
      readonly id: number;
      readonly timedOut: boolean;
      readonly reason: unknown;
    }
  | { readonly t: 'close' };

// ---------------------------------------------------------------------------
// Control cells: shared memory between the parent and one worker thread
// ---------------------------------------------------------------------------

/**
 * Cells a worker thread and its parent share. A synchronous loop in a task
 * never sees a message, so the parent writes an abort here before it sends
 * it; and the worker counts here each task it starts, so that when the parent
 * must end the thread to stop one call, it knows which tasks the thread never
 * started (they run elsewhere, once) — the calls made with a signal can then
 * share a thread with other calls.
 *
 * Cell 0 counts the tasks started (modulo 2^30); its bit 30 is set by the
 * parent to close it: from then on the worker starts nothing. Both sides
 * change it by atomic read-modify-write, so a start is either counted before
 * the close (and the parent knows it started) or refused after it.
 * Then {@link ABORT_SLOTS} slots of two cells: a task id (0: free) and 1
 * (aborted) or 2 (timed out). The parent owns the slots: it fills one when it
 * stops a call and frees it when the call leaves the worker.
 */
export type ControlCells = Int32Array;

const STARTED = 0;
const CLOSED = 1 << 30;
const COUNT_MASK = CLOSED - 1;
/** Calls stopped and still held by one worker that a synchronous loop can see at once; more only get the message. */
export const ABORT_SLOTS = 8;

export function createControlCells(): ControlCells {
  return new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * ABORT_SLOTS)));
}

/** Parent: records that call `id` is to stop; false if every slot is taken (the message alone tells it). */
export function markAborted(cells: ControlCells, id: number, timedOut: boolean): boolean {
  const tag = id | 0 || 1;
  for (let slot = 1; slot < cells.length; slot += 2) {
    if (Atomics.load(cells, slot) !== 0) continue;
    // The kind first: a worker that sees the id reads a kind already written.
    Atomics.store(cells, slot + 1, timedOut ? 2 : 1);
    Atomics.store(cells, slot, tag);
    return true;
  }
  return false;
}

/** Parent: frees the slot of call `id`, which has left its worker. */
export function clearAborted(cells: ControlCells, id: number): void {
  const tag = id | 0 || 1;
  for (let slot = 1; slot < cells.length; slot += 2) {
    if (Atomics.load(cells, slot) === tag) Atomics.store(cells, slot, 0);
  }
}

/** Worker: 0 if call `id` is not to stop, 1 if aborted, 2 if timed out. */
export function abortKind(cells: ControlCells, id: number): number {
  const tag = id | 0 || 1;
  for (let slot = 1; slot < cells.length; slot += 2) {
    if (Atomics.load(cells, slot) === tag) return Atomics.load(cells, slot + 1);
  }
  return 0;
}

/** Worker: counts a task it is about to start; false if the parent closed the count (start nothing). */
export function countStart(cells: ControlCells): boolean {
  return (Atomics.add(cells, STARTED, 1) & CLOSED) === 0;
}

/** Parent: how many tasks the worker has started so far (it may start more). */
export function startedCount(cells: ControlCells): number {
  return Atomics.load(cells, STARTED) & COUNT_MASK;
}

/** Parent: stops the worker from starting anything more; returns how many it started. */
export function closeStarts(cells: ControlCells): number {
  return Atomics.or(cells, STARTED, CLOSED) & COUNT_MASK;
}

/**
 * True if the task handed over `seq`-th (from 1) had started when the worker
 * had started `started` tasks. Both count from the worker's start, modulo
 * 2^30: a worker may start more tasks than that over its life.
 */
export function hasStarted(seq: number, started: number): boolean {
  return ((started - seq) & COUNT_MASK) < CLOSED >>> 1;
}

/** Worker → parent. */
export type WorkerMessage =
  | { readonly k: number; readonly t: 'ready' }
  | { readonly k: number; readonly t: 'initFailed'; readonly error: WireError }
  | {
      readonly k: number;
      readonly t: 'results';
      /** Result records (see {@link writeResult}). */
      readonly results: unknown[];
      /** Milliseconds the worker spent running the tasks settled since its last report. */
      readonly busy: number;
      /** Progress records, the latest value per task since the last message: id, value, ... */
      readonly progress?: unknown[] | undefined;
    }
  | {
      readonly k: number;
      /**
       * Sent as the worker exits (by `process.exit` or an uncaught error): how
       * many of the tasks it received it had started. Workers start tasks in
       * the order received, so the rest never ran and may run elsewhere.
       */
      readonly t: 'exiting';
      readonly started: number;
    };

/** A message that carries this worker's key but not a shape the protocol knows. */
export class MalformedMessage {
  constructor(readonly reason: string) {}
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Reads a message from a worker: the typed message; `undefined` for a message
 * that is not the pool's (no key: a task posted it); or a
 * {@link MalformedMessage} for one that claims to be the pool's but is not
 * well formed. Result records are checked as they are read (see `pool.ts`).
 */
export function readWorkerMessage(
  raw: unknown,
  key: number,
): WorkerMessage | MalformedMessage | undefined {
  if (raw === null || typeof raw !== 'object' || (raw as { k?: unknown }).k !== key)
    return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.t) {
    case 'results': {
      const results = m.results;
      if (!Array.isArray(results) || results.length % RESULT_STRIDE !== 0) {
        return new MalformedMessage('a results message without a list of result records');
      }
      if (typeof m.busy !== 'number' || !(m.busy >= 0)) {
        return new MalformedMessage('a results message without its busy time');
      }
      if (m.progress !== undefined && (!Array.isArray(m.progress) || m.progress.length % 2 !== 0)) {
        return new MalformedMessage('a results message with malformed progress records');
      }
      return m as WorkerMessage;
    }
    case 'ready':
      return m as WorkerMessage;
    case 'initFailed':
      return m.error !== null && typeof m.error === 'object'
        ? (m as WorkerMessage)
        : new MalformedMessage('an initFailed message without an error');
    case 'exiting':
      return isCount(m.started)
        ? (m as WorkerMessage)
        : new MalformedMessage('an exiting message without a task count');
    default:
      return new MalformedMessage(`an unknown message kind (${describeKind(m.t)})`);
  }
}

function describeKind(kind: unknown): string {
  return typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : typeof kind;
}
