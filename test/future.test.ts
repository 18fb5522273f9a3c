import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelledError,
  Future,
  InvalidStateError,
  RuntimeError,
  TimeoutError,
  setCallbackErrorHandler,
  wait,
} from 'concurrent-futures';
import {
  captureCallbackErrors,
  rejection,
  settle,
  stateOf,
  tick,
  watchUnhandled,
} from './helpers.js';

/** A future in each of the five states. */
function pending(): Future<number> {
  return new Future<number>();
}
function running(): Future<number> {
  const f = new Future<number>();
  assert.equal(f.setRunningOrNotifyCancel(), true);
  return f;
}
function cancelled(): Future<number> {
  const f = new Future<number>();
  assert.equal(f.cancel(), true);
  return f;
}
function cancelledAndNotified(): Future<number> {
  const f = cancelled();
  assert.equal(f.setRunningOrNotifyCancel(), false);
  return f;
}
function finished(value = 42): Future<number> {
  const f = new Future<number>();
  f.setResult(value);
  return f;
}

const makers = {
  PENDING: pending,
  RUNNING: running,
  CANCELLED: cancelled,
  CANCELLED_AND_NOTIFIED: cancelledAndNotified,
  FINISHED: finished,
} as const;

/** Whether `wait` and `asCompleted` count the future as complete (a non-blocking snapshot). */
async function countedByWait(f: Future<unknown>): Promise<boolean> {
  const { done } = await wait([f], { timeout: 0 });
  return done.has(f);
}

void describe('Future states', { timeout: 20_000 }, () => {
  void it('has the five states with the predicates of the reference table', async () => {
    const table: [keyof typeof makers, boolean, boolean, boolean, RegExp][] = [
      ['PENDING', false, false, false, /state=pending>$/],
      ['RUNNING', true, false, false, /state=running>$/],
      ['CANCELLED', false, true, true, /state=cancelled>$/],
      ['CANCELLED_AND_NOTIFIED', false, true, true, /state=cancelled>$/],
      ['FINISHED', false, false, true, /state=finished returned number>$/],
    ];
    for (const [state, isRunning, isCancelled, isDone, shown] of table) {
      const f = makers[state]();
      assert.equal(stateOf(f), state);
      assert.equal(f.running(), isRunning, `${state}: running()`);
      assert.equal(f.cancelled(), isCancelled, `${state}: cancelled()`);
      assert.equal(f.done(), isDone, `${state}: done()`);
      assert.match(String(f), shown);
      assert.match(String(f), /^<Future #\d+ state=/);
      // Only FINISHED and CANCELLED_AND_NOTIFIED count as complete for wait/asCompleted.
      assert.equal(
        await countedByWait(f),
        state === 'FINISHED' || state === 'CANCELLED_AND_NOTIFIED',
        `${state}: counted by wait`,
      );
    }
  });

  void it('describes a failed future by its error class, and a subclass by its own name', () => {
    const f = new Future();
    f.setException(new TypeError('boom'));
    assert.match(String(f), /^<Future #\d+ state=finished raised TypeError>$/);
    const g = new Future();
    g.setException(undefined);
    assert.match(String(g), /state=finished raised undefined>$/);
    class MyFuture<T> extends Future<T> {}
    assert.match(String(new MyFuture()), /^<MyFuture #\d+ state=pending>$/);
    assert.equal(Object.prototype.toString.call(new Future()), '[object Future]');
  });

  void it('gives every future its own id in its description', () => {
    const a = String(new Future());
    const b = String(new Future());
    assert.notEqual(a, b);
  });
});

void describe('Future transition table', { timeout: 20_000 }, () => {
  void it('cancel(): PENDING → CANCELLED (true); RUNNING and FINISHED → unchanged (false)', () => {
    const p = pending();
    assert.equal(p.cancel(), true);
    assert.equal(stateOf(p), 'CANCELLED');

    const r = running();
    assert.equal(r.cancel(), false);
    assert.equal(stateOf(r), 'RUNNING');

    const d = finished();
    assert.equal(d.cancel(), false);
    assert.equal(stateOf(d), 'FINISHED');
  });

  void it('cancel() on a cancelled future returns true again and changes nothing', () => {
    const c = cancelled();
    assert.equal(c.cancel(), true);
    assert.equal(stateOf(c), 'CANCELLED');
    const n = cancelledAndNotified();
    assert.equal(n.cancel(), true);
    assert.equal(stateOf(n), 'CANCELLED_AND_NOTIFIED');
  });

  void it('cancel() never throws, in any state', () => {
    for (const make of Object.values(makers)) {
      const f = make();
      assert.doesNotThrow(() => f.cancel());
    }
  });

  void it('setRunningOrNotifyCancel(): PENDING → RUNNING (true), CANCELLED → CANCELLED_AND_NOTIFIED (false)', () => {
    const p = pending();
    assert.equal(p.setRunningOrNotifyCancel(), true);
    assert.equal(stateOf(p), 'RUNNING');
    const c = cancelled();
    assert.equal(c.setRunningOrNotifyCancel(), false);
    assert.equal(stateOf(c), 'CANCELLED_AND_NOTIFIED');
  });

  void it('setRunningOrNotifyCancel() raises RuntimeError (not InvalidStateError) in RUNNING, CANCELLED_AND_NOTIFIED and FINISHED', () => {
    for (const state of ['RUNNING', 'CANCELLED_AND_NOTIFIED', 'FINISHED'] as const) {
      const f = makers[state]();
      const before = String(f);
      assert.throws(
        () => f.setRunningOrNotifyCancel(),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeError, `${state}: a RuntimeError`);
          assert.ok(!(error instanceof InvalidStateError));
          assert.equal(error.name, 'RuntimeError');
          assert.equal(error.message, `Future in unexpected state: ${before}`);
          return true;
        },
      );
      assert.equal(stateOf(f), state, `${state}: unchanged`);
    }
  });

  void it('setResult()/setException() are allowed from PENDING (without running) and RUNNING', async () => {
    const a = pending();
    a.setResult(1);
    assert.equal(stateOf(a), 'FINISHED');
    assert.equal(await a.result(), 1);

    const b = running();
    b.setResult(2);
    assert.equal(await b.result(), 2);

    const err = new Error('x');
    const c = pending();
    c.setException(err);
    assert.equal(stateOf(c), 'FINISHED');
    assert.equal(await c.exception(), err);

    const d = running();
    d.setException(err);
    assert.equal(await d.exception(), err);
  });

  void it('setResult()/setException() raise InvalidStateError "<STATE>: <future>" once cancelled or finished, leaving the first outcome', async () => {
    for (const state of ['CANCELLED', 'CANCELLED_AND_NOTIFIED', 'FINISHED'] as const) {
      for (const op of ['setResult', 'setException'] as const) {
        const f = makers[state]();
        const before = String(f);
        assert.throws(
          () => (op === 'setResult' ? f.setResult(7) : f.setException(new Error('late'))),
          (error: unknown) => {
            assert.ok(error instanceof InvalidStateError, `${state} ${op}`);
            assert.equal(error.name, 'InvalidStateError');
            assert.equal(error.message, `${state}: ${before}`);
            return true;
          },
        );
        assert.equal(stateOf(f), state);
        if (state === 'FINISHED') assert.equal(await f.result(), 42);
        else assert.ok((await rejection(f.result())) instanceof CancelledError);
      }
    }
  });

  void it('a second setException does not replace the first error', async () => {
    const first = new Error('first');
    const f = new Future();
    f.setException(first);
    assert.throws(() => f.setException(new Error('second')), InvalidStateError);
    assert.equal(await rejection(f.result()), first);
  });
});

void describe('Future.result() and exception()', { timeout: 20_000 }, () => {
  void it('result() gives the value; exception() resolves undefined after success', async () => {
    const f = finished(5);
    assert.equal(await f.result(), 5);
    assert.equal(await f.result(0), 5);
    assert.equal(await f.exception(), undefined);
    assert.equal(await f.exception(0), undefined);
  });

  void it('result() rejects with the very same error object every time; exception() returns it', async () => {
    const err = new RangeError('bad');
    const f = new Future();
    f.setException(err);
    assert.equal(await rejection(f.result()), err);
    assert.equal(await rejection(f.result(0)), err);
    assert.equal(await rejection(f), err);
    assert.equal(await f.exception(), err);
    assert.equal(await f.exception(100), err);
  });

  void it('a failure with undefined, 0, null or "" is still a failure', async () => {
    for (const value of [undefined, 0, null, '', false]) {
      const f = new Future();
      f.setException(value);
      assert.equal(f.done(), true);
      assert.equal(await rejection(f.result()), value);
      assert.equal(await rejection(f), value);
      assert.equal(await f.exception(), value);
    }
  });

  void it('result(0) and exception(0) do not wait: TimeoutError at once on a pending or running future', async () => {
    for (const f of [pending(), running()]) {
      const a = await rejection(f.result(0));
      assert.ok(a instanceof TimeoutError);
      assert.equal(a.name, 'TimeoutError');
      assert.ok((await rejection(f.exception(0))) instanceof TimeoutError);
      // A negative timeout means "do not wait" too.
      assert.ok((await rejection(f.result(-5))) instanceof TimeoutError);
    }
  });

  void it('result(timeout) rejects with TimeoutError once the time is up, and the future stays usable', async () => {
    const f = pending();
    const started = performance.now();
    const error = await rejection(f.result(20));
    assert.ok(error instanceof TimeoutError);
    assert.ok(performance.now() - started >= 15, 'waited about the timeout');
    assert.ok((await rejection(f.exception(10))) instanceof TimeoutError);
    f.setResult(3);
    assert.equal(await f.result(), 3);
  });

  void it('result(timeout) resolves when the future finishes within the timeout', async () => {
    const f = pending();
    const r = f.result(60_000);
    const e = f.exception(60_000);
    await tick();
    f.setResult(9);
    assert.equal(await r, 9);
    assert.equal(await e, undefined);
  });

  void it('result()/exception() without a timeout wait as long as it takes', async () => {
    const f = pending();
    const r = f.result();
    const e = f.exception();
    await settle();
    const err = new Error('late');
    f.setException(err);
    assert.equal(await rejection(r), err);
    assert.equal(await e, err);
  });

  void it('result() and exception() reject with CancelledError on a cancelled future (both cancelled states)', async () => {
    for (const f of [cancelled(), cancelledAndNotified()]) {
      const r = await rejection(f.result());
      assert.ok(r instanceof CancelledError);
      assert.equal(r.name, 'CancelledError');
      assert.ok((await rejection(f.exception())) instanceof CancelledError);
      assert.ok((await rejection(f.result(0))) instanceof CancelledError);
      assert.ok((await rejection(f)) instanceof CancelledError);
    }
  });

  void it('a cancel() while somebody waits in result()/exception() makes them reject with CancelledError', async () => {
    const f = pending();
    const r = f.result(60_000);
    const e = f.exception();
    const awaited = rejection(f);
    await tick();
    f.cancel();
    assert.ok((await rejection(r)) instanceof CancelledError);
    assert.ok((await rejection(e)) instanceof CancelledError);
    assert.ok((await awaited) instanceof CancelledError);
  });

  void it('never throws synchronously, even for a bad timeout: the promise rejects instead', async () => {
    const f = pending();
    let r: Promise<unknown> | undefined;
    let e: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      r = f.result('soon' as unknown as number);
      e = f.exception(Number.NaN);
    });
    assert.ok((await rejection(r!)) instanceof TypeError);
    assert.ok((await rejection(e!)) instanceof RangeError);
    // And a failed future's result() is a rejected promise, not a throw.
    const failed = new Future();
    failed.setException(new Error('x'));
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (p = failed.result()));
    await rejection(p!);
  });

  void it('is PromiseLike: await, then, catch and finally', async () => {
    const ok = finished(4);
    assert.equal(await ok, 4);
    assert.equal(await ok.then((v) => v * 2), 8);
    let ran = false;
    assert.equal(
      await ok.finally(() => {
        ran = true;
      }),
      4,
    );
    assert.equal(ran, true);

    const err = new Error('no');
    const bad = new Future<number>();
    const caught = bad.catch((e: unknown) => e);
    bad.setException(err);
    assert.equal(await caught, err);
    assert.equal(
      await bad.then(
        () => 'fulfilled',
        (e: unknown) => e,
      ),
      err,
    );

    const later = new Future<string>();
    const awaited = (async () => await later)();
    await tick();
    later.setResult('hi');
    assert.equal(await awaited, 'hi');
  });

  void it('nobody reading a failed or cancelled future causes no unhandled rejection', async () => {
    const watch = watchUnhandled();
    try {
      const a = new Future();
      a.setException(new Error('unread'));
      const b = new Future();
      b.setRunningOrNotifyCancel();
      b.setException(undefined);
      const c = new Future();
      c.cancel();
      // A future that somebody awaited once (through a handled path) and then failed.
      const d = new Future();
      void d.then(undefined, () => {});
      d.setException(new Error('handled'));
      await settle(10);
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });
});

void describe('Future done callbacks', { timeout: 20_000 }, () => {
  void it('runs callbacks once, in the order added, with the future, after the state changed', async () => {
    const f = new Future<number>();
    const calls: string[] = [];
    f.addDoneCallback((g) => {
      assert.equal(g, f);
      assert.equal(g.done(), true);
      calls.push('a');
    });
    f.addDoneCallback(() => calls.push('b'));
    f.addDoneCallback(() => calls.push('c'));
    assert.deepEqual(calls, []);
    f.setRunningOrNotifyCancel();
    assert.deepEqual(calls, [], 'running is not done');
    f.setResult(1);
    assert.deepEqual(calls, ['a', 'b', 'c'], 'run synchronously by setResult');
    await settle();
    assert.deepEqual(calls, ['a', 'b', 'c'], 'and only once');
    assert.throws(() => f.setResult(2), InvalidStateError);
    assert.deepEqual(calls, ['a', 'b', 'c']);
  });

  void it('runs a callback at once, before addDoneCallback returns, when the future is already done', () => {
    for (const make of [finished, cancelled, cancelledAndNotified]) {
      const f = make();
      let called = 0;
      f.addDoneCallback((g) => {
        assert.equal(g, f);
        called++;
      });
      assert.equal(called, 1);
    }
  });

  void it('runs callbacks on setException and on cancel(); a repeated cancel or the notification does not re-run them', () => {
    const e = new Future();
    let onError = 0;
    e.addDoneCallback(() => onError++);
    e.setException(new Error('x'));
    assert.equal(onError, 1);

    const c = new Future();
    let onCancel = 0;
    c.addDoneCallback((g) => {
      assert.equal(g.cancelled(), true);
      onCancel++;
    });
    assert.equal(c.cancel(), true);
    assert.equal(onCancel, 1, 'callbacks have run by the time cancel() returns');
    assert.equal(c.cancel(), true);
    assert.equal(c.setRunningOrNotifyCancel(), false);
    assert.equal(c.cancel(), true);
    assert.equal(onCancel, 1);
  });

  void it('a callback added from inside a callback runs at once (the future is done)', () => {
    const f = new Future();
    const calls: string[] = [];
    f.addDoneCallback(() => {
      calls.push('outer');
      f.addDoneCallback(() => calls.push('nested'));
      calls.push('outer end');
    });
    f.addDoneCallback(() => calls.push('second'));
    f.setResult(undefined);
    assert.deepEqual(calls, ['outer', 'nested', 'outer end', 'second']);
  });

  void it('a throwing callback is reported through the handler; the rest still run; nothing escapes', () => {
    const capture = captureCallbackErrors();
    try {
      const f = new Future();
      const boom = new Error('boom');
      const calls: string[] = [];
      f.addDoneCallback(() => calls.push('first'));
      f.addDoneCallback(() => {
        throw boom;
      });
      f.addDoneCallback(() => calls.push('third'));
      assert.doesNotThrow(() => f.setResult(1));
      assert.deepEqual(calls, ['first', 'third']);
      assert.equal(capture.errors.length, 1);
      assert.equal(capture.errors[0]!.error, boom);
      assert.equal(capture.errors[0]!.future, f);

      // Also for a callback run at once on a done future, and for non-Error throws.
      assert.doesNotThrow(() =>
        f.addDoneCallback(() => {
          throw 'str';
        }),
      );
      assert.equal(capture.errors.length, 2);
      assert.equal(capture.errors[1]!.error, 'str');

      // And through cancel().
      const c = new Future();
      c.addDoneCallback(() => {
        throw undefined;
      });
      assert.equal(c.cancel(), true);
      assert.equal(capture.errors.length, 3);
      assert.equal(capture.errors[2]!.error, undefined);
      assert.equal(capture.errors[2]!.future, c);
    } finally {
      capture.restore();
    }
  });

  void it('a callback whose promise rejects is reported through the handler, never as an unhandled rejection', async () => {
    const watch = watchUnhandled();
    const capture = captureCallbackErrors();
    try {
      const f = new Future();
      const boom = new Error('async boom');
      const calls: string[] = [];
      f.addDoneCallback(async () => {
        await tick();
        throw boom;
      });
      f.addDoneCallback(() => calls.push('after'));
      f.setResult(1);
      assert.deepEqual(calls, ['after']);
      await settle();
      assert.equal(capture.errors.length, 1);
      assert.equal(capture.errors[0]!.error, boom);
      assert.equal(capture.errors[0]!.future, f);
      assert.deepEqual(watch.events, []);
    } finally {
      capture.restore();
      watch.stop();
    }
  });

  void it('by default reports callback errors with console.error, naming the future', async (t) => {
    const previous = setCallbackErrorHandler(undefined);
    const logged = t.mock.method(console, 'error', () => {});
    try {
      const f = new Future();
      const boom = new Error('logged');
      f.addDoneCallback(() => {
        throw boom;
      });
      f.addDoneCallback(() => Promise.reject(boom));
      f.setResult(1);
      await settle();
      assert.equal(logged.mock.callCount(), 2);
      for (const call of logged.mock.calls) {
        assert.equal(call.arguments[0], `exception calling callback for ${String(f)}`);
        assert.equal(call.arguments[1], boom);
      }
    } finally {
      logged.mock.restore();
      setCallbackErrorHandler(previous);
    }
  });

  void it('a handler that throws falls back to console.error and still does not escape', async (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const previous = setCallbackErrorHandler(() => {
      throw new Error('handler broke');
    });
    try {
      const f = new Future();
      f.addDoneCallback(() => {
        throw new Error('callback broke');
      });
      let later = false;
      f.addDoneCallback(() => (later = true));
      assert.doesNotThrow(() => f.setResult(1));
      assert.equal(later, true);
      const messages = logged.mock.calls.map((c) => (c.arguments[1] as Error).message);
      assert.ok(messages.includes('handler broke'));
      assert.ok(messages.includes('callback broke'));
    } finally {
      logged.mock.restore();
      setCallbackErrorHandler(previous);
    }
  });

  void it('setCallbackErrorHandler returns the previous handler, undefined restores the default, a non-function is a TypeError', (t) => {
    const mine = (): void => {};
    const original = setCallbackErrorHandler(mine);
    try {
      assert.equal(typeof original, 'function');
      assert.equal(setCallbackErrorHandler(undefined), mine);
      // Now the default again: it logs.
      const logged = t.mock.method(console, 'error', () => {});
      const f = new Future();
      f.setResult(0);
      f.addDoneCallback(() => {
        throw new Error('x');
      });
      assert.equal(logged.mock.callCount(), 1);
      logged.mock.restore();
      assert.throws(() => setCallbackErrorHandler('nope' as never), TypeError);
    } finally {
      setCallbackErrorHandler(original);
    }
  });

  void it('addDoneCallback with a non-function throws TypeError', () => {
    const f = new Future();
    assert.throws(() => f.addDoneCallback(42 as never), TypeError);
    f.setResult(1);
    assert.throws(() => f.addDoneCallback(undefined as never), TypeError);
  });
});

void describe('Future cancellation and waiters', { timeout: 20_000 }, () => {
  void it('a plain cancel() is done() and cancelled() at once but wait counts it only once notified', async () => {
    const f = new Future();
    f.cancel();
    assert.equal(f.done(), true);
    assert.equal(f.cancelled(), true);
    const before = await wait([f], { timeout: 0 });
    assert.equal(before.notDone.has(f), true);
    const waiting = wait([f]);
    await settle();
    f.setRunningOrNotifyCancel();
    const after = await waiting;
    assert.equal(after.done.has(f), true);
  });
});
