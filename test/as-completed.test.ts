import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Future, ThreadPoolExecutor, TimeoutError, asCompleted } from 'concurrent-futures';
import { delay, gate, rejection, settle, tick } from './helpers.js';

function succeeded<T>(value: T): Future<T> {
  const f = new Future<T>();
  f.setResult(value);
  return f;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

void describe('asCompleted', { timeout: 20_000 }, () => {
  void it('yields nothing for an empty input, and never times out', async () => {
    assert.deepEqual(await collect(asCompleted([])), []);
    assert.deepEqual(await collect(asCompleted([], { timeout: 0 })), []);
  });

  void it('yields already-complete futures first, even with timeout 0, then throws "N (of M) futures unfinished"', async () => {
    const a = succeeded(1);
    const b = new Future<number>();
    b.setException(new Error('b'));
    const c = new Future<number>();
    c.cancel();
    c.setRunningOrNotifyCancel();
    const pending = new Future<number>();
    const plainCancelled = new Future<number>();
    plainCancelled.cancel();
    const it = asCompleted([pending, a, plainCancelled, b, c], { timeout: 0 });
    const seen = new Set<Future<number>>();
    for (let i = 0; i < 3; i++) {
      const r = await it.next();
      assert.equal(r.done, false);
      seen.add(r.value);
    }
    assert.deepEqual(seen, new Set([a, b, c]));
    const error = await rejection(it.next());
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.name, 'TimeoutError');
    assert.equal(error.message, '2 (of 5) futures unfinished');
  });

  void it('yields in completion order', async () => {
    const fs = [new Future<string>(), new Future<string>(), new Future<string>()];
    const it = asCompleted(fs);
    // Completed after the call but before iterating: still in completion order.
    fs[2]!.setResult('c');
    fs[0]!.setResult('a');
    assert.equal((await it.next()).value, fs[2]);
    assert.equal((await it.next()).value, fs[0]);
    // Completed while the consumer waits.
    const next = it.next();
    await tick();
    fs[1]!.setResult('b');
    assert.equal((await next).value, fs[1]);
    assert.equal((await it.next()).done, true);
  });

  void it('yields futures in the order an executor completes them', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 4 });
    const gates = [gate(), gate(), gate(), gate()];
    const fs = gates.map((g, i) => ex.submit(async () => (await g.promise, i)));
    const order = [2, 0, 3, 1];
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const f of asCompleted(fs)) {
        seen.push(await f.result());
        const nextGate = order[seen.length];
        if (nextGate !== undefined) gates[nextGate]!.open();
      }
    })();
    gates[order[0]!]!.open();
    await consumer;
    assert.deepEqual(seen, order);
    await ex.shutdown();
  });

  void it('yields a duplicated future once, and counts distinct futures in the timeout message', async () => {
    const f = succeeded(1);
    assert.deepEqual(await collect(asCompleted([f, f, f])), [f]);
    function* repeat(): Generator<Future<number>> {
      for (let i = 0; i < 3; i++) yield f;
    }
    assert.deepEqual(await collect(asCompleted(repeat())), [f]);

    const p = new Future<number>();
    const it = asCompleted([p, p, f, p], { timeout: 0 });
    assert.equal((await it.next()).value, f);
    const error = await rejection(it.next());
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.message, '1 (of 2) futures unfinished');
  });

  void it('accepts a Map keyed by futures (the {future: id} idiom) and yields its keys', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const byFuture = new Map<Future<number>, string>();
    for (const id of ['x', 'y', 'z'])
      byFuture.set(
        ex.submit(() => id.charCodeAt(0)),
        id,
      );
    const got: string[] = [];
    for await (const f of asCompleted(byFuture)) {
      assert.ok(f instanceof Future);
      const id = byFuture.get(f)!;
      assert.equal(await f.result(), id.charCodeAt(0));
      got.push(id);
    }
    assert.deepEqual(got.sort(), ['x', 'y', 'z']);
    await ex.shutdown();
  });

  void it('does not yield a plain CANCELLED future until it is notified', async () => {
    const c = new Future();
    c.cancel();
    const error = await rejection(asCompleted([c], { timeout: 0 }).next());
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.message, '1 (of 1) futures unfinished');

    const it = asCompleted([c]);
    const next = it.next();
    await settle();
    c.setRunningOrNotifyCancel();
    assert.equal((await next).value, c);
    assert.equal((await it.next()).done, true);
  });

  void it('times out when nothing completes within the timeout', async () => {
    const f = new Future();
    const started = performance.now();
    const it = asCompleted([f], { timeout: 30 });
    const error = await rejection(it.next());
    const elapsed = performance.now() - started;
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.message, '1 (of 1) futures unfinished');
    assert.ok(elapsed >= 25, `waited ${elapsed} ms`);
    assert.ok(elapsed < 10_000, `waited ${elapsed} ms`);
  });

  void it('measures the deadline from the call, not from the first next()', async () => {
    const f = new Future<number>();
    const it = asCompleted([f], { timeout: 20 });
    await delay(60);
    // The deadline has passed: next() throws at once, before f can complete.
    const next = it.next();
    setImmediate(() => f.setResult(1));
    const error = await rejection(next);
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.message, '1 (of 1) futures unfinished');
  });

  void it('still yields futures that completed before an expired deadline, then times out', async () => {
    const a = new Future<number>();
    const b = new Future<number>();
    const it = asCompleted([a, b], { timeout: 10 });
    a.setResult(1);
    await delay(30);
    assert.equal((await it.next()).value, a);
    const error = await rejection(it.next());
    assert.equal((error as Error).message, '1 (of 2) futures unfinished');
  });

  void it('is finished after a timeout: later next() calls are done', async () => {
    const f = new Future();
    const it = asCompleted([f], { timeout: 0 });
    assert.ok((await rejection(it.next())) instanceof TimeoutError);
    f.setResult(1);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  void it('picks up futures that complete while the consumer handles an earlier one', async () => {
    const fs = [new Future<number>(), new Future<number>(), new Future<number>()];
    fs[0]!.setResult(0);
    const seen: Future<number>[] = [];
    for await (const f of asCompleted(fs)) {
      seen.push(f);
      // Complete the others from inside the loop body.
      if (f === fs[0]) {
        fs[2]!.setResult(2);
        fs[1]!.setResult(1);
      }
    }
    assert.deepEqual(seen, [fs[0], fs[2], fs[1]]);
  });

  void it('answers concurrent next() calls in order, each with a distinct future', async () => {
    const fs = [new Future<number>(), new Future<number>()];
    const it = asCompleted(fs);
    const n1 = it.next();
    const n2 = it.next();
    const n3 = it.next();
    fs[1]!.setResult(1);
    fs[0]!.setResult(0);
    assert.equal((await n1).value, fs[1]);
    assert.equal((await n2).value, fs[0]);
    assert.equal((await n3).done, true);
  });

  void it('break (return()) ends the iteration; later completions change nothing', async () => {
    const fs = [succeeded(1), new Future<number>()];
    let count = 0;
    for await (const _f of asCompleted(fs)) {
      count++;
      break;
    }
    assert.equal(count, 1);
    fs[1]!.setResult(2);
    await settle();
  });

  void it('return() while a next() is waiting resolves that next() as done instead of leaving it hanging', async () => {
    const f = new Future();
    const it = asCompleted([f]);
    const next = it.next();
    await tick();
    assert.deepEqual(await it.return!(), { done: true, value: undefined });
    assert.deepEqual(await next, { done: true, value: undefined });
  });

  void it('rejects bad input at the call with TypeError/RangeError', () => {
    assert.throws(() => asCompleted(42 as never), TypeError);
    assert.throws(() => asCompleted(null as never), TypeError);
    assert.throws(() => asCompleted([new Future(), 'x'] as never), TypeError);
    assert.throws(() => asCompleted([], { timeout: 'soon' as never }), TypeError);
    assert.throws(() => asCompleted([], { timeout: Number.NaN }), RangeError);
    assert.throws(() => asCompleted([], 5 as never), TypeError);
  });

  void it('a timeout fires on time while CPU-bound sync tasks are queued on a ThreadPoolExecutor', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const spinMs = 3;
    const fs = Array.from({ length: 400 }, () =>
      ex.submit(() => {
        const end = performance.now() + spinMs;
        while (performance.now() < end);
      }),
    );
    const started = performance.now();
    let error: unknown;
    let yielded = 0;
    try {
      for await (const _f of asCompleted(fs, { timeout: 50 })) yielded++;
    } catch (e) {
      error = e;
    }
    const elapsed = performance.now() - started;
    // Were the timer starved, it could fire only after every task ran (all
    // 400 futures done, so no timeout at all); the tasks take >= 1.2 s of CPU.
    assert.ok(
      error instanceof TimeoutError,
      `timed out before all 400 tasks ran (after ${Math.round(elapsed)} ms)`,
    );
    const unfinished = Number(/^(\d+) \(of 400\)/.exec(error.message)?.[1]);
    assert.ok(unfinished > 0, error.message);
    assert.equal(unfinished + yielded, 400);
    assert.ok(elapsed >= 45, `not before the timeout: ${elapsed} ms`);
    await ex.shutdown({ cancelFutures: true });
  });
});
