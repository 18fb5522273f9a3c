/**
 * Type-level tests: `npm run typecheck` (tsc over test/) fails if inference
 * regresses. The checks live in functions handed to `typeOnly`, which are
 * type-checked but never run; `// @ts-expect-error` marks calls that must not
 * compile (and fails the typecheck if they ever do).
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Future,
  ThreadPoolExecutor,
  asCompleted,
  wait,
  type DoneAndNotDone,
  type Executor,
  type MapResults,
} from 'concurrent-futures';

/** Exact type equality (not mere mutual assignability). */
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only if `T` is `true`. */
function check<T extends true>(_proof?: T): void {}

/** Type-checks `body` without running it. */
function typeOnly(_body: () => unknown): void {}

/** The element type of an async iterable. */
type ElementOf<I> = I extends AsyncIterable<infer E> ? E : never;

/** The type a future resolves to. */
type ResultOf<F> = F extends Future<infer T> ? T : never;

declare const ex: ThreadPoolExecutor;
declare const base: Executor;

void describe('types', () => {
  void it('submit checks arguments against the function and yields Future<Awaited<R>>', () => {
    typeOnly(() => {
      const _a = ex.submit((x: number, y: string) => x + y.length, 1, 'two');
      check<Equals<typeof _a, Future<number>>>();
      const _b = ex.submit(async (s: string) => s.length > 1, 'ab');
      check<Equals<typeof _b, Future<boolean>>>();
      const _c = ex.submit(() => Promise.resolve(Promise.resolve('deep')));
      check<Equals<typeof _c, Future<string>>>();
      const _d = ex.submit(() => {});
      check<Equals<typeof _d, Future<void>>>();
      const _e = base.submit((x: bigint) => [x], 1n);
      check<Equals<typeof _e, Future<bigint[]>>>();
      const _opt = ex.submit((x: number, y?: string) => y ?? x, 1);
      check<Equals<typeof _opt, Future<string | number>>>();
      const _rest = ex.submit((...xs: number[]) => xs.length, 1, 2, 3);
      check<Equals<typeof _rest, Future<number>>>();

      // @ts-expect-error a string where fn wants a number
      ex.submit((x: number) => x, 'one');
      // @ts-expect-error a missing argument
      ex.submit((x: number, y: number) => x + y, 1);
      // @ts-expect-error one argument too many
      ex.submit((x: number) => x, 1, 2);
      // @ts-expect-error not a function
      ex.submit(42);
      // @ts-expect-error the base class checks arguments too
      base.submit((x: string) => x, 1);
    });
    check<true>();
  });

  void it('map infers the element type from its iterables, with and without options', () => {
    typeOnly(() => {
      const _a = ex.map((x: number) => String(x), [1, 2]);
      check<Equals<typeof _a, MapResults<string>>>();
      check<Equals<ElementOf<typeof _a>, string>>();
      const _b = ex.map(async (x: number, s: string) => ({ x, s }), [1], ['s']);
      check<Equals<ElementOf<typeof _b>, { x: number; s: string }>>();
      const _withOptions = ex.map((x: number) => x > 0, [1], { timeout: 10, buffersize: 2 });
      check<Equals<ElementOf<typeof _withOptions>, boolean>>();
      async function* numbers(): AsyncGenerator<number> {
        yield 1;
      }
      const _fromAsync = ex.map(async (x: number) => [x], numbers());
      check<Equals<ElementOf<typeof _fromAsync>, number[]>>();
      const _mixed = ex.map((x: number, y: string) => y.repeat(x), numbers(), new Set(['a']), {
        chunksize: 1,
      });
      check<Equals<ElementOf<typeof _mixed>, string>>();
      const _onBase = base.map((s: string) => s.length, 'abc');
      check<Equals<ElementOf<typeof _onBase>, number>>();

      // @ts-expect-error strings where fn wants numbers
      ex.map((x: number) => x, ['a']);
      // @ts-expect-error an async iterable of the wrong element type
      ex.map((x: string) => x, numbers());
      // @ts-expect-error a bad option type
      ex.map((x: number) => x, [1], { timeout: 'soon' });

      void (async () => {
        for await (const _s of ex.map((x: number) => `${x}`, [1])) {
          check<Equals<typeof _s, string>>();
        }
      })();
    });
    check<true>();
  });

  void it('asCompleted and wait keep the element type', () => {
    typeOnly(async () => {
      const fs: Future<number>[] = [];
      for await (const f of asCompleted(fs)) {
        check<Equals<ResultOf<typeof f>, number>>();
        const _r = await f.result();
        check<Equals<typeof _r, number>>();
        const asFuture: Future<number> = f;
        void asFuture;
      }
      const byFuture = new Map<Future<string>, { id: number }>();
      for await (const f of asCompleted(byFuture, { timeout: 5 })) {
        const _r = await f.result();
        check<Equals<typeof _r, string>>();
        const _info = byFuture.get(f);
        check<Equals<typeof _info, { id: number } | undefined>>();
      }
      const _w = await wait(fs, { returnWhen: 'FIRST_COMPLETED' });
      check<Equals<typeof _w, DoneAndNotDone<Future<number>>>>();
      check<Equals<typeof _w.done, Set<Future<number>>>>();
      const _wm = await wait(byFuture);
      check<Equals<typeof _wm.notDone, Set<Future<string>>>>();
      const submitted = [ex.submit(() => 'x'), ex.submit(() => 'y')];
      const _ws = await wait(submitted);
      check<Equals<typeof _ws.done, Set<Future<string>>>>();

      // @ts-expect-error returnWhen is one of the three constants
      await wait(fs, { returnWhen: 'FIRST' });
      // @ts-expect-error not futures
      await wait([1, 2]);
    });
    check<true>();
  });

  void it('Future is covariant and PromiseLike', async () => {
    typeOnly(async () => {
      const n = new Future<number>();
      const u: Future<unknown> = n;
      void u;
      const list: Future<unknown>[] = [n, new Future<string>()];
      void list;
      const p: PromiseLike<number> = n;
      void p;
      const _awaited = await n;
      check<Equals<typeof _awaited, number>>();
      const _r = await n.result();
      check<Equals<typeof _r, number>>();
      const _e = await n.exception();
      check<Equals<typeof _e, unknown>>();
      // @ts-expect-error a Future<unknown> is not a Future<number>
      const back: Future<number> = u;
      void back;
      // @ts-expect-error setResult checks the value type
      n.setResult('x');
      n.addDoneCallback((_f) => {
        check<Equals<typeof _f, Future<number>>>();
      });
    });
    // The runtime half: the same facts hold for a real future.
    const f = new Future<number>();
    f.setResult(3);
    const asUnknown: Future<unknown> = f;
    assert.equal(await asUnknown, 3);
  });

  void it('ThreadPoolExecutor checks initArgs against the initializer', () => {
    typeOnly(() => {
      const ok = new ThreadPoolExecutor({
        initializer: (name: string, n: number) => void [name, n],
        initArgs: ['w', 1],
      });
      void ok;
      // @ts-expect-error initArgs do not match the initializer's parameters
      new ThreadPoolExecutor({ initializer: (n: number) => void n, initArgs: ['x'] });
      // @ts-expect-error maxWorkers is a number
      new ThreadPoolExecutor({ maxWorkers: '4' });
    });
    check<true>();
  });
});
