/**
 * BullMQExecutor beside raw BullMQ doing the same work on the same Redis (a
 * redis-server this section starts on a free port and stops by its pid):
 *
 * - the producer: ours is `executor.map(fn, items, { chunksize })`, which sends
 *   the whole batch in one `addBulk` and follows completions with one events
 *   reader; raw BullMQ is one `queue.addBulk` of the same jobs and one
 *   `QueueEvents` listener. Same job options (retention, one attempt, ids
 *   chosen by the producer).
 * - the workers: ours is the `concurrent-futures worker` command (tasks on a
 *   pool of worker threads); raw BullMQ is a plain `Worker` whose processor
 *   calls the same function on its event loop. Same number of processes, same
 *   concurrency.
 * - the floor: raw BullMQ whose processor hands each job to one bare worker
 *   thread per process (a postMessage each way and nothing else). The issue
 *   requires tasks to run off the loop that renews BullMQ's locks; no worker
 *   that does so can do better than this row, whatever its codec or pool.
 *
 * Cases: no-op tasks (`double`) at chunksize 1 and 100 on one worker process,
 * and ~1 ms CPU tasks (`fib(n)`, n calibrated here) on two worker processes. Every result is
 * checked on both sides, so a case that computed nothing would fail. Beside
 * the throughput, the CPU time each party used (producer, worker processes,
 * redis-server; from /proc, on Linux) shows where each side's cost goes.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { taskModule } from 'concurrent-futures';
import { BullMQExecutor } from 'concurrent-futures/bullmq';
import { startRedisServer, type LocalRedis } from '../examples/redis-server.js';
import {
  formatInt,
  formatRatio,
  loadAverage,
  measure,
  now,
  printTable,
  printThroughput,
  type Case,
  type Section,
} from './lib.js';
import { fib } from './tasks.js';

const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url), {
  id: 'bench',
});
const CLI = fileURLToPath(new URL('../dist/bullmq/cli.js', import.meta.url));
const TASKS_FILE = fileURLToPath(new URL('./tasks.ts', import.meta.url));
const RAW_WORKER = fileURLToPath(new URL('./workers/bullmq-raw.ts', import.meta.url));

/** Jobs each worker process holds at once, ours and raw BullMQ's. */
const CONCURRENCY = 16;
/** The CPU task: `fib(FIB_N)`, the one closest to 1 ms of one core on this machine. */
const { n: FIB_N, ms: FIB_MS } = calibrateFib(1);
const FIB_VALUE = fib(FIB_N);
/** The job options our executor gives every job, given to raw BullMQ's jobs too. */
const JOB_OPTIONS = { removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 }, attempts: 1 };

/** The `n` whose `fib(n)` takes closest to `targetMs` here, and its time (median of 51 calls). */
function calibrateFib(targetMs: number): { n: number; ms: number } {
  const timeOf = (n: number): number => {
    const times = Array.from({ length: 51 }, () => {
      const start = now();
      fib(n);
      return now() - start;
    }).sort((a, b) => a - b);
    return times[25]!;
  };
  let best = { n: 10, ms: timeOf(10) };
  for (let n = 11; n < 40; n++) {
    const ms = timeOf(n);
    if (Math.abs(ms - targetMs) < Math.abs(best.ms - targetMs)) best = { n, ms };
    if (ms > targetMs) break;
  }
  return best;
}

interface Scenario {
  readonly title: string;
  readonly fn: 'double' | 'fib';
  /** Items per job. */
  readonly chunksize: number;
  /** Worker processes on each side. */
  readonly processes: number;
  /** Our workers' pool size per process. */
  readonly poolSize: number;
  /** Items per timed run. */
  readonly n: number;
  readonly goal: { readonly above: number; readonly inclusive: boolean };
}

const SCENARIOS: readonly Scenario[] = [
  {
    title: 'no-op tasks, chunksize 1, one worker process',
    fn: 'double',
    chunksize: 1,
    processes: 1,
    poolSize: 1,
    n: 3000,
    goal: { above: 0.8, inclusive: true },
  },
  {
    title: 'no-op tasks, chunksize 100, one worker process',
    fn: 'double',
    chunksize: 100,
    processes: 1,
    poolSize: 1,
    n: 100_000,
    goal: { above: 0.8, inclusive: true },
  },
  {
    title: `~1 ms CPU tasks (fib(${FIB_N}), ${FIB_MS.toFixed(2)} ms here), chunksize 1, two worker processes`,
    fn: 'fib',
    chunksize: 1,
    processes: 2,
    poolSize: 1,
    n: 2000,
    goal: { above: 1, inclusive: false },
  },
];

/** The argument of item `i`, and the result it must give. */
const argOf = (s: Scenario, i: number): number => (s.fn === 'fib' ? FIB_N : i);
const resultOf = (s: Scenario, i: number): number => (s.fn === 'fib' ? FIB_VALUE : 2 * i);

function check(s: Scenario, i: number, value: unknown, who: string): void {
  if (value !== resultOf(s, i)) {
    throw new Error(`${who}: item ${i} gave ${String(value)}, expected ${resultOf(s, i)}`);
  }
}

/** A process this section started, stopped by its pid. */
interface Started {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Spawns `node --import tsx ...args`, resolving once its output contains `ready`. */
async function startProcess(args: string[], ready: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (text: string): void => {
        output += text;
        if (output.includes(ready)) resolve();
      };
      child.stdout.setEncoding('utf8').on('data', onData);
      child.stderr.setEncoding('utf8').on('data', onData);
      child.once('exit', (code, signal) =>
        reject(new Error(`${args.join(' ')} exited (${code ?? signal}):\n${output}`)),
      );
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, stop };
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU milliseconds a process (all its threads) has used, from /proc; undefined without /proc. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU spent by each party during the timed runs of one case. */
interface CpuTotals {
  producer: number;
  workers: number | undefined;
  redis: number | undefined;
  items: number;
}

function sumCpu(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

/**
 * `c`, also adding up the CPU time of the producer (this process), of the
 * case's worker processes and of redis-server over the timed runs (those of
 * `timedN` items): where each side's cost goes.
 */
function withCpu(
  c: Case,
  timedN: number,
  workerPids: number[],
  redisPid: number,
): Case & { cpu: CpuTotals } {
  const cpu: CpuTotals = { producer: 0, workers: 0, redis: 0, items: 0 };
  const add = (key: 'workers' | 'redis', ms: number | undefined): void => {
    cpu[key] = ms === undefined || cpu[key] === undefined ? undefined : cpu[key] + ms;
  };
  return {
    name: c.name,
    cpu,
    async run(n) {
      if (n !== timedN) return c.run(n);
      const producer = process.cpuUsage();
      const workers = sumCpu(workerPids);
      const redis = processCpuMs(redisPid);
      await c.run(n);
      const used = process.cpuUsage(producer);
      cpu.producer += (used.user + used.system) / 1000;
      const workersAfter = sumCpu(workerPids);
      const redisAfter = processCpuMs(redisPid);
      add(
        'workers',
        workers === undefined || workersAfter === undefined ? undefined : workersAfter - workers,
      );
      add(
        'redis',
        redis === undefined || redisAfter === undefined ? undefined : redisAfter - redis,
      );
      cpu.items += n;
    },
  };
}

/** Our side: `map` on a BullMQExecutor, results checked in order. */
function oursCase(s: Scenario, executor: BullMQExecutor): Case {
  return {
    name: 'BullMQExecutor',
    async run(n) {
      const fn = s.fn === 'fib' ? tasks.fib : tasks.double;
      const args = Array.from({ length: n }, (_, i) => argOf(s, i));
      let i = 0;
      for await (const value of executor.map(fn, args, { chunksize: s.chunksize })) {
        check(s, i, value, 'BullMQExecutor');
        i++;
      }
      if (i !== n) throw new Error(`BullMQExecutor: ${i} results for ${n} items`);
    },
  };
}

/** Raw BullMQ: one `addBulk` of the same jobs, completions from one `QueueEvents`. */
function rawCase(s: Scenario, queue: Queue, events: QueueEvents, name = 'raw BullMQ'): Case {
  let runs = 0;
  return {
    name,
    async run(n) {
      const prefix = `r${++runs}-`;
      const jobs = [];
      for (let start = 0; start < n; start += s.chunksize) {
        const items = Array.from({ length: Math.min(s.chunksize, n - start) }, (_, k) =>
          argOf(s, start + k),
        );
        jobs.push({
          name: `bench.${s.fn}`,
          data: s.chunksize === 1 ? { fn: s.fn, args: items } : { fn: s.fn, items },
          opts: { ...JOB_OPTIONS, jobId: `${prefix}${start}` },
        });
      }
      let remaining = jobs.length;
      const finished = new Promise<void>((resolve, reject) => {
        const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
          if (!jobId.startsWith(prefix)) return;
          try {
            const start = Number(jobId.slice(prefix.length));
            if (s.chunksize === 1) check(s, start, returnvalue, 'raw BullMQ');
            else (returnvalue as unknown[]).forEach((v, k) => check(s, start + k, v, 'raw BullMQ'));
          } catch (error) {
            done(error);
            return;
          }
          if (--remaining === 0) done();
        };
        const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
          if (jobId.startsWith(prefix)) done(new Error(`raw BullMQ job ${jobId}: ${failedReason}`));
        };
        const done = (error?: unknown): void => {
          events.off('completed', onCompleted);
          events.off('failed', onFailed);
          if (error === undefined) resolve();
          else reject(error);
        };
        events.on('completed', onCompleted);
        events.on('failed', onFailed);
      });
      await queue.addBulk(jobs);
      await finished;
    },
  };
}

/** The floor row: raw BullMQ whose processor hands each job to a bare worker thread. */
const FLOOR = 'floor: raw BullMQ + a bare thread';

async function runScenario(s: Scenario, redis: LocalRedis, index: number): Promise<number> {
  const redisUrl = redis.url;
  const ourQueue = `cf-bench-${index}`;
  const rawQueue = `raw-bench-${index}`;
  const floorQueue = `floor-bench-${index}`;
  const started: Started[] = [];
  let executor: BullMQExecutor | undefined;
  const queues: Queue[] = [];
  const listeners: QueueEvents[] = [];
  try {
    const ours: Promise<Started>[] = [];
    const raw: Promise<Started>[] = [];
    const floor: Promise<Started>[] = [];
    for (let p = 0; p < s.processes; p++) {
      ours.push(
        startProcess(
          [
            CLI,
            'worker',
            ...['--redis', redisUrl, '--queue', ourQueue, '--tasks', `${TASKS_FILE}=bench`],
            ...['--pool', 'interpreter', '--max-workers', String(s.poolSize)],
            ...['--concurrency', String(CONCURRENCY)],
          ],
          'concurrent-futures worker: started',
        ),
      );
      raw.push(startProcess([RAW_WORKER, redisUrl, rawQueue, String(CONCURRENCY)], 'ready'));
      floor.push(
        startProcess([RAW_WORKER, redisUrl, floorQueue, String(CONCURRENCY), 'thread'], 'ready'),
      );
    }
    const results = await Promise.allSettled([...ours, ...raw, ...floor]);
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    const pids = (from: number): number[] =>
      started.slice(from * s.processes, (from + 1) * s.processes).map((p) => p.child.pid!);

    executor = new BullMQExecutor({ connection: redisUrl, queue: ourQueue });
    const connection = { url: redisUrl, maxRetriesPerRequest: null };
    for (const name of [rawQueue, floorQueue]) {
      queues.push(new Queue(name, { connection }));
      listeners.push(new QueueEvents(name, { connection }));
    }
    await Promise.all([...queues, ...listeners].map((q) => q.waitUntilReady()));

    const cases = [
      withCpu(oursCase(s, executor), s.n, pids(0), redis.pid),
      withCpu(rawCase(s, queues[0]!, listeners[0]!), s.n, pids(1), redis.pid),
      withCpu(rawCase(s, queues[1]!, listeners[1]!, FLOOR), s.n, pids(2), redis.pid),
    ];
    // Workers are long-lived: every side is measured warm (two full-size runs
    // first), since the first thousands of jobs mostly measure V8 compiling them.
    const measured = await measure(cases, { n: s.n, runs: 5, warmups: 2, warmupN: s.n });
    printThroughput(measured, 'raw BullMQ', 'items/s');
    console.log();
    const perThousand = (ms: number | undefined, items: number): string =>
      ms === undefined ? 'n/a' : formatInt((1000 * ms) / items);
    printTable(
      ['CPU ms per 1,000 items', 'producer', 'worker processes', 'redis-server'],
      cases.map(({ name, cpu }) => [
        name,
        perThousand(cpu.producer, cpu.items),
        perThousand(cpu.workers, cpu.items),
        perThousand(cpu.redis, cpu.items),
      ]),
    );
    const ratio = measured[0]!.median / measured[1]!.median;
    const ofFloor = measured[0]!.median / measured[2]!.median;
    const { above, inclusive } = s.goal;
    const met = inclusive ? ratio >= above : ratio > above;
    console.log(
      `\ngoal: ${inclusive ? '≥' : '>'} ${above.toFixed(2)} of raw BullMQ: ${met ? 'met' : 'NOT met'} ` +
        `(${formatRatio(ratio)}; ${formatRatio(ofFloor)} of the floor)\n`,
    );
    return ratio;
  } finally {
    await executor?.shutdown();
    await Promise.all(listeners.map((e) => e.close()));
    await Promise.all(queues.map((q) => q.close()));
    await Promise.all(started.map((p) => p.stop()));
  }
}

const section: Section = {
  name: 'bullmq',
  title: `BullMQExecutor vs raw BullMQ on one local redis-server, concurrency ${CONCURRENCY} per worker process`,
  async run() {
    const redis = await startRedisServer();
    try {
      for (const [index, s] of SCENARIOS.entries()) {
        console.log(`### ${s.title} (${s.n.toLocaleString('en-US')} items per run)\n`);
        await runScenario(s, redis, index);
      }
    } finally {
      await redis.stop();
    }
    console.log(`at the end: ${loadAverage()}`);
  },
};

export default section;
