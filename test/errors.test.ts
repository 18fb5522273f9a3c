import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as api from 'concurrent-futures';
import {
  BrokenExecutor,
  BrokenInterpreterPool,
  BrokenProcessPool,
  BrokenThreadPool,
  CancelledError,
  Future,
  FuturesError,
  InvalidStateError,
  RuntimeError,
  ThreadPoolExecutor,
  TimeoutError,
  asCompleted,
  setCallbackErrorHandler,
  wait,
} from 'concurrent-futures';
import { rejection } from './helpers.js';

void describe('error classes', { timeout: 20_000 }, () => {
  const classes: [new (message?: string) => Error, string, (new (message?: string) => Error)[]][] =
    [
      [FuturesError, 'FuturesError', [Error]],
      [CancelledError, 'CancelledError', [FuturesError, Error]],
      [InvalidStateError, 'InvalidStateError', [FuturesError, Error]],
      [TimeoutError, 'TimeoutError', [Error]],
      [RuntimeError, 'RuntimeError', [Error]],
      [BrokenExecutor, 'BrokenExecutor', [RuntimeError, Error]],
      [BrokenThreadPool, 'BrokenThreadPool', [BrokenExecutor, RuntimeError, Error]],
      [
        BrokenInterpreterPool,
        'BrokenInterpreterPool',
        [BrokenThreadPool, BrokenExecutor, RuntimeError, Error],
      ],
      [BrokenProcessPool, 'BrokenProcessPool', [BrokenExecutor, RuntimeError, Error]],
    ];

  void it('each has `name` equal to its class name and sits in Python’s hierarchy', () => {
    for (const [Cls, name, bases] of classes) {
      const e = new Cls('msg');
      assert.equal(e.name, name);
      assert.equal(Cls.name, name);
      assert.equal(e.message, 'msg');
      assert.ok(e instanceof Cls);
      for (const Base of bases) assert.ok(e instanceof Base, `${name} instanceof ${Base.name}`);
      assert.match(String(e), new RegExp(`^${name}: msg$`));
      assert.equal(typeof e.stack, 'string');
    }
  });

  void it('keeps the classes apart where Python does', () => {
    assert.ok(!(new CancelledError() instanceof InvalidStateError));
    assert.ok(!(new TimeoutError() instanceof FuturesError));
    assert.ok(!(new RuntimeError() instanceof FuturesError));
    assert.ok(!(new BrokenProcessPool() instanceof BrokenThreadPool));
    assert.ok(!(new InvalidStateError() instanceof RuntimeError));
  });

  void it('accepts a cause, as Error does', () => {
    const cause = new Error('root');
    const e = new BrokenThreadPool('broken', { cause });
    assert.equal(e.cause, cause);
  });

  void it('a subclass gets its own name', () => {
    class MyBroken extends BrokenExecutor {}
    assert.equal(new MyBroken().name, 'MyBroken');
  });

  void it('errors thrown by the library are instances of the classes the package exports, however imported', async () => {
    const dynamic = await import('concurrent-futures');
    assert.equal(dynamic.RuntimeError, api.RuntimeError);
    assert.equal(dynamic.Future, api.Future);
    const ex = new dynamic.ThreadPoolExecutor({ maxWorkers: 1 });
    await ex.shutdown();
    assert.throws(() => ex.submit(() => 0), RuntimeError);
    const f = new Future();
    f.cancel();
    assert.ok((await rejection(f.result())) instanceof dynamic.CancelledError);
    assert.ok((await rejection(new Future().result(0))) instanceof TimeoutError);
    assert.throws(() => f.setResult(1), dynamic.InvalidStateError);
  });

  void it('the package exports exactly the documented runtime names (no internals)', () => {
    for (const name of [
      'FIRST_COMPLETED',
      'FIRST_EXCEPTION',
      'ALL_COMPLETED',
      'wait',
      'asCompleted',
      'Future',
      'setCallbackErrorHandler',
      'Executor',
      'ThreadPoolExecutor',
      'FuturesError',
      'CancelledError',
      'InvalidStateError',
      'TimeoutError',
      'RuntimeError',
      'BrokenExecutor',
      'BrokenThreadPool',
      'BrokenInterpreterPool',
      'BrokenProcessPool',
      'codes',
    ]) {
      assert.ok(name in api, `exports ${name}`);
    }
    assert.ok(!('SHUTDOWN_MESSAGE' in api));
    assert.ok(!('checkTimeout' in api));
  });
});

void describe(
  'validation: a wrong type is a TypeError, a bad value a RangeError, and the message names the option',
  { timeout: 20_000 },
  () => {
    const fn = (x: number): number => x;

    void it('throws from the call for constructors, submit and map', async () => {
      const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
      const cases: [string, () => unknown, new (...args: never[]) => Error, RegExp][] = [
        ['maxWorkers 0', () => new ThreadPoolExecutor({ maxWorkers: 0 }), RangeError, /maxWorkers/],
        [
          'maxWorkers 2.5',
          () => new ThreadPoolExecutor({ maxWorkers: 2.5 }),
          RangeError,
          /maxWorkers/,
        ],
        [
          'maxWorkers "2"',
          () => new ThreadPoolExecutor({ maxWorkers: '2' as never }),
          TypeError,
          /maxWorkers/,
        ],
        ['submit(42)', () => ex.submit(42 as never), TypeError, /fn/],
        ['map(42)', () => ex.map(42 as never, [1]), TypeError, /fn/],
        ['map buffersize 0', () => ex.map(fn, [1], { buffersize: 0 }), RangeError, /buffersize/],
        [
          'map buffersize "foo"',
          () => ex.map(fn, [1], { buffersize: 'foo' as never }),
          TypeError,
          /buffersize/,
        ],
        ['map buffersize 2.5', () => ex.map(fn, [1], { buffersize: 2.5 }), TypeError, /buffersize/],
        ['map chunksize 0', () => ex.map(fn, [1], { chunksize: 0 }), RangeError, /chunksize/],
        [
          'map chunksize "1"',
          () => ex.map(fn, [1], { chunksize: '1' as never }),
          TypeError,
          /chunksize/,
        ],
        ['map timeout "1"', () => ex.map(fn, [1], { timeout: '1' as never }), TypeError, /timeout/],
        ['map timeout NaN', () => ex.map(fn, [1], { timeout: Number.NaN }), RangeError, /timeout/],
        ['map non-iterable', () => ex.map(fn, 3 as never), TypeError, /iterable/],
        [
          'asCompleted timeout',
          () => asCompleted([], { timeout: 'x' as never }),
          TypeError,
          /timeout/,
        ],
        ['asCompleted fs', () => asCompleted(1 as never), TypeError, /fs/],
        ['addDoneCallback', () => new Future().addDoneCallback(1 as never), TypeError, /fn/],
        [
          'setCallbackErrorHandler',
          () => setCallbackErrorHandler(1 as never),
          TypeError,
          /handler/,
        ],
      ];
      for (const [label, call, Cls, mentions] of cases) {
        assert.throws(
          call,
          (e: unknown) => {
            assert.ok(e instanceof Cls, `${label}: ${String(e)}`);
            assert.match(e.message, mentions, label);
            return true;
          },
          label,
        );
      }
      await ex.shutdown();
    });

    void it('rejects the promise (never throws) for wait, result, exception and shutdown', async () => {
      const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
      const pending = new Future();
      const cases: [string, () => Promise<unknown>, new (...args: never[]) => Error, RegExp][] = [
        [
          'wait returnWhen bogus',
          () => wait([], { returnWhen: 'bogus' as never }),
          RangeError,
          /returnWhen/,
        ],
        ['wait returnWhen 1', () => wait([], { returnWhen: 1 as never }), TypeError, /returnWhen/],
        ['wait timeout', () => wait([], { timeout: '1' as never }), TypeError, /timeout/],
        ['wait fs', () => wait(5 as never), TypeError, /fs/],
        ['result timeout', () => pending.result('1' as never), TypeError, /timeout/],
        ['exception timeout', () => pending.exception(Number.NaN), RangeError, /timeout/],
        ['shutdown wait', () => ex.shutdown({ wait: 1 as never }), TypeError, /wait/],
        [
          'shutdown cancelFutures',
          () => ex.shutdown({ cancelFutures: 'yes' as never }),
          TypeError,
          /cancelFutures/,
        ],
      ];
      for (const [label, call, Cls, mentions] of cases) {
        let p: Promise<unknown> | undefined;
        assert.doesNotThrow(() => (p = call()), label);
        const e = await rejection(p!);
        assert.ok(e instanceof Cls, `${label}: ${String(e)}`);
        assert.match(e.message, mentions, label);
      }
      await ex.shutdown();
    });
  },
);
