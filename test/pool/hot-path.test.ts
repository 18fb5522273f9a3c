/**
 * The contracts behind the pools' per-task fast path: what each shortcut must
 * still guarantee. Arguments travel inline in the task records (a call gets
 * exactly the arguments it was given); stats() times one call in 16, but
 * always the first and every call with options; a worker does not hold a
 * settled result behind a long synchronous task; `Promise.all` over failing
 * futures rejects with the first failure and leaves nothing unhandled.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InterpreterPoolExecutor } from 'concurrent-futures';
import { POOLS, TIMEOUT, rejection } from './helpers.js';

void describe('the per-task fast path', () => {
  for (const kind of POOLS) {
    void describe(kind.name, () => {
      void it(
        'a call gets exactly its arguments: none, undefined ones, arrays, and a chunk',
        { timeout: TIMEOUT },
        async () => {
          const ex = kind.make({ maxWorkers: 2 });
          try {
            const count = (...args: unknown[]): unknown[] => [args.length, ...args];
            const results = await Promise.all([
              ex.submit(count),
              ex.submit(count, undefined),
              ex.submit(count, undefined, undefined),
              ex.submit(count, [], [1, [2]], { a: [] }),
              ex.submit(count, -1, 'x'),
              ex.submit(count, -1),
            ]);
            assert.deepEqual(results, [
              [0],
              [1, undefined],
              [2, undefined, undefined],
              [3, [], [1, [2]], { a: [] }],
              [2, -1, 'x'],
              [1, -1],
            ]);
            const mapped: unknown[] = [];
            for await (const r of ex.map(
              (x: unknown, y: unknown) => [x, y],
              [1, [2], -1],
              ['a', 'b', 'c'],
              {
                chunksize: 2,
              },
            ))
              mapped.push(r);
            assert.deepEqual(mapped, [
              [1, 'a'],
              [[2], 'b'],
              [-1, 'c'],
            ]);
            // A call that changes its own arguments changes nothing for the next call.
            const mutate = (...args: unknown[]): number => {
              args.push(1);
              return args.length;
            };
            assert.deepEqual(await Promise.all([ex.submit(mutate), ex.submit(mutate)]), [1, 1]);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'stats() times the first call, one call in 16 after it, and every call with options',
        { timeout: TIMEOUT },
        async () => {
          const ex = kind.make({ maxWorkers: 1 });
          try {
            await ex.submit(() => 1);
            assert.equal(ex.stats().runMs.samples, 1);
            assert.equal(ex.stats().waitMs.samples, 1);
            await Promise.all(Array.from({ length: 15 }, () => ex.submit(() => 1)));
            assert.equal(ex.stats().runMs.samples, 1);
            await ex.submit(() => 1); // the 17th
            assert.equal(ex.stats().runMs.samples, 2);
            await ex.with({ timeout: 60_000 }).submit(() => 1);
            assert.equal(ex.stats().runMs.samples, 3);
            assert.equal(ex.stats().tasks.completed, 18);
          } finally {
            await ex.shutdown();
          }
        },
      );

      void it(
        'Promise.all over failing futures rejects with the first failure, and nothing is unhandled',
        { timeout: TIMEOUT },
        async () => {
          const unhandled: unknown[] = [];
          const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
          process.on('unhandledRejection', onUnhandled);
          // One worker runs them in order: the first to fail is the second submitted.
          const ex = kind.make({ maxWorkers: 1 });
          try {
            const fail = (what: string): never => {
              throw new Error(what);
            };
            const futures = [
              ex.submit(() => 1),
              ex.submit(fail, 'first'),
              ex.submit(fail, 'second'),
            ];
            const error = await rejection(Promise.all(futures));
            assert.equal((error as Error).message, 'first');
            await ex.shutdown();
            // Rejections nobody handles are reported after the microtasks of a macrotask.
            for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
            assert.deepEqual(unhandled, []);
            // Their outcomes stay readable.
            assert.equal(((await futures[2]!.exception()) as Error).message, 'second');
          } finally {
            process.off('unhandledRejection', onUnhandled);
            await ex.shutdown();
          }
        },
      );
    });
  }

  void it(
    'a result is sent before a long synchronous task that follows it in the same worker',
    { timeout: TIMEOUT },
    async () => {
      // The long task blocks its worker until the test has the short task's result:
      // if the worker held that result until the batch was done, this would never end.
      // Round 0: the long function has never run (it may be long); later rounds: its
      // last call was long (it spins a few ms whatever the gate says).
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const gate = new Int32Array(new SharedArrayBuffer(4));
      try {
        await ex.submit(() => 'warm'); // The worker is started and ready.
        for (let round = 0; round < 3; round++) {
          const short = ex.submit((r: number) => `short ${r}`, round);
          const long = ex.submit((cell: Int32Array) => {
            const end = Date.now() + 3;
            while (Date.now() < end);
            Atomics.wait(cell, 0, 0);
            return 'long';
          }, gate);
          assert.equal(await short, `short ${round}`);
          Atomics.store(gate, 0, 1);
          Atomics.notify(gate, 0);
          assert.equal(await long, 'long');
          Atomics.store(gate, 0, 0);
        }
      } finally {
        Atomics.store(gate, 0, 1);
        Atomics.notify(gate, 0);
        await ex.shutdown();
      }
    },
  );
});
