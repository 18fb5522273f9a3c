/**
 * Stress: 10,000 tasks of which a seeded-random 5% throw, exit their worker
 * or get it killed. Every future settles exactly once, nothing hangs, and the
 * pool still answers afterwards.
 *
 * The crash-loop rule (3 worker deaths in a row with no completed task in
 * between break the pool) shapes the mix: a crashing task ends its worker only
 * on the next turn of the worker's event loop, once the results of the tasks
 * it ran alongside are on their way, and two crashing tasks are never closer
 * than {@link MIN_CRASH_GAP} positions, so every death follows a completed task.
 * A second run crashes at once instead, so a worker may die before reporting
 * anything: the pool may then break, and the test checks what the contract
 * says for either outcome.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Future } from 'concurrent-futures';
import { POOLS, type PoolKind } from './helpers.js';

const TASKS = 10_000;
const BAD_RATE = 0.05;
const MIN_CRASH_GAP = 10;
const SEED = Number(process.env.STRESS_SEED ?? 0x5eed);
const STRESS_TIMEOUT = 300_000;

const OK = 0;
const THROW = 1;
const EXIT = 2;
const KILL = 3;

/** mulberry32: a small, seeded PRNG, so that every run draws the same mix. */
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

function plan(seed: number): number[] {
  const random = prng(seed);
  const kinds: number[] = [];
  let lastCrash = -Infinity;
  for (let i = 0; i < TASKS; i++) {
    if (random() >= BAD_RATE) {
      kinds.push(OK);
      continue;
    }
    let kind = [THROW, EXIT, KILL][Math.floor(random() * 3)]!;
    if (kind !== THROW && i - lastCrash < MIN_CRASH_GAP) kind = THROW;
    if (kind !== THROW) lastCrash = i;
    kinds.push(kind);
  }
  return kinds;
}

/**
 * The task, shipped as source. EXIT ends the worker with code 5; KILL sends
 * the child process SIGKILL, or, in a worker thread (which no signal can end
 * alone), throws an uncaught error from a callback.
 */
const stressTask = (
  i: number,
  kind: number,
  inThread: boolean,
  now = false,
): number | Promise<never> => {
  if (kind === 0) return i * 2;
  if (kind === 1) throw new Error(`stress ${i}`);
  if (now) {
    if (kind === 2 || inThread) process.exit(kind === 2 ? 5 : 9);
    process.kill(process.pid, 'SIGKILL');
  }
  setImmediate(() => {
    if (kind === 2) process.exit(5);
    if (inThread) throw new Error(`stress uncaught ${i}`);
    process.kill(process.pid, 'SIGKILL');
  });
  return new Promise<never>(() => {});
};

async function stress(
  pool: PoolKind,
  now: boolean,
  diagnostic: (message: string) => void,
): Promise<void> {
  const kinds = plan(SEED);
  const inThread = pool.name === 'InterpreterPoolExecutor';
  // execArgv: [] keeps the many replacement workers cheap to start (the task needs no loader).
  const ex = pool.make({ maxWorkers: 2, execArgv: [] });
  try {
    const settled = new Array<number>(TASKS).fill(0);
    const futures: Future<number>[] = kinds.map((kind, i) => {
      const f = ex.submit(stressTask, i, kind, inThread, now);
      f.addDoneCallback(() => settled[i]!++);
      return f;
    });
    const outcomes = await Promise.allSettled(futures);

    const stats = { ok: 0, thrown: 0, broken: 0, crashes: 0 };
    outcomes.forEach((outcome, i) => {
      const kind = kinds[i]!;
      assert.equal(settled[i], 1, `future ${i} settled ${settled[i]} times`);
      if (kind === EXIT || kind === KILL) stats.crashes++;
      if (outcome.status === 'fulfilled') {
        assert.equal(kind, OK, `task ${i} (kind ${kind}) fulfilled`);
        assert.equal(outcome.value, i * 2);
        stats.ok++;
        return;
      }
      const error = outcome.reason as Error;
      if (error instanceof pool.Broken) {
        // Any task may have been held by a worker that died.
        stats.broken++;
        return;
      }
      assert.equal(kind, THROW, `task ${i} (kind ${kind}) failed with ${String(error)}`);
      assert.equal(error.message, `stress ${i}`);
      stats.thrown++;
    });
    assert.ok(stats.crashes > 0, 'the mix has crashes');
    assert.ok(stats.broken >= stats.crashes, 'every crashing task failed with the broken error');
    if (now) {
      // Workers may have died before reporting anything: the pool may have broken, and then
      // it says so; otherwise it must still answer, as below.
      let broken = false;
      try {
        ex.submit(stressTask, 0, OK, inThread);
      } catch (error) {
        assert.ok(error instanceof pool.Broken, String(error));
        broken = true;
      }
      diagnostic(
        `${pool.name} seed ${SEED}, crashing at once: ${JSON.stringify(stats)}, broken: ${broken}`,
      );
      if (broken) {
        assert.ok(settled.every((n) => n === 1));
        return;
      }
    } else {
      diagnostic(`${pool.name} seed ${SEED}: ${JSON.stringify(stats)}`);
      assert.ok(stats.thrown > 0, 'some errors arrived as themselves');
      assert.ok(stats.ok > 0);
    }

    // The pool still answers, on every worker.
    const after = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ex.submit(stressTask, i, OK, inThread)),
    );
    assert.deepEqual(
      after,
      Array.from({ length: 100 }, (_, i) => i * 2),
    );
    const mapped: number[] = [];
    for await (const x of ex.map((x: number) => x + 1, [1, 2, 3, 4, 5], { chunksize: 2 }))
      mapped.push(x);
    assert.deepEqual(mapped, [2, 3, 4, 5, 6]);
    // Settled once, and still once: no late result or exit settles a future again.
    assert.ok(settled.every((n) => n === 1));
  } finally {
    await ex.shutdown({ cancelFutures: true });
  }
}

for (const pool of POOLS) {
  void describe(pool.name, () => {
    void it(
      `${TASKS} tasks, ${BAD_RATE * 100}% of them throwing, exiting or killed`,
      { timeout: STRESS_TIMEOUT },
      async (t) => {
        await stress(pool, false, (message) => t.diagnostic(message));
      },
    );

    void it(
      `${TASKS} tasks, the crashing ones crashing at once`,
      { timeout: STRESS_TIMEOUT },
      async (t) => {
        await stress(pool, true, (message) => t.diagnostic(message));
      },
    );
  });
}
