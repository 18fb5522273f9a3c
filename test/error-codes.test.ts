/**
 * Stable error codes: every error the library creates carries `code`, an own
 * enumerable property (as on Node's errors), and the code survives the worker
 * boundary. One assertion per kind of error; the guide's table lists every code.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import {
  BrokenExecutor,
  BrokenInterpreterPool,
  BrokenProcessPool,
  BrokenThreadPool,
  CancelledError,
  Future,
  InvalidStateError,
  RuntimeError,
  ThreadPoolExecutor,
  TimeoutError,
  asCompleted,
  codes,
  taskModule,
  transfer,
  wait,
  type ErrorCode,
} from 'concurrent-futures';
import { rejection } from './helpers.js';
import { POOLS, TIMEOUT } from './pool/helpers.js';

const coded = taskModule<typeof import('./fixtures/coded-errors.js')>(
  new URL('./fixtures/coded-errors.js', import.meta.url),
);

/** Asserts that `error` is an instance of `Class` whose own enumerable `code` is `code`. */
function assertCode(
  error: unknown,
  code: ErrorCode | 'E_MINE',
  Class: abstract new (...args: never[]) => unknown = Error,
): void {
  assert.ok(error instanceof Class, `${inspect(error)} is a ${Class.name}`);
  assert.equal((error as { code?: unknown }).code, code, inspect(error));
  assert.ok(Object.keys(Object(error)).includes('code'), 'code is own and enumerable');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

void describe('error codes: the list', () => {
  void it('every code is spelled as its key, starts with ERR_, and the list is frozen', () => {
    for (const [key, value] of Object.entries(codes)) {
      assert.equal(value, key);
      assert.match(value, /^ERR_[A-Z_]+$/);
    }
    assert.ok(Object.isFrozen(codes));
  });

  void it('the errors guide documents every code, and no other ERR_ code of ours', () => {
    const guide = readFileSync(new URL('../docs/guides/errors.md', import.meta.url), 'utf8');
    const rows = new Set([...guide.matchAll(/^\| `(ERR_[A-Z_]+)`/gm)].map((m) => m[1]));
    assert.deepEqual([...rows].sort(), Object.keys(codes).sort());
  });
});

void describe('error codes: the library’s own classes', () => {
  void it('carry their code from the constructor on, in every subclass', () => {
    assertCode(new CancelledError(), 'ERR_FUTURE_CANCELLED', CancelledError);
    assertCode(new InvalidStateError(), 'ERR_INVALID_STATE', InvalidStateError);
    assertCode(new TimeoutError(), 'ERR_FUTURE_TIMEOUT', TimeoutError);
    for (const Broken of [
      BrokenExecutor,
      BrokenThreadPool,
      BrokenInterpreterPool,
      BrokenProcessPool,
    ]) {
      assertCode(new Broken('x'), 'ERR_BROKEN_POOL', Broken);
    }
    // A bare RuntimeError made by a user has no code; the library sets one on each it throws.
    assert.equal(new RuntimeError('mine').code, undefined);
  });

  void it('survive structured clone as a plain property', () => {
    const copy = structuredClone({ ...new CancelledError() });
    assert.equal(copy.code, 'ERR_FUTURE_CANCELLED');
  });
});

void describe('error codes: futures, wait, asCompleted and map', { timeout: 20_000 }, () => {
  void it('ERR_FUTURE_CANCELLED from a cancelled future (await, result, exception)', async () => {
    const f = new Future<number>();
    f.cancel();
    assertCode(await rejection(f), 'ERR_FUTURE_CANCELLED', CancelledError);
    assertCode(await rejection(f.result()), 'ERR_FUTURE_CANCELLED', CancelledError);
    assertCode(await rejection(f.exception()), 'ERR_FUTURE_CANCELLED', CancelledError);
  });

  void it('ERR_FUTURE_TIMEOUT from result(timeout), asCompleted and map', async () => {
    const pending = new Future<number>();
    assertCode(await rejection(pending.result(0)), 'ERR_FUTURE_TIMEOUT', TimeoutError);
    assertCode(await rejection(pending.exception(0)), 'ERR_FUTURE_TIMEOUT', TimeoutError);
    const iterating = (async () => {
      for await (const _ of asCompleted([pending], { timeout: 0 }));
    })();
    assertCode(await rejection(iterating), 'ERR_FUTURE_TIMEOUT', TimeoutError);
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const never = new Future<never>();
    const mapped = (async () => {
      for await (const _ of ex.map((_: number) => never, [1], { timeout: 0 }));
    })();
    assertCode(await rejection(mapped), 'ERR_FUTURE_TIMEOUT', TimeoutError);
  });

  void it('ERR_INVALID_STATE from setResult and setException on a done future', () => {
    const f = new Future<number>();
    f.setResult(1);
    assertCode(
      thrown(() => f.setResult(2)),
      'ERR_INVALID_STATE',
      InvalidStateError,
    );
    assertCode(
      thrown(() => f.setException(new Error())),
      'ERR_INVALID_STATE',
      InvalidStateError,
    );
  });

  void it('ERR_INVALID_ARG_TYPE and ERR_INVALID_ARG_VALUE from timeouts (checked by validate)', async () => {
    const f = new Future<number>();
    assertCode(await rejection(f.result('1' as never)), 'ERR_INVALID_ARG_TYPE', TypeError);
    assertCode(await rejection(f.result(NaN)), 'ERR_INVALID_ARG_VALUE', RangeError);
    assertCode(
      await rejection(wait([f], { timeout: 'x' as never })),
      'ERR_INVALID_ARG_TYPE',
      TypeError,
    );
  });
});

void describe('error codes: ThreadPoolExecutor', { timeout: 20_000 }, () => {
  void it('ERR_EXECUTOR_SHUTDOWN from submit and map after shutdown', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    await ex.shutdown();
    assertCode(
      thrown(() => ex.submit(() => 1)),
      'ERR_EXECUTOR_SHUTDOWN',
      RuntimeError,
    );
    assertCode(
      thrown(() => ex.map((x: number) => x, [1])),
      'ERR_EXECUTOR_SHUTDOWN',
      RuntimeError,
    );
  });

  void it('ERR_BROKEN_POOL when the initializer throws: on the future and on later submits', async () => {
    const ex = new ThreadPoolExecutor({
      maxWorkers: 1,
      initializer: () => {
        throw new Error('init failed');
      },
    });
    assertCode(await rejection(ex.submit(() => 1)), 'ERR_BROKEN_POOL', BrokenThreadPool);
    assertCode(
      thrown(() => ex.submit(() => 1)),
      'ERR_BROKEN_POOL',
      BrokenThreadPool,
    );
    await ex.shutdown();
  });

  void it('ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE and ERR_UNKNOWN_OPTION from validation', async () => {
    const type = 'ERR_INVALID_ARG_TYPE';
    const value = 'ERR_INVALID_ARG_VALUE';
    assertCode(
      thrown(() => new ThreadPoolExecutor({ maxWorkers: '2' as never })),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor({ maxWorkers: 0 })),
      value,
      RangeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor(42 as never)),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor({ threadNamePrefix: 1 as never })),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor({ initializer: 1 as never })),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor({ initArgs: 1 as never })),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => new ThreadPoolExecutor({ maxWorker: 2 } as never)),
      'ERR_UNKNOWN_OPTION',
      TypeError,
    );
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const fn = (x: number): number => x;
    assertCode(
      thrown(() => ex.submit(42 as never)),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => ex.map(42 as never, [1])),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => ex.map(fn, 42 as never)),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => ex.map(fn, [1], { buffersize: 0 })),
      value,
      RangeError,
    );
    assertCode(
      thrown(() => ex.map(fn, [1], { buffersize: 'x' as never })),
      type,
      TypeError,
    );
    assertCode(
      thrown(() => ex.map(fn, [1], { chunksize: 0 })),
      value,
      RangeError,
    );
    assertCode(await rejection(ex.shutdown({ wait: 'yes' as never })), type, TypeError);
    assertCode(await rejection(ex.shutdown({ cancelFutures: 1 as never })), type, TypeError);
  });
});

void describe('error codes: task modules and transfer()', { timeout: 20_000 }, () => {
  void it('taskModule: ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_TASK_REFERENCE_CALLED', () => {
    assertCode(
      thrown(() => taskModule(42 as never)),
      'ERR_INVALID_ARG_TYPE',
      TypeError,
    );
    assertCode(
      thrown(() => taskModule('./tasks.js')),
      'ERR_INVALID_ARG_VALUE',
      TypeError,
    );
    assertCode(
      thrown(() => coded.throwCancelled()),
      'ERR_TASK_REFERENCE_CALLED',
      TypeError,
    );
  });

  void it('ERR_TASK_EXPORT_NOT_FOUND for a missing export, run in this process', async () => {
    const missing = taskModule<{ nope(): void }>(
      new URL('./fixtures/coded-errors.js', import.meta.url),
    );
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    assertCode(await rejection(ex.submit(missing.nope)), 'ERR_TASK_EXPORT_NOT_FOUND', TypeError);
  });

  void it('transfer(): ERR_INVALID_ARG_TYPE', () => {
    assertCode(
      thrown(() => transfer(42)),
      'ERR_INVALID_ARG_TYPE',
      TypeError,
    );
    assertCode(
      thrown(() => transfer({}, 'x' as never)),
      'ERR_INVALID_ARG_TYPE',
      TypeError,
    );
  });
});

for (const pool of POOLS) {
  void describe(`error codes: ${pool.name}`, { timeout: TIMEOUT }, () => {
    void it('ERR_EXECUTOR_SHUTDOWN after shutdown', async () => {
      const ex = pool.make({ maxWorkers: 1 });
      await ex.shutdown();
      assertCode(
        thrown(() => ex.submit(() => 1)),
        'ERR_EXECUTOR_SHUTDOWN',
        RuntimeError,
      );
    });

    void it('ERR_BROKEN_POOL when the initializer throws, and for a worker that dies', async () => {
      const broken = pool.make({
        maxWorkers: 1,
        initializer: () => {
          throw new Error('init failed');
        },
      });
      assertCode(await rejection(broken.submit(() => 1)), 'ERR_BROKEN_POOL', pool.Broken);
      assertCode(
        thrown(() => broken.submit(() => 1)),
        'ERR_BROKEN_POOL',
        pool.Broken,
      );
      await broken.shutdown();
      await using ex = pool.make({ maxWorkers: 1 });
      assertCode(await rejection(ex.submit(() => process.exit(3))), 'ERR_BROKEN_POOL', pool.Broken);
    });

    void it('validation: ERR_INVALID_ARG_TYPE, ERR_UNKNOWN_OPTION, ERR_TASK_NOT_CLONEABLE', () => {
      assertCode(
        thrown(() => pool.make({ maxWorkers: '1' as never })),
        'ERR_INVALID_ARG_TYPE',
      );
      assertCode(
        thrown(() => pool.make({ maxTasksPerChild: 0 })),
        'ERR_INVALID_ARG_VALUE',
      );
      assertCode(
        thrown(() => pool.make({ execArgv: 'x' as never })),
        'ERR_INVALID_ARG_TYPE',
      );
      assertCode(
        thrown(() => pool.make({ env: 1 as never })),
        'ERR_INVALID_ARG_TYPE',
      );
      assertCode(
        thrown(() => pool.make({ nope: 1 } as never)),
        'ERR_UNKNOWN_OPTION',
        TypeError,
      );
      assertCode(
        thrown(() => pool.make({ initArgs: [() => 1] })),
        'ERR_TASK_NOT_CLONEABLE',
        TypeError,
      );
    });

    void it('ERR_TASK_NOT_SENDABLE for bound and native functions and classes; ERR_INVALID_ARG_TYPE for a non-function', async () => {
      await using ex = pool.make({ maxWorkers: 1 });
      const sendable = 'ERR_TASK_NOT_SENDABLE';
      assertCode(
        thrown(() => ex.submit(((x: number) => x).bind(null), 1)),
        sendable,
        TypeError,
      );
      assertCode(
        thrown(() => ex.submit(Math.sqrt, 4)),
        sendable,
        TypeError,
      );
      assertCode(
        thrown(() => ex.submit(class {} as never)),
        sendable,
        TypeError,
      );
      assertCode(
        thrown(() => ex.map(Math.sqrt, [4], { chunksize: 2 })),
        sendable,
        TypeError,
      );
      assertCode(
        thrown(() => ex.submit(42 as never)),
        'ERR_INVALID_ARG_TYPE',
        TypeError,
      );
    });

    void it('codes cross the boundary: a user’s code, a library class and a library TypeError made in the worker', async () => {
      await using ex = pool.make({ maxWorkers: 1 });
      assertCode(await rejection(ex.submit(coded.throwCoded, 'E_MINE')), 'E_MINE');
      const cancelled = await rejection(ex.submit(coded.throwCancelled));
      assertCode(cancelled, 'ERR_FUTURE_CANCELLED');
      assert.equal((cancelled as Error).name, 'CancelledError');
      assertCode(
        await rejection(ex.submit(coded.misuseTransfer)),
        'ERR_INVALID_ARG_TYPE',
        TypeError,
      );
      const fromSource = await rejection(ex.submit(() => transfer(42)));
      assertCode(fromSource, 'ERR_INVALID_ARG_TYPE', TypeError);
      const missing = taskModule<{ nope(): void }>(
        new URL('./fixtures/coded-errors.js', import.meta.url),
      );
      assertCode(await rejection(ex.submit(missing.nope)), 'ERR_TASK_EXPORT_NOT_FOUND', TypeError);
    });

    // Creation sites in src/pool/pool-worker.ts and src/pool/worker-entry.ts.
    const integrator = {};

    void it(
      'ERR_TASK_NOT_CLONEABLE for an argument that cannot be cloned',
      integrator,
      async () => {
        await using ex = pool.make({ maxWorkers: 1 });
        const error = await rejection(
          ex.submit(
            (f: unknown) => typeof f,
            () => 1,
          ),
        );
        assertCode(error, 'ERR_TASK_NOT_CLONEABLE', TypeError);
      },
    );

    void it('ERR_RESULT_NOT_CLONEABLE for a result that cannot be cloned', integrator, async () => {
      await using ex = pool.make({ maxWorkers: 1 });
      assertCode(await rejection(ex.submit(() => () => 1)), 'ERR_RESULT_NOT_CLONEABLE', TypeError);
    });

    void it('ERR_TASK_NOT_SELF_CONTAINED for a closure', integrator, async () => {
      await using ex = pool.make({ maxWorkers: 1 });
      const factor = 10;
      const error = await rejection(ex.submit((x: number) => x * factor, 4));
      assertCode(error, 'ERR_TASK_NOT_SELF_CONTAINED', ReferenceError);
    });

    void it('ERR_TASK_NOT_COMPILABLE for source that does not compile', integrator, async () => {
      await using ex = pool.make({ maxWorkers: 1 });
      const method = {
        m(this: void): string {
          return super.toString();
        },
      }.m;
      assertCode(await rejection(ex.submit(method)), 'ERR_TASK_NOT_COMPILABLE', SyntaxError);
    });
  });
}

void describe('error codes: future.ts and wait.ts sites', () => {
  const integrator = {};

  void it(
    'ERR_INVALID_ARG_TYPE from addDoneCallback and setCallbackErrorHandler',
    integrator,
    async () => {
      const { setCallbackErrorHandler } = await import('concurrent-futures');
      assertCode(
        thrown(() => new Future().addDoneCallback(42 as never)),
        'ERR_INVALID_ARG_TYPE',
      );
      assertCode(
        thrown(() => setCallbackErrorHandler(42 as never)),
        'ERR_INVALID_ARG_TYPE',
      );
    },
  );

  void it('ERR_INVALID_STATE from setRunningOrNotifyCancel on a running future', integrator, () => {
    const f = new Future();
    f.setRunningOrNotifyCancel();
    assertCode(
      thrown(() => f.setRunningOrNotifyCancel()),
      'ERR_INVALID_STATE',
      RuntimeError,
    );
  });

  void it(
    'wait and asCompleted: ERR_INVALID_ARG_TYPE and ERR_INVALID_ARG_VALUE',
    integrator,
    async () => {
      assertCode(await rejection(wait(42 as never)), 'ERR_INVALID_ARG_TYPE', TypeError);
      assertCode(await rejection(wait([42 as never])), 'ERR_INVALID_ARG_TYPE', TypeError);
      assertCode(await rejection(wait([], { returnWhen: 1 as never })), 'ERR_INVALID_ARG_TYPE');
      assertCode(
        await rejection(wait([], { returnWhen: 'SOON' as never })),
        'ERR_INVALID_ARG_VALUE',
      );
      assertCode(
        thrown(() => asCompleted(42 as never)),
        'ERR_INVALID_ARG_TYPE',
        TypeError,
      );
    },
  );
});
