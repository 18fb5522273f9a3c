/**
 * Contract: shutdown on every executor. Submit and map after it throw
 * RuntimeError; `wait` waits for the pending work or not; `cancelFutures`
 * cancels the queued futures and notifies their waiters; `await using` shuts
 * down on leaving the block; an idle executor never keeps the process alive.
 */

import assert from 'node:assert/strict';
import { CancelledError, RuntimeError, wait, type Executor, type Future } from 'concurrent-futures';
import { rejection, runScriptFile } from '../helpers.js';
import { range, tasks, turn } from './executors.js';
import { forEachExecutor, test } from './suite.js';

const SHUTDOWN = 'cannot schedule new futures after shutdown';

function isShutdownError(error: unknown): boolean {
  return error instanceof RuntimeError && error.message === SHUTDOWN;
}

forEachExecutor('shutdown', (kind) => {
  test('submit and map after shutdown throw RuntimeError, from the call; shutdown is idempotent', async () => {
    const ex = kind.make({ maxWorkers: 1 });
    assert.equal(await ex.submit(tasks.add, 1, 1), 2);
    const done = ex.shutdown();
    assert.throws(() => ex.submit(tasks.add, 1, 1), isShutdownError);
    assert.throws(() => ex.map(tasks.double, [1, 2]), isShutdownError);
    await done;
    await Promise.all([ex.shutdown(), ex.shutdown({ wait: false })]);
    await ex.shutdown({ cancelFutures: true });
    assert.throws(() => ex.submit((x: number) => x, 1), isShutdownError);
  });

  test('wait: true resolves only once the running and the queued work is done', async () => {
    const ex = kind.make({ maxWorkers: 1 });
    const latch = kind.latch();
    try {
      const held = ex.submit(tasks.gate, latch.latch, kind.blocking, 'held');
      await latch.started();
      const more = range(5).map((i) => ex.submit(tasks.add, i, i));
      let resolved = false;
      const done = ex.shutdown({ wait: true }).then(() => (resolved = true));
      await turn();
      await turn();
      assert.equal(resolved, false, 'shutdown resolved while a task was still held');
      assert.equal(held.done(), false);
      latch.release();
      await done;
      assert.ok(held.done() && more.every((f) => f.done() && !f.cancelled()));
      assert.equal(await held, 'held');
      assert.deepEqual(
        await Promise.all(more),
        range(5).map((i) => 2 * i),
      );
    } finally {
      latch.dispose();
      await ex.shutdown();
    }
  });

  test('wait: false resolves at once; the running and queued work still completes', async () => {
    const ex = kind.make({ maxWorkers: 1 });
    const latch = kind.latch();
    try {
      const held = ex.submit(tasks.gate, latch.latch, kind.blocking, 'held');
      const queued = ex.submit(tasks.add, 2, 3);
      await latch.started();
      await ex.shutdown({ wait: false });
      assert.equal(held.done(), false);
      assert.equal(queued.done(), false);
      assert.throws(() => ex.submit(tasks.add, 1, 1), isShutdownError);
      latch.release();
      assert.equal(await held, 'held');
      assert.equal(await queued, 5);
    } finally {
      latch.dispose();
      await ex.shutdown();
    }
  });

  test('cancelFutures cancels the queued futures at once, notifies their waiters and callbacks; the running one completes', async () => {
    const ex = kind.make({ maxWorkers: 1 });
    const latch = kind.latch();
    try {
      const finished = ex.submit(tasks.add, 1, 2);
      assert.equal(await finished, 3);
      const held = ex.submit(tasks.gate, latch.latch, kind.blocking, 'held');
      await latch.started();
      const queued = range(10).map((i) => ex.submit(tasks.gate, latch.latch, kind.blocking, i + 1));
      await turn();
      const wasRunning = queued.map((f) => f.running());
      assert.ok(
        wasRunning.filter(Boolean).length <= kind.handAhead,
        `${wasRunning.filter(Boolean).length} handed to a busy worker`,
      );
      // A waiter on the queued futures, blocked before the shutdown.
      const waiter = wait(queued.filter((_, i) => !wasRunning[i]));
      let callbacks = 0;
      for (const f of queued) f.addDoneCallback(() => callbacks++);
      let resolved = false;
      const done = ex.shutdown({ cancelFutures: true }).then(() => (resolved = true));
      const cancelled = queued.filter((_, i) => !wasRunning[i]);
      assert.ok(cancelled.length >= 10 - kind.handAhead);
      for (const f of cancelled) assert.equal(f.cancelled(), true);
      assert.equal(callbacks, cancelled.length, 'their callbacks ran within shutdown()');
      // Notified: the waiter blocked before shutdown returns, and a snapshot counts them.
      assert.equal((await waiter).notDone.size, 0);
      assert.equal((await wait(cancelled, { timeout: 0 })).done.size, cancelled.length);
      assert.ok((await rejection(cancelled[0]!.result())) instanceof CancelledError);
      assert.equal(held.cancelled(), false, 'a running future is not cancelled');
      await turn();
      assert.equal(resolved, false, 'wait: true still waits for the running task');
      latch.release();
      await done;
      assert.equal(await held, 'held');
      assert.equal(finished.cancelled(), false, 'a finished future is left alone');
      for (const [i, f] of queued.entries()) if (wasRunning[i]) assert.equal(await f, i + 1);
      // The cancelled calls never ran: only the held task and those handed ahead marked the latch.
      assert.equal(latch.startedCount(), 1 + wasRunning.filter(Boolean).length);
    } finally {
      latch.dispose();
      await ex.shutdown();
    }
  });

  test('await using shuts down on leaving the block, after the pending work', async () => {
    let escaped: Executor | undefined;
    const fs: Future<number>[] = [];
    {
      await using ex = kind.make({ maxWorkers: 2 });
      escaped = ex;
      fs.push(ex.submit(tasks.sleep, 20, 7), ex.submit(tasks.add, 1, 2));
      assert.ok(fs.some((f) => !f.done()));
    }
    assert.ok(
      fs.every((f) => f.done()),
      'the block waited for the pending work',
    );
    assert.deepEqual(await Promise.all(fs), [7, 3]);
    assert.throws(() => escaped.submit(tasks.add, 1, 1), isShutdownError);
  });

  test('an idle executor does not keep the process alive (a child script, no shutdown)', async () => {
    const run = await runScriptFile(
      new URL('./fixtures/idle.ts', import.meta.url),
      [kind.name],
      45_000,
    );
    assert.equal(run.signal, null, 'exited on its own instead of being killed');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'never used',
      'work done: 3,6',
      'cancelled: true',
      'failure read: boom',
      'main done',
    ]);
  });
});
