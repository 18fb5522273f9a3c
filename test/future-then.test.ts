import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { CancelledError, Future, ThreadPoolExecutor } from 'concurrent-futures';
import { gate, rejection, runFixture, settle, tick } from './helpers.js';

function finished<T>(value: T): Future<T> {
  const f = new Future<T>();
  f.setResult(value);
  return f;
}

function failed(error: unknown): Future<never> {
  const f = new Future<never>();
  f.setException(error);
  return f;
}

/**
 * How many promises `fn` creates, counted by a promise hook until what it
 * returns settles. `fn` must settle within microtasks: a turn of the event
 * loop would count the test runner's own promises.
 */
async function promisesCreated(fn: () => PromiseLike<unknown> | void): Promise<number> {
  let count = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') count++;
    },
  });
  hook.enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return count;
}

void describe('Future.then: the promise contract', { timeout: 20_000 }, () => {
  void it('await gives the result, throws the error, and CancelledError once cancelled', async () => {
    assert.equal(await finished(3), 3);
    const err = new Error('no');
    assert.equal(await rejection(failed(err)), err);
    const later = new Future<string>();
    const awaited = (async () => await later)();
    await tick();
    later.setResult('hi');
    assert.equal(await awaited, 'hi');
    const c = new Future<number>();
    const pending = rejection(c);
    c.cancel();
    assert.ok((await pending) instanceof CancelledError);
    assert.ok((await rejection(c)) instanceof CancelledError, 'and for a then made afterwards');
  });

  void it('chains values, thenables, futures and throws as a promise would', async () => {
    const f = new Future<number>();
    const value = f.then((v) => v + 1);
    const promised = f.then((v) => Promise.resolve(v * 10));
    const future = f.then((v) => finished(`future ${v}`));
    // A bare thenable, not a promise: only its then is called.
    const thenable = f.then(
      (v) =>
        ({
          then(resolve: (x: string) => void) {
            resolve(`thenable ${v}`);
          },
        }) as unknown as PromiseLike<string>,
    );
    const err = new Error('thrown');
    const thrown = f.then(() => {
      throw err;
    });
    const recovered = f
      .then(() => {
        throw err;
      })
      .then(
        () => 'no',
        (e: unknown) => e,
      );
    f.setResult(1);
    assert.equal(await value, 2);
    assert.equal(await promised, 10);
    assert.equal(await future, 'future 1');
    assert.equal(await thenable, 'thenable 1');
    assert.equal(await rejection(thrown), err);
    assert.equal(await recovered, err);
    // A returned failing future rejects what then returned.
    const e2 = new Error('inner');
    assert.equal(await rejection(finished(0).then(() => failed(e2))), e2);
  });

  void it('hands out a promise-like that works before and after the callback ran', async () => {
    const f = new Future<number>();
    const before = f.then((v) => v * 2);
    const chainedBefore = before.then((v) => v + 1);
    const after = f.then((v) => v * 3);
    f.setResult(5);
    await settle(1);
    assert.equal(await chainedBefore, 11);
    assert.equal(await after.then((v) => v + 1), 16, 'chained after the callback ran');
    assert.equal(await after.catch(() => 0), 15);
    assert.equal(await after.finally(() => {}), 15);
    assert.equal(await Promise.resolve(after), 15);
  });

  void it('rejects what then returned with a TypeError when a callback returns it', async () => {
    const f = finished(1);
    const derived: PromiseLike<unknown> = f.then(() => derived);
    assert.ok((await rejection(derived)) instanceof TypeError);
  });

  void it('lets a callback chain on what its own then returned', async () => {
    const f = new Future<number>();
    let inner: Promise<number> | undefined;
    const derived: Promise<number> = f.then((v) => {
      inner = derived.then((x) => x + 1);
      return v * 2;
    });
    f.setResult(4);
    assert.equal(await derived, 8);
    assert.equal(await inner, 9);
  });

  void it('catch handles a failure and passes a result through', async () => {
    const err = new Error('no');
    const bad = new Future<number>();
    const caught = bad.catch((e: unknown) => e);
    bad.setException(err);
    assert.equal(await caught, err);
    assert.equal(await finished(7).catch(() => 0), 7);
    assert.equal(
      await failed(undefined).catch((e: unknown) => `caught ${String(e)}`),
      'caught undefined',
    );
  });

  void it('finally passes the outcome through, waits for its callback, and a failure of it wins', async () => {
    const order: string[] = [];
    const g = gate();
    const f = new Future<number>();
    const passed = f.finally(async () => {
      order.push('finally');
      await g.promise;
      order.push('finally done');
      return 'ignored';
    });
    void passed.then(() => order.push('then'));
    f.setResult(1);
    await settle(2);
    assert.deepEqual(order, ['finally'], 'waits for the promise its callback returned');
    g.open();
    assert.equal(await passed, 1);
    assert.deepEqual(order, ['finally', 'finally done', 'then']);

    const err = new Error('no');
    let ran = 0;
    assert.equal(await rejection(failed(err).finally(() => void ran++)), err);
    assert.equal(ran, 1);
    const replaced = new Error('finally failed');
    assert.equal(
      await rejection(
        finished(1).finally(() => {
          throw replaced;
        }),
      ),
      replaced,
    );
    assert.equal(await rejection(failed(err).finally(() => Promise.reject(replaced))), replaced);
    assert.ok((await rejection(cancelledFuture().finally(() => {}))) instanceof CancelledError);
  });

  void it('passes the outcome through non-function arguments, as a promise does', async () => {
    const err = new Error('no');
    const f = finished(3);
    const bad = failed(err);
    assert.equal(await f.then(null, null), 3);
    assert.equal(await f.then(undefined, undefined), 3);
    assert.equal(await f.then(5 as never, 'x' as never), 3);
    assert.equal(await rejection(bad.then(null, null)), err);
    assert.equal(await rejection(bad.then((v) => v, 'x' as never)), err);
    assert.equal(await rejection(bad.catch(null)), err);
    assert.equal(await f.catch(null), 3);
    assert.equal(await f.finally(null), 3);
    assert.equal(await rejection(bad.finally(42 as never)), err);
  });

  void it('never calls a callback inside then, even for a done future', async () => {
    const calls: string[] = [];
    const done = finished(1);
    void done.then(() => calls.push('fulfilled'));
    void failed(new Error()).then(undefined, () => calls.push('rejected'));
    void failed(new Error()).catch(() => calls.push('caught'));
    void done.finally(() => calls.push('finally'));
    assert.deepEqual(calls, []);
    await settle(1);
    assert.deepEqual(calls.sort(), ['caught', 'finally', 'fulfilled', 'rejected']);
  });

  void it('never calls a callback inside setResult, setException or cancel', async () => {
    const calls: string[] = [];
    const a = new Future<number>();
    const b = new Future<number>();
    const c = new Future<number>();
    void a.then(() => calls.push('a'));
    void b.then(undefined, () => calls.push('b'));
    void c.then(undefined, () => calls.push('c'));
    a.setResult(1);
    b.setException(new Error());
    c.cancel();
    assert.deepEqual(calls, []);
    await settle(1);
    assert.deepEqual(calls, ['a', 'b', 'c']);
  });

  void it('runs each callback at most once, in registration order', async () => {
    const calls: string[] = [];
    const f = new Future<number>();
    void f.then(() => calls.push('1'));
    void f.then(
      () => calls.push('2'),
      () => calls.push('2 rejected'),
    );
    void f.catch(() => calls.push('catch'));
    void f.finally(() => calls.push('3'));
    void f.then(() => calls.push('4'));
    f.setResult(1);
    assert.throws(() => f.setResult(2));
    // Registered once the future is done, before and after the first callbacks ran.
    void f.then(() => calls.push('5'));
    await settle(1);
    void f.then(() => {
      calls.push('6');
      // Registered from a callback: runs later, not inside this then.
      void f.then(() => calls.push('8'));
      calls.push('7');
    });
    await settle(2);
    assert.deepEqual(calls, ['1', '2', '3', '4', '5', '6', '7', '8']);
  });

  void it('tells a then made inside a done callback, and keeps the done callbacks synchronous', async () => {
    const calls: string[] = [];
    const f = new Future<number>();
    f.addDoneCallback(() => {
      calls.push('done callback');
      void f.then(() => calls.push('then'));
    });
    f.setResult(1);
    assert.deepEqual(calls, ['done callback']);
    await settle(1);
    assert.deepEqual(calls, ['done callback', 'then']);
  });

  void it('Promise.race, allSettled, any and resolve take futures', async () => {
    const err = new Error('no');
    const slow = new Future<string>();
    const fast = new Future<string>();
    const race = Promise.race([slow, fast]);
    await tick(); // Promise.race calls then on a later microtask
    fast.setResult('fast');
    slow.setResult('slow');
    assert.equal(await race, 'fast');

    const bad = failed(err);
    const c = cancelledFuture();
    const settled = await Promise.allSettled([finished(1), bad, c]);
    assert.deepEqual(settled.slice(0, 2), [
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: err },
    ]);
    const third = settled[2];
    assert.ok(third.status === 'rejected' && third.reason instanceof CancelledError);

    assert.equal(await Promise.any([bad, finished('any')]), 'any');
    const none = await rejection(Promise.any([bad, failed(err)]));
    assert.ok(none instanceof AggregateError);
    assert.deepEqual(none.errors, [err, err]);

    const resolved = Promise.resolve(finished('r'));
    assert.ok(resolved instanceof Promise);
    assert.equal(await resolved, 'r');
  });
});

function cancelledFuture(): Future<number> {
  const f = new Future<number>();
  f.cancel();
  return f;
}

void describe('Promise.all over futures', { timeout: 30_000 }, () => {
  void it('resolves with the results in order', async () => {
    const futures = [new Future<number>(), new Future<number>(), finished(3)];
    const all = Promise.all(futures);
    futures[1]!.setResult(2);
    futures[0]!.setResult(1);
    assert.deepEqual(await all, [1, 2, 3]);
  });

  void it('rejects with the first error, in time not in order', async () => {
    const first = new Error('first');
    const futures = [new Future<number>(), new Future<number>(), new Future<number>()];
    const all = Promise.all(futures);
    await tick(); // Promise.all calls then on a later microtask
    futures[2]!.setException(first);
    futures[0]!.setException(new Error('second'));
    futures[1]!.cancel();
    assert.equal(await rejection(all), first);
  });

  void it('rejects with the first error in order among futures that failed before it called then', async () => {
    // As for promises settled before Promise.all saw them: the element order decides.
    const futures = [new Future<number>(), failed(new Error('first')), failed(new Error('second'))];
    const outcome = rejection(Promise.all(futures));
    await tick();
    futures[0]!.setException(new Error('third'));
    assert.equal(((await outcome) as Error).message, 'first');
  });

  void it('rejects with the first error of an executor, and CancelledError for a cancelled future', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const g = gate();
    const err = new Error('task failed');
    const futures = [
      ex.submit(() => g.promise),
      ex.submit(() => {
        throw err;
      }),
      ex.submit(() => {
        throw new Error('later');
      }),
    ];
    const all = Promise.all(futures);
    g.open();
    assert.equal(await rejection(all), err);
    await ex.shutdown();
    const onCancelled = Promise.all([new Future(), cancelledFuture()]);
    assert.ok((await rejection(onCancelled)) instanceof CancelledError);
  });

  void it('collects many tasks of a ThreadPoolExecutor', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 8 });
    const futures = Array.from({ length: 10_000 }, (_, i) =>
      ex.submit(async (x: number) => x * 2, i),
    );
    const results = await Promise.all(futures);
    assert.equal(results.length, 10_000);
    assert.ok(results.every((r, i) => r === i * 2));
    await ex.shutdown();
  });
});

void describe('Future.then: what it allocates', { timeout: 20_000 }, () => {
  const N = 1000;

  void it('creates no promise for a then whose result nobody uses', async () => {
    const futures = Array.from({ length: N }, () => new Future<number>());
    let ran = 0;
    const last = futures[N - 1]!;
    const count = await promisesCreated(() => {
      for (const f of futures) void f.then(() => ran++);
      for (const f of futures) f.setResult(1);
      return last;
    });
    assert.equal(ran, N);
    // A few: awaiting `last`, and the test runner's own. One per then call would be N.
    assert.ok(count < N / 10, `${count} promises for ${N} then calls`);
  });

  void it('adds no promise to the ones Promise.all itself makes per element', async () => {
    const futures = Array.from({ length: N }, () => new Future<number>());
    // What Promise.all makes for an element that is a promise already: the floor.
    const native = await promisesCreated(() =>
      Promise.all(Array.from({ length: N }, () => Promise.resolve(1))),
    );
    const count = await promisesCreated(async () => {
      const all = Promise.all(futures);
      await Promise.resolve(); // Promise.all's then calls, queued first, have run: the futures were pending
      for (const f of futures) f.setResult(1);
      return all;
    });
    // A thenable element costs the promise Promise.resolve wraps it in, and nothing from then.
    assert.ok(count < native + N + N / 10, `${count} promises, against ${native} for promises`);
  });
});

void describe('Future.then: unhandled rejections', { timeout: 60_000 }, () => {
  void it('reports nothing for errors nobody reads or that a handler reads, and what a promise reports for the rest', async () => {
    const run = await runFixture('then-unhandled.ts');
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.deepEqual(JSON.parse(run.stdout), {
      'failed, never read': 0,
      'cancelled, never read': 0,
      'executor tasks that throw, never read': 0,
      'Promise.all, several fail': 0,
      'Promise.race, allSettled and any over failures': 0,
      'await in try/catch': 0,
      'then with onrejected, result unused': 0,
      'catch, result unused': 0,
      'then result handled before the failure': 0,
      'then result of a failed future handled at once': 0,
      // As a promise would: the rejection reaches what then returned, and nobody reads that.
      'then without onrejected on a failure, result unused': 1,
      'then callback throws, result unused': 1,
      'then callback returns a failing future, result unused': 1,
      'finally on a failure, result unused': 1,
    });
  });
});
