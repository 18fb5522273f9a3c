/**
 * ThreadPoolExecutor against p-limit and p-queue: 1,000,000 no-op async tasks
 * at concurrency 32, plus the ceiling of calling the async function with no
 * limiter at all, and the cost of per-call control (every call with a signal).
 * (p-queue's own per-task `signal` is left out: it adds a listener per task to
 * the signal, which is quadratic at this size.)
 */

import { ThreadPoolExecutor, wait } from 'concurrent-futures';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { measure, printThroughput, type Case, type Section } from './lib.js';

const N = 1_000_000;
const CONCURRENCY = 32;
const RUNS = 5;
const WARMUPS = 1;
const WARMUP_N = 200_000;

const noop = async (): Promise<void> => {};
const noopWithArg = async (_x: number): Promise<void> => {};

let inputs: number[] = [];

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench/thread: ${what}`);
}

const cases: Case[] = [
  {
    name: 'ThreadPoolExecutor.submit + wait()',
    async run(n) {
      const executor = new ThreadPoolExecutor({ maxWorkers: CONCURRENCY });
      const futures = new Array<ReturnType<typeof executor.submit<[], void>>>(n);
      for (let i = 0; i < n; i++) futures[i] = executor.submit(noop);
      const { notDone } = await wait(futures);
      check(notDone.size === 0, 'wait() left futures not done');
      await executor.shutdown();
    },
  },
  {
    name: 'ThreadPoolExecutor.submit + Promise.all',
    async run(n) {
      const executor = new ThreadPoolExecutor({ maxWorkers: CONCURRENCY });
      const futures = new Array<ReturnType<typeof executor.submit<[], void>>>(n);
      for (let i = 0; i < n; i++) futures[i] = executor.submit(noop);
      await Promise.all(futures);
      await executor.shutdown();
    },
  },
  {
    // Per-call control: every call carries one shared AbortSignal (never aborted here).
    name: 'ThreadPoolExecutor.with({ signal }).submit + wait()',
    async run(n) {
      const executor = new ThreadPoolExecutor({ maxWorkers: CONCURRENCY });
      const controlled = executor.with({ signal: new AbortController().signal });
      const futures = new Array<ReturnType<typeof executor.submit<[], void>>>(n);
      for (let i = 0; i < n; i++) futures[i] = controlled.submit(noop);
      const { notDone } = await wait(futures);
      check(notDone.size === 0, 'wait() left futures not done');
      await executor.shutdown();
    },
  },
  {
    name: 'ThreadPoolExecutor.map (for await)',
    async run(n) {
      const executor = new ThreadPoolExecutor({ maxWorkers: CONCURRENCY });
      let count = 0;
      for await (const _ of executor.map(noopWithArg, inputs.slice(0, n))) count++;
      check(count === n, `map yielded ${count} results, expected ${n}`);
      await executor.shutdown();
    },
  },
  {
    name: `p-limit(${CONCURRENCY}) + Promise.all`,
    async run(n) {
      const limit = pLimit(CONCURRENCY);
      const promises = new Array<Promise<void>>(n);
      for (let i = 0; i < n; i++) promises[i] = limit(noop);
      await Promise.all(promises);
    },
  },
  {
    name: `p-queue(${CONCURRENCY}) add + onIdle`,
    async run(n) {
      const queue = new PQueue({ concurrency: CONCURRENCY });
      for (let i = 0; i < n; i++) void queue.add(noop);
      await queue.onIdle();
      check(queue.size === 0 && queue.pending === 0, 'p-queue not idle');
    },
  },
  {
    name: 'ceiling: bare calls + Promise.all',
    async run(n) {
      const promises = new Array<Promise<void>>(n);
      for (let i = 0; i < n; i++) promises[i] = noop();
      await Promise.all(promises);
    },
  },
];

const section: Section = {
  name: 'thread',
  title: `${N.toLocaleString('en-US')} no-op async tasks at concurrency ${CONCURRENCY}`,
  async run() {
    inputs = Array.from({ length: N }, (_, i) => i);
    const results = await measure(cases, { n: N, runs: RUNS, warmups: WARMUPS, warmupN: WARMUP_N });
    inputs = [];
    const baseline = `p-limit(${CONCURRENCY}) + Promise.all`;
    printThroughput(results, baseline);
    const rate = (name: string): number => results.find((r) => r.name === name)!.median;
    const vsPLimit = (name: string): number => rate(name) / rate(baseline);
    const all = vsPLimit('ThreadPoolExecutor.submit + Promise.all');
    const waited = vsPLimit('ThreadPoolExecutor.submit + wait()');
    console.log(
      `\ngoals: Promise.all >= 1.5x p-limit: ${all >= 1.5 ? 'met' : 'not met'} (${all.toFixed(2)}x); ` +
        `wait() >= 4x p-limit: ${waited >= 4 ? 'met' : 'not met'} (${waited.toFixed(2)}x)`,
    );
    console.log(
      `\n${RUNS} timed runs per case, round-robin, after ${WARMUPS} warm-up run of ` +
        `${WARMUP_N.toLocaleString('en-US')}; full GC before each run; ratio uses the median.`,
    );
  },
};

export default section;
