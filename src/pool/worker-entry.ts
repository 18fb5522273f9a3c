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
  type ChunkArgs,
  OK,
  type FunctionDef,
  type ParentMessage,
  type WorkerMessage,
} from './protocol.js';
import { isThenable } from '../thenable.js';
import { encodeError } from './wire-error.js';
import { importExport } from './import-module.js';
import { transfer, takeTransfer } from './transfer.js';

type Fn = (...args: unknown[]) => unknown;

const send: (message: WorkerMessage, transferList?: TransferListItem[]) => void = isMainThread
  ? (message) => void process.send!(message)
  : (message, transferList) => parentPort!.postMessage(message, transferList);

const defs = new Map<number, FunctionDef>();
const fns = new Map<number, Fn | Promise<Fn>>();

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
      factory = new Function('__name', 'transfer', `"use strict";\nreturn (${candidate}\n);`) as Fn;
    } catch (error) {
      lastError = error;
      continue;
    }
    return factory(__name, transfer) as Fn;
  }
  throw new SyntaxError(
    `the function "${def.name}" could not be compiled in the worker (${(lastError as Error).message}); ` +
      'export it from a module and submit it through taskModule() instead',
    { cause: lastError },
  );
}

async function load(def: Extract<FunctionDef, { kind: 'module' }>): Promise<Fn> {
  const fn = await importExport(def.url, def.name);
  fns.set(def.id, fn);
  return fn;
}

function resolve(id: number): Fn | Promise<Fn> {
  const known = fns.get(id);
  if (known !== undefined) return known;
  const def = defs.get(id);
  if (def === undefined) throw new Error(`internal error: unknown function id ${id}`);
  const fn = def.kind === 'source' ? compile(def) : load(def);
  fns.set(id, fn);
  return fn;
}

/** A ReferenceError in a shipped function most likely means it used its enclosing scope: say so. */
function explain(error: unknown, fnId: number): unknown {
  const def = defs.get(fnId);
  if (def?.kind !== 'source' || !(error instanceof ReferenceError)) return error;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (match === null || !def.source.includes(match[1]!)) return error;
  const name = match[1]!;
  return new ReferenceError(
    `${name} is not defined: the function "${def.name}" was sent to the worker as source text, ` +
      `so it cannot use "${name}" from the scope it was written in. Pass it as an argument, or ` +
      `export the function from a module and submit it through taskModule(new URL('./module.js', import.meta.url))`,
    { cause: error },
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
  results.push(id, status, value);
  resultTransfers.push(transfers);
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
  if (results.length === 0) return;
  const batch = results;
  const transfers = resultTransfers;
  const withTransfers = hasTransfers;
  results = [];
  resultTransfers = [];
  hasTransfers = false;
  const message: WorkerMessage = { t: 'results', results: batch, busy };
  busy = 0;
  try {
    send(message, withTransfers ? transfers.flatMap((t) => t ?? []) : undefined);
  } catch {
    // Some result cannot be cloned: send one at a time, and fail only the ones that cannot go.
    for (let i = 0; i < batch.length; i += 3) {
      const one = batch.slice(i, i + 3);
      try {
        send({ t: 'results', results: one, busy: 0 }, transfers[i / 3]);
      } catch (error) {
        const reason = new TypeError(
          `the task's result cannot be sent back to the parent: ${(error as Error).message}`,
          { cause: error },
        );
        send({ t: 'results', results: [one[0], FAILED, encodeError(reason)], busy: 0 });
      }
    }
  }
}

function runWith(fn: Fn, id: number, fnId: number, args: unknown): void {
  try {
    const value = Array.isArray(args)
      ? fn(...(args as unknown[]))
      : runChunk(fn, args as ChunkArgs);
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

/** A chunk of `map`: one call per item, in order; async results are awaited together. */
function runChunk(fn: Fn, args: ChunkArgs): unknown {
  // Built by push, not preallocated (as Array.prototype.map does): V8 clones a
  // packed array several times faster than a holey one.
  const out: unknown[] = [];
  if ('flat' in args) {
    const items = args.flat;
    for (let i = 0; i < items.length; i++) out.push(fn(items[i]));
  } else {
    const lists = args.chunk;
    for (let i = 0; i < lists.length; i++) out.push(fn(...lists[i]!));
  }
  return out.some(isThenable) ? Promise.all(out) : out;
}

/**
 * A batch that runs longer than this sends the results it has so far, so the
 * parent learns the tasks' speed (and the caller its results) without waiting
 * for the whole batch.
 */
const PARTIAL_FLUSH_MS = 5;

/**
 * Milliseconds from the monotonic clock. `process.hrtime()` costs no more than
 * `performance.now()`, whose first use loads perf_hooks: about 0.1 MiB more per worker.
 */
function now(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

function runBatch(tasks: unknown[]): void {
  let start = now();
  for (let i = 0; i < tasks.length; i += 3) {
    if (i > 0 && results.length > 0) {
      const time = now();
      if (time - start >= PARTIAL_FLUSH_MS) {
        busy += time - start;
        start = time;
        flush();
      }
    }
    const id = tasks[i] as number;
    const fnId = tasks[i + 1] as number;
    const args = tasks[i + 2];
    let fn: Fn | Promise<Fn>;
    try {
      fn = resolve(fnId);
    } catch (error) {
      fail(id, fnId, error);
      continue;
    }
    if (typeof fn === 'function') {
      runWith(fn, id, fnId, args);
    } else {
      fn.then(
        (f) => runWith(f, id, fnId, args),
        (e: unknown) => fail(id, fnId, e),
      );
    }
  }
  busy += now() - start;
}

/** Run messages that arrive while the initializer is still running wait here. */
let waiting: unknown[][] | undefined = [];
/** After a failed initializer the worker runs nothing; the parent breaks the pool and ends it. */
let initFailed = false;

async function init(message: Extract<ParentMessage, { t: 'init' }>): Promise<void> {
  if (message.initializer !== undefined) {
    defs.set(message.initializer.id, message.initializer);
    try {
      const fn = await resolve(message.initializer.id);
      await fn(...message.initArgs);
    } catch (error) {
      initFailed = true;
      waiting = undefined;
      send({ t: 'initFailed', error: encodeError(explain(error, message.initializer.id)) });
      return;
    }
  }
  send({ t: 'ready' });
  const queued = waiting ?? [];
  waiting = undefined;
  for (const tasks of queued) runBatch(tasks);
}

function onMessage(message: ParentMessage): void {
  switch (message.t) {
    case 'run':
      if (message.defs !== undefined) for (const def of message.defs) defs.set(def.id, def);
      if (initFailed) return;
      if (waiting !== undefined) waiting.push(message.tasks);
      else runBatch(message.tasks);
      return;
    case 'init':
      void init(message);
      return;
    case 'close':
      process.exit(0);
  }
}

// A task that calls process.exit() must not take the results already settled with it.
process.on('exit', flush);

if (isMainThread) {
  process.on('message', onMessage);
  // The parent is gone: nobody can receive results any more.
  process.on('disconnect', () => process.exit(0));
} else {
  parentPort!.on('message', onMessage);
}
