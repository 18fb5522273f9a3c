/**
 * The code that runs inside every pool worker, thread or child process alike.
 *
 * It receives batches of tasks, runs them, and sends their results back in
 * batches: every result settled within one tick travels in one message.
 */

import type { TransferListItem } from 'node:worker_threads';
import { isMainThread, parentPort } from 'node:worker_threads';
import {
  FAILED,
  abortKind,
  countStart,
  OK,
  isChunk,
  resultCount,
  resultId,
  resultSlice,
  readTask,
  runChunk,
  taskRecord,
  writeResult,
  type ControlCells,
  type FunctionDef,
  type ParentMessage,
  type TaskArgs,
  type WorkerMessage,
} from './protocol.js';
import { argTypeError, codes, withCode } from '../errors.js';
import { isThenable } from '../thenable.js';
import { encodeError } from './wire-error.js';
import { importExport } from './import-module.js';
import { transfer, takeTransfer } from './transfer.js';
import { reportProgress, taskContexts, taskSignal, type TaskContext } from '../control.js';
import { TimeoutError } from '../errors.js';
import { exitWhenFlushed, guardChildProcess } from './child-guard.js';

type Fn = (...args: unknown[]) => unknown;

/** The key the parent gave this worker: it marks the pool's messages apart from a task's own posts. */
let key = 0;

const send: (message: WorkerMessage, transferList?: TransferListItem[]) => void = isMainThread
  ? (message) => void process.send!(message)
  : (message, transferList) => parentPort!.postMessage(message, transferList);

/**
 * Function definitions and their compiled functions (or pending imports), by
 * id. The parent bounds them: it tells the worker which ids to forget.
 */
const defs = new Map<number, FunctionDef>();
const fns = new Map<number, Fn | Promise<Fn>>();

function forget(ids: number[]): void {
  for (const id of ids) {
    defs.delete(id);
    fns.delete(id);
    lastCallMs.delete(id);
  }
}

/** `__name` is what esbuild and tsx insert under keep-names; a shipped function may call it. */
function __name<T>(fn: T, name: string): T {
  try {
    Object.defineProperty(fn, 'name', { value: name, configurable: true });
  } catch {
    // A frozen function keeps its name; nothing is lost.
  }
  return fn;
}

/** Compiles a function shipped as source, accepting method shorthand (`f(x) {…}`) too. */
function compile(def: Extract<FunctionDef, { kind: 'source' }>): Fn {
  const src = def.source;
  const candidates = [src, `function ${src}`];
  if (src.startsWith('async ')) candidates.push(`async function ${src.slice(6)}`);
  let lastError: unknown;
  for (const candidate of candidates) {
    let factory: Fn;
    try {
      // Compiling shipped source is this module's job: it runs only inside a pool worker.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      factory = new Function(
        '__name',
        'transfer',
        'taskSignal',
        'reportProgress',
        `"use strict";\nreturn (${candidate}\n);`,
      ) as Fn;
    } catch (error) {
      lastError = error;
      continue;
    }
    return factory(__name, transfer, taskSignal, reportProgress) as Fn;
  }
  throw withCode(
    new SyntaxError(
      `the function "${def.name}" could not be compiled in the worker (${(lastError as Error).message}); ` +
        'export it from a module and submit it through taskModule() instead',
      { cause: lastError },
    ),
    codes.ERR_TASK_NOT_COMPILABLE,
  );
}

async function load(def: Extract<FunctionDef, { kind: 'module' }>): Promise<Fn> {
  let fn: Fn;
  try {
    fn = await importExport(def.url, def.name);
  } catch (error) {
    fn = thrower(error);
  }
  if (fns.has(def.id)) fns.set(def.id, fn);
  return fn;
}

/** Stands in for a function that could not be compiled or imported: each call fails with why. */
function thrower(error: unknown): Fn {
  return () => {
    throw error;
  };
}

/** The function for an id: compiled or imported once, then cached; a promise while it loads. */
function resolve(id: number): Fn | Promise<Fn> {
  const known = fns.get(id);
  if (known !== undefined) return known;
  const def = defs.get(id);
  let fn: Fn | Promise<Fn>;
  if (def === undefined) {
    fn = thrower(
      withCode(
        new Error(`internal error: the worker does not know function id ${id}`),
        codes.ERR_INTERNAL_ASSERTION,
      ),
    );
  } else if (def.kind === 'module') {
    fn = load(def);
  } else {
    try {
      fn = compile(def);
    } catch (error) {
      fn = thrower(error);
    }
  }
  fns.set(id, fn);
  return fn;
}

/** A ReferenceError in a shipped function most likely means it used its enclosing scope: say so. */
function explain(error: unknown, fnId: number): unknown {
  const def = defs.get(fnId);
  if (def?.kind !== 'source') return error;
  let match: RegExpExecArray | null;
  try {
    // A hostile value may throw from instanceof (a Proxy) or from reading `message`.
    if (!(error instanceof ReferenceError)) return error;
    match = /^(\S+) is not defined$/.exec(String(error.message));
  } catch {
    return error;
  }
  if (match === null || !def.source.includes(match[1]!)) return error;
  const name = match[1]!;
  return withCode(
    new ReferenceError(
      `${name} is not defined: the function "${def.name}" was sent to the worker as source text, ` +
        `so it cannot use "${name}" from the scope it was written in. Pass it as an argument, or ` +
        `export the function from a module and submit it through taskModule(new URL('./module.js', import.meta.url))`,
      { cause: error },
    ),
    codes.ERR_TASK_NOT_SELF_CONTAINED,
  );
}

let results: unknown[] = [];
let resultTransfers: (TransferListItem[] | undefined)[] = [];
let hasTransfers = false;
let busy = 0;
let flushScheduled = false;

function settle(id: number, status: number, value: unknown): void {
  let transfers: TransferListItem[] | undefined;
  if (status === OK) {
    const taken = takeTransfer(value);
    if (taken !== undefined) {
      value = taken.value;
      transfers = taken.transferList;
      hasTransfers = true;
    }
  }
  writeResult(results, id, status, value);
  resultTransfers.push(transfers);
  if (contexts.size > 0) contexts.delete(id);
  if (!flushScheduled) {
    flushScheduled = true;
    queueMicrotask(flush);
  }
}

function fail(id: number, fnId: number, error: unknown): void {
  settle(id, FAILED, encodeError(explain(error, fnId)));
}

function flush(): void {
  flushScheduled = false;
  if (results.length === 0) {
    if (progress.size > 0) sendProgress();
    return;
  }
  const batch = results;
  const transfers = resultTransfers;
  const withTransfers = hasTransfers;
  results = [];
  resultTransfers = [];
  hasTransfers = false;
  const elapsed = busy;
  busy = 0;
  try {
    send(
      { k: key, t: 'results', results: batch, busy: elapsed, progress: takeProgress() },
      withTransfers ? transfers.flatMap((t) => t ?? []) : undefined,
    );
  } catch {
    // Some result cannot be cloned: send one at a time, and fail only the ones that cannot go.
    for (let i = 0; i < resultCount(batch); i++) {
      const one = resultSlice(batch, i);
      try {
        send({ k: key, t: 'results', results: one, busy: 0 }, transfers[i]);
      } catch (error) {
        const reason = argTypeError(
          `the task's result cannot be sent back to the parent: ${describeError(error)}`,
          codes.ERR_RESULT_NOT_CLONEABLE,
          { cause: error },
        );
        const failed: unknown[] = [];
        writeResult(failed, resultId(one, 0) as number, FAILED, encodeError(reason));
        send({ k: key, t: 'results', results: failed, busy: 0 });
      }
    }
  }
}

function describeError(error: unknown): string {
  try {
    return String((error as Error).message);
  } catch {
    return 'an unreadable error';
  }
}

/** How many of the tasks received have been started: they start in the order received. */
let started = 0;

function runWith(fn: Fn, id: number, fnId: number, args: TaskArgs): void {
  started++;
  try {
    let value: unknown;
    if (!isChunk(args)) {
      value = fn(...args);
    } else {
      // A chunk: one call per item, in order; async results are awaited together.
      const out = runChunk(args, fn);
      value = out.some(isThenable) ? Promise.all(out) : out;
    }
    if (isThenable(value)) {
      value.then(
        (v) => settle(id, OK, v),
        (e: unknown) => fail(id, fnId, e),
      );
    } else {
      settle(id, OK, value);
    }
  } catch (error) {
    fail(id, fnId, error);
  }
}

/**
 * Results settled during a batch wait to travel together, but never behind a
 * task that may be long: they go before a task whose function's last call took
 * this long or more (or that has not run here yet), and whenever the batch has
 * run this long. A burst of short tasks still answers in one message; a result
 * is not held for the length of a long synchronous task that follows it.
 */
const PARTIAL_FLUSH_MS = 1;
/** How long the last synchronous call of each function took here, by function id. */
const lastCallMs = new Map<number, number>();

/**
 * Milliseconds from the monotonic clock. `process.hrtime()` costs no more than
 * `performance.now()`, whose first use loads perf_hooks: about 0.1 MiB more per worker.
 */
function now(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/**
 * Batches received and not yet started, oldest first, each with the function
 * ids the parent said to forget once it has run. Tasks start strictly in the
 * order received (as Python's workers take calls first in, first out): while
 * a task's function is still being imported, or the initializer still runs,
 * everything after it waits here.
 */
interface Pending {
  readonly tasks: unknown[];
  readonly drop: number[] | undefined;
  /** True if some of its tasks were made with options: they run with a task context. */
  readonly controlled: boolean;
  /** The offset of the next task record to run. */
  next: number;
}
const backlog: Pending[] = [];
/** True while the head of the backlog waits (initializer, or a module import). */
let blocked = true;

/** Runs the backlog in order until it is empty or waits for a function to load. */
function pump(): void {
  while (!blocked && backlog.length > 0) {
    const pending = backlog[0]!;
    if (!runBatch(pending)) return;
    backlog.shift();
    if (pending.drop !== undefined) forget(pending.drop);
  }
}

/** The record being read: one for the worker, since batches run one at a time. */
const record = taskRecord();

/** Runs a batch from where it stopped; false if it stopped again to wait for a function. */
function runBatch(pending: Pending): boolean {
  const tasks = pending.tasks;
  let start = now();
  /** The previous task's function and start: one clock read per task times both. */
  let previousFn = -1;
  let previousStart = start;
  for (let at = pending.next, next: number; at < tasks.length; at = next) {
    next = readTask(tasks, at, record);
    const { id, fnId, args } = record;
    if (previousFn !== -1) {
      const time = now();
      lastCallMs.set(previousFn, time - previousStart);
      previousStart = time;
    }
    if (results.length > 0 && (!isShort(fnId) || previousStart - start >= PARTIAL_FLUSH_MS)) {
      busy += previousStart - start;
      flush();
      start = previousStart = now();
    }
    previousFn = fnId;
    const fn = resolve(fnId);
    if (typeof fn !== 'function') {
      // Still loading: this task and everything after it wait, in order.
      pending.next = at;
      blocked = true;
      const resume = (): void => {
        blocked = false;
        pump();
      };
      fn.then(resume, resume);
      busy += now() - start;
      return false;
    }
    if (cells !== undefined && !countStart(cells)) {
      // The parent is ending this thread to stop a call and will run the rest elsewhere.
      pending.next = at;
      blocked = true;
      return false;
    }
    const context = pending.controlled ? contexts.get(id) : undefined;
    const stopped = context?.stoppedFor();
    if (context === undefined) {
      runWith(fn, id, fnId, args);
    } else if (stopped !== undefined) {
      // Stopped before its turn (behind other tasks, or while its module loaded): it never runs.
      started++;
      settle(id, FAILED, encodeError(stopped.reason));
    } else {
      taskContexts().run(context, runWith, fn, id, fnId, args);
    }
  }
  const end = now();
  if (previousFn !== -1) lastCallMs.set(previousFn, end - previousStart);
  busy += end - start;
  return true;
}

/** True if the last call of function `fnId` here was short: results may wait for the next one. */
function isShort(fnId: number): boolean {
  const ms = lastCallMs.get(fnId);
  return ms !== undefined && ms < PARTIAL_FLUSH_MS;
}

// ---------------------------------------------------------------------------
// Calls made with options: their signal, and their progress reports
// ---------------------------------------------------------------------------

/** Worker threads: the memory shared with the parent (see `ControlCells` in protocol.ts). */
let cells: ControlCells | undefined;
/** The calls made with options that this worker holds, until they settle. */
const contexts = new Map<number, CallContext>();
/** The latest progress value of each call since the last message. */
const progress = new Map<number, unknown>();
let lastProgressSent = 0;
/** A synchronous task reporting progress sends it at most this often, without waiting to yield. */
const PROGRESS_EVERY_MS = 50;

function stopReason(timedOut: boolean): Error {
  return timedOut
    ? new TimeoutError('the call ran longer than its timeout')
    : new DOMException('This operation was aborted', 'AbortError');
}

/**
 * What a call made with options sees of itself (`taskSignal()`,
 * `reportProgress()`). Its AbortSignal is made the first time the task asks
 * for it: most tasks never do, and a signal costs more than the call of a
 * small task.
 */
class CallContext implements TaskContext {
  readonly progress: ((value: unknown) => void) | undefined;
  readonly #id: number;
  #controller: AbortController | undefined;
  /** Set when the call was stopped before its signal was made. */
  #stopped: { reason: unknown } | undefined;

  constructor(id: number, reportsProgress: boolean) {
    this.#id = id;
    this.progress = reportsProgress ? (value) => recordProgress(id, value) : undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#stopped !== undefined) controller.abort(this.#stopped.reason);
    else if (cells !== undefined) pollSharedMemory(controller, cells, this.#id);
    return controller.signal;
  }

  /** The parent stopped the call (its message came). */
  stop(reason: unknown): void {
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.#stopped ??= { reason };
  }

  /** Why the call was stopped, or undefined if it was not (yet): read before it starts. */
  stoppedFor(): { reason: unknown } | undefined {
    if (this.#controller !== undefined) {
      const signal = this.#controller.signal;
      return signal.aborted ? { reason: signal.reason } : undefined;
    }
    if (this.#stopped === undefined && cells !== undefined) {
      const kind = abortKind(cells, this.#id);
      if (kind !== 0) this.#stopped = { reason: stopReason(kind === 2) };
    }
    return this.#stopped;
  }
}

/** Worker threads: a synchronous loop never sees the 'abort' message, so the signal reads shared memory. */
function pollSharedMemory(controller: AbortController, shared: ControlCells, id: number): void {
  const signal = controller.signal;
  const nativeAborted = (): boolean =>
    Reflect.get<AbortSignal, 'aborted'>(AbortSignal.prototype, 'aborted', signal);
  const poll = (): void => {
    if (nativeAborted()) return;
    const kind = abortKind(shared, id);
    if (kind !== 0) controller.abort(stopReason(kind === 2));
  };
  Object.defineProperties(signal, {
    aborted: {
      get: () => {
        poll();
        return nativeAborted();
      },
    },
    throwIfAborted: {
      value: () => {
        poll();
        AbortSignal.prototype.throwIfAborted.call(signal);
      },
    },
  });
}

function recordProgress(id: number, value: unknown): void {
  if (!contexts.has(id)) return; // Reported after the call settled.
  progress.set(id, value);
  const time = now();
  if (time - lastProgressSent >= PROGRESS_EVERY_MS) {
    sendProgress();
  } else if (!flushScheduled) {
    flushScheduled = true;
    queueMicrotask(flush);
  }
}

/** The progress records to send, or undefined; the values that cannot be cloned are described. */
function takeProgress(): unknown[] | undefined {
  if (progress.size === 0) return undefined;
  const records: unknown[] = [];
  for (const [id, value] of progress) records.push(id, value);
  progress.clear();
  lastProgressSent = now();
  return records;
}

function sendProgress(): void {
  const records = takeProgress();
  if (records === undefined) return;
  try {
    send({ k: key, t: 'results', results: [], busy: 0, progress: records });
  } catch (error) {
    // A value that cannot be cloned is reported as the reason it cannot.
    for (let i = 1; i < records.length; i += 2) {
      records[i] = new TypeError(`progress value cannot be sent: ${describeError(error)}`);
    }
    send({ k: key, t: 'results', results: [], busy: 0, progress: records });
  }
}

/** After a failed initializer the worker runs nothing; the parent breaks the pool and ends it. */
let initFailed = false;

async function init(message: Extract<ParentMessage, { t: 'init' }>): Promise<void> {
  key = message.key;
  cells = message.cells;
  if (message.initializer !== undefined) {
    defs.set(message.initializer.id, message.initializer);
    try {
      const fn = await resolve(message.initializer.id);
      await fn(...message.initArgs);
    } catch (error) {
      initFailed = true;
      backlog.length = 0;
      send({ k: key, t: 'initFailed', error: encodeError(explain(error, message.initializer.id)) });
      return;
    }
  }
  send({ k: key, t: 'ready' });
  blocked = false;
  pump();
}

function onMessage(message: ParentMessage): void {
  switch (message.t) {
    case 'run':
      if (message.defs !== undefined) for (const def of message.defs) defs.set(def.id, def);
      if (initFailed) return;
      if (message.controlled !== undefined) {
        const controlled = message.controlled;
        for (let i = 0; i < controlled.length; i += 2) {
          contexts.set(controlled[i]!, new CallContext(controlled[i]!, controlled[i + 1] === 1));
        }
      }
      backlog.push({
        tasks: message.tasks,
        drop: message.drop,
        controlled: message.controlled !== undefined,
        next: 0,
      });
      if (!blocked && backlog.length === 1) pump();
      return;
    case 'init':
      void init(message);
      return;
    case 'abort':
      contexts.get(message.id)?.stop(message.reason ?? stopReason(message.timedOut));
      return;
    case 'close':
      exitWhenFlushed();
      return;
  }
}

/**
 * A task that calls process.exit(), or an uncaught error, ends the worker:
 * the results already settled go first, then how many tasks had started, so
 * that the parent can run the rest elsewhere.
 */
process.on('exit', () => {
  if (key === 0 || (isMainThread && process.connected !== true)) return;
  try {
    flush();
    send({ k: key, t: 'exiting', started });
  } catch {
    // The channel is gone: the parent learns of the exit without the count.
  }
});

if (isMainThread) {
  process.on('message', onMessage);
  guardChildProcess(Number(process.argv[2]));
} else {
  parentPort!.on('message', onMessage);
}
