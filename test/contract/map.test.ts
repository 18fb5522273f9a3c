/**
 * Contract: `map` on every executor. Results in input order, several
 * iterables zipped, the timeout, `buffersize` over an endless input, and
 * closing a started iteration early cancels the calls that have not started.
 */

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { TimeoutError, type Executor } from 'concurrent-futures';
import { rejection } from '../helpers.js';
import { collect, range, tasks, turn } from './executors.js';
import { forEachExecutor, test } from './suite.js';

forEachExecutor('map', (kind) => {
  const ex: Executor = kind.make({ maxWorkers: 2 });
  after(() => ex.shutdown());

  test('yields the results in input order, whatever order the calls finish in', async () => {
    // Earlier items sleep longer: they finish last.
    const ms = [40, 30, 20, 10, 0];
    assert.deepEqual(await collect(ex.map(tasks.sleep, ms, ['a', 'b', 'c', 'd', 'e'])), [
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    assert.deepEqual(
      await collect(ex.map(tasks.double, range(50))),
      range(50).map((x) => x * 2),
    );
  });

  test('zips several iterables, sync and async, and stops at the shortest', async () => {
    async function* tens(): AsyncGenerator<number> {
      for (let i = 1; i <= 5; i++) yield i * 10;
    }
    assert.deepEqual(await collect(ex.map(tasks.add, [1, 2, 3], [10, 20, 30, 40])), [11, 22, 33]);
    assert.deepEqual(
      await collect(ex.map(tasks.add, new Set([1, 2, 3, 4]), tens())),
      [11, 22, 33, 44],
    );
  });

  test('an error ends the iteration at its own position', async () => {
    const results = ex.map(
      tasks.failOn,
      range(6),
      range(6).map(() => 3),
    );
    const got: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const x of results) got.push(x);
      })(),
    );
    assert.ok(error instanceof Error);
    assert.equal(error.message, 'failOn: 3');
    assert.deepEqual(got, [0, 10, 20]);
    assert.deepEqual(await results.next(), { done: true, value: undefined });
  });

  test('timeout: a result not ready by the deadline (from the call) throws TimeoutError', async () => {
    const latch = kind.latch();
    try {
      const results = ex.map(tasks.gate, [latch.latch], [kind.blocking], ['held'], {
        timeout: 50,
      });
      const error = await rejection(results.next());
      assert.ok(error instanceof TimeoutError, String(error));
      assert.deepEqual(await results.next(), { done: true, value: undefined });
    } finally {
      latch.release();
      latch.dispose();
    }
    assert.equal(await ex.submit(tasks.add, 1, 1), 2, 'the executor still serves');
  });

  test('buffersize reads an endless generator only that far ahead, in order', async () => {
    let read = 0;
    function* naturals(): Generator<number> {
      for (let i = 0; ; i++) {
        read++;
        yield i;
      }
    }
    const buffersize = 3;
    const got: number[] = [];
    for await (const x of ex.map(tasks.double, naturals(), { buffersize })) {
      got.push(x);
      if (got.length === 10) break;
    }
    assert.deepEqual(
      got,
      range(10).map((x) => x * 2),
    );
    // What was consumed, the buffer, and one more read per next().
    assert.ok(read <= 10 + buffersize + 1, `read ${read} items`);
  });

  test('closing a started iteration cancels the calls that have not started', async () => {
    const one = kind.make({ maxWorkers: 1 });
    const latch = kind.latch();
    const ran = kind.latch();
    try {
      // Item 0 holds the only worker; items 1..11 wait behind it (a few may be handed ahead).
      const n = 12;
      const each = <T>(value: T): T[] => range(n).map(() => value);
      const results = one.map(
        tasks.countedGateAt,
        each(ran.latch),
        each(latch.latch),
        each(kind.blocking),
        range(n),
        each(0),
      );
      const first = results.next(); // the iteration has started: it waits for item 0
      await latch.started();
      await turn();
      assert.deepEqual(await results.return!(), { done: true, value: undefined });
      latch.release();
      assert.deepEqual(await first, { done: true, value: undefined }, 'closed: item 0 is dropped');
      await one.shutdown();
      // Item 0 ran, and at most those handed ahead to the busy worker: the rest never did.
      const count = ran.startedCount();
      assert.ok(count >= 1 && count <= 1 + kind.handAhead, `${count} of ${n} calls ran`);
    } finally {
      latch.release();
      latch.dispose();
      ran.dispose();
      await one.shutdown();
    }
  });
});
