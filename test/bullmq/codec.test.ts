/**
 * The codec that carries arguments and results through BullMQ's JSON: plain
 * data that JSON gives back exactly travels as JSON text, everything else as
 * V8 serialization; both are copied at the call, both are capped in size on
 * each side, and anything else read from Redis is refused with a clear error.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, decode, encode } from '../../dist/bullmq/protocol.js';

const LIMIT = 1 << 20;

function roundTrip(value: unknown): { codec: string; back: unknown } {
  const encoded = encode(value, LIMIT, 'the value');
  // As BullMQ stores and reads it.
  const stored = JSON.parse(JSON.stringify(encoded)) as unknown;
  return { codec: encoded.codec, back: decode(stored, LIMIT, 'the value') };
}

function tooLarge(error: unknown): boolean {
  return (
    error instanceof RangeError && (error as { code?: string }).code === 'ERR_PAYLOAD_TOO_LARGE'
  );
}

void describe('the BullMQ codec', () => {
  void it('plain data travels as JSON and comes back equal', () => {
    for (const value of [
      [1, 'two', true, null, 0.5, -3],
      { a: [1, { b: 'c' }], empty: {}, list: [], unicode: 'é😀\u2028\ud800' },
      Object.assign(Object.create(null) as object, { x: 1 }),
      'text',
      42,
      null,
    ]) {
      const { codec, back } = roundTrip(value);
      assert.equal(codec, 'json', JSON.stringify(value));
      // What V8 serialization (the local pools, the other codec) would give back.
      assert.deepEqual(back, structuredClone(value));
    }
  });

  void it('whatever JSON would change goes through V8 and keeps its type', () => {
    const shared = [1];
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const named = Object.assign([1, 2], { extra: 'kept' });
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3];
    let deep: unknown = 'bottom';
    for (let i = 0; i < 300; i++) deep = [deep];
    const cases: [string, unknown, (back: unknown) => void][] = [
      ['-0', [-0], (b) => assert.ok(Object.is((b as number[])[0], -0))],
      ['NaN', [NaN], (b) => assert.ok(Number.isNaN((b as number[])[0]))],
      ['Infinity', [Infinity], (b) => assert.equal((b as number[])[0], Infinity)],
      ['undefined in a list', [undefined], (b) => assert.deepEqual(b, [undefined])],
      ['undefined in an object', { u: undefined }, (b) => assert.ok('u' in (b as object))],
      ['a sparse list', sparse, (b) => assert.ok(!(1 in (b as unknown[])))],
      ['a named property on a list', named, (b) => assert.equal((b as typeof named).extra, 'kept')],
      ['a BigInt', [1n], (b) => assert.equal((b as bigint[])[0], 1n)],
      ['a Map', new Map([[1, 2]]), (b) => assert.ok(b instanceof Map)],
      ['a Date', new Date(5), (b) => assert.ok(b instanceof Date)],
      ['a typed array', new Uint8Array([1]), (b) => assert.ok(b instanceof Uint8Array)],
      ['an error', new TypeError('t'), (b) => assert.ok(b instanceof TypeError)],
      [
        'one object twice',
        [shared, shared],
        (b) => assert.equal((b as unknown[][])[0], (b as unknown[][])[1]),
      ],
      ['a cycle', cyclic, (b) => assert.equal((b as typeof cyclic).self, b)],
      ['deep nesting', deep, (b) => assert.ok(Array.isArray(b))],
      [
        'an own __proto__ key',
        JSON.parse('{"__proto__": 1}') as unknown,
        (b) => assert.equal(Object.getOwnPropertyDescriptor(b, '__proto__')?.value, 1),
      ],
    ];
    for (const [label, value, check] of cases) {
      const { codec, back } = roundTrip(value);
      assert.equal(codec, 'v8', label);
      check(back);
    }
  });

  void it('a value is copied at the call: later changes do not travel', () => {
    for (const value of [[{ n: 1 }], [new Map([[1, { n: 1 }]])]]) {
      const encoded = encode(value, LIMIT, 'the value');
      const first = value[0]!;
      if (first instanceof Map) first.get(1)!.n = 2;
      else first.n = 2;
      const back = decode(encoded, LIMIT, 'the value') as unknown[];
      const n =
        back[0] instanceof Map ? (back[0].get(1) as { n: number }).n : (back[0] as { n: number }).n;
      assert.equal(n, 1, encoded.codec);
    }
  });

  void it('sizes are capped on both sides, in either codec', () => {
    assert.ok(tooLarge(catchError(() => encode('x'.repeat(200), 100, 'it'))));
    assert.ok(tooLarge(catchError(() => encode(['x'.repeat(200), 1n], 100, 'it'))));
    // Multi-byte text counts its UTF-8 bytes: 40 units are 120 bytes.
    assert.ok(tooLarge(catchError(() => encode('€'.repeat(40), 100, 'it'))));
    assert.equal(encode('€'.repeat(30), 100, 'it').codec, 'json');
    const big = encode('x'.repeat(200), LIMIT, 'it');
    assert.ok(tooLarge(catchError(() => decode(big, 100, 'it'))));
    const bigV8 = encode(['x'.repeat(200), 1n], LIMIT, 'it');
    assert.ok(tooLarge(catchError(() => decode(bigV8, 100, 'it'))));
  });

  void it('what was not written by this codec is refused with a ProtocolError', () => {
    const bad: [unknown, RegExp][] = [
      [null, /not an encoded value/],
      [{ codec: 'json', v: 1, data: '{' }, /not JSON/],
      [{ codec: 'json', v: 1, data: 5 }, /has no data/],
      [{ codec: 'json', v: 2, data: '1' }, /codec "json" version 2.*run the same version/],
      [{ codec: 'msgpack', v: 1, data: '' }, /codec "msgpack"/],
      [{ codec: 'v8', v: 1, data: 'not v8 at all' }, /cannot be decoded/],
    ];
    for (const [encoded, message] of bad) {
      const error = catchError(() => decode(encoded, LIMIT, 'it'));
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match((error as Error).message, message);
    }
  });

  void it('functions and symbols cannot travel: a TypeError at the call', () => {
    for (const value of [[() => 1], [Symbol('s')]]) {
      const error = catchError(() => encode(value, LIMIT, 'it'));
      assert.ok(error instanceof TypeError);
      assert.equal((error as { code?: string }).code, 'ERR_TASK_NOT_CLONEABLE');
    }
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
