/**
 * Edges of the core and the ThreadPoolExecutor found by trying them the way
 * hostile and careless users would (issue 6): values that fight back when
 * read, futures settled by hand before their call runs, option typos, and
 * module URLs no worker can import. The pool tests of the same kind are in
 * test/pool/hardening-edges.test.ts.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { format } from 'node:util';
import {
  Future,
  ThreadPoolExecutor,
  asCompleted,
  setCallbackErrorHandler,
  taskModule,
  transfer,
  wait,
} from 'concurrent-futures';
import { decodeError, encodeError, type WireError } from '../src/pool/wire-error.js';
import { rejection, until, watchUnhandled } from './helpers.js';

function boom(what: string): () => never {
  return () => {
    throw new Error(`${what} says no`);
  };
}

/** A Proxy whose every trap that reading it may reach throws. */
function hostileProxy(): object {
  return new Proxy(new Error('behind a proxy'), {
    get: boom('get'),
    has: boom('has'),
    ownKeys: boom('ownKeys'),
    getPrototypeOf: boom('getPrototypeOf'),
    getOwnPropertyDescriptor: boom('getOwnPropertyDescriptor'),
  });
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** An Error whose `field` getter throws. */
function errorWithThrowingGetter(field: string): Error {
  const error = new Error('getter victim');
  Object.defineProperty(error, field, { get: boom(`the ${field} getter`) });
  return error;
}

function failedWith(error: unknown): Future<unknown> {
  const f = new Future();
  f.setException(error);
  return f;
}

void describe('hostile values in the parent', () => {
  void it('String(future) never throws, whatever the future raised or returned', () => {
    assert.match(String(failedWith(hostileProxy())), /^<Future #\d+ state=finished raised Proxy>$/);
    assert.match(String(failedWith(revokedProxy())), /raised Proxy>$/);
    assert.match(String(failedWith(errorWithThrowingGetter('name'))), /raised Error>$/);
    const noCtor = Object.defineProperty({}, 'constructor', { get: boom('constructor') });
    assert.match(String(failedWith(noCtor)), /raised Object>$/);
    const named = new Error('x');
    Object.defineProperty(named, 'name', { value: { toString: boom('toString') } });
    assert.match(String(failedWith(named)), /raised Error>$/);
    const returned = new Future();
    returned.setResult(revokedProxy());
    assert.match(returned.toString(), /returned Proxy>$/);
    const returnedNoCtor = new Future();
    returnedNoCtor.setResult(noCtor);
    assert.match(returnedNoCtor.toString(), /returned Object>$/);
  });

  void it('the default callback-error report never throws, naming the future', (t) => {
    // As the real console.error, the mock formats its arguments (util.inspect runs their getters).
    const lines: string[] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => void lines.push(format(...args)));
    const previous = setCallbackErrorHandler(undefined);
    const watch = watchUnhandled();
    try {
      const f = failedWith(hostileProxy());
      for (const thrown of [
        errorWithThrowingGetter('name'),
        errorWithThrowingGetter('stack'),
        hostileProxy(),
      ]) {
        f.addDoneCallback(() => {
          throw thrown;
        });
      }
      assert.equal(lines.length, 3);
      for (const line of lines) {
        assert.match(
          line,
          /^exception calling callback for <Future #\d+ state=finished raised Proxy>/,
        );
      }
      assert.match(lines[0]!, /Error \[unreadable: Error: the name getter says no\]$/);
      assert.match(lines[1]!, /Error \[unreadable: Error: the stack getter says no\]$/);
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
      setCallbackErrorHandler(previous);
    }
  });

  void it('a non-future among the futures is described, not converted to a string', async () => {
    const unprintable = { toString: boom('toString') };
    const error = await rejection(wait([unprintable as unknown as Future]));
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, 'wait: every element of fs must be a Future, got object');
    assert.throws(
      () => asCompleted([revokedProxy() as Future]),
      (e: unknown) => e instanceof TypeError && /must be a Future, got object$/.test(e.message),
    );
  });

  void it('option checks describe a revoked Proxy instead of throwing on it', () => {
    assert.throws(
      () => new ThreadPoolExecutor({ maxWorkers: revokedProxy() as unknown as number }),
      (e: unknown) =>
        e instanceof TypeError && e.message === 'maxWorkers must be a positive integer, got object',
    );
  });
});

void describe('the error encoding (worker side) and decoding (parent side)', () => {
  const roundTrip = (value: unknown): unknown => decodeError(structuredClone(encodeError(value)));

  void it('encodes what it can read of hostile errors and never throws', () => {
    for (const value of [
      hostileProxy(),
      revokedProxy(),
      errorWithThrowingGetter('name'),
      errorWithThrowingGetter('message'),
      errorWithThrowingGetter('stack'),
      Object.defineProperty(new Error('e'), 'cause', { get: boom('cause') }),
      Object.defineProperty(new AggregateError([], 'a'), 'errors', { get: boom('errors') }),
      Object.defineProperty(new AggregateError([], 'b'), 'errors', {
        value: new Proxy([], { get: boom('errors get') }),
      }),
      Symbol('thrown'),
      () => 1,
    ]) {
      assert.doesNotThrow(() => roundTrip(value));
    }
    const cause = roundTrip(Object.defineProperty(new Error('e'), 'cause', { get: boom('cause') }));
    assert.equal((cause as Error).cause, '[unreadable: Error: cause says no]');
  });

  void it('a 10,000-deep cause chain encodes to a bounded, readable message', () => {
    let error = new Error('root');
    for (let i = 0; i < 10_000; i++) error = new Error(`cause ${i}`, { cause: error });
    const wire = encodeError(error);
    assert.ok(JSON.stringify(wire).length < 20_000);
    let depth = 0;
    for (let link: unknown = roundTrip(error); link instanceof Error; link = link.cause) depth++;
    assert.equal(depth, 16);
  });

  void it('an aggregate of aggregates stays within the total budget of errors', () => {
    const level = (n: number): Error =>
      n === 0
        ? new Error('leaf')
        : new AggregateError(Array.from({ length: 20 }, () => level(n - 1)));
    const wire = JSON.stringify(encodeError(level(3))); // 8,421 errors thrown
    assert.ok((wire.match(/"e":1/g) ?? []).length <= 256);
    assert.match(wire, /more than 256 errors, not sent/);
  });

  void it('decoding never throws on a malformed encoding, and says what is wrong', () => {
    const malformed: [unknown, RegExp][] = [
      [null, /expected an object, got null/],
      ['text', /expected an object, got string/],
      [{ e: 2 }, /no kind/],
      [{ e: 0 }, /no value/],
      [{ e: 1, name: 5, message: 'm', props: {} }, /name is not a string/],
      [{ e: 1, name: 'E', message: {}, props: {} }, /message is not a string/],
      [{ e: 1, name: 'E', message: 'm', stack: 1, props: {} }, /stack is not a string/],
      [{ e: 1, name: 'E', message: 'm' }, /props is not an object/],
      [{ e: 1, name: 'E', message: 'm', props: {}, errors: 'x' }, /errors is not an array/],
    ];
    for (const [wire, why] of malformed) {
      const error = decodeError(wire as WireError);
      assert.ok(error instanceof Error);
      assert.ok(error instanceof TypeError);
      assert.equal((error as { code?: string }).code, 'ERR_INVALID_WORKER_MESSAGE');
      assert.match(error.message, /^a worker sent an error that cannot be decoded: /);
      assert.match(error.message, why);
    }
    // A forged chain deeper than any worker sends stops with a description.
    let forged: WireError = { e: 1, name: 'Error', message: 'root', stack: undefined, props: {} };
    for (let i = 0; i < 1000; i++) {
      forged = { e: 1, name: 'Error', message: `${i}`, stack: undefined, props: {}, cause: forged };
    }
    let link: unknown = decodeError(forged);
    let depth = 0;
    while (link instanceof Error && depth < 100) {
      if (/nested deeper than 16/.test(link.message)) break;
      link = link.cause;
      depth++;
    }
    assert.equal(depth, 17);
    // A "__proto__" property stays a property and does not replace the prototype.
    const proto = decodeError({
      e: 1,
      name: 'TypeError',
      message: 'm',
      stack: undefined,
      props: JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>,
    });
    assert.ok(proto instanceof TypeError);
    assert.deepEqual(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, { x: 1 });
  });
});

void describe('ThreadPoolExecutor: a future settled by hand before its call runs', () => {
  void it('is taken as done: the call is skipped, later calls run, shutdown resolves', async () => {
    const watch = watchUnhandled();
    try {
      const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
      const calls: number[] = [];
      const record = (x: number): number => (calls.push(x), x);
      const byResult = ex.submit(record, 1);
      byResult.setResult(99);
      const byException = ex.submit(record, 2);
      byException.setException('by hand');
      const cancelled = ex.submit(record, 3);
      cancelled.cancel();
      const later = ex.submit(record, 4);
      assert.equal(await byResult, 99);
      assert.equal(await rejection(byException), 'by hand');
      assert.equal(await later, 4);
      assert.equal(await ex.submit(record, 5), 5);
      await ex.shutdown();
      assert.deepEqual(calls, [4, 5]);
      assert.deepEqual(watch.events, []);
    } finally {
      watch.stop();
    }
  });

  void it('claimed by hand with setRunningOrNotifyCancel: the executor still runs and settles it', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = ex.submit((x: number) => x * 2, 21);
    assert.equal(f.setRunningOrNotifyCancel(), true);
    assert.equal(await f, 42);
    await ex.shutdown();
  });

  void it('settled by hand while it runs: the first outcome stands', async () => {
    const ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    let finish!: () => void;
    const f = ex.submit(() => new Promise<string>((resolve) => (finish = () => resolve('late'))));
    await until(() => f.running());
    f.setResult('by hand');
    finish();
    assert.equal(await ex.submit(() => 'next'), 'next');
    await ex.shutdown();
    assert.equal(await f, 'by hand');
  });
});

void describe('unknown options are a TypeError everywhere', () => {
  const known = (name: string, key: string, close?: string): RegExp =>
    new RegExp(
      `${name}: unknown option '${key}'${close === undefined ? '' : ` \\(did you mean '${close}'\\?\\)`}; the options are `,
    );

  void it('map', async () => {
    const ex = new ThreadPoolExecutor();
    assert.throws(
      () => ex.map((x: number) => x, [1], { timout: 5 } as object),
      known('map', 'timout', 'timeout'),
    );
    assert.throws(
      () => ex.map((x: number) => x, [1], { chunkSize: 100 } as object),
      known('map', 'chunkSize', 'chunksize'),
    );
    assert.throws(
      () => ex.map((x: number) => x, [1], { buffer: 1 } as object),
      known('map', 'buffer'),
    );
    const results: number[] = [];
    for await (const x of ex.map((x: number) => x, [1], { chunksize: 2 })) results.push(x);
    assert.deepEqual(results, [1]);
    await ex.shutdown();
  });

  void it('wait and asCompleted', async () => {
    const f = new Future();
    f.setResult(1);
    assert.match(
      ((await rejection(wait([f], { timout: 5 } as object))) as Error).message,
      known('wait', 'timout', 'timeout'),
    );
    assert.match(
      ((await rejection(wait([f], { return_when: 'FIRST_COMPLETED' } as object))) as Error).message,
      known('wait', 'return_when', 'returnWhen'),
    );
    assert.throws(() => asCompleted([f], { timout: 5 } as object), TypeError);
    assert.throws(
      () => asCompleted([f], { timeout: 5, returnWhen: 'ALL_COMPLETED' } as object),
      known('asCompleted', 'returnWhen'),
    );
  });

  void it('ThreadPoolExecutor.shutdown rejects, and the executor stays open', async () => {
    const ex = new ThreadPoolExecutor();
    const error = await rejection(ex.shutdown({ cancel_futures: true } as object));
    assert.ok(error instanceof TypeError);
    assert.equal((error as { code?: string }).code, 'ERR_UNKNOWN_OPTION');
    assert.match(error.message, known('shutdown', 'cancel_futures', 'cancelFutures'));
    assert.equal(await ex.submit(() => 3), 3);
    await ex.shutdown();
  });

  void it('constructors suggest the option meant', () => {
    assert.throws(
      () => new ThreadPoolExecutor({ max_workers: 2 } as object),
      known('ThreadPoolExecutor', 'max_workers', 'maxWorkers'),
    );
  });
});

void describe('transfer()', () => {
  void it('checks the elements of an explicit transferList', () => {
    assert.throws(
      () => transfer(new ArrayBuffer(8), [42 as unknown as ArrayBuffer]),
      (e: unknown) =>
        e instanceof TypeError &&
        /^transfer: transferList\[0\] must be an ArrayBuffer, .*got number$/.test(e.message),
    );
  });
});

void describe('taskModule URLs', () => {
  void it('says a scheme no worker can import is not supported, naming it', () => {
    for (const url of [
      'http://example.com/tasks.js',
      'https://example.com/tasks.js',
      'ftp://x/y.js',
    ]) {
      const scheme = url.slice(0, url.indexOf(':') + 1);
      assert.throws(
        () => taskModule(url),
        (e: unknown) =>
          e instanceof TypeError &&
          (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE' &&
          e.message.startsWith(`taskModule: the '${scheme}' scheme of '${url}' is not supported`),
      );
      assert.throws(() => taskModule(new URL(url)), new RegExp(`the '${scheme}' scheme`));
    }
    assert.throws(() => taskModule('./tasks.js'), /is relative/);
  });

  void it('imports a builtin module through node:', async () => {
    const path = taskModule<typeof import('node:path')>('node:path');
    const ex = new ThreadPoolExecutor();
    assert.equal(await ex.submit(path.join, 'a', 'b'), 'a/b');
    await ex.shutdown();
  });
});
