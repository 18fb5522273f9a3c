/**
 * InterpreterPoolExecutor and ProcessPoolExecutor against piscina, tinypool,
 * workerpool and poolifier, all with the same number of workers, in one run:
 *
 * (a) 100,000 no-op tasks submitted at once, all awaited (Promise.all, and
 *     ours also with wait()), beside per-task floors with no library at all;
 * (b) 1,000,000 tiny tasks (x => x * 2) through `map` with a large chunksize,
 *     beside the ceiling of hand-batched arrays of 1,000 to bare worker_threads workers;
 * (c) 32 CPU-bound tasks (recursive Fibonacci, ~1.5 ms and ~15 ms each) against
 *     the serial time in this process: speedup and efficiency;
 * (d) 10,000 sequential round trips: median and p99 latency;
 * (e) time from creating the pool to its first result in a fresh process, and
 *     memory per idle worker.
 *
 * Pools are warmed up (every worker started and has run tasks) before anything
 * is timed. Our executors run module tasks (bench/tasks.ts, through
 * `taskModule`) and, where natural, source-shipped functions; the peers run
 * the same functions from plain JavaScript worker files (bench/workers/),
 * because on Node 20 worker threads do not inherit the tsx loader.
 */

import { execFile, fork, type ChildProcess, type Serializable } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InterpreterPoolExecutor, ProcessPoolExecutor, taskModule, wait } from 'concurrent-futures';
import { Piscina } from 'piscina';
import { FixedThreadPool } from 'poolifier';
import { Tinypool } from 'tinypool';
import workerpool from 'workerpool';
import {
  collectGarbage,
  formatInt,
  formatRatio,
  loadAverage,
  measure,
  now,
  printTable,
  type Case,
  type Section,
} from './lib.js';
import { fib } from './tasks.js';

const WORKERS = availableParallelism();
const TASKS_URL = new URL('./tasks.ts', import.meta.url);
const tasks = taskModule<typeof import('./tasks.js')>(TASKS_URL);
const worker = (file: string): URL => new URL(`./workers/${file}`, import.meta.url);

// (a)
const NOOP_N = 100_000;
const NOOP_RUNS = 3;
const NOOP_WARMUP_N = 20_000;
// (b)
const MAP_N = 1_000_000;
const HAND_BATCH = 1_000;
const CHUNKSIZES = [10_000, MAP_N / (WORKERS * 8)];
const MAP_RUNS = 5;
// (c)
const CPU_TASKS = 32;
const CPU_TARGETS_MS = [1.5, 15];
const CPU_RUNS = 7;
// (d)
const TRIPS = 10_000;
const TRIP_WARMUP = 1_000;
// (e)
const STARTUP_RUNS = 5;
const MEMORY_RUNS = 3;

/** Source-shipped twins of the module tasks (compiled once per worker). */
const noopSource = (): void => {};
const doubleSource = (x: number): number => x * 2;

/** One pool under test, created and warmed up. */
interface Contender {
  readonly name: string;
  readonly ours: boolean;
  noop(): PromiseLike<unknown>;
  fib(n: number): PromiseLike<unknown>;
  whoami(): PromiseLike<unknown>;
  /** Peers: one task doubling a whole array (the hand-batched idiom). */
  doubleAll?(xs: number[]): PromiseLike<number[]>;
  close(): PromiseLike<unknown>;
}

type OurExecutor = InterpreterPoolExecutor | ProcessPoolExecutor;

function ours(name: string, executor: OurExecutor): Contender {
  return {
    name,
    ours: true,
    noop: () => executor.submit(tasks.noop),
    fib: (n) => executor.submit(tasks.fib, n),
    whoami: () => executor.submit(tasks.whoami),
    close: () => executor.shutdown(),
  };
}

function piscina(name: string, options: { concurrentTasksPerWorker?: number } = {}): Contender {
  const pool = new Piscina({
    filename: worker('piscina.mjs').href,
    minThreads: WORKERS,
    maxThreads: WORKERS,
    ...options,
  });
  return {
    name,
    ours: false,
    noop: () => pool.run(undefined, { name: 'noop' }),
    fib: (n) => pool.run(n, { name: 'fib' }),
    whoami: () => pool.run(undefined, { name: 'whoami' }),
    doubleAll: (xs) => pool.run(xs, { name: 'doubleAll' }),
    close: () => pool.destroy(),
  };
}

function peers(): Contender[] {
  const tinypool = new Tinypool({
    filename: worker('piscina.mjs').href,
    minThreads: WORKERS,
    maxThreads: WORKERS,
  });
  const wp = workerpool.pool(fileURLToPath(worker('workerpool.mjs')), {
    minWorkers: WORKERS,
    maxWorkers: WORKERS,
    workerType: 'thread',
  });
  const poolifier = new FixedThreadPool(WORKERS, fileURLToPath(worker('poolifier.mjs')));
  return [
    piscina('piscina'),
    {
      name: 'tinypool',
      ours: false,
      noop: () => tinypool.run(undefined, { name: 'noop' }),
      fib: (n) => tinypool.run(n, { name: 'fib' }),
      whoami: () => tinypool.run(undefined, { name: 'whoami' }),
      doubleAll: (xs) => tinypool.run(xs, { name: 'doubleAll' }),
      close: () => tinypool.destroy(),
    },
    {
      name: 'workerpool',
      ours: false,
      noop: () => wp.exec('noop', []),
      fib: (n) => wp.exec('fib', [n]),
      whoami: () => wp.exec('whoami', []),
      doubleAll: (xs) => wp.exec('doubleAll', [xs]) as PromiseLike<number[]>,
      close: async () => {
        await wp.terminate();
      },
    },
    {
      name: 'poolifier',
      ours: false,
      noop: () => poolifier.execute(undefined, 'noop'),
      fib: (n) => poolifier.execute(n, 'fib'),
      whoami: () => poolifier.execute(undefined, 'whoami'),
      doubleAll: (xs) => poolifier.execute(xs, 'doubleAll') as Promise<number[]>,
      close: () => poolifier.destroy(),
    },
  ];
}

/** Runs batches of `whoami` until every one of the `WORKERS` workers has answered. */
async function warmUp(c: Contender): Promise<void> {
  const seen = new Set<unknown>();
  for (let round = 0; round < 200 && seen.size < WORKERS; round++) {
    const ids = await Promise.all(Array.from({ length: 4 * WORKERS }, () => c.whoami()));
    for (const id of ids) seen.add(id);
  }
  if (seen.size < WORKERS)
    throw new Error(`${c.name}: only ${seen.size} of ${WORKERS} workers started`);
  // Some no-ops and a little CPU work, so that the task code is compiled in every worker.
  await Promise.all(Array.from({ length: 2_000 }, () => c.noop()));
  await Promise.all(Array.from({ length: 8 * WORKERS }, () => c.fib(20)));
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench/pool: ${what}`);
}

const yes = (ok: boolean): string => (ok ? 'yes' : 'NO');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------
// (a) 100,000 no-op tasks submitted at once

/** Records per message of the per-task floors: what our pools hand a worker of no-op tasks at once. */
const RECORD_BATCH = 1_024;

/**
 * The per-task floor with no library: `n` no-op task records (id, function id,
 * argument count) posted by hand in batches to `WORKERS` bare workers
 * (workers/records.mjs) that answer each batch with its result records. With
 * `promises`, the parent also makes one promise per task, resolves each from
 * its result record and collects them with Promise.all: the least a pool whose
 * tasks are awaited one by one must do.
 */
async function recordWorkers(): Promise<{
  run(n: number, promises: boolean): Promise<void>;
  close(): Promise<unknown>;
}> {
  const workers = Array.from({ length: WORKERS }, () => new Worker(worker('records.mjs')));
  let onResults: (results: unknown[]) => void = () => {};
  for (const w of workers) w.on('message', (results: unknown[]) => onResults(results));
  return {
    run: (n, promises) =>
      new Promise<void>((done, fail) => {
        const resolvers: ((value: unknown) => void)[] = [];
        const all: Promise<unknown>[] = [];
        let settled = 0;
        onResults = (results) => {
          for (let i = 0; i < results.length; i += 3) {
            if (promises) resolvers[(results[i] as number) - 1]!(results[i + 2]);
          }
          settled += results.length / 3;
          if (settled === n) {
            if (promises) Promise.all(all).then(() => done(), fail);
            else done();
          }
        };
        for (let first = 1, k = 0; first <= n; first += RECORD_BATCH, k++) {
          const records: number[] = [];
          const last = Math.min(n, first + RECORD_BATCH - 1);
          for (let id = first; id <= last; id++) {
            if (promises) all.push(new Promise((resolve) => resolvers.push(resolve)));
            records.push(id, 1, 0);
          }
          workers[k % WORKERS]!.postMessage(records);
        }
      }),
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

async function noopThroughput(contenders: Contender[], executors: OurExecutor[]): Promise<void> {
  const all = async (n: number, run: () => PromiseLike<unknown>): Promise<void> => {
    const promises = new Array<PromiseLike<unknown>>(n);
    for (let i = 0; i < n; i++) promises[i] = run();
    await Promise.all(promises);
  };
  const cases: Case[] = [];
  for (const c of contenders) {
    cases.push({
      name: c.ours ? `${c.name} (module task)` : c.name,
      run: (n) => all(n, () => c.noop()),
    });
    const executor = executors.find((e) => e.constructor.name === c.name);
    if (executor !== undefined) {
      cases.push({
        name: `${c.name} (source fn)`,
        run: (n) => all(n, () => executor.submit(noopSource)),
      });
      cases.push({
        name: `${c.name} (module task, wait())`,
        async run(n) {
          const futures = new Array<ReturnType<typeof executor.submit>>(n);
          for (let i = 0; i < n; i++) futures[i] = executor.submit(tasks.noop);
          const { notDone } = await wait(futures);
          check(notDone.size === 0, 'wait() left futures not done');
        },
      });
    }
  }
  // piscina's setting for short tasks: each worker takes several at once.
  const tuned = piscina('piscina (concurrentTasksPerWorker: 16)', { concurrentTasksPerWorker: 16 });
  await warmUp(tuned);
  cases.push({ name: tuned.name, run: (n) => all(n, () => tuned.noop()) });
  // The floors: no library; and the hand-batched ceiling of section (b), in items/s.
  const records = await recordWorkers();
  const FLOOR_RECORDS = `floor: ${formatInt(RECORD_BATCH)} records a message, bare workers`;
  const FLOOR_PROMISES = `${FLOOR_RECORDS}, + 1 promise per task, Promise.all`;
  const CEILING = `ceiling of (b): arrays of ${formatInt(HAND_BATCH)} to ${WORKERS} bare workers (items/s)`;
  cases.push(
    { name: FLOOR_RECORDS, run: (n) => records.run(n, false) },
    { name: FLOOR_PROMISES, run: (n) => records.run(n, true) },
  );
  const bare = await bareWorkers(WORKERS);
  const input = Array.from({ length: NOOP_N }, (_, i) => i);
  cases.push({
    name: CEILING,
    async run(n) {
      check((await bare.run(input.slice(0, n))) === n * (n - 1), 'hand-batched ceiling');
    },
  });
  const results = await measure(cases, {
    n: NOOP_N,
    runs: NOOP_RUNS,
    warmups: 1,
    warmupN: NOOP_WARMUP_N,
  });
  await Promise.all([tuned.close(), records.close(), bare.close()]);
  const isOurs = (name: string): boolean => name.includes('PoolExecutor');
  const isPeer = (name: string): boolean =>
    !isOurs(name) && !name.startsWith('floor') && !name.startsWith('ceiling');
  const bestPeer = Math.max(...results.filter((r) => isPeer(r.name)).map((r) => r.median));
  const ceiling = results.find((r) => r.name === CEILING)!.median;
  printTable(
    [
      '',
      'tasks/s (median)',
      'tasks/s (best)',
      'vs fastest peer',
      'vs ceiling',
      'goal: Promise.all >= 10x peer, wait() >= 0.25 ceiling',
    ],
    results.map((r) => {
      const waited = r.name.includes('wait()');
      const goal = !isOurs(r.name)
        ? ''
        : waited
          ? yes(r.median >= 0.25 * ceiling)
          : yes(r.median >= 10 * bestPeer);
      return [
        r.name,
        formatInt(r.median),
        formatInt(r.best),
        formatRatio(r.median / bestPeer),
        formatRatio(r.median / ceiling),
        goal,
      ];
    }),
  );
  console.log(
    `\n${NOOP_RUNS} timed runs per case, round-robin, after a warm-up run of ` +
      `${formatInt(NOOP_WARMUP_N)}; ratios use the medians. The floors run no library: no-op ` +
      `task records (id, function id, argument count) posted by hand to ${WORKERS} bare worker ` +
      `threads ${formatInt(RECORD_BATCH)} at a time, as our pools batch them, answered with one ` +
      `result record each; the second also makes, resolves and collects one promise per task. ` +
      `The ceiling is (b)'s: ${formatInt(HAND_BATCH)} numbers a message, doubled.`,
  );
}

// ---------------------------------------------------------------------------
// (b) 1,000,000 tiny tasks through map, beside hand-batched arrays

/** The ceiling: arrays of `HAND_BATCH` numbers posted by hand to `count` bare workers. */
async function bareWorkers(
  count: number,
): Promise<{ run(input: number[]): Promise<number>; close(): Promise<unknown> }> {
  const workers = Array.from({ length: count }, () => new Worker(worker('bare.mjs')));
  const waiting = workers.map(() => [] as ((xs: number[]) => void)[]);
  workers.forEach((w, i) => w.on('message', (xs: number[]) => waiting[i]!.shift()!(xs)));
  const post = (i: number, xs: number[]): Promise<number[]> =>
    new Promise((resolve) => {
      waiting[i]!.push(resolve);
      workers[i]!.postMessage(xs);
    });
  await Promise.all(workers.map((_, i) => post(i, [1, 2, 3])));
  return {
    async run(input) {
      const replies: Promise<number[]>[] = [];
      for (let off = 0, k = 0; off < input.length; off += HAND_BATCH, k++) {
        replies.push(post(k % count, input.slice(off, off + HAND_BATCH)));
      }
      let sum = 0;
      for (const reply of replies) {
        const xs = await reply;
        for (let i = 0; i < xs.length; i++) sum += xs[i]!;
      }
      return sum;
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

async function mapThroughput(contenders: Contender[], executors: OurExecutor[]): Promise<void> {
  const input = Array.from({ length: MAP_N }, (_, i) => i);
  const expected = MAP_N * (MAP_N - 1);
  const cases: Case[] = [];
  const verify = (name: string, sum: number): void =>
    check(sum === expected, `${name}: sum ${sum}, expected ${expected}`);
  const bare = [await bareWorkers(1), await bareWorkers(WORKERS)];
  bare.forEach((b, i) => {
    const name = `ceiling: arrays of ${formatInt(HAND_BATCH)} to ${i === 0 ? 1 : WORKERS} bare worker${i === 0 ? '' : 's'}`;
    cases.push({ name, run: async () => verify(name, await b.run(input)) });
  });
  for (const executor of executors) {
    const label = executor.constructor.name;
    const mapCase = (fn: (x: number) => number, what: string, chunksize: number): Case => {
      const name = `${label}.map (${what}, chunksize ${formatInt(chunksize)})`;
      return {
        name,
        async run() {
          let sum = 0;
          for await (const v of executor.map(fn, input, { chunksize })) sum += v;
          verify(name, sum);
        },
      };
    };
    for (const chunksize of CHUNKSIZES) cases.push(mapCase(tasks.double, 'module', chunksize));
    cases.push(mapCase(doubleSource, 'source fn', CHUNKSIZES[0]!));
  }
  for (const c of contenders) {
    if (c.doubleAll === undefined) continue;
    const doubleAll = c.doubleAll.bind(c);
    const name = `${c.name}: arrays of ${formatInt(HAND_BATCH)} as tasks`;
    cases.push({
      name,
      async run() {
        const replies: PromiseLike<number[]>[] = [];
        for (let off = 0; off < input.length; off += HAND_BATCH) {
          replies.push(doubleAll(input.slice(off, off + HAND_BATCH)));
        }
        let sum = 0;
        for (const reply of replies) {
          const xs = await reply;
          for (let i = 0; i < xs.length; i++) sum += xs[i]!;
        }
        verify(name, sum);
      },
    });
  }
  cases.push({
    name: `reference: for await over ${formatInt(MAP_N)} ready values, no workers`,
    async run() {
      let i = 0;
      const ready: AsyncIterableIterator<number> = {
        next: () =>
          Promise.resolve(
            i < input.length
              ? { done: false, value: input[i++]! * 2 }
              : { done: true, value: undefined },
          ),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      let sum = 0;
      for await (const v of ready) sum += v;
      verify('for await', sum);
    },
  });
  const results = await measure(cases, { n: MAP_N, runs: MAP_RUNS, warmups: 2 });
  await Promise.all(bare.map((b) => b.close()));
  const ceiling = Math.max(
    ...results.filter((r) => r.name.startsWith('ceiling')).map((r) => r.median),
  );
  printTable(
    ['', 'items/s (median)', 'items/s (best)', 'vs ceiling', 'goal >= 0.8'],
    results.map((r) => [
      r.name,
      formatInt(r.median),
      formatInt(r.best),
      formatRatio(r.median / ceiling),
      r.name.includes('.map (') ? yes(r.median >= 0.8 * ceiling) : '',
    ]),
  );
  console.log(
    `\nceiling = the faster bare-worker row. Every case sums the ${formatInt(MAP_N)} results; ` +
      `our map with for await, one item at a time (the reference row is the cost of that ` +
      `alone). ${MAP_RUNS} timed runs per case after 2 warm-ups.`,
  );
}

// ---------------------------------------------------------------------------
// (c) CPU-bound tasks: speedup and efficiency

/** Milliseconds of one `fib(n)` call in this process, once warmed up (median of several). */
function fibMs(n: number): number {
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const start = now();
    fib(n);
    times.push(now() - start);
  }
  return median(times);
}

/** The `n` whose `fib(n)` takes closest to `targetMs`, on a log scale. */
function calibrate(targetMs: number): { n: number; ms: number } {
  for (let i = 0; i < 20; i++) fib(20);
  let best = { n: 10, ms: fibMs(10) };
  for (let n = 11; n <= 40; n++) {
    const ms = fibMs(n);
    if (Math.abs(Math.log(ms / targetMs)) < Math.abs(Math.log(best.ms / targetMs)))
      best = { n, ms };
    if (ms > targetMs * 2) break;
  }
  return best;
}

async function cpuBound(contenders: Contender[]): Promise<void> {
  const rows: string[][] = [];
  for (const [k, target] of CPU_TARGETS_MS.entries()) {
    // The goals, on the medians: 0.9 for ~1.5 ms tasks, 0.95 for ~15 ms tasks.
    const goal = k === 0 ? 0.9 : 0.95;
    const { n, ms } = calibrate(target);
    const expected = fib(n);
    const serial: number[] = [];
    const parallel = contenders.map(() => [] as number[]);
    // One untimed round each, then round-robin: serial, then every contender.
    for (const c of contenders)
      await Promise.all(Array.from({ length: CPU_TASKS }, () => c.fib(n)));
    for (let run = 0; run < CPU_RUNS; run++) {
      collectGarbage();
      let start = now();
      let sum = 0;
      for (let i = 0; i < CPU_TASKS; i++) sum += fib(n);
      serial.push(now() - start);
      check(sum === CPU_TASKS * expected, 'serial fib');
      for (const [i, c] of contenders.entries()) {
        collectGarbage();
        start = now();
        const results = await Promise.all(Array.from({ length: CPU_TASKS }, () => c.fib(n)));
        parallel[i]!.push(now() - start);
        check(
          results.every((r) => r === expected),
          `${c.name}: wrong fib results`,
        );
      }
    }
    const serialBest = Math.min(...serial);
    const serialMedian = median(serial);
    rows.push([
      `serial, this process: fib(${n}) ≈ ${ms.toFixed(2)} ms each`,
      serialBest.toFixed(1),
      serialMedian.toFixed(1),
      '',
      '',
      '',
      '',
    ]);
    for (const [i, c] of contenders.entries()) {
      const best = Math.min(...parallel[i]!);
      const med = median(parallel[i]!);
      const efficiency = serialBest / best / WORKERS;
      const medianEfficiency = serialMedian / med / WORKERS;
      rows.push([
        `  ${c.name}`,
        best.toFixed(1),
        med.toFixed(1),
        formatRatio(serialBest / best),
        efficiency.toFixed(3),
        medianEfficiency.toFixed(3),
        c.ours ? `${yes(medianEfficiency >= goal)} (medians >= ${goal})` : '',
      ]);
    }
  }
  printTable(
    [
      `${CPU_TASKS} tasks of fib(n)`,
      'ms (best)',
      'ms (median)',
      'speedup',
      'efficiency',
      'eff. (medians)',
      'goal',
    ],
    rows,
  );
  console.log(
    `\nspeedup = serial / parallel time, best runs; efficiency = speedup / ${WORKERS} workers (the ` +
      `best run is the one least disturbed by other processes; the medians' ratio is shown beside). ` +
      `n calibrated in this process for ~${CPU_TARGETS_MS.join(' ms and ~')} ms per task; ` +
      `${CPU_RUNS} runs each, round-robin (serial, then every pool), after one untimed round.`,
  );
}

// ---------------------------------------------------------------------------
// (d) sequential round trips

interface Echo {
  call(message: unknown): Promise<unknown>;
  close(): Promise<unknown>;
}

/** A bare worker thread or child process that echoes each message: the round-trip floor. */
function echo(target: Worker | ChildProcess): Echo {
  let resolve: ((value: unknown) => void) | undefined;
  target.on('message', (message: unknown) => resolve!(message));
  if (target instanceof Worker) {
    return {
      call: (message) =>
        new Promise((r) => {
          resolve = r;
          target.postMessage(message);
        }),
      close: () => target.terminate(),
    };
  }
  return {
    call: (message) =>
      new Promise((r) => {
        resolve = r;
        target.send(message as Serializable);
      }),
    close: () =>
      new Promise((r) => {
        target.once('exit', r);
        target.kill();
      }),
  };
}

async function roundTrips(contenders: Contender[], executors: OurExecutor[]): Promise<void> {
  const cases: { name: string; ours: boolean; call: () => PromiseLike<unknown> }[] = [];
  for (const c of contenders) {
    cases.push({
      name: c.ours ? `${c.name} (module task)` : c.name,
      ours: c.ours,
      call: () => c.noop(),
    });
    const executor = executors.find((e) => c.name === e.constructor.name);
    if (executor !== undefined) {
      cases.push({
        name: `${c.name} (source fn)`,
        ours: true,
        call: () => executor.submit(noopSource),
      });
    }
  }
  // tinypool pipes each child's stdout and stderr into ours: room for those listeners.
  for (const stream of [process.stdout, process.stderr]) {
    stream.setMaxListeners(stream.getMaxListeners() + WORKERS);
  }
  const tinypoolProcesses = new Tinypool({
    filename: worker('piscina.mjs').href,
    minThreads: WORKERS,
    maxThreads: WORKERS,
    runtime: 'child_process',
  });
  cases.push({
    name: 'tinypool (child_process runtime)',
    ours: false,
    call: () => tinypoolProcesses.run(undefined, { name: 'noop' }),
  });
  const echoThread = echo(new Worker(worker('echo.mjs')));
  const echoProcess = echo(
    fork(fileURLToPath(worker('echo.mjs')), [], { serialization: 'advanced' }),
  );
  const message = { t: 'run', defs: undefined, tasks: [1, 1, []] };
  cases.push(
    { name: 'floor: bare worker thread echo', ours: false, call: () => echoThread.call(message) },
    {
      name: 'floor: bare child process echo (IPC)',
      ours: false,
      call: () => echoProcess.call(message),
    },
  );
  const isPeer = (c: { name: string; ours: boolean }): boolean =>
    !c.ours && !c.name.startsWith('floor') && !c.name.includes('child_process');
  const samples = cases.map(() => [] as number[]);
  for (const c of cases) for (let i = 0; i < TRIP_WARMUP; i++) await c.call();
  // Interleaved in blocks of 1,000, so that drift of the machine spreads over all cases.
  const BLOCK = 1_000;
  for (let done = 0; done < TRIPS; done += BLOCK) {
    for (const [k, c] of cases.entries()) {
      collectGarbage();
      const out = samples[k]!;
      for (let i = 0; i < BLOCK; i++) {
        const start = now();
        await c.call();
        out.push((now() - start) * 1000);
      }
    }
  }
  const stats = cases.map((c, k) => {
    const sorted = samples[k]!.sort((a, b) => a - b);
    return {
      ...c,
      p10: percentile(sorted, 0.1),
      median: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
    };
  });
  await Promise.all([tinypoolProcesses.destroy(), echoThread.close(), echoProcess.close()]);
  const bestPeer = Math.min(...stats.filter(isPeer).map((s) => s.median));
  printTable(
    ['', 'p10 µs', 'median µs', 'p99 µs', 'median vs best thread peer', 'goal <= 0.8'],
    stats.map((s) => [
      s.name,
      s.p10.toFixed(1),
      s.median.toFixed(1),
      s.p99.toFixed(1),
      formatRatio(s.median / bestPeer),
      s.ours ? yes(s.median <= 0.8 * bestPeer) : '',
    ]),
  );
  console.log(
    `\n${formatInt(TRIPS)} round trips each (submit one no-op, await it, repeat), after ` +
      `${formatInt(TRIP_WARMUP)} untimed; interleaved in blocks of ${formatInt(BLOCK)}. The floors ` +
      `post a task-sized message to a bare worker that echoes it: no pool at all. On a virtual ` +
      `machine the latencies are bimodal (p10 against median): a trip is fast when the other ` +
      `side's vCPU is awake, and tens of µs slower when it has to be woken.`,
  );
}

// ---------------------------------------------------------------------------
// (e) start-up in a fresh process, memory per worker

const STARTUP_SCRIPT = fileURLToPath(worker('startup.mjs'));

/**
 * The children's environment: ours, without NODE_EXTRA_CA_CERTS. Reading a CA
 * bundle costs every new Node process tens of milliseconds, which some machines
 * (sandboxes, CI) set; tinypool's child_process runtime drops the environment,
 * so keeping it would compare certificate loading, not pools.
 */
const { NODE_EXTRA_CA_CERTS: extraCaCerts, ...CHILD_ENV } = process.env;

function childOnce(
  nodeArgs: string[],
  library: string,
  mode: string,
  ts = false,
): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeArgs, STARTUP_SCRIPT, library, mode, String(WORKERS), ...(ts ? ['ts'] : [])],
      { timeout: 60_000, env: CHILD_ENV },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>);
        } else {
          const how = error.signal ?? `code ${error.code}`;
          reject(new Error(`${library} ${mode} failed (${how}): ${stderr}${stdout}`));
        }
      },
    );
  });
}

/** Runs one measurement in a fresh process; a failed child is reported and retried once. */
async function child(
  nodeArgs: string[],
  library: string,
  mode: string,
  ts = false,
): Promise<Record<string, number>> {
  try {
    return await childOnce(nodeArgs, library, mode, ts);
  } catch (error) {
    console.log(`(retrying once: ${(error as Error).message.trim()})`);
    return childOnce(nodeArgs, library, mode, ts);
  }
}

async function startupAndMemory(): Promise<void> {
  const tsx = ['--import', 'tsx'];
  const libraries: {
    name: string;
    library: string;
    args: string[];
    ours: boolean;
    ts?: boolean;
  }[] = [
    { name: 'InterpreterPoolExecutor', library: 'ours-interpreter', args: [], ours: true },
    { name: 'ProcessPoolExecutor', library: 'ours-process', args: [], ours: true },
    { name: 'piscina', library: 'piscina', args: [], ours: false },
    { name: 'tinypool', library: 'tinypool', args: [], ours: false },
    { name: 'workerpool', library: 'workerpool', args: [], ours: false },
    { name: 'poolifier', library: 'poolifier', args: [], ours: false },
    {
      name: 'tinypool (child_process runtime)',
      library: 'tinypool-child-process',
      args: [],
      ours: false,
    },
    {
      name: 'InterpreterPoolExecutor, under tsx',
      library: 'ours-interpreter',
      args: tsx,
      ours: true,
    },
    {
      name: 'InterpreterPoolExecutor, under tsx, .ts task',
      library: 'ours-interpreter',
      args: tsx,
      ours: true,
      ts: true,
    },
    { name: 'ProcessPoolExecutor, under tsx', library: 'ours-process', args: tsx, ours: true },
    {
      name: 'ProcessPoolExecutor, under tsx, .ts task',
      library: 'ours-process',
      args: tsx,
      ours: true,
      ts: true,
    },
  ];
  const startup = libraries.map(() => [] as number[]);
  const memory = libraries.map(() => [] as number[]);
  for (let run = 0; run < STARTUP_RUNS; run++) {
    for (const [i, l] of libraries.entries())
      startup[i]!.push((await child(l.args, l.library, 'startup')).ms!);
  }
  for (let run = 0; run < MEMORY_RUNS; run++) {
    for (const [i, l] of libraries.entries()) {
      if (l.ts === true) continue;
      memory[i]!.push((await child([...l.args, '--expose-gc'], l.library, 'memory')).perWorker!);
    }
  }
  const plain = libraries.filter((l) => l.args.length === 0);
  const bestStartup = Math.min(
    ...libraries.map((l, i) => (l.ours ? Infinity : median(startup[i]!))),
  );
  const bestMemory = Math.min(...libraries.map((l, i) => (l.ours ? Infinity : median(memory[i]!))));
  check(plain.length > 0, 'no libraries');
  const MiB = 2 ** 20;
  printTable(
    [
      '',
      'create → 1st result, ms',
      'vs best peer',
      'goal <= 0.9',
      'MiB per worker',
      'vs best peer',
      'goal: lowest',
    ],
    libraries.map((l, i) => {
      const s = median(startup[i]!);
      const measured = memory[i]!.length > 0;
      const m = measured ? median(memory[i]!) : NaN;
      const goal = l.ours && l.args.length === 0;
      return [
        l.name,
        s.toFixed(1),
        formatRatio(s / bestStartup),
        goal ? yes(s <= 0.9 * bestStartup) : '',
        measured ? (m / MiB).toFixed(1) : '',
        measured ? formatRatio(m / bestMemory) : '',
        goal ? yes(m <= bestMemory) : '',
      ];
    }),
  );
  console.log(
    `\nOne fresh \`node\` process per measurement: create a pool of ${WORKERS}, submit one no-op, ` +
      `await it (ours: a source-shipped \`() => {}\`, or with ".ts task" a module task from ` +
      `bench/tasks.ts); median of ${STARTUP_RUNS}. "under tsx" rows run \`node --import tsx\`; our ` +
      `workers start without tsx's flags and load tsx only for a task module. Memory: thread pools, the process's RSS with ${WORKERS} idle ` +
      `warmed-up workers minus before the pool, / ${WORKERS}; process pools, each child's VmRSS ` +
      `(/proc/<pid>/status) plus the parent's growth / ${WORKERS}; median of ${MEMORY_RUNS}. ` +
      `Goals compare plain-node rows with the best thread-pool peer.` +
      (extraCaCerts === undefined
        ? ''
        : ' The children run without NODE_EXTRA_CA_CERTS (set here), which costs every new Node ' +
          'process tens of milliseconds and which tinypool drops from its children anyway.'),
  );
}

// ---------------------------------------------------------------------------

const section: Section = {
  name: 'pool',
  title: `InterpreterPoolExecutor and ProcessPoolExecutor against piscina, tinypool, workerpool and poolifier, ${WORKERS} workers each`,
  async run() {
    const executors: OurExecutor[] = [
      new InterpreterPoolExecutor({ maxWorkers: WORKERS }),
      new ProcessPoolExecutor({ maxWorkers: WORKERS }),
    ];
    const contenders = [
      ours('InterpreterPoolExecutor', executors[0]!),
      ours('ProcessPoolExecutor', executors[1]!),
      ...peers(),
    ];
    try {
      for (const c of contenders) await warmUp(c);

      console.log(`### (a) ${formatInt(NOOP_N)} no-op tasks submitted at once, all awaited\n`);
      await noopThroughput(contenders, executors);
      console.log(`\nafterwards: ${loadAverage()}`);

      console.log(`\n### (b) ${formatInt(MAP_N)} tiny tasks (x => x * 2)\n`);
      await mapThroughput(contenders, executors);
      console.log(`\nafterwards: ${loadAverage()}`);

      console.log(`\n### (c) ${CPU_TASKS} CPU-bound tasks (recursive Fibonacci) against serial\n`);
      await cpuBound(contenders);
      console.log(`\nafterwards: ${loadAverage()}`);

      console.log(`\n### (d) ${formatInt(TRIPS)} sequential round trips\n`);
      await roundTrips(contenders, executors);
      console.log(`\nafterwards: ${loadAverage()}`);
    } finally {
      await Promise.all(contenders.map((c) => c.close()));
    }

    console.log(`\n### (e) start-up in a fresh process, memory per worker\n`);
    await startupAndMemory();
    console.log(`\nafterwards: ${loadAverage()}`);
  },
};

export default section;
