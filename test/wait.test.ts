import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_COMPLETED,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  ThreadPoolExecutor,
  wait,
} from 'concurrent-futures';
import { gate, rejection, settle, until } from './helpers.js';

function succeeded<T>(value: T): Future<T> {
  const f = new Future<T>();
  f.setResult(value);
  return f;
}
function failed(error: unknown = new Error('failed')): Future<never> {
  const f = new Future<never>();
  f.setException(error);
  return f;
}
function cancelledOnly(): Future<never> {
  const f = new Future<never>();
  f.cancel();
  return f;
}
function cancelledAndNotified(): Future<never> {
  const f = cancelledOnly();
  f.setRunningOrNotifyCancel();
  return f;
}

/** Whether a promise has settled after the event loop turned a few times. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  return settled;
}

void describe('wait', { timeout: 20_000 }, () => {
  void it('exports the three constants as their names', () => {
    assert.equal(FIRST_COMPLETED, 'FIRST_COMPLETED');
    assert.equal(FIRST_EXCEPTION, 'FIRST_EXCEPTION');
    assert.equal(ALL_COMPLETED, 'ALL_COMPLETED');
  });

  void it('resolves at once for an empty input', async () => {
    for (const returnWhen of [FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED] as const) {
      const { done, notDone } = await wait([], { returnWhen });
      assert.equal(done.size, 0);
      assert.equal(notDone.size, 0);
    }
  });

  void it('collapses duplicates: each future appears once', async () => {
    const f = succeeded(1);
    const g = new Future();
    const r = await wait([f, f, g, g, f], { timeout: 0 });
    assert.deepEqual([...r.done], [f]);
    assert.deepEqual([...r.notDone], [g]);
    const all = wait([g, g, g]);
    g.setResult(2);
    assert.deepEqual([...(await all).done], [g]);
  });

  void it('ALL_COMPLETED (the default) waits for every future', async () => {
    const a = new Future<number>();
    const b = new Future<number>();
    const c = succeeded(3);
    const p = wait([a, b, c]);
    a.setResult(1);
    assert.equal(await isSettled(p), false);
    b.setException(new Error('b'));
    const { done, notDone } = await p;
    assert.deepEqual(done, new Set([a, b, c]));
    assert.equal(notDone.size, 0);
  });

  void it('ALL_COMPLETED returns at once when everything is already complete', async () => {
    const fs = [succeeded(1), failed(), cancelledAndNotified()];
    const { done, notDone } = await wait(fs, { returnWhen: ALL_COMPLETED });
    assert.deepEqual(done, new Set(fs));
    assert.equal(notDone.size, 0);
  });

  void it('FIRST_COMPLETED returns on the first completion (the reference test_first_completed)', async () => {
    const cancelled = cancelledOnly();
    const f1 = new Future<number>();
    const f2 = new Future<number>();
    const p = wait([cancelled, f1, f2], { returnWhen: FIRST_COMPLETED });
    assert.equal(await isSettled(p), false);
    f1.setResult(21);
    const { done, notDone } = await p;
    assert.deepEqual(done, new Set([f1]));
    assert.deepEqual(notDone, new Set([cancelled, f2]));
  });

  void it('FIRST_COMPLETED returns at once when one is already complete', async () => {
    const d = succeeded(1);
    const n = new Future();
    const { done, notDone } = await wait([n, d], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(done, new Set([d]));
    assert.deepEqual(notDone, new Set([n]));
  });

  void it('FIRST_COMPLETED fires on a failure and on a cancel notification too', async () => {
    const a = new Future();
    const p1 = wait([a, new Future()], { returnWhen: FIRST_COMPLETED });
    a.setException(new Error('x'));
    assert.deepEqual((await p1).done, new Set([a]));

    const b = new Future();
    const p2 = wait([b, new Future()], { returnWhen: FIRST_COMPLETED });
    b.cancel();
    assert.equal(await isSettled(p2), false, 'a plain cancel is not a completion yet');
    b.setRunningOrNotifyCancel();
    assert.deepEqual((await p2).done, new Set([b]));
  });

  void it('FIRST_EXCEPTION with some already complete (the reference test_first_exception_some_already_complete)', async () => {
    const ok = succeeded(1);
    const notified = cancelledAndNotified();
    const cancelled = cancelledOnly();
    const f1 = new Future();
    const f2 = new Future();
    const p = wait([ok, notified, cancelled, f1, f2], { returnWhen: FIRST_EXCEPTION });
    assert.equal(await isSettled(p), false);
    f1.setException(new RangeError('division by zero'));
    const { done, notDone } = await p;
    assert.deepEqual(done, new Set([ok, notified, f1]));
    assert.deepEqual(notDone, new Set([cancelled, f2]));
  });

  void it('FIRST_EXCEPTION returns at once when a future already failed', async () => {
    const bad = failed();
    const n = new Future();
    const { done, notDone } = await wait([n, bad], { returnWhen: FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([bad]));
    assert.deepEqual(notDone, new Set([n]));
  });

  void it('FIRST_EXCEPTION counts `throw undefined` and `throw 0` as exceptions', async () => {
    for (const value of [undefined, 0]) {
      const a = new Future();
      const b = new Future();
      const p = wait([a, b], { returnWhen: FIRST_EXCEPTION });
      a.setException(value);
      const { done } = await p;
      assert.deepEqual(done, new Set([a]));
      // And when it is already failed at the call.
      const early = await wait([a, b], { returnWhen: FIRST_EXCEPTION });
      assert.deepEqual(early.done, new Set([a]));
    }
  });

  void it('FIRST_EXCEPTION ignores cancellations and successes: it then behaves as ALL_COMPLETED', async () => {
    const a = new Future();
    const b = new Future();
    const c = new Future();
    const p = wait([a, b, c], { returnWhen: FIRST_EXCEPTION });
    a.cancel();
    a.setRunningOrNotifyCancel();
    assert.equal(await isSettled(p), false, 'a cancellation is not an exception');
    b.setResult(1);
    assert.equal(await isSettled(p), false, 'a success is not an exception');
    c.setResult(2);
    const { done, notDone } = await p;
    assert.deepEqual(done, new Set([a, b, c]));
    assert.equal(notDone.size, 0);

    // Already-notified cancellations at the call do not return early either.
    const n = cancelledAndNotified();
    const pending = new Future();
    const q = wait([n, pending], { returnWhen: FIRST_EXCEPTION });
    assert.equal(await isSettled(q), false);
    pending.setResult(0);
    assert.deepEqual((await q).done, new Set([n, pending]));
  });

  void it('a plain CANCELLED future is not counted until it is notified', async () => {
    const c = cancelledOnly();
    const snap = await wait([c], { timeout: 0 });
    assert.deepEqual(snap.notDone, new Set([c]));
    const p = wait([c]);
    assert.equal(await isSettled(p), false);
    assert.equal(c.setRunningOrNotifyCancel(), false);
    const { done, notDone } = await p;
    assert.deepEqual(done, new Set([c]));
    assert.equal(notDone.size, 0);
  });

  void it('a timeout never throws: it resolves with the split at that moment', async () => {
    const d = succeeded(1);
    const n = new Future();
    const started = performance.now();
    const { done, notDone } = await wait([d, n], { timeout: 20 });
    assert.ok(performance.now() - started >= 15);
    assert.deepEqual(done, new Set([d]));
    assert.deepEqual(notDone, new Set([n]));
    for (const returnWhen of [FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED] as const) {
      const r = await wait([n], { timeout: 5, returnWhen });
      assert.deepEqual(r.notDone, new Set([n]));
    }
  });

  void it('timeout 0 (or negative) is a non-blocking snapshot', async () => {
    const d = succeeded(1);
    const n = new Future();
    for (const timeout of [0, -1]) {
      const { done, notDone } = await wait([d, n], { timeout });
      assert.deepEqual(done, new Set([d]));
      assert.deepEqual(notDone, new Set([n]));
    }
  });

  void it('the result sets do not change after wait resolved', async () => {
    const a = new Future();
    const b = new Future();
    const r = await (async () => {
      const p = wait([a, b], { returnWhen: FIRST_COMPLETED });
      a.setResult(1);
      return p;
    })();
    b.setResult(2);
    await settle();
    assert.deepEqual(r.done, new Set([a]));
    assert.deepEqual(r.notDone, new Set([b]));

    const c = new Future();
    const timedOut = await wait([c], { timeout: 1 });
    c.setResult(3);
    await settle();
    assert.deepEqual(timedOut.notDone, new Set([c]));
    assert.equal(timedOut.done.size, 0);
  });

  void it('accepts any iterable of futures, and a Map keyed by futures', async () => {
    const a = succeeded('a');
    const b = succeeded('b');
    function* gen(): Generator<Future<string>> {
      yield a;
      yield b;
    }
    assert.deepEqual((await wait(gen())).done, new Set([a, b]));
    assert.deepEqual((await wait(new Set([a, b]))).done, new Set([a, b]));
    const byFuture = new Map<Future<string>, number>([
      [a, 1],
      [b, 2],
    ]);
    const { done } = await wait(byFuture);
    assert.deepEqual(done, new Set([a, b]));
    for (const f of done) assert.ok(byFuture.has(f));
  });

  void it('works across executors', async () => {
    const e1 = new ThreadPoolExecutor({ maxWorkers: 1 });
    const e2 = new ThreadPoolExecutor({ maxWorkers: 1 });
    const g = gate();
    const slow = e1.submit(() => g.promise);
    const fast = e2.submit(() => 'fast');
    const first = await wait([slow, fast], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(first.done, new Set([fast]));
    g.open();
    const all = await wait([slow, fast]);
    assert.deepEqual(all.done, new Set([slow, fast]));
    await Promise.all([e1.shutdown(), e2.shutdown()]);
  });

  void it('does not hang on futures an executor cancelled itself (shutdown with cancelFutures)', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const g = gate();
    const busy = ex.submit(() => g.promise);
    const queued = [ex.submit(() => 1), ex.submit(() => 2)];
    await until(() => busy.running());
    const shut = ex.shutdown({ cancelFutures: true });
    for (const f of queued) assert.equal(f.cancelled(), true);
    const snap = await wait(queued, { timeout: 0 });
    assert.deepEqual(snap.done, new Set(queued), 'notified at once');
    g.open();
    const { done } = await wait([busy, ...queued]);
    assert.equal(done.size, 3);
    await shut;
  });

  void describe('bad input always rejects (never throws), even when it would not block', () => {
    void it('an unknown returnWhen string is a RangeError naming the option', async () => {
      const cases: Future<unknown>[][] = [[], [succeeded(1)], [new Future()]];
      for (const fs of cases) {
        let p: Promise<unknown> | undefined;
        assert.doesNotThrow(() => (p = wait(fs, { returnWhen: 'bogus' as never })));
        const error = await rejection(p!);
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /returnWhen/);
        assert.match(error.message, /bogus/);
      }
    });

    void it('a returnWhen that is not a string is a TypeError', async () => {
      for (const returnWhen of [1, null, {}, Symbol('x')]) {
        const error = await rejection(wait([], { returnWhen: returnWhen as never }));
        assert.ok(error instanceof TypeError, typeof returnWhen);
        assert.match(error.message, /returnWhen/);
      }
    });

    void it('a bad timeout, a non-iterable fs, a non-future element or bad options reject with TypeError/RangeError', async () => {
      const f = succeeded(1);
      const typeErrors: (() => Promise<unknown>)[] = [
        () => wait([f], { timeout: '10' as never }),
        () => wait(42 as never),
        () => wait(null as never),
        () => wait(undefined as never),
        () => wait([f, 'not a future'] as never),
        () => wait([Promise.resolve(1)] as never),
        () => wait([f], 'options' as never),
      ];
      for (const call of typeErrors) {
        let p: Promise<unknown> | undefined;
        assert.doesNotThrow(() => (p = call()));
        assert.ok((await rejection(p!)) instanceof TypeError);
      }
      assert.ok((await rejection(wait([f], { timeout: Number.NaN }))) instanceof RangeError);
    });
  });
});
