/**
 * Executor statistics: a plain snapshot from `executor.stats()`, with wait and
 * run times over a recent window rather than the executor's whole life (a
 * lifetime histogram stops moving once it is large, and tells nothing of now).
 */

/** Percentiles of a recent window of durations, in milliseconds (0 when the window is empty). */
export interface Percentiles {
  /** The median. */
  readonly p50: number;
  /** 90% of the samples are at most this. */
  readonly p90: number;
  /** 99% of the samples are at most this. */
  readonly p99: number;
  /** How many samples the window holds (at most the last 1,024; one call in 16 is timed). */
  readonly samples: number;
}

/** What `executor.stats()` returns: a snapshot, not a live view. */
export interface ExecutorStats {
  /** The workers, by what they do now. */
  readonly workers: {
    /** Workers started and not yet exited (logical workers for `ThreadPoolExecutor`). */
    readonly alive: number;
    /** Workers that hold at least one task. */
    readonly busy: number;
    /** Workers that hold nothing. */
    readonly idle: number;
  };
  /** The calls: where they are now, and how the finished ones ended (counted once their worker is free of them). */
  readonly tasks: {
    /** Submitted and waiting in this process (cancellable). */
    readonly queued: number;
    /** Handed to a busy worker ahead of its results, beyond the one it runs. */
    readonly handedAhead: number;
    /** Running: at most one per busy worker (more when async tasks overlap). */
    readonly running: number;
    /** Calls that returned a value. */
    readonly completed: number;
    /** Calls that failed: raised, crashed, timed out, aborted while running. */
    readonly failed: number;
    /** Calls cancelled before they started. */
    readonly cancelled: number;
  };
  /** Workers that died without being asked to exit (crashes, kills, forced stops). */
  readonly workerDeaths: number;
  /** From `submit` to the moment the call was handed to a worker (or started). */
  readonly waitMs: Percentiles;
  /** From that moment until the call settled. */
  readonly runMs: Percentiles;
}

const WINDOW = 1024;

/** @internal The last {@link WINDOW} durations, in a ring; percentiles on demand. */
export class TimeWindow {
  readonly #samples = new Float64Array(WINDOW);
  #next = 0;
  #count = 0;

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % WINDOW;
    if (this.#count < WINDOW) this.#count++;
  }

  percentiles(): Percentiles {
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (q: number): number =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), samples: sorted.length };
  }
}

/** @internal Counts of settled tasks. */
export class Outcomes {
  completed = 0;
  failed = 0;
  cancelled = 0;
  readonly wait = new TimeWindow();
  readonly run = new TimeWindow();
}
