/**
 * Control of running calls (issue 7): how long from `abort()` to the future
 * failing, cooperatively (the task passes its signal on) and by force (a loop
 * that never checks, ended after the grace period), and to a replacement
 * worker taking work; a stream of calls that overrun a 5 ms deadline in a
 * synchronous loop, with the work the pool still completes beside them.
 */

import {
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  taskModule,
  type Future,
} from 'concurrent-futures';
import { now, printTable, type Section } from './lib.js';

const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url));
const ROUNDS = 7;
const GRACE = 50;

type Pool = InterpreterPoolExecutor | ProcessPoolExecutor;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Resolves once `future` is running (handed to a worker). */
async function running(future: Future<unknown>): Promise<void> {
  while (!future.running() && !future.done()) await new Promise((r) => setTimeout(r, 1));
}

/**
 * On a pool of one worker, so that the next call must wait for it: how long
 * from `abort()` until the future fails (the contract says at once), and until
 * the next call has run, that is until the aborted task really stopped
 * (cooperative: the task passed its signal to a timer) or its worker was ended
 * after the grace period and a replacement took the call (forced: a loop that
 * never checks).
 */
async function latencies(make: () => Pool): Promise<string[]> {
  const ex = make();
  const failed = { cooperative: [] as number[], forced: [] as number[] };
  const free = { cooperative: [] as number[], forced: [] as number[] };
  try {
    await ex.submit(tasks.noop);
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of ['cooperative', 'forced'] as const) {
        const controller = new AbortController();
        const view = ex.with({ signal: controller.signal, gracePeriod: GRACE });
        const future =
          kind === 'cooperative'
            ? view.submit(tasks.sleepWithSignal, 60_000)
            : view.submit(tasks.spinFor, 60_000);
        await running(future);
        await new Promise((r) => setTimeout(r, 20));
        const t = now();
        controller.abort();
        const next = ex.submit(tasks.noop);
        await future.exception();
        failed[kind].push(now() - t);
        await next;
        free[kind].push(now() - t);
      }
    }
  } finally {
    await ex.shutdown();
  }
  const ms = (values: number[]): string => `${median(values).toFixed(2)} ms`;
  return [
    ms(failed.cooperative),
    ms(free.cooperative),
    ms(failed.forced),
    `${ms(free.forced)} (grace ${GRACE} ms)`,
  ];
}

/**
 * Calls that each overrun a 5 ms deadline in a synchronous loop, beside 1 ms
 * calls: worker threads stop each loop at once (it checks its signal); child
 * processes cannot see the abort inside the loop, so each overrun costs a
 * forced stop and a new process (hence fewer of them).
 */
async function overrunStream(make: () => Pool, count: number): Promise<string[]> {
  const ex = make();
  try {
    await Promise.all([ex.submit(tasks.noop), ex.submit(tasks.noop)]);
    const t = now();
    const overruns = Array.from({ length: count }, () =>
      ex.with({ timeout: 5, gracePeriod: 0 }).submit(tasks.spinChecking, 20),
    );
    const beside: Future<unknown>[] = [];
    const deadline = t + 60_000;
    let done = 0;
    const all = Promise.allSettled(overruns).then(() => (done = 1));
    while (done === 0 && now() < deadline) {
      beside.push(ex.submit(tasks.spinFor, 1));
      await beside.at(-1);
    }
    await all;
    const seconds = (now() - t) / 1000;
    const timedOut = (await Promise.all(overruns.map((f) => f.exception()))).filter(Boolean).length;
    return [
      `${timedOut} of ${count}`,
      `${(count / seconds).toFixed(0)} /s`,
      `${(beside.length / seconds).toFixed(0)} /s`,
      `${ex.stats().workerDeaths}`,
    ];
  } finally {
    await ex.shutdown();
  }
}

const section: Section = {
  name: 'control',
  title: 'abort and deadline: latency to fail, forced stop, replacement; a stream of overruns',
  async run() {
    const makers: [string, () => Pool][] = [
      ['InterpreterPoolExecutor', () => new InterpreterPoolExecutor({ maxWorkers: 2 })],
      ['ProcessPoolExecutor', () => new ProcessPoolExecutor({ maxWorkers: 2 })],
    ];
    const rows: string[][] = [];
    for (const [name] of makers) {
      const one = name.startsWith('Process')
        ? () => new ProcessPoolExecutor({ maxWorkers: 1 })
        : () => new InterpreterPoolExecutor({ maxWorkers: 1 });
      rows.push([name, ...(await latencies(one))]);
    }
    console.log('One worker; median of', ROUNDS, 'rounds.');
    printTable(
      [
        'executor',
        'cooperative: abort → fail',
        'abort → next call done',
        'forced: abort → fail',
        'abort → next call done',
      ],
      rows,
    );
    console.log();
    const stream: string[][] = [];
    for (const [name, make] of makers) {
      stream.push([name, ...(await overrunStream(make, name.startsWith('Process') ? 100 : 1000))]);
    }
    printTable(
      [
        'executor',
        'timed out',
        'overrunning calls ended',
        '1 ms calls beside them',
        'workers ended',
      ],
      stream,
    );
  },
};

export default section;
