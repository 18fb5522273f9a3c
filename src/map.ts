/**
 * The iterator behind `Executor.map`: submits eagerly, yields in input order.
 *
 * Over sync inputs everything (or `buffersize` chunks) is submitted inside the
 * `map()` call; over async inputs a reader starts at the call and submits as
 * items arrive. The first error ends iteration and cancels what has not started.
 */

import {
  EXPECTED,
  NEXT_READY,
  knownSize,
  type Expected,
  type HasExpected,
  type HasNextReady,
} from './expected.js';
import type { Future } from './future.js';
import { flatChunk, listChunk, type Chunk } from './pool/protocol.js';
import { Queue } from './queue.js';

export type MapSource = Iterable<unknown> | AsyncIterable<unknown>;

/** What `MapIterator` needs of its executor (kept structural to avoid an import cycle). */
export interface MapSubmitter {
  submit(fn: (...args: unknown[]) => unknown, ...args: unknown[]): Future<unknown>;
  _submitChunk?(fn: (...args: unknown[]) => unknown, chunk: Chunk): Future<unknown[]>;
}

export interface MapConfig {
  /** Items per submitted task; 1 means one task per item. */
  chunksize: number;
  /** How many tasks may be submitted ahead of the consumer; undefined: all of them. */
  buffersize: number | undefined;
  /** `performance.now()` deadline for every result, or Infinity. */
  deadline: number;
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

export class MapIterator implements AsyncIterableIterator<unknown>, HasExpected, HasNextReady {
  readonly #executor: MapSubmitter;
  readonly #fn: (...args: unknown[]) => unknown;
  readonly #config: MapConfig;
  readonly #chunked: boolean;
  readonly #iterators: AnyIterator[];
  readonly #async: boolean;
  /** Submitted futures not yet consumed, oldest first. */
  readonly #buffer = new Queue<Future<unknown>>();
  /** The results of the chunk being yielded, and the next index in it. */
  #chunk: unknown[] | undefined;
  #chunkIndex = 0;
  #started = false;
  #finished = false;
  #sourceDone = false;
  #sourceError: { error: unknown } | undefined;
  /** Items submitted so far (not tasks: a chunk counts its items), and the total if the inputs tell it. */
  #submittedItems = 0;
  readonly #knownTotal: number | undefined;
  /** Wakes the consumer waiting for the async reader, and the reader waiting for room. */
  #wakeConsumer: (() => void) | undefined;
  #wakeReader: (() => void) | undefined;
  /** True while `#step` runs; `#last` is the promise of the latest step, `#queuedSteps` those not started. */
  #stepping = false;
  #last: Promise<IteratorResult<unknown, undefined>> | undefined;
  #queuedSteps = 0;
  /** Wakes the consumer waiting for the future at the head of the buffer. */
  #wakeDone: (() => void) | undefined;
  readonly #onDone = (): void => {
    const wake = this.#wakeDone;
    this.#wakeDone = undefined;
    wake?.();
  };

  constructor(
    executor: MapSubmitter,
    fn: (...args: unknown[]) => unknown,
    sources: MapSource[],
    config: MapConfig,
  ) {
    this.#executor = executor;
    this.#fn = fn;
    this.#config = config;
    this.#chunked = config.chunksize > 1 && executor._submitChunk !== undefined;
    this.#async = sources.some((s) => !(Symbol.iterator in Object(s)));
    this.#iterators = sources.map((s) =>
      Symbol.iterator in Object(s)
        ? (s as Iterable<unknown>)[Symbol.iterator]()
        : (s as AsyncIterable<unknown>)[Symbol.asyncIterator](),
    );
    const sizes = sources.map(knownSize);
    this.#knownTotal = sizes.includes(undefined) ? undefined : Math.min(...(sizes as number[]));
    if (sources.length === 0) {
      this.#sourceDone = true;
    } else if (this.#async) {
      void this.#read();
    } else {
      const limit = config.buffersize ?? Infinity;
      for (let i = 0; i < limit && this.#submitSync(); i++);
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** @internal How many items this map yields, or has submitted so far: for `progress`. */
  get [EXPECTED](): Expected {
    if (this.#sourceDone) return { items: this.#submittedItems, known: true };
    if (this.#knownTotal !== undefined) return { items: this.#knownTotal, known: true };
    return { items: this.#submittedItems, known: false };
  }

  /** @internal The next result if it is in the chunk being yielded (next()'s fast path): for `progress`. */
  [NEXT_READY](): IteratorResult<unknown, undefined> | undefined {
    if (this.#stepping || this.#queuedSteps !== 0 || this.#chunk === undefined) return undefined;
    return { done: false, value: this.#nextFromChunk() };
  }

  next(): Promise<IteratorResult<unknown, undefined>> {
    // Concurrent next() calls are answered one after another, in call order:
    // a call made while a step is in progress (or queued) waits for it.
    if (!this.#stepping && this.#queuedSteps === 0) {
      // Fast path: the next result is already here, in the chunk being yielded
      // (`#chunk` is set only by a started step, and cleared by `#finish`).
      if (this.#chunk !== undefined) {
        return (this.#last = Promise.resolve({ done: false, value: this.#nextFromChunk() }));
      }
      return (this.#last = this.#step());
    }
    this.#queuedSteps++;
    const step = this.#last!.then(this.#queuedStep, this.#queuedStep);
    this.#last = step;
    return step;
  }

  readonly #queuedStep = (): Promise<IteratorResult<unknown, undefined>> => {
    this.#queuedSteps--;
    return this.#step();
  };

  /** Ends iteration; once iteration has started, cancels every future not yet started. */
  return(): Promise<IteratorResult<unknown, undefined>> {
    if (this.#started) this.#fail();
    else this.#finish();
    return Promise.resolve(DONE);
  }

  async #step(): Promise<IteratorResult<unknown, undefined>> {
    this.#stepping = true;
    try {
      for (;;) {
        if (this.#finished) return DONE;
        this.#started = true;
        if (this.#chunk !== undefined) return { done: false, value: this.#nextFromChunk() };
        if (!this.#async && this.#config.buffersize !== undefined) {
          try {
            this.#submitSync();
          } catch (error) {
            this.#fail();
            throw error;
          }
        }
        let future = this.#buffer.shift();
        while (future === undefined) {
          if (this.#sourceError !== undefined) {
            this.#fail();
            throw this.#sourceError.error;
          }
          if (this.#sourceDone || !this.#async) {
            this.#finish();
            return DONE;
          }
          await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
          if (this.#finished) return DONE;
          future = this.#buffer.shift();
        }
        this.#wakeReader?.();
        let value: unknown;
        try {
          const deadline = this.#config.deadline;
          if (deadline === Infinity) {
            // No deadline: one done callback wakes us, then result() of a done
            // future is a single settled promise (no timer, no promise chain).
            if (!future.done()) {
              await new Promise<void>((resolve) => {
                this.#wakeDone = resolve;
                future.addDoneCallback(this.#onDone);
              });
            }
            value = await future.result();
          } else {
            value = await future.result(deadline - performance.now());
          }
        } catch (error) {
          future._cancelAndNotify();
          this.#fail();
          throw error;
        }
        if (this.#finished) return DONE;
        if (!this.#chunked) return { done: false, value };
        const results = value as unknown[];
        if (results.length === 0) continue;
        this.#chunk = results;
        this.#chunkIndex = 0;
        return { done: false, value: this.#nextFromChunk() };
      }
    } finally {
      this.#stepping = false;
    }
  }

  /** The next item of the chunk being yielded; the chunk lets go of it (no reference to yielded results). */
  #nextFromChunk(): unknown {
    const chunk = this.#chunk!;
    const value = chunk[this.#chunkIndex];
    chunk[this.#chunkIndex++] = undefined;
    if (this.#chunkIndex >= chunk.length) this.#chunk = undefined;
    return value;
  }

  /** Reads one argument list (or a chunk of them) from sync inputs and submits it; false once exhausted. */
  #submitSync(): boolean {
    if (this.#sourceDone) return false;
    if (!this.#chunked) {
      const args = this.#readSync();
      if (args === undefined) return false;
      this.#buffer.push(this.#executor.submit(this.#fn, ...args));
      this.#submittedItems++;
      return true;
    }
    const size = this.#config.chunksize;
    let chunk: Chunk;
    if (this.#iterators.length === 1) {
      const iterator = this.#iterators[0] as Iterator<unknown>;
      const flat: unknown[] = [];
      while (flat.length < size) {
        const r = iterator.next();
        if (r.done === true) {
          this.#sourceDone = true;
          break;
        }
        flat.push(r.value);
      }
      if (flat.length === 0) return false;
      this.#submittedItems += flat.length;
      chunk = flatChunk(flat);
    } else {
      const argsList: unknown[][] = [];
      while (argsList.length < size) {
        const args = this.#readSync();
        if (args === undefined) break;
        argsList.push(args);
      }
      if (argsList.length === 0) return false;
      this.#submittedItems += argsList.length;
      chunk = listChunk(argsList);
    }
    this.#buffer.push(this.#executor._submitChunk!(this.#fn, chunk));
    return true;
  }

  #readSync(): unknown[] | undefined {
    const iterators = this.#iterators as Iterator<unknown>[];
    const args = new Array<unknown>(iterators.length);
    for (let i = 0; i < iterators.length; i++) {
      const r = iterators[i]!.next();
      if (r.done === true) {
        this.#sourceDone = true;
        return undefined;
      }
      args[i] = r.value;
    }
    return args;
  }

  async #readAsync(): Promise<unknown[] | undefined> {
    const iterators = this.#iterators;
    const results =
      iterators.length === 1
        ? [await iterators[0]!.next()]
        : // A sync iterator among them gives plain results; Promise.all takes both.
          await Promise.all((iterators as AsyncIterator<unknown>[]).map((it) => it.next()));
    if (results.some((r) => r.done === true)) return undefined;
    return results.map((r): unknown => r.value);
  }

  /** The reader for async inputs: submits as items arrive, at most `buffersize` ahead. */
  async #read(): Promise<void> {
    const { buffersize, chunksize } = this.#config;
    try {
      for (;;) {
        while (buffersize !== undefined && this.#buffer.length >= buffersize && !this.#finished) {
          await new Promise<void>((resolve) => (this.#wakeReader = resolve));
          this.#wakeReader = undefined;
        }
        if (this.#finished) return;
        const argsList: unknown[][] = [];
        const size = this.#chunked ? chunksize : 1;
        let exhausted = false;
        while (argsList.length < size) {
          const args = await this.#readAsync();
          if (args === undefined) {
            exhausted = true;
            break;
          }
          argsList.push(args);
        }
        // Closed after iteration started: what is buffered was cancelled, so stop here.
        // Closed before it started: nothing is cancelled, so what was read still runs.
        if (this.#finished && this.#started) return;
        if (argsList.length > 0) {
          this.#buffer.push(
            this.#chunked
              ? this.#executor._submitChunk!(
                  this.#fn,
                  this.#iterators.length === 1
                    ? flatChunk(argsList.map((args) => args[0]))
                    : listChunk(argsList),
                )
              : this.#executor.submit(this.#fn, ...argsList[0]!),
          );
          this.#submittedItems += argsList.length;
          this.#wakeConsumer?.();
        }
        if (exhausted) return;
      }
    } catch (error) {
      this.#sourceError = { error };
    } finally {
      this.#sourceDone = true;
      this.#wakeConsumer?.();
    }
  }

  /** Ends iteration abnormally: every future still buffered is cancelled (and notified). */
  #fail(): void {
    if (this.#finished) return;
    for (const f of this.#buffer.drain()) f._cancelAndNotify();
    this.#finish();
  }

  #finish(): void {
    this.#finished = true;
    this.#chunk = undefined;
    this.#wakeConsumer?.();
    this.#wakeReader?.();
  }
}
