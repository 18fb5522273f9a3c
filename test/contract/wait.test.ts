/**
 * Contract: `wait` and `asCompleted` over the futures of every executor. The
 * held tasks await their latch (they do not block their worker), so that the
 * other futures complete beside them whichever worker they were handed to.
 */

import { after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_COMPLETED,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  TimeoutError,
  asCompleted,
  wait,
  type Executor,
  type Future,
} from 'concurrent-futures';
import { rejection } from '../helpers.js';
import { tasks, turn, type ExecutorKind } from './executors.js';
import { forEachExecutor, test } from './suite.js';

forEachExecutor('wait and asCompleted', (kind) => {
  // Two held futures and a quick one at once: on threads, each held one keeps a slot.
  const ex: Executor = kind.make({ maxWorkers: 3 });
  after(() => ex.shutdown());

  /** A future held until `release()`, already started when this resolves. */
  async function held(k: ExecutorKind, value: string) {
    const latch = k.latch();
    const future = ex.submit(tasks.gate, latch.latch, false, value);
    await latch.started();
    return { future, release: latch.release, dispose: () => latch.dispose() };
  }

  test('FIRST_COMPLETED returns once one future is done, the held one not done', async () => {
    const h = await held(kind, 'held');
    try {
      const quick = ex.submit(tasks.add, 1, 2);
      const { done, notDone } = await wait([h.future, quick], { returnWhen: FIRST_COMPLETED });
      assert.deepEqual([...done], [quick]);
      assert.deepEqual([...notDone], [h.future]);
      assert.equal(await quick, 3);
    } finally {
      h.release();
      h.dispose();
    }
    assert.equal(await h.future, 'held');
  });

  test('FIRST_EXCEPTION returns at the first failure, not at a success', async () => {
    const h = await held(kind, 'held');
    try {
      const ok = ex.submit(tasks.add, 1, 1);
      assert.equal(await ok, 2);
      const failing = ex.submit(tasks.throwValue, 'failed');
      const { done, notDone } = await wait([h.future, ok, failing], {
        returnWhen: FIRST_EXCEPTION,
      });
      assert.deepEqual(done, new Set([ok, failing]));
      assert.deepEqual(notDone, new Set([h.future]));
      assert.equal(await failing.exception(), 'failed');
    } finally {
      h.release();
      h.dispose();
    }
    await h.future;
  });

  test('ALL_COMPLETED (the default) waits for every future; a timeout returns without throwing', async () => {
    const h = await held(kind, 'held');
    let all: Promise<{ done: Set<Future<unknown>>; notDone: Set<Future<unknown>> }> | undefined;
    try {
      const quick = ex.submit(tasks.add, 2, 2);
      const snapshot = await wait([h.future, quick], { timeout: 30, returnWhen: ALL_COMPLETED });
      assert.ok(snapshot.notDone.has(h.future), 'the timeout returned while the held one ran');
      let resolved = false;
      all = wait([h.future, quick]);
      void all.then(() => (resolved = true));
      await quick;
      await turn();
      assert.equal(resolved, false, 'still waiting for the held future');
    } finally {
      h.release();
      h.dispose();
    }
    const { done, notDone } = await all;
    assert.equal(done.size, 2);
    assert.equal(notDone.size, 0);
  });

  test('asCompleted yields the futures in the order they complete, each once', async () => {
    const a = await held(kind, 'a');
    const b = await held(kind, 'b');
    try {
      const quick = ex.submit(tasks.add, 3, 4);
      const order: unknown[] = [];
      for await (const f of asCompleted([a.future, b.future, quick, quick])) {
        order.push(await f.result());
        // Each completion lets the next one go: b before a.
        if (order.length === 1) b.release();
        if (order.length === 2) a.release();
      }
      assert.deepEqual(order, [7, 'b', 'a']);
    } finally {
      a.release();
      b.release();
      a.dispose();
      b.dispose();
    }
  });

  test('asCompleted with a timeout yields what completes, then throws TimeoutError', async () => {
    const h = await held(kind, 'held');
    try {
      const quick = ex.submit(tasks.add, 5, 5);
      await quick; // done before the call: no race with the timeout on a slow machine
      const yielded: Future<unknown>[] = [];
      const error = await rejection(
        (async () => {
          for await (const f of asCompleted([h.future, quick], { timeout: 100 })) yielded.push(f);
        })(),
      );
      assert.deepEqual(yielded, [quick]);
      assert.ok(error instanceof TimeoutError, String(error));
      assert.equal(error.message, '1 (of 2) futures unfinished');
    } finally {
      h.release();
      h.dispose();
    }
    assert.equal(await h.future, 'held');
  });
});
