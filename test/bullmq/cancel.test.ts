/**
 * Cancellation and shutdown against a real redis-server: a cancelled future
 * never yields a result, a job removed from the queue never runs (a counter in
 * the task says so), `shutdown` modes behave as on the local pools, and
 * per-call options (`signal`, `timeout`) reach the worker that runs the job.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { Redis } from 'ioredis';
import { CancelledError, RuntimeError, TimeoutError, wait } from 'concurrent-futures';
import { BullMQExecutor, type BullMQFuture } from 'concurrent-futures/bullmq';
import { rejection } from '../helpers.js';
import { makeLatch } from '../pool/helpers.js';
import { startRedis, type RedisServer } from './redis.js';
import {
  TIMEOUT,
  counterDir,
  queueName,
  startWorker,
  tasks,
  until,
  type WorkerProcess,
} from './helpers.js';

let redis: RedisServer;
let client: Redis;
const workers: WorkerProcess[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

after(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  client?.disconnect();
  await redis?.stop();
});

const test = (name: string, fn: () => Promise<void>): void =>
  void it(name, { timeout: TIMEOUT }, fn);

async function worker(queue: string, concurrency = 2): Promise<WorkerProcess> {
  const w = await startWorker(redis.url, { queue, maxWorkers: 2, concurrency });
  workers.push(w);
  return w;
}

const waiting = (queue: string): Promise<number> => client.llen(`bull:${queue}:wait`);

void describe('BullMQExecutor: cancel', () => {
  test('cancel() of a waiting job removes it: it never runs, its future never yields', async () => {
    const queue = queueName('cancel');
    const runs = counterDir();
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    try {
      const futures = Array.from({ length: 10 }, (_, i) => ex.submit(tasks.countRun, runs.dir, i));
      await until(async () => (await waiting(queue)) === 10, 'the jobs in the wait list');
      const cancelled = futures.filter((_, i) => i % 2 === 0);
      for (const f of cancelled) assert.equal(f.cancel(), true);
      await until(async () => (await waiting(queue)) === 5, 'the removals');
      await worker(queue);
      const kept = futures.filter((_, i) => i % 2 === 1);
      assert.deepEqual(await Promise.all(kept), [1, 3, 5, 7, 9]);
      for (const f of cancelled) {
        assert.equal(f.cancelled(), true);
        assert.ok((await rejection(f.result())) instanceof CancelledError);
        assert.equal(await client.exists(`bull:${queue}:${(f as BullMQFuture).jobId}`), 0);
      }
      // A job submitted after them has run: the removed ones would have run before it.
      assert.equal(await ex.submit(tasks.countRun, runs.dir, 'last'), 'last');
      assert.deepEqual(
        runs
          .lines()
          .map((l) => l.split(' ')[0])
          .sort(),
        ['1', '3', '5', '7', '9', 'last'],
      );
    } finally {
      runs.dispose();
    }
  });

  test('a future cancelled in the tick it was submitted is never sent', async () => {
    const queue = queueName('cancel-unsent');
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const dropped = ex.submit(tasks.add, 1, 1) as BullMQFuture<number>;
    assert.equal(dropped.cancel(), true);
    const sent = ex.submit(tasks.add, 2, 2) as BullMQFuture<number>;
    await until(async () => (await waiting(queue)) === 1, 'the one job');
    assert.equal(await client.exists(`bull:${queue}:${dropped.jobId}`), 0);
    assert.equal(await client.exists(`bull:${queue}:${sent.jobId}`), 1);
    assert.equal(sent.cancel(), true);
    await until(async () => (await waiting(queue)) === 0, 'the removal');
  });

  test('cancel races with a busy worker: a removed job never runs, a cancelled future never yields', async () => {
    const queue = queueName('cancel-race');
    const runs = counterDir();
    await worker(queue, 1);
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const events: string[] = [];
    try {
      const futures = Array.from({ length: 60 }, (_, i) => ex.submit(tasks.sleep, 2, i));
      const counted = Array.from({ length: 60 }, (_, i) => ex.submit(tasks.countRun, runs.dir, i));
      // Cancel while the worker goes through the queue, at different moments.
      for (let i = 0; i < 60; i += 3) {
        counted[i]!.addDoneCallback((f) => events.push(`${i}:${f.cancelled() ? 'c' : 'r'}`));
        await new Promise((resolve) => setTimeout(resolve, i % 2 === 0 ? 0 : 3));
        counted[i]!.cancel();
        futures[i]!.cancel();
      }
      await wait([...futures, ...counted]);
      assert.equal(await ex.submit(tasks.countRun, runs.dir, 'last'), 'last');
      const ran = new Set(runs.lines().map((l) => l.split(' ')[0]));
      for (let i = 0; i < 60; i++) {
        const f = counted[i]!;
        if (!f.cancelled()) {
          assert.equal(await f, i);
          continue;
        }
        assert.ok((await rejection(f.result())) instanceof CancelledError);
        // Removed from the queue (no hash left) => it never ran.
        const stored = await client.exists(`bull:${queue}:${(f as BullMQFuture).jobId}`);
        if (stored === 0) assert.ok(!ran.has(String(i)), `job ${i} was removed but ran`);
      }
    } finally {
      runs.dispose();
    }
  });
});

void describe('BullMQExecutor: shutdown', () => {
  test('shutdown() waits for pending work; submit afterwards is a RuntimeError', async () => {
    const queue = queueName('shutdown');
    await worker(queue);
    const ex = new BullMQExecutor({ connection: redis.url, queue });
    const futures = Array.from({ length: 5 }, (_, i) => ex.submit(tasks.sleep, 20, i));
    await ex.shutdown();
    for (const f of futures) assert.equal(f.done(), true);
    assert.deepEqual(await Promise.all(futures), [0, 1, 2, 3, 4]);
    assert.throws(
      () => ex.submit(tasks.add, 1, 2),
      (e: Error & { code?: string }) =>
        e instanceof RuntimeError && e.code === 'ERR_EXECUTOR_SHUTDOWN',
    );
    await ex.shutdown(); // again: nothing to do
  });

  test('shutdown({ wait: false }) returns at once; the pending work still completes', async () => {
    const queue = queueName('shutdown-nowait');
    await worker(queue);
    const ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    const f = ex.submit(tasks.gateFile, latch.latch);
    await latch.started();
    await ex.shutdown({ wait: false });
    assert.equal(f.done(), false);
    latch.release();
    assert.equal(await f, 'released');
    await ex.shutdown();
  });

  test('shutdown({ cancelFutures: true }) removes every waiting job; running ones finish', async () => {
    const queue = queueName('shutdown-cancel');
    const runs = counterDir();
    await worker(queue, 1);
    const ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    try {
      const running = ex.submit(tasks.gateFile, latch.latch);
      await latch.started();
      const queued = Array.from({ length: 5 }, (_, i) => ex.submit(tasks.countRun, runs.dir, i));
      await until(async () => (await waiting(queue)) === 5, 'the queued jobs');
      const done = ex.shutdown({ cancelFutures: true });
      for (const f of queued) assert.equal(f.cancelled(), true);
      assert.equal(running.running(), true);
      latch.release();
      await done;
      assert.equal(await running, 'released');
      assert.equal(await waiting(queue), 0);
      assert.deepEqual(runs.lines(), []);
    } finally {
      latch.release();
      runs.dispose();
    }
  });

  test('shutdown({ abortRunning: true }) fails running calls at once and stops them on the worker', async () => {
    const queue = queueName('shutdown-abort');
    const runs = counterDir();
    await worker(queue);
    const ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    try {
      const running = ex.submit(tasks.holdUntilAborted, latch.latch, runs.dir);
      await latch.started();
      await until(() => running.running(), 'the active event');
      await ex.shutdown({ abortRunning: true });
      const error = (await rejection(running)) as Error;
      assert.equal(error.name, 'AbortError');
      await until(() => runs.lines('stopped').length === 1, 'the task to stop');
      assert.deepEqual(runs.lines('stopped'), ['aborted']);
    } finally {
      latch.release();
      runs.dispose();
    }
  });
});

void describe('BullMQExecutor: per-call options', () => {
  test('an aborted signal stops a running job on its worker; a queued one is removed', async () => {
    const queue = queueName('signal');
    const runs = counterDir();
    await worker(queue, 1);
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    try {
      // Two signals: the queued call's is aborted while the one worker is still busy. With one
      // signal for both, stopping the running call frees the worker, which may take the queued
      // job in the instant before its removal: the documented race of a cancel across machines.
      const forRunning = new AbortController();
      const forQueued = new AbortController();
      const running = ex
        .with({ signal: forRunning.signal })
        .submit(tasks.holdUntilAborted, latch.latch, runs.dir);
      const queued = ex
        .with({ signal: forQueued.signal })
        .submit(tasks.countRun, runs.dir, 'queued');
      await latch.started();
      await until(() => running.running(), 'the active event');
      await until(async () => (await waiting(queue)) === 1, 'the queued job');
      forQueued.abort();
      assert.equal(queued.cancelled(), true);
      await until(async () => (await waiting(queue)) === 0, 'the removal of the queued job');
      forRunning.abort(new Error('stop it'));
      assert.equal(((await rejection(running)) as Error).message, 'stop it');
      await until(() => runs.lines('stopped').length === 1, 'the task to stop');
      assert.deepEqual(runs.lines('stopped'), ['aborted']);
      assert.equal(await ex.submit(tasks.countRun, runs.dir, 'last'), 'last');
      assert.deepEqual(
        runs.lines().map((l) => l.split(' ')[0]),
        ['last'],
        'the removed job never ran',
      );
      // An already aborted signal: cancelled at once, never sent.
      assert.equal(ex.with({ signal: forQueued.signal }).submit(tasks.add, 1, 1).cancelled(), true);
    } finally {
      latch.release();
      runs.dispose();
    }
  });

  test('a signal shared by many calls holds one listener; its abort cancels every queued call', async () => {
    const queue = queueName('shared-signal');
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const shared = new AbortController();
    const listeners = (): number => getEventListeners(shared.signal, 'abort').length;
    // No worker on this queue: every job waits.
    const futures = Array.from({ length: 100 }, (_, i) =>
      ex.with({ signal: shared.signal }).submit(tasks.add, i, 1),
    );
    assert.equal(listeners(), 1);
    await until(async () => (await waiting(queue)) === 100, 'the jobs to be added');
    shared.abort();
    assert.ok(futures.every((f) => f.cancelled()));
    assert.equal(listeners(), 0);
    await until(async () => (await waiting(queue)) === 0, 'the removal of the jobs');
  });

  test('a timeout counts from the start, fails with TimeoutError and stops the task on the worker', async () => {
    const queue = queueName('timeout');
    const runs = counterDir();
    await worker(queue);
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    try {
      const f = ex.with({ timeout: 1000 }).submit(tasks.holdUntilAborted, latch.latch, runs.dir);
      const error = await rejection(f);
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match((error as Error).message, /ran longer than its timeout of 1000 ms/);
      // The job was taken, but under load its local worker may not have started it by then:
      // then the abort cancels it there. If it started, it is stopped. Either way the job
      // ends on the worker (its timeout reaches it too): then nothing more runs.
      await until(async () => (await client.llen(`bull:${queue}:active`)) === 0, 'the job to end');
      if (latch.startedCount() > 0) {
        await until(() => runs.lines('stopped').length === 1, 'the task to stop');
        assert.deepEqual(runs.lines('stopped'), ['aborted']);
      }
      assert.throws(() => ex.with({ onProgress: () => {} }).submit(tasks.add, 1, 1), /onProgress/);
    } finally {
      latch.release();
      runs.dispose();
    }
  });
});
