/**
 * Per-call options (issue 7), part of the contract suite: `executor.with({
 * signal, timeout, onProgress })`, `taskSignal()`, `reportProgress()`, forced
 * stops after the grace period, and `stats()`, written once and run on every
 * executor; what only some kinds can do is asked of the kind (`forcible`,
 * `seesAbortInLoop`).
 */

import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { it } from 'node:test';
import { TimeoutError, taskModule, type Future } from 'concurrent-futures';
import { gate, rejection } from '../helpers.js';
import { TIMEOUT } from './executors.js';
import { forEachExecutor } from './suite.js';

const tasks = taskModule<typeof import('../fixtures/control-tasks.js')>(
  new URL('../fixtures/control-tasks.js', import.meta.url),
);

function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

forEachExecutor('per-call options', (kind) => {
  void it('with() rejects unknown and ill-typed options up front', () => {
    const ex = kind.make();
    try {
      assert.throws(() => ex.with({ timout: 5 } as never), TypeError);
      assert.throws(() => ex.with({ signal: 'x' } as never), TypeError);
      assert.throws(() => ex.with({ onProgress: 1 } as never), TypeError);
      assert.throws(() => ex.with({ timeout: Number.NaN }), RangeError);
    } finally {
      void ex.shutdown();
    }
  });

  void it(
    'a signal already aborted: the future comes back cancelled and the call never runs',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const controller = new AbortController();
        controller.abort();
        const future = ex.with({ signal: controller.signal }).submit(tasks.identity, 1);
        assert.equal(future.cancelled(), true);
        assert.equal(ex.stats().tasks.cancelled, 1);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'a signal shared by many calls: one listener per executor, gone once they are over; its abort reaches them all',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const shared = new AbortController();
        const view = ex.with({ signal: shared.signal });
        const listeners = (): number => getEventListeners(shared.signal, 'abort').length;
        const done = Array.from({ length: 200 }, (_, i) => view.submit(tasks.identity, i));
        assert.equal(listeners(), 1);
        assert.deepEqual(await Promise.all(done), [...Array(200).keys()]);
        assert.equal(listeners(), 0);

        const blocker = ex.submit(tasks.sleepUnlessAborted, 300);
        const stopped = Array.from({ length: 50 }, (_, i) => view.submit(tasks.identity, i));
        assert.equal(listeners(), 1);
        shared.abort();
        for (const f of stopped) {
          if (!f.cancelled()) assert.ok(isAbortError(await rejection(f)));
        }
        assert.equal(await blocker, 'slept');
        assert.equal(listeners(), 0);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'aborted while queued: cancelled (and notified), never runs',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const controller = new AbortController();
        const blocker = ex.submit(tasks.sleepUnlessAborted, 300);
        // Queued behind the blocker (a call with options waits for a free worker).
        const queued = ex.with({ signal: controller.signal }).submit(tasks.identity, 'ran');
        controller.abort();
        assert.equal(queued.cancelled(), true);
        assert.equal(await blocker, 'slept');
        assert.equal(queued.cancelled(), true, 'it never ran');
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'aborted while running: fails at once with the signal’s reason; the task sees its signal',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const id = await ex.submit(tasks.workerId);
        const controller = new AbortController();
        const latch = kind.latch();
        try {
          const future = ex
            .with({ signal: controller.signal })
            .submit(tasks.startedThenSleepUnlessAborted, latch.latch, 60_000);
          // Abort once the task runs in its worker (not while it is still on its way there).
          await latch.started();
          assert.equal(future.running(), true);
          controller.abort();
          assert.ok(isAbortError(await rejection(future)));
        } finally {
          latch.dispose();
        }
        // The task stopped by itself: the same worker goes on (nothing was ended).
        assert.equal(await ex.submit(tasks.workerId), id);
        const reason = new Error('my reason');
        const other = new AbortController();
        const second = ex.with({ signal: other.signal }).submit(tasks.sleepUnlessAborted, 60_000);
        await until(() => second.running());
        other.abort(reason);
        assert.equal(await rejection(second), reason);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'after an await import() the task still finds its call: taskSignal() aborts, reportProgress() arrives',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const id = await ex.submit(tasks.workerId);
        const controller = new AbortController();
        let imported!: () => void;
        const reported = new Promise<void>((resolve) => (imported = resolve));
        const future = ex
          .with({
            signal: controller.signal,
            onProgress: (value) => value === 'imported' && imported(),
          })
          .submit(tasks.sleepAfterImports, 60_000);
        // The task's own check failing rejects the future: the race reports it.
        await Promise.race([reported, future]);
        controller.abort();
        assert.ok(isAbortError(await rejection(future)));
        // It saw the abort and stopped by itself: the same worker goes on, none was ended.
        assert.equal(await ex.submit(tasks.workerId), id);
        assert.equal(ex.stats().workerDeaths, 0);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it('an abort after the future settled changes nothing', { timeout: TIMEOUT }, async () => {
    const ex = kind.make({ maxWorkers: 1 });
    try {
      const controller = new AbortController();
      const future = ex.with({ signal: controller.signal }).submit(tasks.identity, 7);
      assert.equal(await future, 7);
      controller.abort();
      assert.equal(await future, 7);
      assert.equal(future.cancelled(), false);
    } finally {
      await ex.shutdown();
    }
  });

  void it(
    'timeout: the future fails with TimeoutError naming the task and the limit',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const error = await rejection(
          ex.with({ timeout: 50 }).submit(tasks.sleepUnlessAborted, 60_000),
        );
        assert.ok(error instanceof TimeoutError, String(error));
        assert.match((error as Error).message, /sleepUnlessAborted.*50 ms/);
        assert.equal(await ex.submit(tasks.identity, 1), 1);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'timeout counts from the start: a call queued behind a long one does not time out',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const long = ex.submit(tasks.sleepUnlessAborted, 400);
        const behind = ex.with({ timeout: 2_000 }).submit(tasks.sleepUnlessAborted, 10);
        // Queued for ~400 ms, runs for ~10 ms: well within its 2 s once it starts.
        const alsoBehind = ex.with({ timeout: 200 }).submit(tasks.identity, 'ok');
        assert.equal(await long, 'slept');
        assert.equal(await behind, 'slept');
        assert.equal(await alsoBehind, 'ok');
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'taskTimeout in the constructor applies to every call',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1, taskTimeout: 50 });
      try {
        assert.ok(
          (await rejection(ex.submit(tasks.sleepUnlessAborted, 60_000))) instanceof TimeoutError,
        );
        assert.equal(await ex.submit(tasks.sleepUnlessAborted, 1), 'slept');
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'progress values arrive in order, the last one included',
    { timeout: TIMEOUT },
    async () => {
      const ex = kind.make({ maxWorkers: 1 });
      try {
        const seen: unknown[] = [];
        let futureSeen: Future<unknown> | undefined;
        const future = ex
          .with({
            onProgress: (value, f) => {
              seen.push(value);
              futureSeen = f;
            },
          })
          .submit(tasks.progressSteps, 20);
        assert.equal(await future, 20);
        assert.ok(seen.length >= 1);
        for (let i = 1; i < seen.length; i++)
          assert.ok((seen[i] as number) > (seen[i - 1] as number));
        assert.equal(seen.at(-1), 20);
        assert.equal(futureSeen, future);
        // Without onProgress, reportProgress does nothing; outside a call with options, the signal never aborts.
        assert.equal(await ex.submit(tasks.progressSteps, 3), 3);
        assert.equal(await ex.submit(tasks.signalAbortedAfter, 1), false);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it('map through with(): every call carries the options', { timeout: TIMEOUT }, async () => {
    const ex = kind.make({ maxWorkers: 2 });
    try {
      const results: unknown[] = [];
      for await (const r of ex
        .with({ timeout: 5_000 })
        .map(tasks.identity, [1, 2, 3], { chunksize: 2 })) {
        results.push(r);
      }
      assert.deepEqual(results, [1, 2, 3]);
      const iterator = ex.with({ timeout: 30 }).map(tasks.sleepUnlessAborted, [60_000]);
      assert.ok((await rejection(iterator.next())) instanceof TimeoutError);
    } finally {
      await ex.shutdown();
    }
  });

  void it('stats() adds up', { timeout: TIMEOUT }, async () => {
    const ex = kind.make({ maxWorkers: 2 });
    try {
      const ok = Array.from({ length: 40 }, (_, i) => ex.submit(tasks.identity, i));
      const bad = ex.with({ timeout: 20 }).submit(tasks.sleepUnlessAborted, 60_000);
      const controller = new AbortController();
      controller.abort();
      ex.with({ signal: controller.signal }).submit(tasks.identity, 0);
      await Promise.all(ok);
      await rejection(bad);
      await until(() => ex.stats().tasks.failed === 1);
      const stats = ex.stats();
      assert.equal(stats.tasks.completed, 40);
      assert.equal(stats.tasks.failed, 1);
      assert.equal(stats.tasks.cancelled, 1);
      assert.equal(stats.tasks.queued, 0);
      assert.equal(stats.workers.alive, stats.workers.busy + stats.workers.idle);
      assert.ok(stats.workers.alive <= 2);
      assert.ok(stats.runMs.samples >= 1 && stats.runMs.p50 <= stats.runMs.p99);
      assert.ok(stats.waitMs.p50 >= 0);
    } finally {
      await ex.shutdown();
    }
  });

  if (kind.seesAbortInLoop) {
    void it(
      'a synchronous loop checking taskSignal() stops without yielding; its worker goes on',
      { timeout: TIMEOUT },
      async () => {
        const ex = kind.make({ maxWorkers: 1 });
        try {
          const id = await ex.submit(tasks.workerId);
          const error = await rejection(ex.with({ timeout: 50 }).submit(tasks.spinChecking));
          assert.ok(error instanceof TimeoutError);
          assert.equal(await ex.submit(tasks.workerId), id, 'the worker was not replaced');
          assert.equal(ex.stats().workerDeaths, 0);
        } finally {
          await ex.shutdown();
        }
      },
    );
  }

  if (kind.forcible) {
    void it(
      'forced: a loop that never checks is ended after the grace period; nothing else is harmed',
      { timeout: TIMEOUT },
      async () => {
        const ex = kind.make({ maxWorkers: 2 });
        try {
          await Promise.all([ex.submit(tasks.workerId), ex.submit(tasks.workerId)]);
          const controller = new AbortController();
          const stuck = ex
            .with({ signal: controller.signal, gracePeriod: 100 })
            .submit(tasks.spinForever);
          await until(() => stuck.running());
          const others = Array.from({ length: 30 }, (_, i) =>
            ex.submit(tasks.sleepUnlessAborted, i % 5),
          );
          // The other worker is serving them while the stuck one spins: then abort. (Not a
          // given one: up to two may be handed ahead to the stuck worker, behind the loop.)
          await until(() => others.some((f) => f.done()));
          controller.abort();
          assert.ok(isAbortError(await rejection(stuck)));
          for (const f of others) assert.equal(await f, 'slept');
          await until(() => ex.stats().workerDeaths === 1);
          assert.equal(await ex.submit(tasks.identity, 'still serving'), 'still serving');
        } finally {
          await ex.shutdown();
        }
      },
    );
  } else {
    void it(
      'a call that ignores its signal: the future fails at once, the slot stays busy until it returns',
      { timeout: TIMEOUT },
      async () => {
        const ex = kind.make({ maxWorkers: 1 });
        try {
          const release = gate();
          const controller = new AbortController();
          const future = ex
            .with({ signal: controller.signal })
            .submit(() => release.promise.then(() => 'finished late'));
          await until(() => future.running());
          controller.abort();
          assert.ok(isAbortError(await rejection(future)));
          const next = ex.submit(tasks.identity, 'next');
          assert.equal(next.running(), false);
          release.open();
          assert.equal(await next, 'next');
          assert.ok(isAbortError(await rejection(future)), 'the late value did not resurrect it');
        } finally {
          await ex.shutdown();
        }
      },
    );
  }
});

async function until(predicate: () => boolean): Promise<void> {
  const deadline = performance.now() + TIMEOUT;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
