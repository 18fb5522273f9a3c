/**
 * The worker command, as users run it: `--help`, flag errors, a task module
 * that does not load, one log line per start, stop and failure, SIGTERM
 * (finish the running jobs) and a second SIGTERM (stop now: the jobs run again
 * elsewhere once their locks expire), SIGTERM while Redis cannot be reached.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BullMQExecutor } from 'concurrent-futures/bullmq';
import { rejection } from '../helpers.js';
import { makeLatch } from '../pool/helpers.js';
import { freePort, startRedis, type RedisServer } from './redis.js';
import {
  TASKS_FILE,
  TIMEOUT,
  counterDir,
  queueName,
  spawnWorker,
  startWorker,
  tasks,
  waitForOutput,
  type WorkerProcess,
} from './helpers.js';

let redis: RedisServer;
const workers: WorkerProcess[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await redis?.stop();
});

const test = (name: string, fn: () => Promise<void>): void =>
  void it(name, { timeout: TIMEOUT }, fn);

function track(worker: WorkerProcess): WorkerProcess {
  workers.push(worker);
  return worker;
}

void describe('the worker command: flags', () => {
  test('--help documents every flag and exits 0', async () => {
    const w = track(spawnWorker(['--help']));
    assert.equal(await w.exited, 0);
    for (const flag of [
      '--redis',
      '--queue',
      '--tasks',
      '--prefix',
      '--pool',
      '--max-workers',
      '--concurrency',
      '--max-payload-bytes',
      '--lock-duration',
      '--stalled-interval',
      '--help',
    ]) {
      assert.match(w.stderr(), new RegExp(`^  ${flag} `, 'm'), `${flag} is documented`);
    }
  });

  for (const [args, message] of [
    [['worker', '--tasks', 'x.js'], /--queue is required/],
    [['worker', '--queue', 'q'], /--tasks is required/],
    [['worker', '--queue', 'q', '--tasks', 'x.js', '--pool', 'gpu'], /--pool must be/],
    [['worker', '--queue', 'q', '--tasks', 'x.js', '--max-workers', '0'], /--max-workers must be/],
    [
      ['worker', '--queue', 'q', '--tasks', 'a/x.js', '--tasks', 'b/x.js'],
      /two modules have the id 'x'/,
    ],
    [['serve', '--queue', 'q'], /unknown command 'serve'/],
    [['worker', '--nope'], /Unknown option '--nope'/],
  ] as const) {
    test(`${args.join(' ')}: exits 2 with a clear message`, async () => {
      const w = track(spawnWorker([...args]));
      assert.equal(await w.exited, 2);
      assert.match(w.stderr(), message);
    });
  }

  test('a task module that does not load stops the worker at start, exit 1', async () => {
    const dir = counterDir();
    try {
      const broken = join(dir.dir, 'broken.mjs');
      writeFileSync(broken, 'throw new Error("no good");\n');
      const w = track(
        spawnWorker([
          'worker',
          '--redis',
          redis.url,
          '--queue',
          'q',
          '--tasks',
          `${broken}=broken`,
        ]),
      );
      assert.equal(await w.exited, 1);
      assert.match(
        w.stderr(),
        /failed to start: the task module 'broken' .* does not load: Error: no good/,
      );
    } finally {
      dir.dispose();
    }
  });
});

void describe('the worker command: running', () => {
  test('one line per start, failed job and stop; SIGTERM finishes the running job, then exits 0', async () => {
    const queue = queueName('cli');
    const w = track(await startWorker(redis.url, { queue }));
    assert.match(
      w.stderr(),
      /started on queue 'cli-\d+-\d+' \(prefix 'bull'\), interpreter pool of 2, concurrency 2, tasks: cftest=file:/,
    );
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const named = tasks as unknown as Record<string, () => unknown>;
    await rejection(ex.submit(named.missing!));
    await waitForOutput(w, "has no exported function 'missing'");
    const latch = makeLatch('file');
    try {
      const running = ex.submit(tasks.gateFile, latch.latch);
      await latch.started();
      w.child.kill('SIGTERM');
      await waitForOutput(w, 'SIGTERM: finishing the running jobs');
      latch.release();
      assert.equal(await running, 'released');
      assert.equal(await w.exited, 0);
      assert.match(w.stderr(), /concurrent-futures worker: stopped\n$/);
      const lines = w.stderr().trim().split('\n');
      assert.equal(lines.length, 4, lines.join('\n')); // started, failed, SIGTERM, stopped
    } finally {
      latch.release();
    }
  });

  test('a Redis outage is one line per kind of failure and one when it is over; then jobs run again', async () => {
    const own = await startRedis();
    try {
      const queue = queueName('cli-outage');
      const w = track(await startWorker(own.url, { queue }));
      await own.kill();
      await waitForOutput(w, 'ECONNREFUSED');
      // A moment without Redis, in which both of its connections retry several times.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await own.restart();
      await waitForOutput(w, 'connected to Redis again');
      const lines = w.stderr().trim().split('\n');
      const failures = lines.filter((l) => l.includes('ECONNREFUSED'));
      assert.equal(failures.length, 1, w.stderr());
      assert.match(
        lines.at(-1)!,
        /connected to Redis again( \(\d+ more failures were not logged\))?$/,
      );
      await using ex = new BullMQExecutor({ connection: own.url, queue });
      assert.equal(await ex.submit(tasks.add, 1, 2), 3);
    } finally {
      await own.stop();
    }
  });

  test('SIGTERM while it waits for a Redis that cannot be reached: it stops as usual, exit 0', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const w = track(
      spawnWorker([
        'worker',
        '--redis',
        nobody,
        '--queue',
        queueName('cli-no-redis'),
        '--tasks',
        `${TASKS_FILE}=cftest`,
        '--max-workers',
        '1',
      ]),
    );
    // Its first failed connection attempt: it is past loading, waiting for Redis.
    await waitForOutput(w, 'ECONNREFUSED');
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
    assert.match(w.stderr(), /SIGTERM: stopping before taking any job/);
    assert.match(w.stderr(), /concurrent-futures worker: stopped\n$/);
    assert.doesNotMatch(w.stderr(), /started on queue/);
  });

  test('a second SIGTERM exits now; another worker runs the interrupted job once its lock expires', async () => {
    const queue = queueName('cli-force');
    const fast = ['--lock-duration', '2000', '--stalled-interval', '500'];
    const first = track(await startWorker(redis.url, { queue, concurrency: 1, extra: fast }));
    const runs = counterDir();
    await using ex = new BullMQExecutor({ connection: redis.url, queue });
    const latch = makeLatch('file');
    try {
      const job = ex.submit(tasks.countedHold, runs.dir, latch.latch, 'job');
      await latch.started();
      first.child.kill('SIGTERM');
      await waitForOutput(first, 'finishing the running jobs');
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 1);
      assert.match(first.stderr(), /SIGTERM: stopping now/);
      assert.equal(job.done(), false);
      latch.release();
      track(await startWorker(redis.url, { queue, concurrency: 1, extra: fast }));
      assert.equal(await job, 'job');
      assert.equal(runs.lines().length, 2, 'it ran twice: at least once delivery');
    } finally {
      latch.release();
      runs.dispose();
    }
  });
});
