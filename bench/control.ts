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
 * A stream of calls that each overrun a 5 ms deadline in a synchronous loop
 * (one after another), beside a stream of 1 ms calls (one after another) on the
 * same pool of two workers: how many 1 ms calls per second still complete, to
 * compare with the same stream alone. Worker threads stop each loop at once (it
 * checks its signal); a child process cannot see the abort inside the loop, so
 * each overrun costs a forced stop after the grace period and a new process.
 */
async function overrunStream(make: () => Pool, count: number): Promise<string[]> {
  const ex = make();
  const GRACE_OVERRUN = 20;
  let stopped = 0;
  ex.on('workerExit', ({ reason }) => void (reason === 'stopped' && stopped++));
  try {
    await Promise.all([ex.submit(tasks.noop), ex.submit(tasks.noop)]);
    const lane = async (until: () => boolean): Promise<number> => {
      let n = 0;
      while (!until()) {
        await ex.submit(tasks.spinFor, 1);
        n++;
      }
      return n;
    };
    // The 1 ms stream alone, for one second.
    let t = now();
    const alone = (await lane(() => now() - t > 1_000)) / ((now() - t) / 1000);
    // The same beside the overruns.
    const view = ex.with({ timeout: 5, gracePeriod: GRACE_OVERRUN });
    let overrunsDone = false;
    let timedOut = 0;
    t = now();
    const overruns = (async () => {
      for (let i = 0; i < count; i++) {
        if ((await view.submit(tasks.spinChecking, 1_000).exception()) !== undefined) timedOut++;
      }
      overrunsDone = true;
    })();
    const beside = await lane(() => overrunsDone);
    await overruns;
    const seconds = (now() - t) / 1000;
    return [
      `${timedOut} of ${count}`,
      `${(count / seconds).toFixed(0)} /s`,
      `${(beside / seconds).toFixed(0)} /s (alone: ${alone.toFixed(0)} /s)`,
      `${stopped}`,
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
        'overruns ended',
        '1 ms calls beside them',
        'workers stopped by force',
      ],
      stream,
    );
  },
};

export default section;
