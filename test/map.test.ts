import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Future,
  RuntimeError,
  ThreadPoolExecutor,
  TimeoutError,
  wait,
  type TaskFunction,
} from 'concurrent-futures';
import { delay, gate, rejection, settle, tick, until, watchUnhandled } from './helpers.js';

/** A ThreadPoolExecutor that remembers every future `submit` (and so `map`) created. */
class RecordingExecutor extends ThreadPoolExecutor {
  readonly futures: Future<unknown>[] = [];
  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    const f = super.submit(fn, ...args);
    this.futures.push(f);
    return f;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

void describe('Executor.map', { timeout: 20_000 }, () => {
  void it('yields fn over the items, in input order, for sync and async fn', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
    assert.deepEqual(await collect(ex.map((x: number) => x * 2, [1, 2, 3])), [2, 4, 6]);
    assert.deepEqual(await collect(ex.map(async (x: number) => x + 1, new Set([1, 2]))), [2, 3]);
    assert.deepEqual(await collect(ex.map((c: string) => c.toUpperCase(), 'ab')), ['A', 'B']);
  });

  void it('yields in input order whatever order the calls finish in', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 4 });
    const gates = [gate(), gate(), gate(), gate()];
    const it = ex.map(async (i: number) => (await gates[i]!.promise, i * 10), [0, 1, 2, 3]);
    // Finish them in reverse order.
    for (const i of [3, 2, 1, 0]) {
      gates[i]!.open();
      await tick();
    }
    assert.deepEqual(await collect(it), [0, 10, 20, 30]);
  });

  void it('submits every call inside the map() call, even if the result is never iterated', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 2 });
    const ran: number[] = [];
    ex.map((x: number) => void ran.push(x), [1, 2, 3, 4]);
    assert.equal(ex.futures.length, 4, 'submitted before map() returned');
    assert.deepEqual(ran, [], 'but nothing ran synchronously');
    // Shutting down right away must not stop them: they were submitted already.
    await ex.shutdown();
    assert.deepEqual(ran.sort(), [1, 2, 3, 4]);
  });

  void it('a never-started iterator cancels nothing when closed', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const g = gate();
    const ran: number[] = [];
    const it = ex.map(
      async (x: number) => {
        await g.promise;
        ran.push(x);
      },
      [1, 2, 3],
    );
    assert.deepEqual(await it.return!(), { done: true, value: undefined });
    assert.ok(ex.futures.every((f) => !f.cancelled()));
    g.open();
    await ex.shutdown();
    assert.deepEqual(ran, [1, 2, 3]);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  void it('zips several iterables and stops at the shortest; zero iterables yield nothing', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const add = (a: number, b: number): number => a + b;
    assert.deepEqual(await collect(ex.map(add, [1, 2, 3], [10, 20])), [11, 22]);
    assert.deepEqual(await collect(ex.map(add, [1], [10, 20, 30])), [11]);
    assert.deepEqual(await collect(ex.map(add, [], [10])), []);
    let called = false;
    const none = (): void => void (called = true);
    assert.deepEqual(await collect(ex.map(none)), []);
    assert.deepEqual(await collect(ex.map(none, { timeout: 1000 })), []);
    assert.equal(called, false);
  });

  void it('treats a trailing plain object as the options, and an array or other iterable as input', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const pair = (a: number, b: number): number[] => [a, b];
    assert.deepEqual(await collect(ex.map(pair, [1, 2], [3, 4], { timeout: 10_000 })), [
      [1, 3],
      [2, 4],
    ]);
    assert.deepEqual(await collect(ex.map(pair, [1, 2], new Map([[5, 6]]).keys())), [[1, 5]]);
  });

  void it('an error surfaces at its own position (same object), ends iteration and cancels what has not started', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const boom = new Error('item 2');
    const hold = gate();
    const started: number[] = [];
    const it = ex.map(
      async (x: number) => {
        started.push(x);
        if (x === 2) throw boom;
        if (x === 3) await hold.promise; // the worker is busy with 3 when the error is seen
        return x;
      },
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(await it.next(), { done: false, value: 1 });
    // Ask for position 2 only once the call at position 3 is running, so that
    // what is running and what is queued is known when the error is seen.
    await until(() => started.includes(3));
    assert.equal(await rejection(it.next()), boom);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    const [, , third, fourth, fifth] = ex.futures;
    assert.equal(third!.running(), true, 'a running call is left alone');
    assert.equal(fourth!.cancelled(), true);
    assert.equal(fifth!.cancelled(), true);
    // Cancelled by the map itself, so notified: wait counts them at once.
    const snap = await wait([fourth!, fifth!], { timeout: 0 });
    assert.equal(snap.done.size, 2);
    hold.open();
    await ex.shutdown();
    assert.deepEqual(started, [1, 2, 3]);
    assert.equal(await third!.result(), 3);
  });

  void it('a non-Error failure (throw undefined) still ends the iteration at its position', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const it = ex.map(
      (x: number) => {
        if (x === 1) throw undefined;
        return x;
      },
      [0, 1, 2],
    );
    assert.deepEqual(await it.next(), { done: false, value: 0 });
    assert.equal(await rejection(it.next()), undefined);
    assert.equal((await it.next()).done, true);
  });

  void it('break in a started iteration cancels the not-started calls, notified so that wait() does not hang', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const ran: number[] = [];
    const hold = gate();
    const results: number[] = [];
    for await (const r of ex.map(
      async (x: number) => {
        ran.push(x);
        if (x === 2) await hold.promise;
        return x;
      },
      [1, 2, 3, 4],
    )) {
      results.push(r);
      // Break once the call at position 2 is running (and blocked): 3 and 4 are queued.
      await until(() => ex.futures[1]!.running());
      break;
    }
    assert.deepEqual(results, [1]);
    const [, second, third, fourth] = ex.futures;
    assert.equal(second!.running(), true);
    assert.equal(third!.cancelled(), true);
    assert.equal(fourth!.cancelled(), true);
    // No timeout: this would hang if the cancelled futures were not notified.
    const waiting = wait([third!, fourth!]);
    const { done } = await waiting;
    assert.equal(done.size, 2);
    hold.open();
    await ex.shutdown();
    assert.deepEqual(ran, [1, 2]);
  });

  void it('the deadline is fixed at the map() call', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate<number>();
    const it = ex.map((_x: number) => hold.promise, [1], { timeout: 20 });
    await delay(60);
    // The deadline has passed: the first next() throws without waiting for the call.
    const next = it.next();
    setImmediate(() => hold.open(1));
    assert.ok((await rejection(next)) instanceof TimeoutError);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  void it('a timeout cancels the awaited call and the rest if they have not started (reference test_executor_map_current_future_cancel)', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const hold = gate();
    const busy = ex.submit(() => hold.promise);
    const ran: string[] = [];
    const it = ex.map((s: string) => void ran.push(s), ['second', 'third'], { timeout: 0 });
    const error = await rejection(it.next());
    assert.ok(error instanceof TimeoutError);
    const [, second, third] = ex.futures;
    assert.equal(second!.cancelled(), true);
    assert.equal(third!.cancelled(), true);
    assert.deepEqual((await wait([second!, third!], { timeout: 0 })).done.size, 2);
    hold.open();
    await busy;
    await ex.shutdown();
    assert.deepEqual(ran, []);
  });

  void it('a timeout fires when a result takes too long', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate();
    const it = ex.map((_x: number) => hold.promise, [1], { timeout: 20 });
    const started = performance.now();
    assert.ok((await rejection(it.next())) instanceof TimeoutError);
    assert.ok(performance.now() - started >= 10);
    hold.open();
  });

  void describe('buffersize', () => {
    void it('reads and submits only that many inputs ahead, one more per next()', async () => {
      const ex = new RecordingExecutor({ maxWorkers: 4 });
      let read = 0;
      function* naturals(): Generator<number> {
        for (let i = 0; ; i++) {
          if (i > 10_000) throw new Error('read far ahead: buffersize not honoured');
          read++;
          yield i;
        }
      }
      const it = ex.map((x: number) => x * x, naturals(), { buffersize: 3 });
      assert.equal(read, 3);
      assert.equal(ex.futures.length, 3);
      await settle();
      assert.equal(read, 3, 'no further reads without a consumer');
      assert.deepEqual(await it.next(), { done: false, value: 0 });
      assert.equal(ex.futures.length, 4);
      assert.deepEqual(await it.next(), { done: false, value: 1 });
      assert.equal(ex.futures.length, 5);
      assert.equal(read, 5);
      await it.return!();
      await ex.shutdown();
    });

    void it('leaves the rest of the input unread (reference test_map_buffersize_when_buffer_is_full)', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      const source = [0, 1, 2, 3][Symbol.iterator]();
      ex.map((x: number) => x, source, { buffersize: 2 });
      assert.deepEqual(source.next(), { done: false, value: 2 });
    });

    void it('works on an infinite generator and gives results in order', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
      function* forever(): Generator<number> {
        for (let i = 0; ; i++) {
          if (i > 10_000) throw new Error('read far ahead: buffersize not honoured');
          yield i;
        }
      }
      const out: number[] = [];
      for await (const r of ex.map(async (x: number) => x + 100, forever(), { buffersize: 2 })) {
        out.push(r);
        if (out.length === 10) break;
      }
      assert.deepEqual(
        out,
        Array.from({ length: 10 }, (_, i) => i + 100),
      );
    });

    void it('reads an infinite async iterable only buffersize ahead', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
      let read = 0;
      async function* forever(): AsyncGenerator<number> {
        for (let i = 0; ; i++) {
          if (i > 10_000) throw new Error('read far ahead: buffersize not honoured');
          read++;
          yield i;
        }
      }
      const it = ex.map((x: number) => -x, forever(), { buffersize: 2 });
      await settle(10);
      assert.equal(read, 2);
      assert.deepEqual(await it.next(), { done: false, value: -0 });
      await settle(10);
      assert.equal(read, 3);
      assert.deepEqual(await it.next(), { done: false, value: -1 });
      assert.deepEqual(await it.next(), { done: false, value: -2 });
      await it.return!();
    });

    void it('a submit that fails in a later next() (executor shut down) comes out of that next()', async () => {
      const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      const it = ex.map((x: number) => x, [1, 2, 3, 4], { buffersize: 1 });
      await ex.shutdown();
      const error = await rejection(it.next());
      assert.ok(error instanceof RuntimeError);
      assert.equal(error.message, 'cannot schedule new futures after shutdown');
      assert.deepEqual(await it.next(), { done: true, value: undefined });
    });

    void it('buffersize validation errors are thrown by the map() call itself', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
      const fn = (x: number): number => x;
      for (const buffersize of [0, -1]) {
        assert.throws(
          () => ex.map(fn, [1], { buffersize }),
          (e: unknown) => e instanceof RangeError && /buffersize/.test(e.message),
        );
      }
      for (const buffersize of ['foo', 2.5, 2.0000001, true, {}]) {
        assert.throws(
          () => ex.map(fn, [1], { buffersize: buffersize as never }),
          (e: unknown) => e instanceof TypeError && /buffersize/.test(e.message),
        );
      }
      // Integers written as floats are integers in JavaScript.
      assert.deepEqual(await collect(ex.map(fn, [1, 2], { buffersize: 2.0 })), [1, 2]);
    });
  });

  void it('chunksize below 1 or not an integer is rejected by the call; a valid chunksize changes nothing on threads', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const fn = (x: number): number => x;
    for (const chunksize of [0, -5, 1.5]) {
      assert.throws(
        () => ex.map(fn, [1], { chunksize }),
        (e: unknown) => e instanceof RangeError && /chunksize/.test(e.message),
      );
    }
    assert.throws(
      () => ex.map(fn, [1], { chunksize: '2' as never }),
      (e: unknown) => e instanceof TypeError && /chunksize/.test(e.message),
    );
    assert.deepEqual(await collect(ex.map(fn, [1, 2, 3], { chunksize: 2 })), [1, 2, 3]);
  });

  void it('other bad arguments are thrown by the call: fn, a non-iterable input, a bad timeout', async () => {
    await using ex = new RecordingExecutor({ maxWorkers: 1 });
    assert.throws(() => ex.map('nope' as never, [1]), TypeError);
    assert.throws(() => ex.map((x: number) => x, 5 as never), TypeError);
    assert.throws(() => ex.map((x: number) => x, [1], null as never), TypeError);
    assert.throws(() => ex.map((x: number) => x, [1], { timeout: 'x' as never }), TypeError);
    assert.throws(() => ex.map((x: number) => x, [1], { timeout: Number.NaN }), RangeError);
    assert.equal(ex.futures.length, 0, 'nothing was submitted');
  });

  void it('map() after shutdown throws RuntimeError from the call', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    await ex.shutdown();
    assert.throws(
      () => ex.map((x: number) => x, [1]),
      (e: unknown) =>
        e instanceof RuntimeError && e.message === 'cannot schedule new futures after shutdown',
    );
  });

  void it('an error reading a sync input comes out of the map() call; what was submitted still runs', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const broken = new Error('source broke');
    function* source(): Generator<number> {
      yield 1;
      yield 2;
      throw broken;
    }
    const ran: number[] = [];
    assert.throws(
      () => ex.map((x: number) => void ran.push(x), source()),
      (e: unknown) => e === broken,
    );
    await ex.shutdown();
    assert.deepEqual(ran, [1, 2]);
    assert.ok(ex.futures.every((f) => !f.cancelled()));
  });

  void describe('async iterables', () => {
    void it('closed before iteration started: stops reading, but what it read still runs', async () => {
      const ex = new RecordingExecutor({ maxWorkers: 2 });
      const items = [gate<number>(), gate<number>(), gate<number>()];
      let reads = 0;
      async function* source(): AsyncGenerator<number> {
        for (const g of items) {
          reads++;
          yield await g.promise;
        }
      }
      const ran: number[] = [];
      const results = ex.map((x: number) => void ran.push(x), source());
      items[0]!.open(10);
      await until(() => ran.length === 1);
      // The reader now waits for the second item; close the map before iterating it.
      assert.equal(reads, 2);
      await results.return!();
      items[1]!.open(20);
      await until(() => ran.length === 2);
      await ex.shutdown();
      assert.deepEqual(ran, [10, 20], 'the item read before the close was submitted and ran');
      assert.equal(reads, 2, 'nothing is read after the close');
      assert.ok(
        ex.futures.every((f) => !f.cancelled()),
        'an unstarted map cancels nothing',
      );
    });

    void it('are read from the call on, and submitted as items arrive, even if never iterated', async () => {
      const ex = new RecordingExecutor({ maxWorkers: 2 });
      const items = [gate<number>(), gate<number>()];
      let reads = 0;
      async function* source(): AsyncGenerator<number> {
        for (const g of items) {
          reads++;
          yield await g.promise;
        }
      }
      const ran: number[] = [];
      ex.map((x: number) => void ran.push(x), source());
      assert.equal(reads, 1, 'reading started inside the call');
      items[0]!.open(10);
      await until(() => ran.length === 1);
      items[1]!.open(20);
      await until(() => ran.length === 2);
      assert.deepEqual(ran, [10, 20]);
      await ex.shutdown();
      assert.equal(ex.futures.length, 2);
    });

    void it('give results in input order, zipped with sync iterables, stopping at the shortest', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
      async function* letters(): AsyncGenerator<string> {
        yield 'a';
        await tick();
        yield 'b';
        yield 'c';
      }
      const out = await collect(
        ex.map((n: number, s: string) => `${s}${n}`, [1, 2, 3, 4], letters()),
      );
      assert.deepEqual(out, ['a1', 'b2', 'c3']);
      const empty = (async function* (): AsyncGenerator<number> {})();
      assert.deepEqual(await collect(ex.map((x: number) => x, empty)), []);
    });

    void it('an error from the async input surfaces after the results before it, then ends iteration', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      const broken = new Error('async source broke');
      async function* source(): AsyncGenerator<number> {
        yield 1;
        yield 2;
        throw broken;
      }
      const it = ex.map((x: number) => x * 3, source());
      assert.deepEqual(await it.next(), { done: false, value: 3 });
      assert.deepEqual(await it.next(), { done: false, value: 6 });
      assert.equal(await rejection(it.next()), broken);
      assert.deepEqual(await it.next(), { done: true, value: undefined });
    });

    void it('an async task error ends iteration at its position', async () => {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      const boom = new Error('boom');
      async function* source(): AsyncGenerator<number> {
        yield* [1, 2, 3];
      }
      const it = ex.map(async (x: number) => {
        if (x === 2) throw boom;
        return x;
      }, source());
      assert.deepEqual(await it.next(), { done: false, value: 1 });
      assert.equal(await rejection(it.next()), boom);
      assert.equal((await it.next()).done, true);
    });
  });

  void it('concurrent next() calls are answered in input order', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
    const it = ex.map(async (x: number) => x, [1, 2, 3]);
    const rs = await Promise.all([it.next(), it.next(), it.next(), it.next()]);
    assert.deepEqual(
      rs.map((r) => r.value),
      [1, 2, 3, undefined],
    );
    assert.equal(rs[3]?.done, true);
  });

  void it('failures nobody reads (a map never iterated, or abandoned) cause no unhandled rejection', async () => {
    const watch = watchUnhandled();
    try {
      const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      ex.map(
        (x: number) => {
          throw new Error(`unread ${x}`);
        },
        [1, 2, 3],
      );
      const it = ex.map(
        async (x: number) => {
          throw new Error(`abandoned ${x}`);
        },
        [1, 2, 3],
      );
      await rejection(it.next());
      await ex.shutdown();
      await settle(10);
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });
});
