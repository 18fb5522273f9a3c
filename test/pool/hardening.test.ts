/**
 * Hardening of the pool core (issue 6): a queue that keeps moving when tasks
 * cannot be sent, messages from workers treated as untrusted, unreadable
 * results, tasks started in the order received, tasks a dead worker never
 * started run elsewhere, bounded function caches, and transports that throw.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BrokenInterpreterPool,
  InterpreterPoolExecutor,
  taskModule,
  type Future,
} from 'concurrent-futures';
import { WorkerPool } from '../../dist/pool/pool.js';
import { functionDef } from '../../dist/pool/functions.js';
import { threadTransport } from '../../dist/pool/thread-transport.js';
import type { Transport, WorkerHandle } from '../../dist/pool/transport.js';

import { POOLS, TIMEOUT, rejection, tasks } from './helpers.js';

const forge = taskModule<typeof import('./fixtures/forge.js')>(
  new URL('./fixtures/forge.js', import.meta.url),
);

for (const pool of POOLS) {
  void describe(`${pool.name}: hardening`, () => {
    void it('tasks that cannot be sent do not stop the queue', { timeout: TIMEOUT }, async () => {
      const ex = pool.make({ maxWorkers: 1 });
      try {
        const a = ex.submit((x: unknown) => x, Symbol('a'));
        const b = ex.submit((x: unknown) => x, Symbol('b'));
        const good = ex.submit((x: number) => x, 3);
        assert.ok((await rejection(a)) instanceof TypeError);
        assert.ok((await rejection(b)) instanceof TypeError);
        assert.equal(await good, 3);
      } finally {
        await ex.shutdown();
      }
    });

    void it(
      'messages a task posts on the worker’s channel are ignored: no crash, no forged result',
      { timeout: TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 1 });
        try {
          // Victims held by the same worker while the forger posts "results" for their ids.
          const victims = [ex.submit(tasks.add, 1, 1), ex.submit(tasks.add, 2, 2)];
          const forger = ex.submit(forge.forgeMessages, [1, 2, 3, 4, 5, 6, 7, 8]);
          const after = ex.submit(tasks.add, 20, 22);
          assert.equal(await forger, 'posted');
          assert.deepEqual(await Promise.all(victims), [2, 4]);
          assert.equal(await after, 42);
          assert.equal(await ex.submit(tasks.add, 1, 2), 3, 'the pool is not broken');
        } finally {
          await ex.shutdown();
        }
      },
    );

    void it(
      'a worker starts tasks in the order received, even while a module is still loading',
      { timeout: TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 1 });
        try {
          // The module of logOrder is not loaded yet when both tasks arrive in one batch.
          const first = ex.submit(forge.logOrder, 'module');
          const second = ex.submit((tag: string) => {
            const log = ((globalThis as { orderLog?: string[] }).orderLog ??= []);
            log.push(tag);
            return [...log];
          }, 'plain');
          assert.deepEqual(await first, ['module']);
          assert.deepEqual(await second, ['module', 'plain']);
        } finally {
          await ex.shutdown();
        }
      },
    );

    void it(
      'a task after one that exits, in the same batch, runs on the replacement worker',
      { timeout: TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 1 });
        const mark = (): number => ((globalThis as { mark?: number }).mark ??= Math.random());
        try {
          const before = await ex.submit(mark);
          const crash = ex.submit(forge.exitNow, 7);
          const after = ex.submit(mark);
          const error = await rejection(crash);
          assert.ok(error instanceof pool.Broken, String(error));
          assert.match(error.message, /code 7\b/);
          assert.notEqual(await after, before, 'it did not run on the worker that exited');
        } finally {
          await ex.shutdown();
        }
      },
    );

    void it(
      'a 2% process.exit storm over 2,000 short tasks fails only the exiting tasks',
      { timeout: 4 * TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 2 });
        try {
          let seed = 12345;
          const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
          const crashing: Future<unknown>[] = [];
          const normal: Future<number>[] = [];
          for (let i = 0; i < 2000; i++) {
            if (random() < 0.02) crashing.push(ex.submit(forge.exitNow, 9));
            else normal.push(ex.submit(tasks.add, i, 1));
          }
          const outcomes = await Promise.allSettled(normal);
          const collateral = outcomes.filter((o) => o.status === 'rejected');
          assert.equal(collateral.length, 0, `bystanders failed: ${String(collateral[0]?.reason)}`);
          for (const f of crashing) assert.ok((await rejection(f)) instanceof pool.Broken);
          assert.ok(crashing.length > 10, 'the storm happened');
          assert.equal(await ex.submit(tasks.add, 40, 2), 42, 'the pool is not broken');
        } finally {
          await ex.shutdown();
        }
      },
    );

    void it(
      'a worker keeps a bounded number of functions compiled; evicted ones are sent again',
      { timeout: 4 * TIMEOUT },
      async () => {
        const ex = pool.make({ maxWorkers: 1 });
        const distinct = (n: number, offset: number): Future<number>[] =>
          Array.from({ length: n }, (_, i) =>
            // A new source text each time: a new function definition.
            // eslint-disable-next-line @typescript-eslint/no-implied-eval
            ex.submit(new Function('x', `return x + ${offset + i};`) as (x: number) => number, 0),
          );
        try {
          // eslint-disable-next-line @typescript-eslint/no-implied-eval
          const first = new Function('x', 'return x * 1000;') as (x: number) => number;
          assert.equal(await ex.submit(first, 2), 2000);
          assert.equal((await Promise.all(distinct(2000, 0)))[1999], 1999);
          // What the runtime itself keeps of 6,000 compiled functions (Node 26 keeps some)...
          const h0 = await ex.submit(forge.heapAfterGc);
          await ex.submit(forge.compileMany, 6000, 50_000);
          const h1 = await ex.submit(forge.heapAfterGc);
          // ... against 6,000 more sent through the pool.
          assert.equal((await Promise.all(distinct(6000, 10_000)))[5999], 15_999);
          const h2 = await ex.submit(forge.heapAfterGc);
          // Unbounded, the worker's own caches would add about 5.5 MiB beyond the runtime's share.
          const ours = (h2 - h1 - (h1 - h0)) / 2 ** 20;
          assert.ok(ours < 2.5, `the worker's caches grew by ${ours.toFixed(1)} MiB`);
          assert.equal(await ex.submit(first, 3), 3000, 'an evicted function is sent again');
        } finally {
          await ex.shutdown();
        }
      },
    );
  });
}

void describe('InterpreterPoolExecutor: results the parent cannot read', () => {
  void it(
    'a value nested too deeply fails only its own task; the same worker goes on',
    { timeout: TIMEOUT },
    async () => {
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1 });
      try {
        const id = await ex.submit(forge.workerId);
        const deep = ex.submit(forge.deepArray, 5000);
        const beside = ex.submit(tasks.add, 1, 1);
        const error = await rejection(deep);
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, /cannot be sent back to the parent/);
        assert.equal(await beside, 2);
        assert.equal(await ex.submit(forge.workerId), id);
      } finally {
        await ex.shutdown();
      }
    },
  );

  void it(
    'a message the parent may not be able to deserialize never leaves its future pending',
    { timeout: TIMEOUT },
    async () => {
      // With a 4 MB worker stack (Node's default) a worker can post what the parent of
      // Node 20-24 cannot read (a 'messageerror'); Node 26's parent reads it.
      const ex = new InterpreterPoolExecutor({ maxWorkers: 1, resourceLimits: { stackSizeMb: 4 } });
      try {
        const future = ex.submit(forge.deepArray, 5000);
        const outcome = await future.then(
          () => 'read',
          (error: unknown) => error,
        );
        if (outcome !== 'read') {
          assert.ok(outcome instanceof BrokenInterpreterPool, String(outcome));
          assert.match((outcome as Error).message, /cannot be read/);
        }
        assert.equal(await ex.submit(tasks.add, 1, 1), 2, 'the pool goes on');
      } finally {
        await ex.shutdown();
      }
    },
  );
});

// Internal modules come from dist/ (built by npm test), where the worker entry is JavaScript.

/** The real worker-thread transport, with faults injected into the handles it makes. */
function faultyTransport(fault: (handle: WorkerHandle, n: number) => WorkerHandle): {
  transport: Transport;
  started: () => number;
  exited: () => number;
} {
  const real = threadTransport({ resourceLimits: undefined, execArgv: undefined, env: undefined });
  let started = 0;
  let exited = 0;
  return {
    transport: (events) => {
      const handle = real({
        ...events,
        onExit: (info) => {
          exited++;
          events.onExit(info);
        },
      });
      return fault(handle, started++);
    },
    started: () => started,
    exited: () => exited,
  };
}

function poolOver(transport: Transport): WorkerPool {
  return new WorkerPool({
    name: 'test',
    minWorkers: 0,
    idleTimeout: undefined,
    gracePeriod: 1000,
    emit: () => {},
    maxWorkers: 1,
    maxTasksPerChild: undefined,
    transport,
    brokenError: BrokenInterpreterPool,
    initializer: undefined,
    initArgs: [],
  });
}

const add = functionDef((a: number, b: number) => a + b, 'test');

void describe('WorkerPool: a transport that throws', () => {
  void it('ref() and unref() that throw lose nothing', { timeout: TIMEOUT }, async () => {
    const t = faultyTransport((h) => ({
      ...h,
      ref: () => {
        throw new TypeError('no ref here');
      },
      unref: () => {
        throw new TypeError('no unref here');
      },
    }));
    const p = poolOver(t.transport);
    assert.equal(await p.submit(add, [1, 2], undefined), 3);
    assert.equal(await p.submit(add, [2, 2], undefined), 4);
    await p.shutdown(true, false);
    assert.equal(t.exited(), t.started());
  });

  void it(
    'a send that fails for a reason other than cloning: the tasks run on a new worker',
    { timeout: TIMEOUT },
    async () => {
      const t = faultyTransport((h, n) =>
        n > 0
          ? h
          : {
              ...h,
              send: (message, transferList) => {
                if (message.t === 'run') throw new Error('channel closed');
                h.send(message, transferList);
              },
            },
      );
      const p = poolOver(t.transport);
      const futures = [1, 2, 3].map((i) => p.submit(add, [i, i], undefined));
      assert.deepEqual(await Promise.all(futures), [2, 4, 6]);
      await p.shutdown(true, false);
      assert.equal(t.started(), 2, 'the faulty worker was replaced once');
      assert.equal(t.exited(), t.started(), 'and ended, not lost');
    },
  );

  void it(
    'a transport that can never send breaks the pool instead of retrying forever',
    { timeout: TIMEOUT },
    async () => {
      const t = faultyTransport((h) => ({
        ...h,
        send: (message, transferList) => {
          if (message.t === 'run') throw new Error('channel closed');
          h.send(message, transferList);
        },
      }));
      const p = poolOver(t.transport);
      const error = await rejection(p.submit(add, [1, 1], undefined));
      assert.ok(error instanceof BrokenInterpreterPool, String(error));
      assert.ok(p.broken !== undefined);
      await p.shutdown(true, false);
      assert.equal(t.exited(), t.started());
    },
  );

  void it(
    'a worker whose init cannot be sent is ended, not lost',
    { timeout: TIMEOUT },
    async () => {
      const t = faultyTransport((h, n) =>
        n > 0
          ? h
          : {
              ...h,
              send: () => {
                throw new Error('cannot init');
              },
            },
      );
      const p = poolOver(t.transport);
      assert.equal(await p.submit(add, [20, 22], undefined), 42);
      await p.shutdown(true, false);
      assert.equal(t.started(), 2);
      assert.equal(t.exited(), 2);
    },
  );
});
