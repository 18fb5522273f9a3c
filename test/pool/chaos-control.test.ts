/**
 * Chaos with control (issue 7): 10,000 calls on each parallel executor where
 * a seeded-random share carry deadlines they overrun, signals aborted at
 * random moments, loops that must be ended by force, or exit their worker.
 * Every future settles exactly once, no worker is left, the pool answers.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskModule, type Future } from 'concurrent-futures';
import { POOLS, osThreads, processExists } from './helpers.js';

const control = taskModule<typeof import('../fixtures/control-tasks.js')>(
  new URL('../fixtures/control-tasks.js', import.meta.url),
);
const forge = taskModule<typeof import('./fixtures/forge.js')>(
  new URL('./fixtures/forge.js', import.meta.url),
);

const TASKS = 10_000;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const pool of POOLS) {
  void describe(`${pool.name}: chaos with deadlines, aborts and forced stops`, () => {
    void it(
      'every future settles exactly once; nothing is left',
      { timeout: 300_000 },
      async () => {
        const random = prng(0xc0ffee);
        const ex = pool.make({ maxWorkers: 2, gracePeriod: 20 });
        const pids = new Set<number>();
        ex.on('workerStart', (e) => {
          const pid = /child process (\d+)/.exec(e.worker)?.[1];
          if (pid !== undefined) pids.add(Number(pid));
        });
        const settled = new Map<Future<unknown>, number>();
        const futures: Future<unknown>[] = [];
        const aborts: (() => void)[] = [];
        let forced = 0;
        for (let i = 0; i < TASKS; i++) {
          const r = random();
          let future: Future<unknown>;
          if (r < 0.9) {
            future = ex.submit(control.identity, i);
          } else if (r < 0.94) {
            // A deadline it overruns, cooperatively.
            future = ex.with({ timeout: 5 }).submit(control.sleepUnlessAborted, 50);
          } else if (r < 0.98) {
            // A signal aborted at a random moment: queued, running or after it settled.
            const controller = new AbortController();
            future = ex.with({ signal: controller.signal }).submit(control.sleepUnlessAborted, 5);
            aborts.push(() => controller.abort());
          } else if (r < 0.99 && forced < 15) {
            forced++;
            future = ex.with({ timeout: 5 }).submit(control.spinForever);
          } else if (r < 0.995) {
            future = ex.submit(forge.exitNow, 3);
          } else {
            future = ex.submit(control.identity, i);
          }
          futures.push(future);
          future.addDoneCallback((f) => settled.set(f, (settled.get(f) ?? 0) + 1));
        }
        // Fire the aborts at random moments while the pool works.
        for (const abort of aborts) {
          setTimeout(abort, Math.floor(random() * 2_000)).unref();
        }
        await Promise.allSettled(futures);
        await new Promise((resolve) => setTimeout(resolve, 2_100));
        for (const f of futures) assert.equal(settled.get(f), 1, String(f));
        assert.equal(await ex.submit(control.identity, 'alive'), 'alive');
        const stats = ex.stats();
        assert.equal(
          stats.tasks.completed + stats.tasks.failed + stats.tasks.cancelled,
          TASKS + 1,
          JSON.stringify(stats.tasks),
        );
        const threadsBefore = osThreads();
        await ex.shutdown();
        assert.equal(ex.stats().workers.alive, 0);
        for (const pid of pids) assert.equal(processExists(pid), false, `child ${pid} is gone`);
        if (threadsBefore !== undefined) assert.ok((osThreads() ?? 0) <= threadsBefore);
      },
    );
  });
}
