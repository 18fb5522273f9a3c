/**
 * The life of a parallel executor: cancellation while queued, chunked map,
 * shutdown, workers on demand, no workers left behind, and a process that
 * exits on its own without shutdown. Every shared behaviour runs on both executors.
 */

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { CancelledError } from 'concurrent-futures';
import {
  POOLS,
  TIMEOUT,
  makeLatch,
  processExists,
  rejection,
  runScript,
  tasks,
  type PoolExecutor,
  osThreads,
} from './helpers.js';

/** Lets the pool's dispatch (a microtask) and one turn of the event loop run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** The direct child processes of this process (Linux), or undefined where /proc does not say. */
function childPids(): number[] | undefined {
  try {
    const pids: number[] = [];
    for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8');
      for (const p of text.split(/\s+/)) if (p !== '') pids.push(Number(p));
    }
    return pids;
  } catch {
    return undefined;
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

for (const pool of POOLS) {
  void describe(pool.name, () => {
    void describe('cancellation while queued', () => {
      /** One worker held busy, 50 tasks queued behind it: how many can still be cancelled. */
      async function cancellable(ex: PoolExecutor): Promise<number> {
        const latch = makeLatch(pool.latchKind);
        try {
          const busy = ex.submit(tasks.hold, latch.latch, 'busy');
          await latch.started();
          assert.ok(busy.running());
          assert.equal(busy.cancel(), false, 'a running future cannot be cancelled');
          const queued = range(50).map((i) => ex.submit(tasks.add, i, 1));
          // Let dispatch hand over whatever it wants to.
          await turn();
          await turn();
          const cancelled = queued.filter((f) => f.cancel());
          latch.release();
          assert.equal(await busy, 'busy');
          for (const f of queued) {
            if (cancelled.includes(f)) {
              assert.ok(f.cancelled());
              assert.ok((await rejection(f.result())) instanceof CancelledError);
            } else {
              assert.equal(typeof (await f), 'number');
            }
          }
          return cancelled.length;
        } finally {
          latch.dispose();
        }
      }

      void it(
        'a fresh pool: one busy worker, 50 queued, at least 45 can be cancelled',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            const n = await cancellable(ex);
            assert.ok(n >= 45, `only ${n} of 50 could be cancelled`);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'a pool warmed up by short tasks: one busy worker, 50 queued, at least 45 can be cancelled',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            // Thousands of tiny tasks teach the pool that tasks are short.
            await Promise.all(range(3000).map((i) => ex.submit(tasks.add, i, 1)));
            const n = await cancellable(ex);
            assert.ok(n >= 45, `only ${n} of 50 could be cancelled`);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'futures count as running only once handed to a worker',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          const latch = makeLatch(pool.latchKind);
          try {
            const busy = ex.submit(tasks.hold, latch.latch, 'busy');
            assert.equal(busy.running(), false, 'not handed over within submit');
            await latch.started();
            assert.equal(busy.running(), true);
            const queued = range(10).map((i) => ex.submit(tasks.add, i, 1));
            await turn();
            const running = queued.filter((f) => f.running()).length;
            assert.ok(running <= 2, `${running} futures were handed to a busy worker`);
            latch.release();
            assert.deepEqual(
              await Promise.all(queued),
              range(10).map((i) => i + 1),
            );
          } finally {
            latch.dispose();
            await ex.shutdown();
          }
        },
      );
    });

    void describe('map', () => {
      const ex = pool.make({ maxWorkers: 2 });
      after(() => ex.shutdown());

      for (const chunksize of [1, 7, 40, 50]) {
        void it(
          `keeps input order with chunksize ${chunksize} over 40 items`,
          { timeout: TIMEOUT },
          async () => {
            assert.deepEqual(
              await collect(ex.map(tasks.double, range(40), { chunksize })),
              range(40).map((x) => x * 2),
            );
            assert.deepEqual(
              await collect(
                ex.map((a: number, b: number) => a - b, range(40), range(40).reverse(), {
                  chunksize,
                }),
              ),
              range(40).map((x) => x - (39 - x)),
            );
          },
        );
      }

      void it(
        'a chunk travels as one task and runs in one worker',
        { timeout: TIMEOUT },
        async () => {
          const tagged = await collect(ex.map(tasks.tag, range(40), { chunksize: 5 }));
          assert.deepEqual(
            tagged.map((t) => t.x),
            range(40),
          );
          for (let c = 0; c < 40; c += 5) {
            const ids = new Set(tagged.slice(c, c + 5).map((t) => t[pool.idKey]));
            assert.equal(ids.size, 1, `chunk at ${c} ran in ${ids.size} workers`);
          }
        },
      );

      for (const chunksize of [1, 7]) {
        void it(
          `an error surfaces at its chunk's first item and ends iteration (chunksize ${chunksize})`,
          { timeout: TIMEOUT },
          async () => {
            const results = ex.map(
              tasks.failOn,
              range(40),
              range(40).map(() => 10),
              { chunksize },
            );
            const got: number[] = [];
            const error = await rejection(
              (async () => {
                for (;;) {
                  const r = await results.next();
                  if (r.done === true) return;
                  got.push(r.value);
                }
              })(),
            );
            assert.ok(error instanceof Error);
            assert.equal(error.message, 'failOn: 10');
            // Chunk 1 (items 7..13) holds item 10: its results are lost with it.
            const firstOfChunk = chunksize === 1 ? 10 : 7;
            assert.deepEqual(
              got,
              range(firstOfChunk).map((x) => x * 10),
            );
            assert.deepEqual(await results.next(), { done: true, value: undefined });
          },
        );
      }

      for (const chunksize of [1, 3]) {
        void it(
          `buffersize bounds how far an infinite input is read (chunksize ${chunksize})`,
          { timeout: TIMEOUT },
          async () => {
            let read = 0;
            function* naturals(): Generator<number> {
              for (let i = 0; ; i++) {
                read++;
                yield i;
              }
            }
            const buffersize = 2;
            const results = ex.map(tasks.double, naturals(), { chunksize, buffersize });
            const got: number[] = [];
            for await (const x of results) {
              got.push(x);
              if (got.length === 10) break;
            }
            assert.deepEqual(
              got,
              range(10).map((x) => x * 2),
            );
            // buffersize counts chunks (as Python's): what was consumed, plus the buffer, plus one in hand.
            const bound = (Math.ceil(10 / chunksize) + buffersize + 1) * chunksize + 1;
            assert.ok(read <= bound, `read ${read} items, bound ${bound}`);
          },
        );
      }
    });

    void describe('shutdown', () => {
      // submit and map after shutdown, wait true and false, cancelFutures and
      // await using: test/contract/shutdown.test.ts, on all three executors.
      void it('leaves no worker behind', { timeout: TIMEOUT }, async () => {
        const threadsBefore = osThreads();
        const ex = pool.make({ maxWorkers: 2 });
        const latch = makeLatch(pool.latchKind);
        try {
          const first = ex.submit(tasks.holdWho, latch.latch);
          await latch.started(1);
          const second = ex.submit(tasks.holdWho, latch.latch);
          await latch.started(2);
          const threadsDuring = osThreads();
          if (pool.name === 'InterpreterPoolExecutor' && threadsBefore !== undefined) {
            assert.ok(threadsDuring! >= threadsBefore + 2, 'two worker threads run');
          }
          latch.release();
          const who = await Promise.all([first, second]);
          const ids = who.map((w) => w[pool.idKey]);
          assert.notEqual(ids[0], ids[1]);
          await ex.shutdown();
          if (pool.name === 'ProcessPoolExecutor') {
            for (const pid of ids)
              assert.equal(processExists(pid), false, `process ${pid} remains`);
            const children = childPids();
            if (children !== undefined) for (const pid of ids) assert.ok(!children.includes(pid));
          } else if (threadsDuring !== undefined) {
            // Against the count while both ran: Node may start helper threads of its own.
            const after = osThreads()!;
            assert.ok(
              after <= threadsDuring - 2,
              `threads: ${threadsDuring} with both workers running, ${after} after shutdown`,
            );
          }
        } finally {
          latch.dispose();
          await ex.shutdown();
        }
      });
    });

    void describe('workers on demand', () => {
      void it('no worker starts before the first submit', { timeout: TIMEOUT }, async () => {
        const threadsBefore = osThreads();
        const childrenBefore = childPids();
        const ex = pool.make({ maxWorkers: 4 });
        try {
          await turn();
          if (pool.name === 'InterpreterPoolExecutor' && threadsBefore !== undefined) {
            assert.equal(osThreads(), threadsBefore);
          }
          if (pool.name === 'ProcessPoolExecutor' && childrenBefore !== undefined) {
            assert.deepEqual(childPids(), childrenBefore);
          }
        } finally {
          await ex.shutdown();
        }
      });

      void it('sequential calls reuse one worker', { timeout: TIMEOUT }, async () => {
        const ex = pool.make({ maxWorkers: 4 });
        try {
          const ids = new Set();
          for (let i = 0; i < 6; i++) ids.add((await ex.submit(tasks.whoAmI))[pool.idKey]);
          assert.equal(ids.size, 1);
        } finally {
          await ex.shutdown();
        }
      });

      void it('never more workers than maxWorkers', { timeout: TIMEOUT }, async () => {
        const ex = pool.make({ maxWorkers: 2 });
        const latch = makeLatch(pool.latchKind);
        try {
          const futures = range(8).map(() => ex.submit(tasks.holdWho, latch.latch));
          await latch.started(2);
          latch.release();
          const ids = new Set((await Promise.all(futures)).map((w) => w[pool.idKey]));
          assert.ok(ids.size <= 2, `${ids.size} workers`);
        } finally {
          latch.dispose();
          await ex.shutdown();
        }
      });
    });
  });
}

void describe('a script that never calls shutdown', () => {
  void it('exits on its own once its awaited work is done', { timeout: TIMEOUT }, async () => {
    const run = await runScript('no-shutdown.ts');
    assert.equal(run.signal, null, `killed: it did not exit on its own\n${run.stderr}`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^interpreter 3 42$/m);
    assert.match(run.stdout, /^process 7 11 2,4,6$/m);
  });

  void it(
    'stays alive for work it did not await, prints its results, then exits',
    { timeout: TIMEOUT },
    async () => {
      const run = await runScript('pending-no-shutdown.ts');
      assert.equal(run.signal, null, `killed: it did not exit on its own\n${run.stderr}`);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^submitted$/m);
      assert.match(run.stdout, /^interpreter slept$/m);
      assert.match(run.stdout, /^process slept$/m);
      assert.match(run.stdout, /^chained 42$/m);
    },
  );
});

void describe("workers and the parent's Node options", () => {
  void it(
    'TypeScript module tasks load under tsx even with a V8 flag a Worker refuses (--expose-gc)',
    { timeout: TIMEOUT },
    async () => {
      const run = await runScript('node-flags.ts', [], 45_000, ['--expose-gc']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^InterpreterPoolExecutor 5$/m);
      assert.match(run.stdout, /^ProcessPoolExecutor 5$/m);
    },
  );
});
