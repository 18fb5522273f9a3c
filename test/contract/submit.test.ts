/**
 * Contract: submit and the futures it returns, on every executor. Results and
 * errors come back (errors with name, message, cause chain and code), done
 * callbacks run once, and every future settles exactly once.
 */

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, Future, RuntimeError, wait, type Executor } from 'concurrent-futures';
import { rejection, watchUnhandled } from '../helpers.js';
import { range, tasks, turn } from './executors.js';
import { forEachExecutor, test } from './suite.js';

forEachExecutor('submit and futures', (kind) => {
  // One executor for the tests that keep it healthy.
  const ex: Executor = kind.make({ maxWorkers: 2 });
  after(() => ex.shutdown());

  test('submit returns a future of the result: module tasks, sync and async, and source functions', async () => {
    const f = ex.submit(tasks.add, 40, 2);
    assert.ok(f instanceof Future);
    assert.equal(await f.result(), 42);
    assert.equal(f.done(), true);
    assert.equal(f.cancelled(), false);
    assert.equal(await f.exception(), undefined);
    assert.equal(await ex.submit(tasks.sleep, 5, 'slept'), 'slept');
    assert.equal(await ex.submit((a: number, b: number) => a * b, 6, 7), 42);
    assert.deepEqual(await ex.submit(tasks.echo, { nested: [1, 'two', null] }), {
      nested: [1, 'two', null],
    });
  });

  for (const [label, fn] of [
    ['thrown', tasks.throwWithCode],
    ['rejected', tasks.rejectWithCode],
  ] as const) {
    test(`a ${label} error arrives with its name, message, code and cause chain`, async () => {
      const f = ex.submit(fn, 'it broke', 'E_BROKE');
      const error = (await rejection(f.result())) as Error & { code: string };
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'CodedError');
      assert.equal(error.message, 'it broke');
      assert.equal(error.code, 'E_BROKE');
      const middle = error.cause as Error;
      assert.ok(middle instanceof TypeError, String(middle));
      assert.equal(middle.message, 'the middle cause');
      const root = middle.cause as Error;
      assert.ok(root instanceof RangeError, String(root));
      assert.equal(root.message, 'the root cause');
      assert.equal(await f.exception(), error, 'exception() gives the same error');
      assert.equal(f.cancelled(), false);
    });
  }

  test('a thrown non-Error value fails the future with that value', async () => {
    assert.equal(await rejection(ex.submit(tasks.throwValue, 42)), 42);
    assert.equal(await rejection(ex.submit(tasks.throwValue, undefined)), undefined);
  });

  test('done callbacks run once, with the future; one added after completion runs at once', async () => {
    const calls: Future<unknown>[] = [];
    const ok = ex.submit(tasks.add, 1, 1);
    const failed = ex.submit(tasks.throwValue, 'no');
    ok.addDoneCallback((f) => calls.push(f));
    failed.addDoneCallback((f) => calls.push(f));
    await wait([ok, failed]);
    await turn();
    assert.equal(calls.length, 2);
    assert.ok(calls.includes(ok) && calls.includes(failed));
    let late: Future<unknown> | undefined;
    ok.addDoneCallback((f) => (late = f));
    assert.equal(late, ok, 'called synchronously on a done future');
    assert.equal(calls.length, 2, 'the earlier callbacks did not run again');
  });

  test('a future cancelled while queued never runs, and its callbacks run once', async () => {
    const one = kind.make({ maxWorkers: 1 });
    const latch = kind.latch();
    try {
      const busy = one.submit(tasks.gate, latch.latch, kind.blocking, 'busy');
      await latch.started();
      const queued = range(kind.handAhead + 3).map(() =>
        one.submit(tasks.gate, latch.latch, kind.blocking, 'queued'),
      );
      await turn();
      const last = queued.at(-1)!;
      let calls = 0;
      last.addDoneCallback(() => calls++);
      assert.equal(last.cancel(), true, 'the last of them is still queued');
      assert.equal(last.cancel(), true, 'cancel() again: still true');
      assert.equal(calls, 1);
      assert.ok((await rejection(last.result())) instanceof CancelledError);
      latch.release();
      assert.equal(await busy, 'busy');
      await wait(queued);
      assert.equal(calls, 1);
      // Only the futures that ran marked the latch: the cancelled one never started.
      const ran = 1 + queued.filter((f) => !f.cancelled()).length;
      assert.equal(latch.startedCount(), ran);
    } finally {
      latch.dispose();
      await one.shutdown();
    }
  });

  test('every future settles exactly once when submission, cancel() and shutdown race', async () => {
    const watch = watchUnhandled();
    try {
      for (const cancelFutures of [false, true]) {
        const racing = kind.make({ maxWorkers: 2 });
        const settled = new Map<Future<unknown>, number>();
        const futures: Future<unknown>[] = [];
        let refused = 0;
        const submitOne = (i: number): void => {
          try {
            const f =
              i % 5 === 0
                ? racing.submit(tasks.throwValue, i)
                : racing.submit(tasks.sleep, i % 3, i);
            f.addDoneCallback((g) => settled.set(g, (settled.get(g) ?? 0) + 1));
            futures.push(f);
            if (i % 7 === 0) f.cancel();
          } catch (error) {
            assert.ok(error instanceof RuntimeError, String(error));
            refused++;
          }
        };
        let shut: Promise<void> | undefined;
        for (let i = 0; i < 120; i++) {
          if (i === 60) shut = racing.shutdown({ cancelFutures });
          if (i % 2 === 0) queueMicrotask(() => submitOne(i));
          else submitOne(i);
        }
        await shut;
        await turn();
        assert.ok(futures.length > 0 && refused > 0);
        for (const f of futures) {
          assert.equal(f.done(), true, String(f));
          assert.equal(settled.get(f), 1, `settled once: ${String(f)}`);
        }
        assert.equal((await wait(futures, { timeout: 0 })).notDone.size, 0);
      }
      await turn();
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });
});
