/**
 * Edges of the parallel executors found by trying them the way hostile and
 * careless users would (issue 6): errors that fight back when read, futures
 * settled by hand before their task runs, option typos, bad worker options.
 * The worker must survive, the pool keep dispatching, the parent never throw.
 */

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { taskModule, type Future } from 'concurrent-futures';
import { POOLS, TIMEOUT, makeLatch, rejection, tasks, type PoolExecutor } from './helpers.js';

const hostile = taskModule<typeof import('./fixtures/hostile.js')>(
  new URL('./fixtures/hostile.js', import.meta.url),
);

/** The errors of a `cause` chain, outermost first, the last link as it came (an error or not). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let link = error;
  while (link instanceof Error) {
    chain.push(link);
    link = link.cause;
  }
  chain.push(link);
  return chain;
}

for (const pool of POOLS) {
  void describe(pool.name, () => {
    void describe('hostile errors', () => {
      // One worker for all of them: the test checks it is the same one at the end.
      const ex: PoolExecutor = pool.make({ maxWorkers: 1 });
      after(() => ex.shutdown());
      let workerId: number;

      void it('a first task tells which worker runs', { timeout: TIMEOUT }, async () => {
        workerId = (await ex.submit(hostile.whoAmI))[pool.idKey];
      });

      void it('getters that throw are described, not fatal', { timeout: TIMEOUT }, async () => {
        const name = (await rejection(ex.submit(hostile.throwGetter, 'name'))) as Error;
        assert.ok(name instanceof Error);
        assert.equal(name.name, '[unreadable: Error: the name getter says no]');
        assert.equal(name.message, 'getter victim');

        const message = (await rejection(ex.submit(hostile.throwGetter, 'message'))) as Error;
        assert.equal(message.message, '[unreadable: Error: the message getter says no]');

        const stack = (await rejection(ex.submit(hostile.throwGetter, 'stack'))) as Error;
        assert.equal(stack.message, 'getter victim');
        assert.equal(stack.stack, '[unreadable: Error: the stack getter says no]');

        const prop = (await rejection(ex.submit(hostile.throwGetter, 'extra', true))) as Error & {
          extra: unknown;
        };
        assert.equal(prop.message, 'getter victim');
        assert.equal(prop.extra, '[unreadable: Error: the extra getter says no]');

        const ctor = (await rejection(ex.submit(hostile.throwGetter, 'constructor'))) as Error;
        assert.equal(ctor.message, 'getter victim');

        const layered = (await rejection(ex.submit(hostile.throwThrowingThrower))) as Error;
        assert.equal(layered.name, '[unreadable: a thrown Proxy]');
        assert.equal(layered.message, 'layered');
      });

      void it('a Symbol as message travels as its description', { timeout: TIMEOUT }, async () => {
        const error = (await rejection(ex.submit(hostile.throwSymbolMessage))) as Error;
        assert.ok(error instanceof Error);
        assert.equal(error.message, 'Symbol(the message)');
      });

      void it('Proxies with throwing traps, and revoked ones', { timeout: TIMEOUT }, async () => {
        assert.equal(
          await rejection(ex.submit(hostile.throwProxy)),
          '[unreadable Proxy: Error: the getPrototypeOf trap says no]',
        );
        // getPrototypeOf answers (it is an Error), but nothing can be read from it.
        const partial = (await rejection(
          ex.submit(hostile.throwProxy, ['get', 'has', 'ownKeys']),
        )) as Error & Record<string, unknown>;
        assert.ok(partial instanceof Error);
        assert.equal(partial.message, '[unreadable: Error: the get trap says no]');
        assert.equal(partial['[properties]'], '[unreadable: Error: the ownKeys trap says no]');
        assert.match(
          String(await rejection(ex.submit(hostile.throwRevoked))),
          /^\[unreadable Proxy: TypeError: .*revoked\]$/,
        );
        assert.match(
          String(await rejection(ex.submit(hostile.rejectProxy))),
          /^\[unreadable Proxy: /,
        );
      });

      void it(
        'a 10,000-deep cause chain arrives cut at 16 errors, saying so',
        { timeout: TIMEOUT },
        async () => {
          const chain = causeChain(await rejection(ex.submit(hostile.throwDeepCause, 10_000)));
          assert.equal(chain.length, 17);
          assert.equal((chain[0] as Error).message, 'cause 9999');
          assert.equal((chain[15] as Error).message, 'cause 9984');
          assert.equal(chain[16], '[Error: nested deeper than 16 errors, not sent]');
        },
      );

      void it(
        'a wide AggregateError arrives with its first 100 errors',
        { timeout: TIMEOUT },
        async () => {
          const error = (await rejection(
            ex.submit(hostile.throwWideAggregate, 1000),
          )) as AggregateError;
          assert.ok(error instanceof AggregateError);
          assert.equal(error.errors.length, 101);
          assert.ok(error.errors[99] instanceof RangeError);
          assert.equal(error.errors[99].message, 'error 99');
          assert.equal(error.errors[100], '[900 more errors not sent]');
        },
      );

      void it('too many or too deep properties are described', { timeout: TIMEOUT }, async () => {
        const many = (await rejection(ex.submit(hostile.throwHeavyProps, 1000, 0))) as Error &
          Record<string, unknown>;
        assert.equal(many.p63, 63);
        assert.equal(many.p64, undefined);
        assert.equal(many['[properties]'], '[937 more properties not sent]');
        const deep = (await rejection(ex.submit(hostile.throwHeavyProps, 1, 5000))) as Error &
          Record<string, unknown>;
        assert.equal(deep.p0, 0);
        assert.equal(deep.nested, '[Array (nested deeper than 100 levels, not sent)]');
        assert.equal(
          await rejection(ex.submit(hostile.throwDeepValue, 5000)),
          '[Array (nested deeper than 100 levels, not sent)]',
        );
        // Within the bound, a nested value arrives whole.
        let nested: unknown[] = [];
        for (let i = 0; i < 50; i++) nested = [nested];
        assert.deepEqual(await rejection(ex.submit(hostile.throwDeepValue, 50)), nested);
      });

      void it(
        'a result that cannot be read fails only its future',
        { timeout: TIMEOUT },
        async () => {
          for (const fn of [hostile.returnProxy, hostile.resolveProxy]) {
            const error = await rejection(ex.submit(fn));
            assert.ok(error instanceof TypeError, String(error));
            assert.match(error.message, /^the task's result cannot be sent back to the parent: /);
          }
        },
      );

      void it(
        'the same worker still answers, and the pool is not broken',
        { timeout: TIMEOUT },
        async () => {
          assert.equal((await ex.submit(hostile.whoAmI))[pool.idKey], workerId);
          assert.equal(await ex.submit(tasks.add, 2, 3), 5);
        },
      );
    });

    void describe('a future settled by hand before its task runs', () => {
      void it(
        'setResult, setException and cancel before dispatch: the pool skips it and goes on',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          const handSet = ex.submit(tasks.add, 1, 2);
          handSet.setResult(99);
          const failed = ex.submit(tasks.add, 1, 2);
          const reason = new Error('set by hand');
          failed.setException(reason);
          const cancelled = ex.submit(tasks.add, 1, 2);
          assert.equal(cancelled.cancel(), true);
          const later = ex.submit(tasks.add, 20, 22);
          assert.equal(await handSet, 99);
          assert.equal(await rejection(failed), reason);
          assert.equal(cancelled.cancelled(), true);
          assert.equal(await later, 42);
          assert.equal(await ex.submit(tasks.add, 1, 1), 2);
          await ex.shutdown();
          assert.equal(await handSet, 99, 'the first outcome stands');
        },
      );

      void it(
        'settled by hand while queued behind a busy worker, and while running',
        { timeout: TIMEOUT },
        async () => {
          const ex = pool.make({ maxWorkers: 1 });
          const latch = makeLatch(pool.latchKind);
          try {
            const running = ex.submit(tasks.hold, latch.latch, 'from the task');
            await latch.started();
            const queued: Future<number>[] = [];
            for (let i = 0; i < 5; i++) queued.push(ex.submit(tasks.add, i, 0));
            queued[1]!.setResult(-1);
            queued[3]!.setException('by hand');
            running.setResult('by hand');
            latch.release();
            assert.equal(await running, 'by hand');
            assert.deepEqual(
              await Promise.all(
                queued.map((f) =>
                  f.then(
                    (v) => v,
                    (e: unknown) => e,
                  ),
                ),
              ),
              [0, -1, 2, 'by hand', 4],
            );
            await ex.shutdown();
          } finally {
            latch.dispose();
          }
        },
      );
    });

    void describe('unknown options are a TypeError', () => {
      const ex: PoolExecutor = pool.make({ maxWorkers: 1 });
      after(() => ex.shutdown());

      void it('map names the option and the close match', () => {
        assert.throws(
          () => ex.map(tasks.double, [1, 2], { timout: 5 } as object),
          (e: unknown) =>
            e instanceof TypeError &&
            /^map: unknown option 'timout' \(did you mean 'timeout'\?\); the options are timeout, chunksize, buffersize$/.test(
              e.message,
            ),
        );
        assert.throws(
          () => ex.map(tasks.double, [1, 2], { chunkSize: 100 } as object),
          /map: unknown option 'chunkSize' \(did you mean 'chunksize'\?\)/,
        );
      });

      void it('shutdown rejects, and the executor stays open', { timeout: TIMEOUT }, async () => {
        const error = await rejection(ex.shutdown({ cancel_futures: true } as object));
        assert.ok(error instanceof TypeError);
        assert.match(
          error.message,
          /shutdown: unknown option 'cancel_futures' \(did you mean 'cancelFutures'\?\)/,
        );
        assert.equal(await ex.submit(tasks.add, 1, 2), 3);
      });
    });

    void describe('worker options are checked at construction', () => {
      void it('execArgv elements must be strings, naming the index', () => {
        assert.throws(
          () => pool.make({ execArgv: ['--no-warnings', 42 as unknown as string] }),
          (e: unknown) =>
            e instanceof TypeError &&
            (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE' &&
            e.message === 'execArgv[1] must be a string, got number',
        );
        assert.throws(
          () => pool.make({ execArgv: 'x' as unknown as string[] }),
          /execArgv must be an array of strings, got string/,
        );
      });

      void it('env values must be strings or undefined', () => {
        assert.throws(
          () => pool.make({ env: { A: 'ok', B: 42 as unknown as string } }),
          (e: unknown) =>
            e instanceof TypeError && e.message === 'env.B must be a string, got number',
        );
        return pool.make({ env: { A: 'ok', B: undefined } }).shutdown();
      });
    });

    void it(
      'runs a function whose name is not a string, or unreadable',
      { timeout: TIMEOUT },
      async () => {
        const numbered = Object.defineProperty((x: number) => x + 1, 'name', { value: 42 });
        const unreadable = Object.defineProperty((x: number) => x * 2, 'name', {
          get() {
            throw new Error('no name');
          },
        });
        const ex = pool.make({ maxWorkers: 1 });
        try {
          assert.equal(await ex.submit(numbered, 1), 2);
          assert.equal(await ex.submit(unreadable, 2), 4);
        } finally {
          await ex.shutdown();
        }
      },
    );

    void it('runs a task from a node: module', { timeout: TIMEOUT }, async () => {
      const path = taskModule<typeof import('node:path')>('node:path');
      const ex = pool.make({ maxWorkers: 1 });
      try {
        assert.equal(await ex.submit(path.join, 'a', 'b'), 'a/b');
      } finally {
        await ex.shutdown();
      }
    });
  });
}

void describe('InterpreterPoolExecutor resourceLimits', () => {
  const make = POOLS[0]!.make as (options: object) => PoolExecutor;

  void it('rejects an unknown limit (new Worker() would ignore it)', () => {
    assert.throws(
      () => make({ resourceLimits: { maxOldGenSizeMb: 64 } }),
      (e: unknown) =>
        e instanceof TypeError &&
        /^resourceLimits: unknown option 'maxOldGenSizeMb'/.test(e.message),
    );
  });

  void it('rejects a limit that is not a positive number of megabytes', () => {
    assert.throws(
      () => make({ resourceLimits: { maxOldGenerationSizeMb: '64' } }),
      /resourceLimits.maxOldGenerationSizeMb must be a number of megabytes, got string/,
    );
    assert.throws(
      () => make({ resourceLimits: { stackSizeMb: -1 } }),
      (e: unknown) =>
        e instanceof RangeError && /stackSizeMb must be a positive number/.test(e.message),
    );
  });
});
