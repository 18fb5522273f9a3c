/**
 * A progress bar over the results of `Executor.map` or `asCompleted`, from the
 * `concurrent-futures/progress` entry point:
 *
 * ```ts
 * import { progress } from 'concurrent-futures/progress';
 * for await (const r of progress(executor.map(fn, items, { chunksize: 1000 }))) use(r);
 * ```
 *
 * It counts the values it passes on (items, not chunks) against the total that
 * `map` and `asCompleted` tell it through an internal hook. On a terminal it
 * draws a bar with cli-progress; anywhere else (a pipe, a CI log) it prints a
 * plain line now and then, and a final line. The core entry point does not load
 * this module, so it stays free of dependencies.
 *
 * @module concurrent-futures/progress
 */

import cliProgress, { type Options as BarOptions } from 'cli-progress';
import { argTypeError, argValueError } from './errors.js';
import { EXPECTED, NEXT_READY, type HasExpected, type HasNextReady } from './expected.js';
import { checkKnownOptions, checkOptionsObject, describe } from './validate.js';

/** Where the bar is written: `process.stderr` by default, or any stream with `write`. */
export interface ProgressStream {
  /** Writes a piece of text. */
  write(text: string): unknown;
  /** True for a terminal: an animated bar; otherwise plain lines. */
  readonly isTTY?: boolean | undefined;
  /** The terminal's width in characters; the bar's line is cut to it. */
  readonly columns?: number | undefined;
}

/** Options of {@link progress}. */
export interface ProgressOptions {
  /** Where to write: `process.stderr` by default. */
  stream?: ProgressStream | undefined;
  /** A label at the start of the line. */
  label?: string | undefined;
  /** The number of items expected, instead of the one `map` or `asCompleted` tells. */
  total?: number | undefined;
  /**
   * The least milliseconds between two redraws: 100 on a terminal; between two
   * plain lines elsewhere, 1000. With 0, a plain line for every item.
   */
  interval?: number | undefined;
}

const OPTIONS = ['stream', 'label', 'total', 'interval'];
/** Redraws of the recent past the rate is measured over. */
const RATE_WINDOW = 10;

type Outcome = 'running' | 'done' | 'stopped' | 'failed';

/**
 * Passes on the values of `source` unchanged and in order, showing how many
 * have come, of how many, how fast, and the time left. Leaving the loop early
 * stops the bar and closes `source` (so `map` cancels what has not started);
 * an error from `source` stops the bar and propagates.
 *
 * @example
 * ```ts
 * import { ThreadPoolExecutor } from 'concurrent-futures';
 * import { progress } from 'concurrent-futures/progress';
 *
 * await using executor = new ThreadPoolExecutor();
 * let sum = 0;
 * for await (const square of progress(executor.map((x: number) => x * x, [1, 2, 3, 4]), { label: 'squares' })) {
 *   sum += square;
 * }
 * console.log(sum); // 30; stderr shows e.g. "squares 100% | 4/4 | 3,810/s | 0s"
 * ```
 */
export function progress<T>(
  source: AsyncIterable<T>,
  options?: ProgressOptions,
): AsyncIterableIterator<T> {
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
    throw argTypeError(
      `progress: source must be an async iterable (map or asCompleted results), got ${describe(source)}`,
    );
  }
  checkOptionsObject(options, 'progress options');
  checkKnownOptions(options ?? {}, OPTIONS, 'progress');
  const { stream = process.stderr, label = '', total, interval } = options ?? {};
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') {
    throw argTypeError(`progress: stream must have a write method, got ${describe(stream)}`);
  }
  if (typeof label !== 'string') {
    throw argTypeError(`progress: label must be a string, got ${describe(label)}`);
  }
  checkCount(total, 'total');
  checkCount(interval, 'interval');
  return new ProgressIterator(source, {
    stream,
    label,
    total,
    interval: interval ?? (stream.isTTY === true ? 100 : 1000),
  });
}

function checkCount(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number') {
    throw argTypeError(`progress: ${name} must be a number, got ${describe(value)}`);
  }
  if (!(value >= 0) || value === Infinity) {
    throw argValueError(`progress: ${name} must be a finite number >= 0, got ${value}`);
  }
}

interface Settings {
  stream: ProgressStream;
  label: string;
  total: number | undefined;
  interval: number;
}

class ProgressIterator<T> implements AsyncIterableIterator<T> {
  /** The source's iterator; `map`'s and `asCompleted`'s also answer the internal hooks. */
  readonly #iterator: AsyncIterator<T> & Partial<HasExpected & HasNextReady>;
  readonly #settings: Settings;
  #done = 0;
  #outcome: Outcome = 'running';
  #started = 0;
  /** Recent (time, count) pairs, one per redraw: the rate is measured over them. */
  readonly #samples: [time: number, done: number][] = [];
  /** Plain lines: true when the next item should print a line; the last count printed. */
  #due = false;
  #printed = -1;
  #timer: NodeJS.Timeout | undefined;
  #bar: UnrefBar | undefined;

  constructor(source: AsyncIterable<T>, settings: Settings) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.#settings = settings;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#outcome !== 'running') return this.#iterator.next();
    if (this.#started === 0) this.#start();
    // A value already there (the rest of a map chunk) needs no promise reaction to be counted.
    const ready = this.#iterator[NEXT_READY]?.() as IteratorResult<T> | undefined;
    if (ready !== undefined) return Promise.resolve(this.#onResult(ready));
    let result: Promise<IteratorResult<T>>;
    try {
      result = this.#iterator.next();
    } catch (error) {
      return Promise.reject(error).catch(this.#onError);
    }
    return result.then(this.#onResult, this.#onError);
  }

  /** Leaving the loop early: the bar stops, and the source is closed too. */
  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.#stop('stopped');
    const result = await this.#iterator.return?.(value);
    return result ?? { done: true, value: value as T };
  }

  readonly #onResult = (result: IteratorResult<T>): IteratorResult<T> => {
    if (result.done === true) {
      this.#stop('done');
      return result;
    }
    this.#done++;
    if (this.#due) this.#printLine();
    return result;
  };

  readonly #onError = (error: unknown): never => {
    this.#stop('failed');
    throw error;
  };

  #start(): void {
    this.#started = performance.now();
    const { stream, interval, label } = this.#settings;
    if (stream.isTTY === true) {
      // cli-progress redraws on its own timer, reading the counts through the format function.
      this.#bar = new UnrefBar({
        stream: stream as NodeJS.WritableStream,
        format: (options) => this.#line(options),
        fps: 1000 / Math.max(interval, 1),
        // Room for the counts, the rate and the times beside the bar (cli-progress cuts the rest).
        barsize: Math.max(10, Math.min(30, (stream.columns ?? 80) - 55 - label.length)),
        linewrap: true,
        hideCursor: false,
        gracefulExit: false,
      });
      this.#bar.start(0, 0);
      return;
    }
    this.#printLine();
    if (interval === 0) this.#due = true;
    else this.#timer = setInterval(() => (this.#due = true), interval).unref();
  }

  #printLine(): void {
    this.#due = this.#settings.interval === 0;
    if (this.#done === this.#printed) return;
    this.#printed = this.#done;
    this.#settings.stream.write(this.#line() + '\n');
  }

  #stop(outcome: Outcome): void {
    if (this.#outcome !== 'running') return;
    this.#outcome = outcome;
    if (this.#started === 0) return; // never iterated: nothing was drawn
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#bar !== undefined) {
      this.#bar.stop(); // draws the final line and ends it
    } else {
      this.#printed = -1;
      this.#printLine();
    }
  }

  /** The total to show: the option, or what the source expects once it knows. */
  #total(): number | undefined {
    if (this.#settings.total !== undefined) return this.#settings.total;
    const expected = this.#iterator[EXPECTED];
    if (expected?.known === true) return expected.items;
    return this.#outcome === 'done' ? this.#done : undefined;
  }

  /** `label [=====-----] 45% | 450/1000 | 1,234/s | ETA 3s | 2s`; the bar only on a terminal. */
  #line(barOptions?: BarOptions): string {
    const now = performance.now();
    const done = this.#done;
    const total = this.#total();
    const elapsed = (now - this.#started) / 1000;
    const parts: string[] = [];
    let head = this.#settings.label;
    if (total !== undefined) {
      const fraction = total === 0 ? 1 : Math.min(done / total, 1);
      if (barOptions !== undefined) {
        head += `${head === '' ? '' : ' '}[${cliProgress.Format.BarFormat(fraction, barOptions)}]`;
      }
      head += `${head === '' ? '' : ' '}${Math.floor(fraction * 100)}%`;
      parts.push(head, `${done}/${total}`);
    } else {
      parts.push(`${head}${head === '' ? '' : ' '}${done}`);
    }
    const rate = this.#rate(now, elapsed);
    parts.push(`${formatRate(rate)}/s`);
    if (this.#outcome === 'running' && total !== undefined && rate > 0 && done < total) {
      parts.push(`ETA ${formatTime((total - done) / rate)}`);
    }
    parts.push(formatTime(elapsed));
    if (this.#outcome === 'stopped' || this.#outcome === 'failed') parts.push(this.#outcome);
    return parts.join(' | ');
  }

  /** Items per second over the last few redraws; over the whole run once it has ended. */
  #rate(now: number, elapsed: number): number {
    if (this.#outcome !== 'running') return elapsed > 0 ? this.#done / elapsed : 0;
    const samples = this.#samples;
    samples.push([now, this.#done]);
    if (samples.length > RATE_WINDOW) samples.shift();
    const [time, done] = samples[0]!;
    return now > time ? ((this.#done - done) * 1000) / (now - time) : 0;
  }
}

/**
 * cli-progress's bar redraws from a timer that it creates anew at every redraw;
 * unreferencing it means an abandoned bar never keeps the process alive.
 */
class UnrefBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref();
  }
}

function formatRate(rate: number): string {
  return rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toFixed(rate >= 10 ? 1 : 2);
}

/** `5s`, `1m05s`, `2h03m`. */
function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}
