/**
 * Crash containment and the worker lifecycle: each way a worker can die,
 * the crash-loop rule, initializers, maxTasksPerChild, terminateWorkers and
 * killWorkers. Every shared behaviour runs on both executors.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BrokenExecutor,
  BrokenInterpreterPool,
  BrokenProcessPool,
  BrokenThreadPool,
  InterpreterPoolExecutor,
  RuntimeError,
  type Future,
} from 'concurrent-futures';
import {
  POOLS,
  TIMEOUT,
  makeLatch,
  processExists,
  rejection,
  tasks,
  type PoolExecutor,
  type PoolKind,
  type TestLatch,
  osThreads,
} from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Lets the pool's dispatch (a microtask) and one turn of the event loop run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function assertBroken(pool: PoolKind, error: unknown, message?: RegExp): void {
  assert.ok(error instanceof pool.Broken, `expected ${pool.Broken.name}, got ${String(error)}`);
  if (message !== undefined) assert.match(error.message, message);
}

/** One way a worker can die, as the containment tests drive it. */
interface CrashKind {
  readonly title: string;
  /** What the broken error's message must say (the exit code or signal). */
  readonly message: RegExp;
  /** The executor, with what this crash needs (resource limits). */
  make(maxWorkers: number): PoolExecutor;
  /**
   * Submits the crashing task and resolves once it runs on its worker. `doomed`
   * are futures that worker certainly holds (they must fail); `blocked` says
   * whether the worker is blocked until `trigger()`, so that nothing else it
   * holds can complete before it dies.
   */
  start(
    ex: PoolExecutor,
    latch: TestLatch,
    aside: TestLatch,
  ): Promise<{
    readonly doomed: Future<unknown>[];
    readonly trigger: () => void;
    readonly blocked: boolean;
    /**
     * Whether the dying worker can say how many tasks it had started (it can
     * when it exits through process.exit or an uncaught error; not when it is
     * killed): then the tasks it held but never started run elsewhere.
     */
    readonly reportsStarted: boolean;
    /** The worker that will die. */
    readonly id: number;
  }>;
}

function crashKinds(pool: PoolKind): CrashKind[] {
  const make = (maxWorkers: number): PoolExecutor => pool.make({ maxWorkers });
  const kinds: CrashKind[] = [
    {
      title: 'a task calling process.exit(3)',
      message: /code 3\b/,
      make,
      async start(ex, latch) {
        const crash = ex.submit(tasks.holdThenCrash, latch.latch, 'exit', 3);
        await latch.started();
        return {
          doomed: [crash],
          trigger: latch.release,
          blocked: true,
          reportsStarted: true,
          id: latch.startedIds()[0]!,
        };
      },
    },
    {
      title: 'a timer throwing after the task returned',
      message: /code 1\b/,
      make,
      async start(ex, latch, aside) {
        // crashLater returns at once and leaves a timer that throws once the latch is released.
        const returned = ex.submit(tasks.crashLater, latch.latch);
        assert.equal(await returned, 'returned', 'the task itself returned, and its result stands');
        const id = latch.startedIds()[0]!;
        // A task the worker holds (and keeps running, asynchronously) when the timer throws.
        const held = ex.submit(tasks.holdAsync, aside.latch, 'held');
        await aside.started();
        assert.equal(aside.startedIds()[0], id, 'the held task went to the idle worker');
        return { doomed: [held], trigger: latch.release, blocked: false, reportsStarted: true, id };
      },
    },
  ];
  if (pool.name === 'ProcessPoolExecutor') {
    kinds.push({
      title: 'SIGKILL of a child process',
      message: /SIGKILL/,
      make,
      async start(ex, latch) {
        const crash = ex.submit(tasks.hold, latch.latch, 'never returned');
        await latch.started();
        const [pid] = latch.startedPids();
        assert.ok(pid !== undefined && pid !== process.pid);
        return {
          doomed: [crash],
          trigger: () => process.kill(pid, 'SIGKILL'),
          blocked: true,
          reportsStarted: false,
          id: pid,
        };
      },
    });
  } else {
    kinds.push({
      title: 'a worker thread out of memory under resourceLimits',
      message: /exited with code \d+/,
      make: (maxWorkers) =>
        new InterpreterPoolExecutor({ maxWorkers, resourceLimits: { maxOldGenerationSizeMb: 16 } }),
      async start(ex, latch) {
        const crash = ex.submit(tasks.holdThenCrash, latch.latch, 'oom');
        await latch.started();
        return {
          doomed: [crash],
          trigger: latch.release,
          blocked: true,
          reportsStarted: false,
          id: latch.startedIds()[0]!,
        };
      },
    });
  }
  return kinds;
}

/** Submits `n` quick tasks; their values are 0, 2, 4, ... */
function quick(ex: PoolExecutor, n: number): Future<number>[] {
  return Array.from({ length: n }, (_, i) => ex.submit(tasks.add, i, i));
}

for (const pool of POOLS) {
  void describe(pool.name, () => {
    void describe('crash containment', () => {
      for (const kind of crashKinds(pool)) {
        void it(
          `${kind.title}: the dying worker’s futures fail with the code or signal, the pool goes on`,
          { timeout: TIMEOUT },
          async () => {
            // One worker: every future still running when it dies was held by it.
            const ex = kind.make(1);
            const latch = makeLatch(pool.latchKind);
            const aside = makeLatch(pool.latchKind);
            try {
              const { doomed, trigger, blocked, reportsStarted } = await kind.start(
                ex,
                latch,
                aside,
              );
              // More work behind a blocked worker: what it was handed fails with it, the rest
              // waits in the parent. (A worker that is not blocked takes work until its very
              // end, and what reached it after the trigger fails with it too, legitimately.)
              const others = blocked ? quick(ex, 6) : [];
              await turn();
              const held = others.filter((f) => f.running());
              const waiting = others.filter((f) => !f.running());
              if (blocked) assert.ok(held.length >= 1, 'a fresh worker takes tasks ahead');
              trigger();
              for (const f of doomed) assertBroken(pool, await rejection(f), kind.message);
              for (const f of held) {
                // Handed ahead but never started: run on the replacement when the dying worker
                // could say so; otherwise they may have started, so they fail (never run twice).
                if (reportsStarted) assert.equal(typeof (await f), 'number');
                else assertBroken(pool, await rejection(f), kind.message);
              }
              // Those still in the parent's queue run on the replacement.
              for (const f of waiting) assert.equal(typeof (await f), 'number');
              assert.deepEqual(
                await Promise.all(quick(ex, 10)),
                range(10).map((i) => 2 * i),
              );
              assert.equal(await ex.submit((x: number) => x + 1, 1), 2);
            } finally {
              latch.dispose();
              aside.dispose();
              await ex.shutdown();
            }
          },
        );

        void it(
          `${kind.title}: a task held by another worker is not affected`,
          { timeout: TIMEOUT },
          async () => {
            const ex = kind.make(2);
            const other = makeLatch(pool.latchKind);
            const latch = makeLatch(pool.latchKind);
            const aside = makeLatch(pool.latchKind);
            try {
              // Worker A is busy with a task that must survive; the crash then starts worker B.
              const survivor = ex.submit(tasks.hold, other.latch, 'survived');
              await other.started();
              const { doomed, trigger, id, blocked } = await kind.start(ex, latch, aside);
              assert.notEqual(id, other.startedIds()[0], 'the crash runs on a second worker');
              const queued = blocked ? quick(ex, 4) : [];
              await turn();
              const wasRunning = queued.map((f) => f.running());
              trigger();
              for (const f of doomed) assertBroken(pool, await rejection(f), kind.message);
              other.release();
              assert.equal(await survivor, 'survived');
              for (const [i, f] of queued.entries()) {
                // Held by A or by B at the crash: it completes, or fails with B. Queued: it completes.
                if (wasRunning[i])
                  await f.then(undefined, (error: unknown) => assertBroken(pool, error));
                else assert.equal(await f, 2 * i);
              }
              assert.deepEqual(
                await Promise.all(quick(ex, 20)),
                range(20).map((i) => 2 * i),
              );
            } finally {
              other.dispose();
              latch.dispose();
              aside.dispose();
              await ex.shutdown();
            }
          },
        );
      }

      if (pool.name === 'InterpreterPoolExecutor') {
        void it(
          'out of memory: the broken error’s cause says so',
          { timeout: TIMEOUT },
          async () => {
            const ex = new InterpreterPoolExecutor({
              maxWorkers: 1,
              resourceLimits: { maxOldGenerationSizeMb: 16 },
            });
            try {
              const error = await rejection(ex.submit(tasks.allocate));
              assertBroken(pool, error, /exited with code \d+/);
              const cause = (error as Error).cause as { code?: string } | undefined;
              assert.equal(
                cause?.code,
                'ERR_WORKER_OUT_OF_MEMORY',
                `cause: ${(cause as Error)?.message}`,
              );
              assert.equal(await ex.submit(tasks.add, 1, 1), 2);
            } finally {
              await ex.shutdown();
            }
          },
        );

        void it('each worker is one OS thread of this process', { timeout: TIMEOUT }, async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            const who = await ex.submit(tasks.whoAmI);
            assert.equal(who.pid, process.pid);
            assert.ok(who.threadId > 0);
          } finally {
            await ex.shutdown();
          }
        });
      } else {
        void it(
          'child processes are direct children of this process',
          { timeout: TIMEOUT },
          async () => {
            const ex = pool.make({ maxWorkers: 1 });
            try {
              const who = await ex.submit(tasks.whoAmI);
              assert.equal(who.ppid, process.pid);
              assert.notEqual(who.pid, process.pid);
            } finally {
              await ex.shutdown();
            }
          },
        );
      }

      void it('a task exiting with code 0 is a crash too', { timeout: TIMEOUT }, async () => {
        const ex = pool.make({ maxWorkers: 1 });
        try {
          assertBroken(pool, await rejection(ex.submit(tasks.exit, 0)), /code 0\b/);
          assert.equal(await ex.submit(tasks.add, 2, 2), 4);
        } finally {
          await ex.shutdown();
        }
      });

      void it(
        'a result sent just before the worker died still arrives',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            for (let round = 0; round < 6; round++) {
              const who = await ex.submit(tasks.whoAmI);
              // The worker sends this result, then a timer kills it; nothing else is in flight.
              assert.equal(await ex.submit(tasks.returnThenThrow, round), round);
              // Wait for the replacement: a probe may still meet the dying worker (and fail with
              // the broken error, as it was held by it), until a new worker answers.
              for (;;) {
                let next;
                try {
                  next = await ex.submit(tasks.whoAmI);
                } catch (error) {
                  assertBroken(pool, error);
                  continue;
                }
                if (next[pool.idKey] !== who[pool.idKey]) break;
              }
            }
          } finally {
            await ex.shutdown();
          }
        },
      );
    });

    void describe('crash loop', () => {
      void it(
        '3 workers in a row dying before they are ready break the pool',
        { timeout: TIMEOUT },
        async () => {
          // The initializer kills every worker before it is ready: no worker can work.
          const ex = pool.make({ maxWorkers: 1, initializer: tasks.exit, initArgs: [1] });
          try {
            const queued = [
              ex.submit(tasks.add, 1, 1),
              ex.submit(tasks.add, 2, 2),
              ex.submit(tasks.add, 3, 3),
            ];
            for (const f of queued) {
              const error = await rejection(f);
              assertBroken(pool, error, /3 workers in a row died before they were ready/);
            }
            assert.throws(() => ex.submit(tasks.add, 1, 1), pool.Broken);
            assert.throws(() => ex.map(tasks.double, [1]).next(), pool.Broken);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'tasks that kill their workers, one after another, fail alone and never break the pool',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            for (let i = 0; i < 5; i++) {
              assertBroken(pool, await rejection(ex.submit(tasks.exit, 1)), /code 1\b/);
            }
            // Three at once on three fresh workers: each fails alone.
            const wide = pool.make({ maxWorkers: 3 });
            try {
              const crashes = [1, 2, 3].map(() => wide.submit(tasks.exit, 1));
              for (const f of crashes) assertBroken(pool, await rejection(f), /code 1\b/);
              assert.equal(await wide.submit(tasks.add, 40, 2), 42);
            } finally {
              await wide.shutdown();
            }
            assert.equal(await ex.submit(tasks.add, 40, 2), 42);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'deaths interleaved with successes never break the pool',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          try {
            for (let i = 0; i < 5; i++) {
              assertBroken(pool, await rejection(ex.submit(tasks.exit, 1)));
              assert.equal(await ex.submit(tasks.add, i, 1), i + 1);
            }
            assert.equal(await ex.submit(tasks.add, 40, 2), 42);
          } finally {
            await ex.shutdown();
          }
        },
      );
    });

    void describe('initializer', () => {
      void it(
        'runs once in each worker before its first task; tasks see its module state',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({
            maxWorkers: 2,
            initializer: tasks.initialize,
            initArgs: ['ready'],
          });
          const latch = makeLatch(pool.latchKind);
          try {
            // Two held tasks: the second starts a second worker.
            const first = ex.submit(tasks.holdState, latch.latch);
            await latch.started(1);
            const second = ex.submit(tasks.holdState, latch.latch);
            await latch.started(2);
            latch.release();
            const states = await Promise.all([first, second]);
            for (const s of states) {
              assert.equal(s.state, 'ready');
              assert.equal(s.initCalls, 1);
            }
            const ids = states.map((s) => s[pool.idKey]);
            assert.notEqual(ids[0], ids[1], 'two different workers');
            const later = await Promise.all(
              Array.from({ length: 10 }, () => ex.submit(tasks.getState)),
            );
            for (const s of later) assert.equal(s.initCalls, 1);
          } finally {
            latch.dispose();
            await ex.shutdown();
          }
        },
      );

      void it('a self-contained or async initializer works too', { timeout: TIMEOUT }, async () => {
        const ex = pool.make({
          maxWorkers: 1,
          initializer: async (value: string) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            (globalThis as { initValue?: string }).initValue = value;
          },
          initArgs: ['from source'],
        });
        try {
          assert.equal(
            await ex.submit(() => (globalThis as { initValue?: string }).initValue),
            'from source',
          );
        } finally {
          await ex.shutdown();
        }
      });

      void it('an initializer that throws breaks the pool', { timeout: TIMEOUT }, async () => {
        const ex = pool.make({
          maxWorkers: 2,
          initializer: tasks.failInit,
          initArgs: ['init exploded'],
        });
        try {
          const futures = Array.from({ length: 5 }, (_, i) => ex.submit(tasks.add, i, 0));
          for (const f of futures) {
            const error = await rejection(f);
            assertBroken(pool, error);
            const cause = (error as Error).cause as Error | undefined;
            assert.match(`${(error as Error).message} ${cause?.message}`, /init exploded/);
          }
          assert.throws(() => ex.submit(tasks.add, 1, 1), pool.Broken);
        } finally {
          await ex.shutdown();
        }
      });

      void it(
        'an initializer using its enclosing scope breaks the pool, naming the variable',
        { timeout: TIMEOUT },
        async () => {
          const outerSetting = 'x';
          const ex = pool.make({
            maxWorkers: 1,
            initializer: () => {
              (globalThis as { setting?: string }).setting = outerSetting;
            },
          });
          try {
            const error = await rejection(ex.submit(tasks.add, 1, 1));
            assertBroken(pool, error);
            const cause = (error as Error).cause as Error | undefined;
            assert.match(`${(error as Error).message} ${cause?.message}`, /outerSetting/);
            assert.throws(() => ex.submit(tasks.add, 1, 1), pool.Broken);
          } finally {
            await ex.shutdown();
          }
        },
      );
    });

    void describe('maxTasksPerChild', () => {
      void it(
        '1 worker, limit 3: tasks 1-3 share a worker, task 4 gets a new one',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1, maxTasksPerChild: 3 });
          try {
            const who = [];
            for (let i = 0; i < 4; i++) who.push(await ex.submit(tasks.whoAmI));
            const ids = who.map((w) => w[pool.idKey]);
            assert.equal(ids[1], ids[0]);
            assert.equal(ids[2], ids[0]);
            assert.notEqual(ids[3], ids[0]);
            if (pool.name === 'ProcessPoolExecutor') {
              assert.equal(processExists(ids[0]!), false, 'the retired process is gone');
            }
            // Module state starts afresh in the new worker.
            const counts = [];
            for (let i = 0; i < 3; i++) counts.push(await ex.submit(tasks.count));
            // Task 4 was whoAmI on the new worker, so these are its tasks 2, 3 and the next worker's 1.
            assert.deepEqual(counts, [1, 2, 1]);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'submitted at once: workers change every 3 tasks, never more than maxWorkers',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1, maxTasksPerChild: 3 });
          try {
            const who = await Promise.all(Array.from({ length: 7 }, () => ex.submit(tasks.whoAmI)));
            const ids = who.map((w) => w[pool.idKey]);
            assert.equal(new Set(ids.slice(0, 3)).size, 1);
            assert.equal(new Set(ids.slice(3, 6)).size, 1);
            assert.equal(new Set([ids[0], ids[3], ids[6]]).size, 3, String(ids));
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'limit 1 with 3 workers and an immediate shutdown: every result is right',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 3, maxTasksPerChild: 1 });
          const futures = Array.from({ length: 6 }, (_, i) => ex.submit(tasks.add, i, 100));
          await ex.shutdown();
          assert.deepEqual(await Promise.all(futures), [100, 101, 102, 103, 104, 105]);
        },
      );
    });

    for (const method of ['terminateWorkers', 'killWorkers'] as const) {
      void describe(`${method}()`, () => {
        void it(
          'fails the futures workers held, cancels the queued ones, resolves once all are gone',
          { timeout: TIMEOUT },
          async () => {
            const ex = pool.make({ maxWorkers: 2 });
            const latch: TestLatch = makeLatch(pool.latchKind);
            try {
              const held1 = ex.submit(tasks.hold, latch.latch, 1);
              await latch.started(1);
              const held2 = ex.submit(tasks.hold, latch.latch, 2);
              await latch.started(2);
              // Counted while both workers run: Node may start helper threads of its own at any
              // time, so "gone" is measured against this, not against the count before the pool.
              const threadsDuring = osThreads();
              const queued = Array.from({ length: 8 }, (_, i) => ex.submit(tasks.add, i, 1));
              await turn();
              const wasRunning = queued.map((f) => f.running());
              await ex[method]();
              for (const f of [held1, held2]) assertBroken(pool, await rejection(f));
              queued.forEach((f, i) => {
                if (wasRunning[i]) assert.ok(f.done() && !f.cancelled(), `queued[${i}] was held`);
                else assert.ok(f.cancelled(), `queued[${i}] was still in the parent`);
              });
              for (const [i, f] of queued.entries()) {
                if (wasRunning[i]) assertBroken(pool, await rejection(f));
              }
              assert.ok(
                wasRunning.filter((r) => !r).length >= 4,
                'most queued tasks were cancellable',
              );
              // Every worker is gone.
              if (pool.name === 'ProcessPoolExecutor') {
                for (const pid of latch.startedPids()) assert.equal(processExists(pid), false);
              } else if (threadsDuring !== undefined) {
                const after = osThreads()!;
                assert.ok(
                  after <= threadsDuring - 2,
                  `threads: ${threadsDuring} with both workers running, ${after} after`,
                );
              }
              // No new work.
              assert.throws(() => ex.submit(tasks.add, 1, 1), RuntimeError);
            } finally {
              latch.dispose();
              await ex.shutdown();
            }
          },
        );

        void it(
          'resolves at once when no worker was ever started',
          { timeout: TIMEOUT },
          async () => {
            const ex = pool.make({ maxWorkers: 2 });
            await ex[method]();
            assert.throws(() => ex.submit(tasks.add, 1, 1), RuntimeError);
            await ex.shutdown();
          },
        );

        void it(
          'ends idle workers, and a pending shutdown() resolves too',
          { timeout: TIMEOUT },
          async () => {
            const ex = pool.make({ maxWorkers: 2 });
            const latch = makeLatch(pool.latchKind);
            try {
              assert.equal(await ex.submit(tasks.add, 1, 1), 2);
              const held = ex.submit(tasks.hold, latch.latch, 'x');
              await latch.started();
              const shutdown = ex.shutdown();
              await ex[method]();
              await shutdown;
              assertBroken(pool, await rejection(held));
            } finally {
              latch.dispose();
            }
          },
        );
      });
    }
  });
}

void describe('broken errors follow Python’s class tree', () => {
  void it('BrokenInterpreterPool < BrokenThreadPool < BrokenExecutor < RuntimeError; BrokenProcessPool < BrokenExecutor', () => {
    const interp = new BrokenInterpreterPool('x');
    assert.ok(interp instanceof BrokenThreadPool);
    assert.ok(interp instanceof BrokenExecutor);
    assert.ok(interp instanceof RuntimeError);
    const proc = new BrokenProcessPool('x');
    assert.ok(proc instanceof BrokenExecutor);
    assert.ok(proc instanceof RuntimeError);
    assert.ok(!(proc instanceof BrokenThreadPool));
  });
});
