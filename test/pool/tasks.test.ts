/**
 * What a parallel executor runs and what crosses the worker boundary: module
 * tasks, source-shipped functions, values, errors, clone failures and
 * zero-copy transfers. Every shared behaviour runs on both executors.
 */

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { transformSync } from 'esbuild';
import { transfer, type Future } from 'concurrent-futures';
import { POOLS, TIMEOUT, makeLatch, rejection, tasks, type PoolExecutor } from './helpers.js';

/** tsx and esbuild insert this helper under keep-names; the worker provides it. */
declare function __name<T>(fn: T, name: string): T;

for (const pool of POOLS) {
  void describe(pool.name, () => {
    // One executor for the tests of this block that keep it healthy.
    const ex: PoolExecutor = pool.make({ maxWorkers: 2 });
    after(() => ex.shutdown());

    void describe('module tasks (taskModule)', () => {
      void it('runs an exported function and types its future', { timeout: TIMEOUT }, async () => {
        const f: Future<number> = ex.submit(tasks.add, 2, 40);
        assert.equal(await f, 42);
        assert.equal(await ex.submit(tasks.sleep, 5, 'slept'), 'slept');
      });

      void it('checks the arguments and result at compile time', () => {
        // Never called: only the type checker looks at these lines.
        const typeOnly = (): void => {
          // @ts-expect-error add takes numbers
          void ex.submit(tasks.add, 'one', 2);
          // @ts-expect-error add takes two arguments
          void ex.submit(tasks.add, 1);
          // @ts-expect-error the result is a number, not a string
          const s: Future<string> = ex.submit(tasks.add, 1, 2);
          void s;
          // @ts-expect-error map checks the item types too
          void ex.map(tasks.double, ['x']);
        };
        void typeOnly;
      });

      void it('keeps the module imports', { timeout: TIMEOUT }, async () => {
        assert.equal(await ex.submit(tasks.joinPath, 'a', 'b', 'c'), 'a/b/c');
      });

      void it('keeps module state per worker', { timeout: TIMEOUT }, async () => {
        const one = pool.make({ maxWorkers: 1 });
        try {
          const counts: number[] = [];
          for (let i = 0; i < 4; i++) counts.push(await one.submit(tasks.count));
          assert.deepEqual(counts, [1, 2, 3, 4]);
          await one.submit(tasks.initialize, 'set in the worker');
          assert.equal((await one.submit(tasks.getState)).state, 'set in the worker');
          // The test process's own copy of the module is untouched.
          const local = await import('./fixtures/tasks.js');
          assert.equal(local.getState().state, 'uninitialized');
        } finally {
          await one.shutdown();
        }
      });

      void it('a stand-in called directly says it is a task reference', () => {
        assert.throws(() => tasks.add(1, 2), /task reference/);
      });

      void it(
        'an export that is not a function fails the future',
        { timeout: TIMEOUT },
        async () => {
          const missing = (tasks as unknown as Record<string, () => unknown>).noSuchExport!;
          const error = await rejection(ex.submit(missing));
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /noSuchExport/);
          assert.equal(await ex.submit(tasks.add, 1, 1), 2);
        },
      );
    });

    void describe('self-contained functions (sent as source)', () => {
      void it(
        'runs arrows, function expressions and async functions',
        { timeout: TIMEOUT },
        async () => {
          assert.equal(await ex.submit((n: number) => n * 3, 5), 15);
          assert.equal(
            await ex.submit(function fact(n: number): number {
              let r = 1;
              for (let i = 2; i <= n; i++) r *= i;
              return r;
            }, 5),
            120,
          );
          assert.equal(
            await ex.submit(async (n: number) => {
              await new Promise((resolve) => setTimeout(resolve, 1));
              return n + 1;
            }, 1),
            2,
          );
          assert.equal(
            await ex.submit(async function later(s: string) {
              await Promise.resolve();
              return s.toUpperCase();
            }, 'ok'),
            'OK',
          );
        },
      );

      void it('runs method shorthand, sync and async', { timeout: TIMEOUT }, async () => {
        const methods = {
          triple(this: void, n: number): number {
            return n * 3;
          },
          async quadruple(this: void, n: number): Promise<number> {
            await Promise.resolve();
            return n * 4;
          },
        };
        assert.equal(await ex.submit(methods.triple, 2), 6);
        assert.equal(await ex.submit(methods.quadruple, 2), 8);
      });

      void it(
        'survives the __name helper of keep-names transpilers',
        { timeout: TIMEOUT },
        async () => {
          // A function literal whose body calls the helper, as tsx emits it.
          const literal = (n: number): number => {
            const inner = __name((m: number) => m * 2, 'inner');
            return inner(n) + inner.name.length;
          };
          assert.equal(await ex.submit(literal, 4), 8 + 'inner'.length);

          // The real thing: esbuild's output with keepNames, rebuilt into a function.
          const { code } = transformSync(
            'const task = (n) => { const inner = (m) => m * 2; return inner(n) + inner.name.length; };',
            { keepNames: true },
          );
          assert.match(code, /__name\(/);
          // eslint-disable-next-line @typescript-eslint/no-implied-eval -- rebuilding esbuild's output on purpose
          const task = new Function(`${code}\nreturn task;`)() as (n: number) => number;
          assert.match(String(task), /__name\(/, 'the shipped source calls __name');
          assert.equal(await ex.submit(task, 4), 8 + 'inner'.length);
        },
      );

      void it(
        'a closure over an outer variable fails that future, naming the variable',
        { timeout: TIMEOUT },
        async () => {
          const outerFactor = 7;
          const error = await rejection(ex.submit((n: number) => n * outerFactor, 2));
          assert.ok(error instanceof ReferenceError, String(error));
          assert.match(error.message, /outerFactor/);
          assert.match(error.message, /taskModule/);
          // The pool is not harmed.
          assert.equal(await ex.submit((n: number) => n * 7, 2), 14);
        },
      );

      void it('rejects bound and native functions at submit with TypeError', () => {
        function plain(this: unknown, n: number): number {
          return n;
        }
        assert.throws(() => ex.submit(plain.bind(null), 1), TypeError);
        assert.throws(() => ex.submit(Math.max, 1, 2), TypeError);
        assert.throws(() => ex.submit(tasks.add.bind(null), 1, 2), TypeError);
        assert.throws(() => ex.submit('1 + 1' as unknown as () => number), TypeError);
        assert.throws(() => ex.map(Math.abs, [1]), TypeError);
      });

      void it(
        'a function compiled once is reused for every call',
        { timeout: TIMEOUT },
        async () => {
          const fn = (n: number): number => n + 1;
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => ex.submit(fn, i)),
          );
          assert.deepEqual(
            results,
            Array.from({ length: 200 }, (_, i) => i + 1),
          );
        },
      );
    });

    void describe('values cross intact', () => {
      void it(
        'Map, Set, Date, BigInt, typed arrays and Error round-trip',
        { timeout: TIMEOUT },
        async () => {
          const value = {
            map: new Map<unknown, unknown>([
              ['a', 1],
              [2, { b: [3] }],
            ]),
            set: new Set(['x', 'y']),
            date: new Date('2024-02-29T12:34:56.789Z'),
            big: 2n ** 80n,
            bytes: new Uint8Array([1, 2, 255]),
            floats: new Float64Array([0.5, -0, NaN]),
            error: new RangeError('as a value'),
            nested: [undefined, null, -0, Infinity, 'text'],
          };
          const back = await ex.submit(tasks.echo, value);
          assert.deepEqual(back.map, value.map);
          assert.deepEqual(back.set, value.set);
          assert.ok(back.date instanceof Date);
          assert.equal(back.date.getTime(), value.date.getTime());
          assert.equal(back.big, value.big);
          assert.ok(back.bytes instanceof Uint8Array);
          assert.deepEqual([...back.bytes], [1, 2, 255]);
          assert.ok(back.floats instanceof Float64Array);
          assert.ok(Object.is(back.floats[1], -0));
          assert.ok(Number.isNaN(back.floats[2]));
          assert.ok(back.error instanceof RangeError);
          assert.equal(back.error.message, 'as a value');
          assert.deepEqual(back.nested, value.nested);
          assert.ok(Object.is(back.nested[2], -0));
          // And the worker sees the real classes.
          const kinds = await Promise.all(
            [new Map(), new Set(), new Date(0), 1n, new Uint8Array(1), new Error('e')].map((v) =>
              ex.submit(tasks.kindOf, v),
            ),
          );
          assert.deepEqual(kinds, ['Map', 'Set', 'Date', 'BigInt', 'Uint8Array', 'Error']);
        },
      );
    });

    void describe('errors cross the boundary intact', () => {
      for (const [label, fn] of [
        ['thrown', tasks.throwWithCode],
        ['rejected', tasks.rejectWithCode],
      ] as const) {
        void it(
          `a ${label} error keeps name, message, stack, cause chain and own props`,
          { timeout: TIMEOUT },
          async () => {
            const error = (await rejection(ex.submit(fn, 'it broke', 'E_BROKE'))) as Error & {
              code: string;
              details: { attempt: number; tags: Set<string> };
            };
            assert.ok(error instanceof Error);
            assert.equal(error.name, 'CodedError');
            assert.equal(error.message, 'it broke');
            assert.equal(error.code, 'E_BROKE');
            assert.deepEqual(error.details, { attempt: 3, tags: new Set(['a']) });
            // The worker-side stack: the frame of the task in the fixture module.
            assert.match(error.stack ?? '', /it broke/);
            assert.match(error.stack ?? '', /throwWithCode/);
            assert.match(error.stack ?? '', /fixtures[/\\]tasks\.ts/);
            const middle = error.cause as Error;
            assert.ok(middle instanceof TypeError, String(middle));
            assert.equal(middle.message, 'the middle cause');
            const root = middle.cause as Error;
            assert.ok(root instanceof RangeError, String(root));
            assert.equal(root.message, 'the root cause');
            assert.match(root.stack ?? '', /throwWithCode/);
          },
        );
      }

      void it('a thrown non-Error value arrives as itself', { timeout: TIMEOUT }, async () => {
        assert.equal(await rejection(ex.submit(tasks.throwValue, 42)), 42);
        assert.equal(await rejection(ex.submit(tasks.throwValue, undefined)), undefined);
        assert.equal(await rejection(ex.submit(tasks.throwValue, null)), null);
        assert.equal(await rejection(ex.submit(tasks.throwValue, 'a string')), 'a string');
        assert.deepEqual(await rejection(ex.submit(tasks.throwValue, { plain: [1, 2] })), {
          plain: [1, 2],
        });
        assert.equal(
          await rejection(
            ex.submit(() => {
              throw 0;
            }),
          ),
          0,
        );
      });

      void it(
        'a source function error keeps its class and stack',
        { timeout: TIMEOUT },
        async () => {
          const error = await rejection(
            ex.submit(function explode(): never {
              throw new SyntaxError('from source');
            }),
          );
          assert.ok(error instanceof SyntaxError, String(error));
          assert.equal(error.message, 'from source');
          assert.match(error.stack ?? '', /explode/);
        },
      );
    });

    void describe('clone failures fail only their future', () => {
      void it(
        'an uncloneable argument fails that future, naming its position',
        { timeout: TIMEOUT },
        async () => {
          const notCloneable = (() => 1) as unknown as number;
          // Three submissions in one tick travel in one batch: only the bad one fails.
          const good1 = ex.submit(tasks.add, 1, 2);
          const bad = ex.submit(tasks.add, 1, notCloneable);
          const good2 = ex.submit(tasks.add, 3, 4);
          const error = await rejection(bad);
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /argument 1\b/);
          assert.equal(await good1, 3);
          assert.equal(await good2, 7);
          // Position 0, and a symbol.
          const error0 = await rejection(ex.submit(tasks.echo, Symbol('nope')));
          assert.match((error0 as Error).message, /argument 0\b/);
          assert.equal(await ex.submit(tasks.add, 5, 5), 10);
        },
      );

      void it('submit does not throw for an uncloneable argument', { timeout: TIMEOUT }, () => {
        const f = ex.submit(tasks.echo, () => 1);
        assert.equal(typeof f.result, 'function');
        return rejection(f).then((error) => assert.ok(error instanceof TypeError));
      });

      void it('an uncloneable result fails only that future', { timeout: TIMEOUT }, async () => {
        const good1 = ex.submit(tasks.add, 1, 2);
        const bad = ex.submit(tasks.uncloneableResult);
        const good2 = ex.submit(tasks.add, 3, 4);
        const error = await rejection(bad);
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, /result/);
        assert.equal(await good1, 3);
        assert.equal(await good2, 7);
        assert.equal(await ex.submit(tasks.add, 5, 5), 10);
      });

      void it(
        'an uncloneable item of a map chunk fails that chunk only',
        { timeout: TIMEOUT },
        async () => {
          const items: unknown[] = [1, 2, 3, 4, 5, 6];
          items[4] = () => 1;
          const results = ex.map(tasks.echo, items, { chunksize: 3 });
          const got: unknown[] = [];
          const error = await rejection(
            (async () => {
              for await (const v of results) got.push(v);
            })(),
          );
          assert.deepEqual(got, [1, 2, 3]);
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /argument 0\b/);
          assert.equal(await ex.submit(tasks.add, 1, 1), 2);
        },
      );
    });

    void describe('transfer()', () => {
      void it('a module task can return transfer(buffer)', { timeout: TIMEOUT }, async () => {
        const buffer = await ex.submit(tasks.makeBuffer, 1024, 7);
        assert.ok(buffer instanceof ArrayBuffer);
        assert.equal(buffer.byteLength, 1024);
        assert.ok(new Uint8Array(buffer).every((b) => b === 7));
      });

      void it('a transferred argument arrives with its data', { timeout: TIMEOUT }, async () => {
        const bytes = new Uint8Array(1000).fill(3);
        assert.deepEqual(await ex.submit(tasks.sumBytes, transfer(bytes)), {
          sum: 3000,
          length: 1000,
        });
        const buffer = new Uint8Array(10).fill(1).buffer;
        assert.deepEqual(await ex.submit(tasks.sumBytes, transfer(buffer)), {
          sum: 10,
          length: 10,
        });
      });

      void it('a source function can return transfer(...) too', { timeout: TIMEOUT }, async () => {
        // The worker gives shipped functions its own `transfer` under the same name.
        const bytes = await ex.submit((n: number) => transfer(new Uint8Array(n).fill(9)), 16);
        assert.ok(bytes instanceof Uint8Array);
        assert.deepEqual([...bytes], new Array(16).fill(9));
      });
    });
  });
}

void describe('zero-copy with worker threads (InterpreterPoolExecutor)', () => {
  const pool = POOLS.find((p) => p.name === 'InterpreterPoolExecutor')!;
  const ex = pool.make({ maxWorkers: 1 });
  after(() => ex.shutdown());

  void it(
    'transfer(buffer) as an argument detaches the sender’s buffer',
    { timeout: TIMEOUT },
    async () => {
      const buffer = new ArrayBuffer(4096);
      new Uint8Array(buffer).fill(2);
      const f = ex.submit(tasks.sumBytes, transfer(buffer));
      assert.deepEqual(await f, { sum: 8192, length: 4096 });
      assert.equal(buffer.byteLength, 0, 'the buffer moved to the worker');

      const bytes = new Uint8Array(100).fill(1);
      assert.deepEqual(await ex.submit(tasks.sumBytes, transfer(bytes)), { sum: 100, length: 100 });
      assert.equal(bytes.byteLength, 0, 'the typed array’s buffer moved to the worker');
    },
  );

  void it('without transfer() the argument is copied', { timeout: TIMEOUT }, async () => {
    const bytes = new Uint8Array(100).fill(1);
    assert.deepEqual(await ex.submit(tasks.sumBytes, bytes), { sum: 100, length: 100 });
    assert.equal(bytes.byteLength, 100);
  });

  void it(
    'a SharedArrayBuffer is shared: the worker’s write is visible here',
    { timeout: TIMEOUT },
    async () => {
      const cells = new Int32Array(new SharedArrayBuffer(16));
      Atomics.store(cells, 2, 5);
      const before = await ex.submit(tasks.writeShared, cells, 2, 99);
      assert.equal(before, 5, 'the worker read what this thread wrote');
      assert.equal(Atomics.load(cells, 2), 99, 'this thread reads what the worker wrote');
    },
  );

  void it('a held worker sees the same memory while it runs', { timeout: TIMEOUT }, async () => {
    // The latch itself is the proof: the worker blocks on memory this thread writes.
    const latch = makeLatch('sab');
    const f = ex.submit(tasks.hold, latch.latch, 'released');
    await latch.started();
    assert.equal(latch.startedCount(), 1);
    latch.release();
    assert.equal(await f, 'released');
  });
});

void describe('transfer() with child processes (ProcessPoolExecutor)', () => {
  const pool = POOLS.find((p) => p.name === 'ProcessPoolExecutor')!;
  const ex = pool.make({ maxWorkers: 1 });
  after(() => ex.shutdown());

  void it(
    'copies, as documented: the data arrives and the sender keeps its buffer',
    { timeout: TIMEOUT },
    async () => {
      const bytes = new Uint8Array(100).fill(1);
      assert.deepEqual(await ex.submit(tasks.sumBytes, transfer(bytes)), { sum: 100, length: 100 });
      assert.equal(bytes.byteLength, 100);
    },
  );
});
