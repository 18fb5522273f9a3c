/**
 * BullMQExecutor against a real redis-server and two real worker processes:
 * values and errors cross intact, `submit`, `map` (order, chunksize,
 * buffersize, timeout), `wait` and `asCompleted` work as on the local pools.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import {
  Future,
  TimeoutError,
  asCompleted,
  taskModule,
  wait,
  FIRST_COMPLETED,
} from 'concurrent-futures';
import { BullMQExecutor, BullMQFuture } from 'concurrent-futures/bullmq';
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
let queue: string;
let workers: WorkerProcess[] = [];
let ex: BullMQExecutor;
let client: Redis;

before(async () => {
  redis = await startRedis();
  queue = queueName('submit');
  workers = await Promise.all([
    startWorker(redis.url, { queue, pool: 'interpreter', maxWorkers: 2 }),
    startWorker(redis.url, { queue, pool: 'process', maxWorkers: 2 }),
  ]);
  ex = new BullMQExecutor({ connection: redis.url, queue });
  client = new Redis(redis.url);
});

after(async () => {
  await ex?.shutdown();
  client?.disconnect();
  await Promise.all(workers.map((w) => w.kill()));
  await redis?.stop();
});

const test = (name: string, fn: () => Promise<void>): void =>
  void it(name, { timeout: TIMEOUT }, fn);

void describe('BullMQExecutor: submit and values', () => {
  test('submit returns a BullMQFuture with its job id, and the result', async () => {
    const f = ex.submit(tasks.add, 40, 2);
    assert.ok(f instanceof Future);
    assert.ok(f instanceof BullMQFuture);
    assert.match((f as BullMQFuture).jobId, /^cf-[A-Za-z0-9_-]+-\d+$/);
    assert.equal(await f, 42);
    assert.equal(f.done(), true);
    assert.equal(await ex.submit(tasks.sleep, 5, 'slept'), 'slept');
  });

  test('values keep their types both ways: BigInt, Map, Set, Date, typed arrays, cycles, errors', async () => {
    const cyclic: { self?: unknown; n: number } = { n: 1 };
    cyclic.self = cyclic;
    const error = new TypeError('an argument', { cause: new RangeError('its cause') });
    const value = {
      big: 2n ** 80n,
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', new Set([1, 2])],
      ]),
      date: new Date(1_700_000_000_000),
      bytes: new Uint8Array([1, 2, 3]),
      floats: new Float64Array([0.5, -0]),
      cyclic,
      error,
      nested: [undefined, null, NaN, -0, 'text'],
    };
    const back = await ex.submit(tasks.echo, value);
    assert.equal(back.big, 2n ** 80n);
    assert.deepEqual(back.map, value.map);
    assert.ok(back.date instanceof Date);
    assert.equal(back.date.getTime(), value.date.getTime());
    assert.ok(back.bytes instanceof Uint8Array);
    assert.deepEqual([...back.bytes], [1, 2, 3]);
    assert.ok(back.floats instanceof Float64Array);
    assert.ok(Object.is(back.floats[1], -0));
    assert.equal((back.cyclic as { self: unknown }).self, back.cyclic);
    assert.ok(back.error instanceof TypeError);
    assert.equal(back.error.message, 'an argument');
    assert.deepEqual(back.nested, [undefined, null, NaN, -0, 'text']);
    assert.equal(await ex.submit(tasks.kindOf, new Map()), 'Map');
    assert.equal(await ex.submit(tasks.kindOf, 1n), 'BigInt');
  });

  for (const [label, fn] of [
    ['thrown', tasks.throwWithCode],
    ['rejected', tasks.rejectWithCode],
  ] as const) {
    test(`a ${label} error arrives with name, message, code, own properties and cause chain`, async () => {
      const f = ex.submit(fn, 'it broke', 'E_BROKE');
      const error = (await rejection(f)) as Error & { code: string; details: unknown };
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'CodedError');
      assert.equal(error.message, 'it broke');
      assert.equal(error.code, 'E_BROKE');
      assert.deepEqual(error.details, { attempt: 3, tags: new Set(['a']) });
      assert.match(error.stack ?? '', /CodedError: it broke/);
      const middle = error.cause as Error;
      assert.ok(middle instanceof TypeError);
      assert.equal(middle.message, 'the middle cause');
      assert.ok(middle.cause instanceof RangeError);
      assert.equal(await f.exception(), error);
    });
  }

  test('a thrown non-Error value is the error; a task exception is not retried', async () => {
    const runs = counterDir();
    try {
      assert.equal(await rejection(ex.submit(tasks.throwValue, 42)), 42);
      assert.equal(await rejection(ex.submit(tasks.throwValue, undefined)), undefined);
      assert.equal((await rejection(ex.submit(tasks.failOn, 3, 3))) instanceof Error, true);
    } finally {
      runs.dispose();
    }
  });

  test('only taskModule references are accepted, with a TypeError naming taskModule', async () => {
    const error = (() => {
      try {
        ex.submit((a: number) => a + 1, 1);
      } catch (e) {
        return e as TypeError & { code?: string };
      }
      return undefined;
    })();
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /taskModule/);
    assert.equal(error.code, 'ERR_TASK_NOT_SENDABLE');
    assert.throws(() => ex.submit(42 as never), TypeError);
    const dataModule = taskModule<{ f(): void }>('data:text/javascript,export function f(){}');
    assert.throws(() => ex.submit(dataModule.f), /portable id/);
  });

  test('a module given no id is named by its file (tasks.ts is "tasks")', async () => {
    const unnamed = taskModule<typeof import('./fixtures/tasks.js')>(
      new URL('./fixtures/tasks.js', import.meta.url),
    );
    // The workers know the module as "cftest" only: a job naming "tasks" fails, not retried.
    const error = (await rejection(ex.submit(unnamed.add, 1, 2))) as Error & { code: string };
    assert.equal(error.code, 'ERR_JOB_FAILED');
    assert.match(error.message, /no task module 'tasks'/);
    assert.match(error.message, /--tasks <file>=tasks/);
  });

  test('an unknown export, or an export that is not a function, fails clearly and is not retried', async () => {
    const named = tasks as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['noSuchExport', 'notAFunction']) {
      const error = (await rejection(ex.submit(named[name]!))) as Error & { code: string };
      assert.equal(error.code, 'ERR_JOB_FAILED');
      assert.match(error.message, new RegExp(`has no exported function '${name}'`));
    }
  });

  test('payloads above maxPayloadBytes fail: arguments at submit, results on the worker', async () => {
    const small = new BullMQExecutor({ connection: redis.url, queue, maxPayloadBytes: 1000 });
    try {
      assert.throws(
        () => small.submit(tasks.echo, 'x'.repeat(2000)),
        (e: Error & { code?: string }) =>
          e instanceof RangeError &&
          e.code === 'ERR_PAYLOAD_TOO_LARGE' &&
          /maxPayloadBytes/.test(e.message),
      );
      // The workers' limit is the default 8 MiB: a 9 MB result is refused there.
      const error = (await rejection(ex.submit(tasks.bigString, 9_000_000))) as Error & {
        code: string;
      };
      assert.equal(error.code, 'ERR_PAYLOAD_TOO_LARGE');
      assert.match(error.message, /the result of bigString/);
      // Over this executor's limit but under the worker's: refused on reading.
      const read = (await rejection(small.submit(tasks.bigString, 5000))) as Error & {
        code: string;
      };
      assert.equal(read.code, 'ERR_PAYLOAD_TOO_LARGE');
    } finally {
      await small.shutdown();
    }
  });

  test('arguments that cannot be serialized fail at submit', async () => {
    assert.throws(
      () => ex.submit(tasks.echo, () => 1),
      (e: Error & { code?: string }) =>
        e instanceof TypeError && e.code === 'ERR_TASK_NOT_CLONEABLE',
    );
  });
});

void describe('BullMQExecutor: map, wait, asCompleted', () => {
  test('map yields in input order, over one or several iterables', async () => {
    const out: number[] = [];
    for await (const x of ex.map(tasks.double, [1, 2, 3, 4, 5])) out.push(x);
    assert.deepEqual(out, [2, 4, 6, 8, 10]);
    const sums: number[] = [];
    for await (const s of ex.map(tasks.add, [1, 2, 3], [10, 20, 30])) sums.push(s);
    assert.deepEqual(sums, [11, 22, 33]);
  });

  test('map with chunksize sends a chunk as one job, results in order', async () => {
    const runs = counterDir();
    try {
      const input = Array.from({ length: 250 }, (_, i) => i);
      const out: number[] = [];
      for await (const x of ex.map(tasks.double, input, { chunksize: 100 })) out.push(x);
      assert.deepEqual(
        out,
        input.map((x) => x * 2),
      );
      const pairs: number[] = [];
      for await (const s of ex.map(tasks.add, [1, 2, 3], [4, 5, 6], { chunksize: 2 }))
        pairs.push(s);
      assert.deepEqual(pairs, [5, 7, 9]);
    } finally {
      runs.dispose();
    }
  });

  test('map with buffersize submits only that far ahead of the consumer, over an endless input', async () => {
    const runs = counterDir();
    try {
      function* naturals(): Generator<number> {
        for (let i = 0; ; i++) yield i;
      }
      const results: number[] = [];
      for await (const x of ex.map(tasks.countRun, repeat(runs.dir), naturals(), {
        buffersize: 3,
      })) {
        results.push(x);
        if (results.length === 5) break;
      }
      assert.deepEqual(results, [0, 1, 2, 3, 4]);
      // The break cancelled the rest: wait until no job of the queue waits or runs (a
      // cancelled job a worker had taken still finishes there), then count every run.
      await until(
        async () =>
          (await client.llen(`bull:${queue}:wait`)) +
            (await client.llen(`bull:${queue}:active`)) ===
          0,
        'the queue to empty',
      );
      // Only the 5 consumed and at most buffersize beyond them were submitted; each ran once.
      const ran = runs.lines().map((l) => Number(l.split(' ')[0]));
      assert.equal(new Set(ran).size, ran.length, `ran ${ran.join(', ')}`);
      for (const i of [0, 1, 2, 3, 4]) assert.ok(ran.includes(i), `ran ${ran.join(', ')}`);
      assert.ok(
        ran.every((i) => i <= 7),
        `ran ${ran.join(', ')}`,
      );
    } finally {
      runs.dispose();
    }
  });

  test('map timeout: iteration throws TimeoutError when a result is late', async () => {
    const latch = makeLatch('file');
    try {
      const results = ex.map(tasks.gateFile, [latch.latch], { timeout: 300 });
      await assert.rejects(results.next(), TimeoutError);
    } finally {
      latch.release();
    }
  });

  test('wait and asCompleted across two worker processes', async () => {
    const futures = Array.from({ length: 20 }, (_, i) => ex.submit(tasks.sleep, (i % 4) * 5, i));
    const done: number[] = [];
    for await (const f of asCompleted(futures)) done.push(await f.result());
    assert.deepEqual(
      done.sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
    const latch = makeLatch('file');
    try {
      const slow = ex.submit(tasks.gateFile, latch.latch);
      const fast = ex.submit(tasks.add, 1, 1);
      const { done: first, notDone } = await wait([slow, fast], { returnWhen: FIRST_COMPLETED });
      assert.ok(first.has(fast));
      assert.ok(notDone.has(slow));
      latch.release();
      const all = await wait([slow, fast]);
      assert.equal(all.done.size, 2);
      assert.equal(await slow, 'released');
    } finally {
      latch.release();
    }
  });

  test('a job runs on either worker process: both take jobs', async () => {
    const runs = counterDir();
    try {
      const latch = makeLatch('file');
      // Four held jobs at once need both processes (2 pool workers each).
      const held = Array.from({ length: 4 }, (_, i) =>
        ex.submit(tasks.countedHold, runs.dir, latch.latch, i),
      );
      await latch.started(4);
      latch.release();
      assert.deepEqual(await Promise.all(held), [0, 1, 2, 3]);
      // Each worker process holds at most 2 jobs (concurrency = --max-workers): 4 held needs both.
      const pids = new Set(runs.lines().map((line) => line.split(' ')[1]));
      assert.ok(pids.size >= 2, runs.lines().join('; '));
    } finally {
      runs.dispose();
    }
  });
});

function* repeat<T>(value: T): Generator<T> {
  for (;;) yield value;
}
