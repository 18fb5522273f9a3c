import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import {
  BrokenExecutor,
  BrokenThreadPool,
  CancelledError,
  Executor,
  Future,
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  RuntimeError,
  taskModule,
  taskSignal,
  ThreadPoolExecutor,
  TimeoutError,
  wait,
  type ParallelExecutorOptions,
  type ThreadPoolExecutorOptions,
} from 'concurrent-futures';
import {
  gate,
  rejection,
  runFixture,
  settle,
  spin,
  tick,
  until,
  watchUnhandled,
  type Gate,
} from './helpers.js';

const SHUTDOWN = 'cannot schedule new futures after shutdown';
const BROKEN = 'A thread initializer failed, the thread pool is not usable anymore';

function isShutdownError(e: unknown): boolean {
  return e instanceof RuntimeError && e.name === 'RuntimeError' && e.message === SHUTDOWN;
}

void describe('ThreadPoolExecutor: construction', () => {
  void it('is an Executor; maxWorkers defaults to min(32, availableParallelism() + 4)', async () => {
    const ex = new ThreadPoolExecutor();
    assert.ok(ex instanceof Executor);
    assert.equal(ex.maxWorkers, Math.min(32, availableParallelism() + 4));
    assert.equal(new ThreadPoolExecutor({ maxWorkers: 7 }).maxWorkers, 7);
    assert.equal(new ThreadPoolExecutor({}).maxWorkers, ex.maxWorkers);
    await ex.shutdown();
  });

  void it('rejects a maxWorkers that is not a positive integer: RangeError for a bad number, TypeError for a non-number', () => {
    for (const maxWorkers of [0, -1, 1.5, Number.NaN, Infinity, -Infinity]) {
      assert.throws(
        () => new ThreadPoolExecutor({ maxWorkers }),
        (e: unknown) => e instanceof RangeError && /maxWorkers/.test(e.message),
        String(maxWorkers),
      );
    }
    for (const maxWorkers of ['4', null, true, {}, 4n]) {
      assert.throws(
        () => new ThreadPoolExecutor({ maxWorkers: maxWorkers as never }),
        (e: unknown) => e instanceof TypeError && /maxWorkers/.test(e.message),
        typeof maxWorkers,
      );
    }
  });

  void it('rejects other bad options with TypeError naming the option', () => {
    const cases: [unknown, RegExp][] = [
      [{ initializer: 'setup' }, /initializer/],
      [{ initArgs: 'a' }, /initArgs/],
      [{ threadNamePrefix: 5 }, /threadNamePrefix/],
      ['options', /options/],
      [null, /options/],
    ];
    for (const [options, name] of cases) {
      assert.throws(
        () => new ThreadPoolExecutor(options as never),
        (e: unknown) => e instanceof TypeError && name.test(e.message),
        JSON.stringify(options),
      );
    }
  });
});

void describe('ThreadPoolExecutor: submit', { timeout: 20_000 }, () => {
  void it('runs sync and async functions, closures and arguments', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    let captured = 0;
    const sync = ex.submit((a: number, b: number) => a + b, 2, 3);
    const asyncF = ex.submit(async (s: string) => (await tick(), s.repeat(2)), 'ab');
    const closure = ex.submit(() => (captured = 7));
    const promised = ex.submit(() => Promise.resolve('p'));
    assert.equal(await sync, 5);
    assert.equal(await asyncF.result(), 'abab');
    assert.equal(await closure, 7);
    assert.equal(captured, 7);
    assert.equal(await promised, 'p');
  });

  void it('never runs the task synchronously inside submit()', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    let ran = false;
    const f = ex.submit(() => {
      ran = true;
    });
    assert.equal(ran, false);
    assert.equal(f.running(), false);
    assert.equal(f.done(), false);
    await f;
    assert.equal(ran, true);
  });

  void it('a failing task fails its future with the very same error; throw undefined / throw 0 still fail', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const boom = new Error('boom');
    const syncFail = ex.submit(() => {
      throw boom;
    });
    const asyncFail = ex.submit(async () => {
      await tick();
      throw boom;
    });
    assert.equal(await rejection(syncFail.result()), boom);
    assert.equal(await asyncFail.exception(), boom);
    for (const value of [undefined, 0]) {
      const f = ex.submit(() => {
        throw value;
      });
      assert.equal(await rejection(f.result()), value);
      assert.equal(f.done(), true);
      assert.match(String(f), /state=finished raised/);
      const { done } = await wait([f, new Future()], { returnWhen: 'FIRST_EXCEPTION' });
      assert.ok(done.has(f));
    }
    const rejected = ex.submit(() => Promise.reject(0));
    assert.equal(await rejection(rejected.result()), 0);
  });

  void it('submit with a non-function throws TypeError at once and loses nothing', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    for (const fn of [undefined, null, 42, 'fn', {}]) {
      assert.throws(
        () => ex.submit(fn as never),
        (e: unknown) => e instanceof TypeError && /fn/.test(e.message),
      );
    }
    assert.equal(await ex.submit(() => 'still works'), 'still works');
  });

  void it('never runs more than maxWorkers calls at once, and starts the next as one finishes', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
    const gates: Gate[] = Array.from({ length: 10 }, () => gate());
    let running = 0;
    let maxRunning = 0;
    const started: number[] = [];
    const fs = gates.map((g, i) =>
      ex.submit(async () => {
        started.push(i);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await g.promise;
        running--;
        return i;
      }),
    );
    await until(() => started.length === 3);
    await settle();
    assert.deepEqual(started, [0, 1, 2], 'and no more');
    assert.equal(fs.filter((f) => f.running()).length, 3);
    for (let i = 0; i < gates.length; i++) {
      gates[i]!.open();
      await fs[i];
      await until(() => started.length === Math.min(10, i + 4));
      assert.ok(running <= 3);
    }
    assert.equal(maxRunning, 3);
    assert.deepEqual(
      await Promise.all(fs),
      gates.map((_, i) => i),
    );
  });

  void it('with maxWorkers 1 runs calls one at a time, in submission order', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const log: string[] = [];
    const fs = [1, 2, 3].map((i) =>
      ex.submit(async () => {
        log.push(`start ${i}`);
        await tick();
        log.push(`end ${i}`);
      }),
    );
    await Promise.all(fs);
    assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  void it('a future cancelled while queued is skipped, and counted by wait once the worker reaches it', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate();
    const busy = ex.submit(() => hold.promise);
    let ran = false;
    const queued = ex.submit(() => {
      ran = true;
    });
    await until(() => busy.running());
    assert.equal(busy.cancel(), false, 'a running call cannot be cancelled');
    assert.equal(queued.cancel(), true);
    assert.ok((await rejection(queued.result())) instanceof CancelledError);
    const waiting = wait([queued]);
    hold.open();
    assert.deepEqual((await waiting).done, new Set([queued]));
    await busy;
    assert.equal(ran, false);
  });

  void it('leaves a result set from outside alone (settles each future once)', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate();
    let callbacks = 0;
    const f = ex.submit(async () => {
      await hold.promise;
      return 'from task';
    });
    f.addDoneCallback(() => callbacks++);
    await until(() => f.running());
    f.setResult('from outside');
    hold.open();
    await ex.shutdown();
    assert.equal(await f, 'from outside');
    assert.equal(callbacks, 1);
  });

  void it('sync CPU-bound tasks do not starve timers', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const n = 300;
    let finished = 0;
    const fs = Array.from({ length: n }, () =>
      ex.submit(() => {
        spin(3);
        finished++;
      }),
    );
    // A timer due in 1 ms must fire long before 300 × 3 ms of CPU work is through.
    const finishedWhenTimerFired = await new Promise<number>((resolve) =>
      setTimeout(() => resolve(finished), 1),
    );
    assert.ok(finishedWhenTimerFired < n, `timer fired after ${finishedWhenTimerFired} of ${n}`);
    await ex.shutdown({ cancelFutures: true });
    assert.ok(fs.every((f) => f.done()));
  });
});

void describe('ThreadPoolExecutor: workers and the initializer', { timeout: 20_000 }, () => {
  void it('sequential submit-and-await reuses one worker: the initializer runs once', async () => {
    let inits = 0;
    await using ex = new ThreadPoolExecutor({ maxWorkers: 4, initializer: () => void inits++ });
    for (let i = 0; i < 5; i++) assert.equal(await ex.submit((x: number) => x * 2, i), i * 2);
    assert.equal(inits, 1);
  });

  void it('runs the initializer once per logical worker, with initArgs, before that worker’s first call', async () => {
    const inits: string[][] = [];
    const initGate = gate();
    const hold = gate();
    const ex = new ThreadPoolExecutor({
      maxWorkers: 3,
      initializer: async (a: string, b: string) => {
        await initGate.promise;
        inits.push([a, b]);
      },
      initArgs: ['x', 'y'],
    });
    let ran = 0;
    const fs = Array.from({ length: 6 }, () =>
      ex.submit(async () => {
        ran++;
        await hold.promise;
      }),
    );
    await settle();
    assert.equal(ran, 0, 'no call before its worker’s initializer finished');
    initGate.open();
    await until(() => ran === 3);
    assert.deepEqual(inits, [
      ['x', 'y'],
      ['x', 'y'],
      ['x', 'y'],
    ]);
    hold.open();
    await Promise.all(fs);
    await ex.submit(() => 0);
    assert.equal(inits.length, 3, 'never more than one per worker');
    await ex.shutdown();
  });

  void it('an initializer failure breaks the pool: queued futures fail with BrokenThreadPool, later submit throws it', async () => {
    const cause = new Error('init failed');
    const ex = new ThreadPoolExecutor({
      maxWorkers: 1,
      initializer: () => {
        throw cause;
      },
    });
    let ran = false;
    const fs = [1, 2, 3].map(() =>
      ex.submit(() => {
        ran = true;
      }),
    );
    const errors = await Promise.all(fs.map((f) => rejection(f.result())));
    for (const e of errors) {
      assert.ok(e instanceof BrokenThreadPool);
      assert.ok(e instanceof BrokenExecutor);
      assert.ok(e instanceof RuntimeError);
      assert.equal(e.name, 'BrokenThreadPool');
      assert.equal(e.message, BROKEN);
      assert.equal(e.cause, cause);
    }
    assert.equal(new Set(errors).size, 3, 'each future gets its own error');
    assert.equal(ran, false);
    assert.throws(
      () => ex.submit(() => 0),
      (e: unknown) => e instanceof BrokenThreadPool && e.message === BROKEN,
    );
    assert.throws(() => ex.map((x: number) => x, [1]), BrokenThreadPool);
    await ex.shutdown();
  });

  void it('an async initializer that rejects breaks the pool too; a cancelled queued future stays cancelled', async () => {
    const initGate = gate();
    const ex = new ThreadPoolExecutor({
      maxWorkers: 1,
      initializer: () => initGate.promise,
    });
    const watch = watchUnhandled();
    try {
      const [a, b, c] = [1, 2, 3].map((i) => ex.submit(() => i));
      assert.equal(b!.cancel(), true);
      initGate.fail(new Error('async init failed'));
      assert.ok((await rejection(a!.result())) instanceof BrokenThreadPool);
      assert.ok((await rejection(c!.result())) instanceof BrokenThreadPool);
      assert.ok((await rejection(b!.result())) instanceof CancelledError);
      const { done } = await wait([a!, b!, c!], { timeout: 0 });
      assert.equal(done.size, 3, 'the cancelled one is notified by the drain');
      await ex.shutdown();
      await settle();
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });

  void it('calls already running in a healthy worker finish normally when another worker’s initializer fails', async () => {
    let inits = 0;
    const hold = gate<string>();
    const ex = new ThreadPoolExecutor({
      maxWorkers: 2,
      initializer: () => {
        if (++inits === 2) throw new Error('second worker failed');
      },
    });
    const first = ex.submit(() => hold.promise);
    await until(() => first.running());
    const second = ex.submit(() => 'never');
    assert.ok((await rejection(second.result())) instanceof BrokenThreadPool);
    assert.throws(() => ex.submit(() => 0), BrokenThreadPool);
    hold.open('finished anyway');
    assert.equal(await first, 'finished anyway');
    await ex.shutdown();
  });
});

void describe('ThreadPoolExecutor: shutdown', { timeout: 20_000 }, () => {
  void it('submit after shutdown throws RuntimeError "cannot schedule new futures after shutdown"', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const p = ex.shutdown({ wait: false });
    assert.throws(() => ex.submit(() => 1), isShutdownError);
    await p;
    assert.throws(() => ex.submit(() => 1), isShutdownError);
  });

  void it('is idempotent', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const f = ex.submit(() => 1);
    await Promise.all([ex.shutdown(), ex.shutdown(), ex.shutdown({ wait: false })]);
    await ex.shutdown();
    await ex.shutdown({ cancelFutures: true });
    assert.equal(await f, 1);
  });

  void it('wait: true resolves only once running and queued work is done', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate();
    const fs = [ex.submit(() => hold.promise), ex.submit(() => 2), ex.submit(async () => 3)];
    let resolved = false;
    const shut = ex.shutdown().then(() => (resolved = true));
    await settle();
    assert.equal(resolved, false);
    hold.open();
    await shut;
    assert.ok(fs.every((f) => f.done() && !f.cancelled()));
    assert.deepEqual(await Promise.all(fs.slice(1)), [2, 3]);
  });

  void it('wait: false resolves at once while queued work still runs', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const hold = gate();
    const busy = ex.submit(() => hold.promise);
    const queued = ex.submit(() => 'queued ran');
    await ex.shutdown({ wait: false });
    assert.equal(busy.done(), false);
    assert.equal(queued.done(), false);
    hold.open();
    assert.equal(await queued, 'queued ran');
    await busy;
  });

  void it('cancelFutures cancels only the queued futures, notifies them (wait does not hang) and runs their callbacks', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const finished = ex.submit(() => 'early');
    assert.equal(await finished, 'early');
    const holds = [gate<string>(), gate<string>()];
    const runningFs = holds.map((g) => ex.submit(() => g.promise));
    await until(() => runningFs.every((f) => f.running()));
    const ran: number[] = [];
    const queued = [1, 2, 3].map((i) => ex.submit(() => void ran.push(i)));
    let callbacks = 0;
    for (const f of queued) f.addDoneCallback(() => callbacks++);
    let resolved = false;
    const shut = ex.shutdown({ cancelFutures: true }).then(() => (resolved = true));
    assert.ok(queued.every((f) => f.cancelled()));
    assert.equal(callbacks, 3);
    assert.ok(runningFs.every((f) => f.running() && !f.cancelled()));
    // Notified at once: a snapshot already counts them, and a blocking wait returns.
    assert.deepEqual((await wait(queued, { timeout: 0 })).done, new Set(queued));
    assert.deepEqual((await wait(queued)).done, new Set(queued));
    await settle();
    assert.equal(resolved, false, 'wait: true still waits for the running calls');
    holds[0]!.open('a');
    holds[1]!.open('b');
    await shut;
    assert.deepEqual(await Promise.all(runningFs), ['a', 'b']);
    assert.equal(finished.cancelled(), false, 'a finished future is left alone');
    assert.equal(await finished, 'early');
    assert.deepEqual(ran, []);
  });

  void it('a future submitted and cancelled at once does not make shutdown hang (reference test_hang_gh94440)', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = ex.submit(() => 1);
    f.cancel();
    await ex.shutdown();
    assert.equal(f.cancelled(), true);
  });

  void it('shutdown options are validated: the promise rejects with TypeError', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    for (const options of [{ wait: 'yes' }, { cancelFutures: 1 }, 'all']) {
      let p: Promise<void> | undefined;
      assert.doesNotThrow(() => (p = ex.shutdown(options as never)));
      assert.ok((await rejection(p!)) instanceof TypeError);
    }
    await ex.shutdown();
  });

  void it('await using shuts down and waits on leaving the block', async () => {
    let escaped: ThreadPoolExecutor | undefined;
    const fs: Future<number>[] = [];
    {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      escaped = ex;
      for (let i = 0; i < 5; i++) fs.push(ex.submit(async (x: number) => (await tick(), x), i));
      assert.ok(fs.some((f) => !f.done()));
    }
    assert.ok(fs.every((f) => f.done()));
    assert.throws(() => escaped.submit(() => 0), isShutdownError);
  });

  void it('await using after an explicit shutdown inside the block is fine', async () => {
    {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
      await ex.shutdown();
    }
    const ex2 = new ThreadPoolExecutor({ maxWorkers: 1 });
    await ex2[Symbol.asyncDispose]();
    assert.throws(() => ex2.submit(() => 0), isShutdownError);
  });

  void it('an error in an await using block propagates after pending work finished', async () => {
    const fs: Future<number>[] = [];
    const boom = new Error('in block');
    const error = await rejection(
      (async () => {
        await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
        fs.push(ex.submit(async () => (await tick(), 1)));
        throw boom;
      })(),
    );
    assert.equal(error, boom);
    assert.ok(fs[0]!.done());
  });

  void it('every future settles exactly once when shutdown races with submission', async () => {
    const watch = watchUnhandled();
    try {
      for (const cancelFutures of [false, true]) {
        const ex = new ThreadPoolExecutor({ maxWorkers: 3 });
        const futures: Future<number>[] = [];
        const settledCount = new Map<Future<number>, number>();
        let refused = 0;
        const submitOne = (i: number): void => {
          try {
            const f = ex.submit(async (x: number) => {
              if (x % 3 === 0) await tick();
              if (x % 7 === 0) throw new Error(`task ${x}`);
              return x;
            }, i);
            futures.push(f);
            f.addDoneCallback((g) => settledCount.set(g, (settledCount.get(g) ?? 0) + 1));
          } catch (e) {
            assert.ok(isShutdownError(e));
            refused++;
          }
        };
        // Submitters in microtasks, in immediates and in the tasks themselves,
        // racing with a shutdown issued half-way through.
        let shut: Promise<void> | undefined;
        for (let i = 0; i < 200; i++) {
          if (i === 100) shut = ex.shutdown({ wait: true, cancelFutures });
          if (i % 2 === 0) queueMicrotask(() => submitOne(i));
          else submitOne(i);
          if (i % 10 === 0) setImmediate(() => submitOne(1000 + i));
        }
        await settle(3);
        await shut;
        await settle(3);
        assert.ok(futures.length > 0);
        assert.ok(refused > 0);
        for (const f of futures) {
          assert.equal(f.done(), true, String(f));
          assert.equal(settledCount.get(f), 1, `settled once: ${String(f)}`);
        }
        // None left in a state that wait would hang on.
        const { notDone } = await wait(futures, { timeout: 0 });
        assert.equal(notDone.size, 0);
        if (!cancelFutures) assert.ok(futures.every((f) => !f.cancelled()));
      }
      await settle();
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });

  void it('nobody reading failed futures causes no unhandled rejection', async () => {
    const watch = watchUnhandled();
    try {
      const ex = new ThreadPoolExecutor({ maxWorkers: 2 });
      ex.submit(() => {
        throw new Error('sync, unread');
      });
      ex.submit(async () => {
        throw new Error('async, unread');
      });
      ex.submit(() => Promise.reject(undefined));
      const hold = gate();
      ex.submit(() => hold.promise);
      const cancelledQueued = ex.submit(() => 0);
      await tick();
      cancelledQueued.cancel();
      hold.open();
      await ex.shutdown();
      await settle(10);
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });
});

void describe('ThreadPoolExecutor: process lifetime', { timeout: 60_000 }, () => {
  void it('keeps the process alive until submitted work settles, without shutdown, then lets it exit', async () => {
    const run = await runFixture('pending-work.ts');
    assert.equal(run.stderr, '');
    assert.equal(run.signal, null, 'exited on its own');
    assert.equal(run.code, 0);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'submitted',
      'main done',
      'task 1 done',
      'task 2 done',
      'task 3 done',
    ]);
  });

  void it('keeps the process alive after shutdown({ wait: false }) until queued work ran', async () => {
    const run = await runFixture('pending-work.ts', ['shutdown-nowait']);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'submitted',
      'main done',
      'task 1 done',
      'task 2 done',
      'task 3 done',
    ]);
  });

  void it('an idle executor does not hold the process open', async () => {
    const run = await runFixture('idle-executor.ts');
    assert.equal(run.stderr, '');
    assert.equal(run.signal, null, 'exited on its own instead of being killed');
    assert.equal(run.code, 0);
    assert.deepEqual(run.stdout.trim().split('\n'), ['work done', 'cancelled done', 'main done']);
  });
});

void describe('ThreadPoolExecutor: module tasks and options', { timeout: 20_000 }, () => {
  void it('a call stopped before it asks for its signal then finds it aborted, with the reason', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    // The task's signal is made only when asked for: a stop that came first must not be lost.
    const seenAfter = (release: Promise<void>) => {
      const started = gate();
      const seen = gate<{ aborted: boolean; reason: unknown }>();
      const task = async (): Promise<void> => {
        started.open();
        await release;
        const signal = taskSignal();
        seen.open({ aborted: signal.aborted, reason: signal.reason });
      };
      return { started: started.promise, seen: seen.promise, task };
    };

    const release = gate();
    const aborted = seenAfter(release.promise);
    const controller = new AbortController();
    const future = ex.with({ signal: controller.signal }).submit(aborted.task);
    await aborted.started;
    const reason = new Error('stop it');
    controller.abort(reason);
    assert.equal(await rejection(future), reason);
    release.open();
    assert.deepEqual(await aborted.seen, { aborted: true, reason });

    const late = gate();
    const timedOut = seenAfter(late.promise);
    const deadline = ex.with({ timeout: 10 }).submit(timedOut.task);
    const error = await rejection(deadline);
    assert.ok(error instanceof TimeoutError);
    late.open();
    assert.deepEqual(await timedOut.seen, { aborted: true, reason: error });
  });

  void it('runs a taskModule reference in this process, typed as the export', async () => {
    const tasks = taskModule<typeof import('./pool/fixtures/tasks.js')>(
      new URL('./pool/fixtures/tasks.js', import.meta.url),
    );
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sum: Future<number> = ex.submit(tasks.add, 40, 2);
    assert.equal(await sum, 42);
    const doubled: number[] = [];
    for await (const x of ex.map(tasks.double, [1, 2, 3])) doubled.push(x);
    assert.deepEqual(doubled, [2, 4, 6]);
  });

  void it('rejects an unknown option, naming it', () => {
    assert.throws(
      () => new ThreadPoolExecutor({ maxWorker: 2 } as unknown as ThreadPoolExecutorOptions),
      (error: unknown) =>
        error instanceof TypeError && /unknown option 'maxWorker'/.test(error.message),
    );
    for (const Executor of [InterpreterPoolExecutor, ProcessPoolExecutor]) {
      assert.throws(
        () => new Executor({ threadNamePrefix: 'x' } as unknown as ParallelExecutorOptions),
        (error: unknown) =>
          error instanceof TypeError && /unknown option 'threadNamePrefix'/.test(error.message),
      );
    }
  });
});
