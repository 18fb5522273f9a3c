// One fresh process per measurement of the pool benchmark's section (e):
//   node startup.mjs <library> startup [workers] [ts]  → prints {"ms": <create → first result>}
//   node --expose-gc startup.mjs <library> memory [workers] → prints {"perWorker": <bytes>, ...}
// The pool has `workers` workers (default os.availableParallelism()). Plain
// JavaScript, so that it runs without tsx; with `ts` (under `node --import tsx`)
// our executors submit a TypeScript module task instead of a source-shipped no-op.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const [library, mode = 'startup', workersArg, tsArg] = process.argv.slice(2);
const WORKERS = Number(workersArg ?? availableParallelism());
const here = (file) => new URL(file, import.meta.url);

/** Each entry: create(n) → { noop(): Promise, whoami(): Promise<string>, close(): Promise, pids?(): number[] }. */
const LIBRARIES = {
  async ours_interpreter(n, ts) {
    const { InterpreterPoolExecutor } = await import('concurrent-futures');
    return ours(new InterpreterPoolExecutor({ maxWorkers: n }), ts);
  },
  async ours_process(n, ts) {
    const { ProcessPoolExecutor } = await import('concurrent-futures');
    return ours(new ProcessPoolExecutor({ maxWorkers: n }), ts);
  },
  async piscina(n) {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: here('piscina.mjs').href, minThreads: n, maxThreads: n });
    return {
      noop: () => pool.run(undefined, { name: 'noop' }),
      whoami: () => pool.run(undefined, { name: 'whoami' }),
      close: () => pool.destroy(),
    };
  },
  async tinypool(n) {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({ filename: here('piscina.mjs').href, minThreads: n, maxThreads: n });
    return {
      noop: () => pool.run(undefined, { name: 'noop' }),
      whoami: () => pool.run(undefined, { name: 'whoami' }),
      close: () => pool.destroy(),
    };
  },
  async tinypool_child_process(n) {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({
      filename: here('piscina.mjs').href,
      minThreads: n,
      maxThreads: n,
      runtime: 'child_process',
    });
    return {
      noop: () => pool.run(undefined, { name: 'noop' }),
      whoami: () => pool.run(undefined, { name: 'whoami' }),
      close: () => pool.destroy(),
    };
  },
  async workerpool(n) {
    const { default: workerpool } = await import('workerpool');
    const pool = workerpool.pool(here('workerpool.mjs').pathname, {
      minWorkers: n,
      maxWorkers: n,
      workerType: 'thread',
    });
    return {
      noop: () => pool.exec('noop', []),
      whoami: () => pool.exec('whoami', []),
      close: () => pool.terminate(),
    };
  },
  async poolifier(n) {
    const { FixedThreadPool } = await import('poolifier');
    const pool = new FixedThreadPool(n, here('poolifier.mjs').pathname);
    return {
      noop: () => pool.execute(undefined, 'noop'),
      whoami: () => pool.execute(undefined, 'whoami'),
      close: () => pool.destroy(),
    };
  },
};

async function ours(executor, ts) {
  let noop = () => {};
  if (ts) {
    const { taskModule } = await import('concurrent-futures');
    noop = taskModule(here('../tasks.ts')).noop;
  }
  return {
    noop: () => executor.submit(noop),
    // Source-shipped: a worker-global id, since a worker thread's process.pid is the parent's.
    whoami: () =>
      executor.submit(() => (globalThis.__benchId ??= `${process.pid}:${Math.random()}`)),
    close: () => executor.shutdown(),
    pids: true,
  };
}

const key = library.replace(/-/g, '_');
const create = LIBRARIES[key];
if (create === undefined) throw new Error(`startup.mjs: unknown library ${library}`);
const ts = tsArg === 'ts';

if (mode === 'startup') {
  const start = performance.now();
  const pool = await create(WORKERS, ts);
  await pool.noop();
  const ms = performance.now() - start;
  console.log(JSON.stringify({ ms }));
  await done(pool);
} else {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('startup.mjs memory: run with --expose-gc');
  // Load the library before the baseline, so that only the workers are measured.
  await (key.startsWith('ours') ? import('concurrent-futures') : import(key.split('_')[0]));
  gc();
  await sleep(200);
  gc();
  const before = process.memoryUsage().rss;
  const pool = await create(WORKERS, ts);
  // Warm up: every worker has started and run a task.
  const seen = new Set();
  for (let round = 0; round < 100 && seen.size < WORKERS; round++) {
    const ids = await Promise.all(Array.from({ length: 4 * WORKERS }, () => pool.whoami()));
    for (const id of ids) seen.add(id);
  }
  if (seen.size < WORKERS) throw new Error(`only ${seen.size} of ${WORKERS} workers started`);
  await sleep(500);
  gc();
  await sleep(100);
  const after = process.memoryUsage().rss;
  const childPids = [...seen]
    .map((id) => Number(id.split(':')[0]))
    .filter((p) => p !== process.pid);
  const childRss = childPids.map((pid) => vmRss(pid));
  console.log(
    JSON.stringify({
      workers: seen.size,
      parentDelta: after - before,
      childRss,
      perWorker:
        childRss.length > 0
          ? childRss.reduce((a, b) => a + b, 0) / childRss.length + (after - before) / WORKERS
          : (after - before) / WORKERS,
    }),
  );
  await done(pool);
}

/** Closes the pool, but exits within a second whatever it does: the figures are printed. */
async function done(pool) {
  await Promise.race([pool.close(), sleep(1000)]);
  process.exit(0);
}

/** Resident set of process `pid`, in bytes, from /proc/<pid>/status. */
function vmRss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (kb === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}
