/**
 * Shared helpers of the benchmark sections: the machine line, a collector,
 * round-robin timing with warm-up, and an aligned table.
 */

import { cpus, availableParallelism, totalmem, platform, arch, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One benchmark section: `npm run bench -- <name>` runs only the sections named. */
export interface Section {
  /** Short name used on the command line (`thread`, `pool`, ...). */
  readonly name: string;
  /** One line saying what the section measures. */
  readonly title: string;
  run(): Promise<void>;
}

/** `AMD EPYC, 2 cores, 23.5 GiB, linux x64, Node v20.20.2` */
export function machine(): string {
  const list = cpus();
  const model = (list[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${model}, ${availableParallelism()} cores, ${gib} GiB, ${platform()} ${arch()}, Node ${process.version}`;
}

/** The 1-minute load average: above the core count, other processes are competing for the CPU. */
export function loadAverage(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')} (1, 5, 15 min)`;
}

/**
 * A full garbage collection, so that one case does not pay for the garbage of
 * the previous one. Works without `--expose-gc` on the command line.
 */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Milliseconds since an arbitrary origin, from the monotonic high-resolution clock. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** One contender: `run(n)` performs `n` operations and resolves when all are done. */
export interface Case {
  readonly name: string;
  run(n: number): Promise<void>;
}

export interface MeasureOptions {
  /** Operations per timed run. */
  n: number;
  /** Timed runs per case; the median is reported. */
  runs: number;
  /** Untimed runs per case before timing starts (at `warmupN` operations). */
  warmups: number;
  /** Operations per warm-up run; `n` by default. */
  warmupN?: number;
}

export interface Result {
  readonly name: string;
  /** Wall-clock milliseconds of each timed run, in run order. */
  readonly times: number[];
  /** Operations per second of the median run. */
  readonly median: number;
  /** Operations per second of the fastest run. */
  readonly best: number;
}

/**
 * Warms every case up, then times them round-robin (case 1, 2, ..., then again)
 * so that drift of the machine spreads evenly over all of them. A full GC runs
 * before every run, outside the timing.
 */
export async function measure(cases: readonly Case[], options: MeasureOptions): Promise<Result[]> {
  const { n, runs, warmups } = options;
  const warmupN = options.warmupN ?? n;
  for (const c of cases) {
    for (let i = 0; i < warmups; i++) {
      collectGarbage();
      await c.run(warmupN);
    }
  }
  const times = cases.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < cases.length; i++) {
      collectGarbage();
      const start = now();
      await cases[i]!.run(n);
      times[i]!.push(now() - start);
    }
  }
  return cases.map((c, i) => {
    const t = times[i]!;
    const sorted = [...t].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return { name: c.name, times: t, median: (n * 1000) / median, best: (n * 1000) / sorted[0]! };
  });
}

/** `1234567.8` → `1,234,568` */
export function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function formatRatio(value: number): string {
  return `${value.toFixed(2)}x`;
}

export type Align = 'left' | 'right';

/** Prints rows under a header, each column padded to its widest cell. */
export function printTable(header: readonly string[], rows: readonly string[][], align?: Align[]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        (align?.[i] ?? (i === 0 ? 'left' : 'right')) === 'left'
          ? cell.padEnd(widths[i]!)
          : cell.padStart(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/**
 * Prints a throughput table: ops/s of the median and best runs, and the ratio
 * of each median to the baseline case's median.
 */
export function printThroughput(results: readonly Result[], baseline: string, unit = 'tasks/s') {
  const base = results.find((r) => r.name === baseline);
  printTable(
    ['', `${unit} (median)`, `${unit} (best)`, `vs ${baseline}`],
    results.map((r) => [
      r.name,
      formatInt(r.median),
      formatInt(r.best),
      base === undefined ? '' : formatRatio(r.median / base.median),
    ]),
  );
}
