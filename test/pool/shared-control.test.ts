/**
 * Calls made with a signal on worker threads share their thread with other
 * calls (they are handed ahead and batched like plain calls), and stopping one
 * still harms no other: the thread counts in shared memory the tasks it
 * starts, so a call aborted before its turn never runs and never costs the
 * thread, and a thread ended to stop a call that ignores its signal gives back
 * every task it had not started, to run elsewhere exactly once. On child
 * processes, which share no memory, such a call still has its worker alone.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BrokenInterpreterPool,
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  type Future,
} from 'concurrent-futures';
import { stoppableControl, type Control } from '../../src/control.js';
import { TIMEOUT, makeLatch, rejection, tasks } from './helpers.js';

function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

function sharedCounts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** Resolves after every timer already due within `ms` has fired (timers fire in order of expiry). */
function afterTimers(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

void describe('calls with a signal on worker threads share the thread', () => {
  void it(
    'a call with a signal runs beside another one with a signal on a single thread',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const latch = makeLatch('sab');
      try {
        const first = ex
          .with({ signal: new AbortController().signal })
          .submit(tasks.holdAsync, latch.latch, 'first');
        await latch.started();
        // Alone, this call would wait in the parent until `first` is done, which it is not.
        const second = ex
          .with({ signal: new AbortController().signal })
          .submit(tasks.echo, 'second');
        assert.equal(await second, 'second');
        assert.equal(first.running(), true);
        latch.release();
        assert.equal(await first, 'first');
      } finally {
        latch.dispose();
        await ex.shutdown();
      }
    },
  );

  void it(
    'a call aborted before its turn never runs, and its thread is not ended for it',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const latch = makeLatch('sab');
      const runs = sharedCounts(1);
      try {
        const controller = new AbortController();
        // One tick: both go to the only thread, `waiting` behind the blocked one.
        const blocker = ex.submit(tasks.hold, latch.latch, 'blocker');
        const waiting = ex
          .with({ signal: controller.signal, gracePeriod: 100 })
          .submit(tasks.countRun, runs, 0, 'ran');
        await latch.started();
        assert.equal(waiting.running(), true, 'handed to the thread ahead of its turn');
        controller.abort();
        assert.ok(isAbortError(await rejection(waiting)));
        // Two grace periods are over: the thread must not be ended for a call that never started.
        await afterTimers(250);
        latch.release();
        assert.equal(await blocker, 'blocker');
        assert.equal(await ex.submit(tasks.echo, 'next'), 'next');
        assert.equal(Atomics.load(runs, 0), 0, 'the aborted call ran');
        assert.equal(ex.stats().workerDeaths, 0);
      } finally {
        latch.dispose();
        await ex.shutdown();
      }
    },
  );

  void it(
    'two calls stopped on one thread: the running loop sees its own abort in the second slot, the call behind it never starts; nothing is ended',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const latch = makeLatch('sab');
      const runs = sharedCounts(2);
      try {
        const a = new AbortController();
        const b = new AbortController();
        const first = ex
          .with({ signal: a.signal })
          .submit(tasks.spinUntilAborted, latch.latch, runs, 0);
        const second = ex
          .with({ signal: b.signal })
          .submit(tasks.spinUntilAborted, latch.latch, runs, 1);
        await latch.started();
        assert.equal(second.running(), true, 'handed to the thread behind the first');
        // The waiting call first: its abort takes a slot, so the running loop must find its own
        // abort in another one. (The other order races the thread, which runs in parallel: the
        // first loop may end and the thread start the second call between the two aborts.)
        b.abort();
        a.abort();
        assert.ok(isAbortError(await rejection(first)));
        assert.ok(isAbortError(await rejection(second)));
        assert.equal(await ex.submit(tasks.echo, 'next'), 'next');
        assert.equal(Atomics.load(runs, 0), 1);
        assert.equal(Atomics.load(runs, 1), 0, 'the second call started although aborted');
        assert.equal(ex.stats().workerDeaths, 0, 'a thread was ended');
      } finally {
        latch.dispose();
        await ex.shutdown();
      }
    },
  );

  void it(
    'a thread ended to stop a call gives back what it had not started: each runs once, elsewhere',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const latch = makeLatch('sab');
      const runs = sharedCounts(6);
      try {
        const controller = new AbortController();
        const stuck = ex
          .with({ signal: controller.signal, gracePeriod: 0 })
          .submit(tasks.spin, latch.latch);
        const others = Array.from({ length: 6 }, (_, i) =>
          ex.with({ signal: new AbortController().signal }).submit(tasks.countRun, runs, i, i),
        );
        await latch.started();
        assert.ok(ex.stats().tasks.handedAhead >= 1, 'some call waits on the stuck thread');
        controller.abort();
        assert.ok(isAbortError(await rejection(stuck)));
        assert.deepEqual(await Promise.all(others), [0, 1, 2, 3, 4, 5]);
        assert.deepEqual([...runs], [1, 1, 1, 1, 1, 1], 'a call ran twice, or never');
        assert.equal(ex.stats().workerDeaths, 1);
      } finally {
        latch.dispose();
        await ex.shutdown();
      }
    },
  );

  void it(
    'a call already running beside the stopped one on its thread fails as in a crash',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const asyncLatch = makeLatch('sab');
      const spinLatch = makeLatch('sab');
      try {
        const beside = ex.submit(tasks.holdAsync, asyncLatch.latch, 'beside');
        await asyncLatch.started();
        const controller = new AbortController();
        const stuck = ex
          .with({ signal: controller.signal, gracePeriod: 0 })
          .submit(tasks.spin, spinLatch.latch);
        await spinLatch.started();
        controller.abort();
        assert.ok(isAbortError(await rejection(stuck)));
        const error = await rejection(beside);
        assert.ok(error instanceof BrokenInterpreterPool, String(error));
        assert.match(
          (error as Error).message,
          /ended to stop a call that ran past its grace period/,
        );
        assert.equal(await ex.submit(tasks.echo, 'next'), 'next');
      } finally {
        asyncLatch.dispose();
        spinLatch.dispose();
        await ex.shutdown();
      }
    },
  );

  void it('a call with a deadline still has its thread alone', { timeout: TIMEOUT }, async () => {
    const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
    const latch = makeLatch('sab');
    try {
      const timed = ex.with({ timeout: 60_000 }).submit(tasks.holdAsync, latch.latch, 'timed');
      await latch.started();
      const next = ex.submit(tasks.echo, 'next');
      await afterTimers(5);
      assert.equal(next.running(), false, 'a call joined the thread of a call with a deadline');
      latch.release();
      assert.equal(await timed, 'timed');
      assert.equal(await next, 'next');
    } finally {
      latch.dispose();
      await ex.shutdown();
    }
  });
});

/** The internals the BullMQ worker runs and stops its jobs' calls with. */
interface StopInternals {
  _callDefaults(): { timeout: number; gracePeriod: number };
  _submitControlled(control: Control, fn: unknown, args: unknown[]): Future<unknown>;
  _stop(future: Future<unknown>, reason: unknown): boolean;
}

function internals(ex: InterpreterPoolExecutor | ProcessPoolExecutor): StopInternals {
  return ex as unknown as StopInternals;
}

void describe('calls stopped through the executor, without a signal (as the BullMQ worker does)', () => {
  void it(
    '_stop fails a running call at once and its task sees the abort; a call behind it never runs',
    { timeout: TIMEOUT },
    async () => {
      const pool = new InterpreterPoolExecutor({ maxWorkers: 1 });
      const ex = internals(pool);
      const latch = makeLatch('sab');
      const runs = sharedCounts(2);
      try {
        const control = stoppableControl(Infinity, ex._callDefaults());
        const running = ex._submitControlled(control, tasks.spinUntilAborted, [
          latch.latch,
          runs,
          0,
        ]);
        const behind = ex._submitControlled(control, tasks.countRun, [runs, 1, 'ran']);
        await latch.started();
        assert.equal(behind.running(), true, 'handed to the thread behind the first');
        const reason = new Error('stopped by its caller');
        assert.equal(ex._stop(behind, reason), true);
        assert.equal(ex._stop(running, reason), true);
        assert.equal(await rejection(running), reason);
        assert.equal(await rejection(behind), reason);
        assert.equal(await pool.submit(tasks.echo, 'next'), 'next');
        assert.equal(Atomics.load(runs, 1), 0, 'the stopped call behind it ran');
        assert.equal(pool.stats().workerDeaths, 0, 'the task saw its abort: no thread was ended');
        assert.equal(ex._stop(running, reason), false, 'a call that is over');
        assert.equal(ex._stop(pool.submit(tasks.echo, 1), reason), false, 'a call without options');
      } finally {
        latch.dispose();
        await pool.shutdown();
      }
    },
  );

  void it('_stop cancels a call still queued in the parent', { timeout: TIMEOUT }, async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const ex = internals(pool);
    const latch = makeLatch('file');
    const control = stoppableControl(Infinity, ex._callDefaults());
    try {
      const first = ex._submitControlled(control, tasks.hold, [latch.latch, 'first']);
      await latch.started();
      const queued = ex._submitControlled(control, tasks.echo, ['queued']);
      assert.equal(queued.running(), false, 'a process runs a call with options alone');
      assert.equal(ex._stop(queued, new Error('stop')), true);
      assert.equal(queued.cancelled(), true);
      latch.release();
      assert.equal(await first, 'first');
    } finally {
      latch.dispose();
      await pool.shutdown();
    }
  });
});

void describe('calls with a signal on child processes', () => {
  void it('still have their process alone', { timeout: TIMEOUT }, async () => {
    const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const latch = makeLatch('file');
    try {
      const first = ex
        .with({ signal: new AbortController().signal })
        .submit(tasks.holdAsync, latch.latch, 'first');
      await latch.started();
      const next = ex.submit(tasks.echo, 'next');
      await afterTimers(5);
      assert.equal(next.running(), false, 'a call joined the process of a call with a signal');
      latch.release();
      assert.equal(await first, 'first');
      assert.equal(await next, 'next');
    } finally {
      latch.dispose();
      await ex.shutdown();
    }
  });
});
