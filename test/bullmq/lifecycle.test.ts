/**
 * Lifecycle: an executor that is never shut down does not keep its process
 * alive (unused, after its work, or with Redis gone), nor does a worker's
 * start given up while Redis is gone; Redis's eviction policy is checked; bad
 * options are typed errors at construction.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BullMQExecutor } from 'concurrent-futures/bullmq';
import { runNode } from '../helpers.js';
import { freePort, startRedis, type RedisServer } from './redis.js';
import { TIMEOUT, queueName, startWorker, tasks, type WorkerProcess } from './helpers.js';

let redis: RedisServer;
const workers: WorkerProcess[] = [];
const IDLE = fileURLToPath(new URL('./fixtures/idle.ts', import.meta.url));
const START_ABORTED = fileURLToPath(new URL('./fixtures/start-aborted.ts', import.meta.url));

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await redis?.stop();
});

const test = (name: string, fn: () => Promise<void>): void =>
  void it(name, { timeout: TIMEOUT }, fn);

void describe('BullMQExecutor: lifecycle', () => {
  test('an idle executor never shut down does not hold the process: unused, or after its work', async () => {
    const queue = queueName('idle');
    workers.push(await startWorker(redis.url, { queue }));
    for (const [mode, output] of [
      ['never', 'unused'],
      ['used', 'result 42'],
    ]) {
      const run = await runNode(['--import', 'tsx', IDLE, redis.url, queue, mode!], 60_000);
      assert.equal(run.signal, null, `${mode}: killed after 60 s, so it did not exit by itself`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), output);
    }
  });

  test('with Redis unreachable: the submit fails after redisTimeout, and the process still exits', async () => {
    const port = await freePort(); // nothing listens there
    const run = await runNode(
      ['--import', 'tsx', IDLE, `redis://127.0.0.1:${port}`, 'q', 'down'],
      60_000,
    );
    assert.equal(run.signal, null, 'killed after 60 s: the reconnection attempts held the process');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'error ERR_REDIS_UNAVAILABLE');
  });

  test('TaskWorker.start given up by its signal while Redis is unreachable: rejects with the reason, leaves nothing open', async () => {
    const port = await freePort(); // nothing listens there
    const run = await runNode(
      ['--import', 'tsx', START_ABORTED, `redis://127.0.0.1:${port}`],
      60_000,
    );
    assert.equal(run.signal, null, 'killed after 60 s: the given-up start left something open');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'rejected with the reason');
  });

  test('a maxmemory-policy other than noeviction is warned about once', async () => {
    const queue = queueName('policy');
    workers.push(await startWorker(redis.url, { queue }));
    const client = new Redis(redis.url);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    await client.config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      await using ex = new BullMQExecutor({ connection: redis.url, queue });
      await ex.submit(tasks.add, 1, 1);
      await ex.submit(tasks.add, 1, 1);
      await new Promise((resolve) => setImmediate(resolve));
      const ours = warnings.filter((m) => m.includes('maxmemory-policy'));
      assert.equal(ours.length, 1, warnings.join('\n'));
      assert.match(ours[0]!, /'volatile-lru'.*'noeviction'/);
    } finally {
      process.off('warning', onWarning);
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      client.disconnect();
    }
  });

  test('bad options are typed errors at construction', async () => {
    const ok = { connection: redis.url, queue: 'q' };
    assert.throws(() => new BullMQExecutor(undefined as never), TypeError);
    assert.throws(() => new BullMQExecutor({ ...ok, queue: 'a b' }), TypeError);
    assert.throws(() => new BullMQExecutor({ ...ok, connection: 42 as never }), TypeError);
    assert.throws(() => new BullMQExecutor({ ...ok, maxPayloadBytes: 0 }), RangeError);
    assert.throws(
      () => new BullMQExecutor({ ...ok, jobOptions: { attempts: 3 } as never }),
      /attempts/,
    );
    assert.throws(() => new BullMQExecutor({ ...ok, jobOptions: { priority: 0 } }), RangeError);
    assert.throws(() => new BullMQExecutor({ ...ok, typo: 1 } as never), /typo/);
  });
});
