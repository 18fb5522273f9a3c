/**
 * The pools' lifecycle knobs and what they tell (issue 7): events, the
 * diagnostics_channel tracing channels, idleTimeout, minWorkers, and
 * shutdown({ abortRunning }), on both parallel executors.
 */

import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { ThreadPoolExecutor, type Future, type TaskTraceMessage } from 'concurrent-futures';
import { POOLS, TIMEOUT, rejection, tasks } from './helpers.js';

function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

async function until(predicate: () => boolean, explain?: () => string): Promise<void> {
  const deadline = performance.now() + TIMEOUT / 2;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`condition never held ${explain?.() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

for (const pool of POOLS) {
  void describe(`${pool.name}: events, tracing and lifecycle knobs`, () => {
    void it(
      'workerStart and workerExit tell who started and why it exited',
      { timeout: TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 1, maxTasksPerChild: 1 });
        const started: string[] = [];
        const exited: { worker: string; reason: string; code: number | null }[] = [];
        ex.on('workerStart', (e) => started.push(e.worker));
        ex.on('workerExit', (e) =>
          exited.push({ worker: e.worker, reason: e.reason, code: e.code }),
        );
        try {
          assert.equal(await ex.submit(tasks.add, 1, 1), 2);
          await until(() => exited.length === 1);
          assert.equal(exited[0]!.reason, 'retired');
          assert.equal(exited[0]!.worker, started[0]);
          assertBrokenLike(await rejection(ex.submit(tasks.exit, 5)), pool.Broken);
          await until(() => exited.length === 2);
          assert.equal(exited[1]!.reason, 'crashed');
          assert.equal(exited[1]!.code, 5);
          assert.equal(await ex.submit(tasks.add, 2, 2), 4);
        } finally {
          await ex.shutdown();
        }
        assert.equal(started.length, 3);
        assert.deepEqual(
          exited.map((e) => e.reason),
          ['retired', 'crashed', 'retired'],
        );
      },
    );

    void it('broken is told once, with the error', { timeout: TIMEOUT }, async () => {
      const ex = pool.make({ maxWorkers: 1, initializer: tasks.failInit, initArgs: ['no'] });
      const broken: unknown[] = [];
      ex.on('broken', (e) => broken.push(e.error));
      try {
        await rejection(ex.submit(tasks.add, 1, 1));
        assert.equal(broken.length, 1);
        assert.ok(broken[0] instanceof pool.Broken);
      } finally {
        await ex.shutdown();
      }
    });

    void it(
      'tracing channels: submit, start, end and error for each call',
      { timeout: TIMEOUT },
      async () => {
        const seen: string[] = [];
        const on = (kind: string) => (message: unknown) => {
          const m = message as TaskTraceMessage;
          if (m.executor === pool.name) seen.push(`${kind}:${m.name}`);
        };
        const handlers = ['submit', 'start', 'end', 'error'].map((k) => [k, on(k)] as const);
        for (const [k, h] of handlers) subscribe(`concurrent-futures:${k}`, h);
        const ex = pool.make({ maxWorkers: 1 });
        try {
          assert.equal(await ex.submit(tasks.add, 1, 1), 2);
          await rejection(ex.submit(tasks.throwWithCode, 'boom', 'E_X'));
        } finally {
          await ex.shutdown();
          for (const [k, h] of handlers) unsubscribe(`concurrent-futures:${k}`, h);
        }
        assert.deepEqual(seen, [
          'submit:add',
          'start:add',
          'end:add',
          'submit:throwWithCode',
          'start:throwWithCode',
          'error:throwWithCode',
          'end:throwWithCode',
        ]);
      },
    );

    void it(
      'minWorkers start at once; idleTimeout ends idle workers above it',
      { timeout: TIMEOUT },
      async () => {
        const exits: string[] = [];
        let started = 0;
        const ex = pool.make({ maxWorkers: 3, minWorkers: 1, idleTimeout: 50 });
        ex.on('workerExit', (e) => exits.push(e.reason));
        ex.on('workerStart', () => started++);
        try {
          assert.equal(ex.stats().workers.alive, 1, 'minWorkers started with the pool');
          const busy = [1, 2, 3].map(() => ex.submit(tasks.sleep, 100, 'x'));
          await Promise.all(busy);
          // Three calls at once on one warm worker: the pool grew on demand.
          assert.ok(started >= 1, 'more workers started for the calls');
          await until(
            () => ex.stats().workers.alive === 1,
            () => JSON.stringify({ stats: ex.stats(), exits }),
          );
          assert.ok(exits.every((r) => r === 'idle'));
          assert.ok(exits.length >= 1);
          assert.equal(await ex.submit(tasks.add, 20, 22), 42, 'started again on demand');
        } finally {
          await ex.shutdown();
        }
        assert.throws(() => pool.make({ maxWorkers: 1, minWorkers: 2 }), RangeError);
        assert.throws(() => pool.make({ minWorkers: -1 }), RangeError);
      },
    );

    void it(
      'shutdown({ abortRunning }): queued cancelled, running failed at once, workers ended after the grace period',
      { timeout: TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 2, gracePeriod: 100 });
        const reasons: string[] = [];
        ex.on('workerExit', (e) => reasons.push(e.reason));
        const running: Future<unknown>[] = [ex.submit(tasks.never), ex.submit(tasks.never)];
        await until(() => running.every((f) => f.running()));
        const queued = ex.submit(tasks.add, 1, 1);
        const done = ex.shutdown({ abortRunning: true });
        assert.equal(queued.cancelled(), true);
        for (const f of running) assert.ok(isAbortError(await rejection(f)));
        await done;
        assert.equal(ex.stats().workers.alive, 0);
        assert.deepEqual(reasons, ['stopped', 'stopped']);
      },
    );
  });
}

void describe('ThreadPoolExecutor: shutdown({ abortRunning }) and tracing', () => {
  void it('publishes submit, start, end and error', { timeout: TIMEOUT }, async () => {
    const seen: string[] = [];
    const on = (kind: string) => (message: unknown) => {
      const m = message as TaskTraceMessage;
      if (m.executor === 'ThreadPoolExecutor') seen.push(`${kind}:${m.name}`);
    };
    const handlers = ['submit', 'start', 'end', 'error'].map((k) => [k, on(k)] as const);
    for (const [k, h] of handlers) subscribe(`concurrent-futures:${k}`, h);
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const ok = function ok(): number {
        return 1;
      };
      const bad = function bad(): never {
        throw new Error('bad');
      };
      assert.equal(await ex.submit(ok), 1);
      await rejection(ex.submit(bad));
    } finally {
      await ex.shutdown();
      for (const [k, h] of handlers) unsubscribe(`concurrent-futures:${k}`, h);
    }
    assert.deepEqual(seen, [
      'submit:ok',
      'start:ok',
      'end:ok',
      'submit:bad',
      'start:bad',
      'error:bad',
      'end:bad',
    ]);
  });

  void it('fails running calls at once and cancels queued ones', { timeout: TIMEOUT }, async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    let release!: () => void;
    const running = ex.submit(() => new Promise<void>((resolve) => (release = resolve)));
    const queued = ex.submit(() => 1);
    await until(() => running.running());
    const done = ex.shutdown({ abortRunning: true });
    assert.equal(queued.cancelled(), true);
    assert.ok(isAbortError(await rejection(running)));
    release();
    await done;
  });
});

function assertBrokenLike(error: unknown, Broken: new (message?: string) => Error): void {
  assert.ok(error instanceof Broken, String(error));
}
