/**
 * Errors across the worker boundary. Structured clone keeps an error's message
 * and stack but drops its own properties (`code`, `errno`, ...) and any custom
 * class; this encoding keeps name, message, stack, the `cause` chain, own
 * properties and `AggregateError.errors`. A thrown non-Error travels as itself.
 *
 * Encoding runs on whatever a task threw, and that may fight back: getters
 * that throw, Proxies whose traps throw, revoked Proxies, a Symbol where a
 * string belongs. `encodeError` never throws: what cannot be read travels as
 * a description (`[unreadable: <why>]`), so a worker survives any throw.
 * Decoding runs on what a worker sent, untrusted input: `decodeError` never
 * throws either, and a malformed encoding decodes to an Error saying so.
 */

import { isNativeError } from 'node:util/types';
import { argTypeError, codes } from '../errors.js';
import { describeUnreadable, safeKind } from '../validate.js';

/** A thrown value, encoded for the wire. */
export type WireError =
  | {
      readonly e: 1;
      readonly name: string;
      readonly message: string;
      readonly stack: string | undefined;
      readonly cause?: WireError;
      readonly errors?: WireError[];
      readonly props: Record<string, unknown>;
    }
  | { readonly e: 0; readonly value: unknown };

type EncodedError = {
  -readonly [K in keyof Extract<WireError, { e: 1 }>]: Extract<WireError, { e: 1 }>[K];
};

/**
 * How much of a thrown value is encoded. The parent must be able to read
 * whatever a worker sends, and V8 deserializes nested values recursively: a
 * main thread (about 1 MB of stack) fails at a few thousand levels of nesting
 * that a worker thread (4 MB) serialized without trouble. Hence:
 * - `depth`: errors nested in errors (causes, aggregated errors). Real chains
 *   are a few levels long; 16 keeps a message (two levels of nesting per
 *   error) far below the limit, and a printed chain readable.
 * - `valueDepth`: nesting within a property value or a thrown non-error: 100,
 *   far below the limit, far above any real error property.
 * - `errors` in all, `aggregated` per AggregateError, `props` per error:
 *   breadth times depth would grow without bound (100 aggregates of 100
 *   aggregates ...), and the first hundred errors say what a million would.
 */
export const WIRE_LIMITS = {
  depth: 16,
  valueDepth: 100,
  errors: 256,
  aggregated: 100,
  props: 64,
} as const;

const RESERVED = new Set(['name', 'message', 'stack', 'cause', 'errors']);
/** The key under which an error's unlistable or surplus own properties are described. */
export const MORE_PROPS = '[properties]';

/** What a guarded read found when the value could not be read: a description of why. */
class Unreadable {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  get text(): string {
    return this.#text;
  }
  /** A brand check: unlike `instanceof` it runs no Proxy trap of the value it looks at. */
  static is(value: unknown): value is Unreadable {
    return value !== null && typeof value === 'object' && #text in value;
  }
}

function get(target: object, key: PropertyKey): unknown {
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch (error) {
    return new Unreadable(describeUnreadable(error));
  }
}

/** A string for a field that must be one: strings as they are, anything else described. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Unreadable.is(value)) return value.text;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return String(value); // Symbols included: String(Symbol('x')) is 'Symbol(x)'.
  }
  return `[${safeKind(value)}]`;
}

/**
 * True for an error, false for any other value, or the reason we cannot tell.
 * `isNativeError` sees through nothing and triggers no trap; `instanceof`
 * (errors made with `Object.create(Error.prototype)`, Proxies of errors) and
 * the duck test (errors from another realm) may.
 */
function errorTest(value: object): boolean | Unreadable {
  if (isNativeError(value)) return true;
  try {
    if (value instanceof Error) return true;
    const { message, stack } = value as { message?: unknown; stack?: unknown };
    return typeof message === 'string' && typeof stack === 'string';
  } catch (error) {
    return new Unreadable(describeUnreadable(error, safeKind(value)));
  }
}

/** True if `value` nests deeper than `limit` (objects, arrays, maps, sets, error causes). */
function nestsDeeper(value: unknown, limit: number): boolean {
  // Iterative, over a structured clone (plain data, no getters or traps), cycles counted once.
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    if (depth > limit) return true;
    seen.add(v);
    const children: unknown[] =
      v instanceof Map
        ? [...v.keys(), ...v.values()]
        : v instanceof Set
          ? [...v]
          : ArrayBuffer.isView(v)
            ? []
            : Object.values(v);
    if (v instanceof Error && Object.hasOwn(v, 'cause')) children.push(v.cause);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return false;
}

/** V8's own stack overflow, told apart without running any code of what was thrown. */
function isStackOverflow(error: unknown): boolean {
  if (!isNativeError(error) || Object.getPrototypeOf(error) !== RangeError.prototype) return false;
  const message = Object.getOwnPropertyDescriptor(error, 'message');
  return message !== undefined && message.value === 'Maximum call stack size exceeded';
}

/** A copy of `value` that survives structured clone and can be read back, or a description of it. */
function cloneable(value: unknown): unknown {
  if (Unreadable.is(value)) return value.text;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value === 'symbol' ? String(value) : value;
  }
  const tooDeep = `[${safeKind(value)} (nested deeper than ${WIRE_LIMITS.valueDepth} levels, not sent)]`;
  let copy: unknown;
  try {
    copy = structuredClone(value);
  } catch (error) {
    // The clone recursed out of stack (a main thread has less than a worker thread): too deep.
    return isStackOverflow(error) ? tooDeep : `[${safeKind(value)} (not cloneable)]`;
  }
  return nestsDeeper(copy, WIRE_LIMITS.valueDepth) ? tooDeep : copy;
}

/** An error's own enumerable properties, but those encoded apart; at most `WIRE_LIMITS.props`. */
function ownProps(error: object): Record<string, unknown> {
  // No prototype: an own key "__proto__" is a key like any other here.
  const props = Object.create(null) as Record<string, unknown>;
  let keys: string[];
  try {
    keys = Object.keys(error);
  } catch (reason) {
    props[MORE_PROPS] = describeUnreadable(reason);
    return props;
  }
  let kept = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (RESERVED.has(key)) continue;
    if (kept++ === WIRE_LIMITS.props) {
      props[MORE_PROPS] = `[${keys.length - i} more properties not sent]`;
      break;
    }
    props[key] = cloneable(get(error, key));
  }
  return props;
}

function isAggregate(value: object): boolean {
  try {
    return value instanceof AggregateError;
  } catch {
    return false;
  }
}

/** The first `WIRE_LIMITS.aggregated` errors of an AggregateError, each encoded. */
function encodeAggregated(list: unknown, depth: number, budget: { errors: number }): WireError[] {
  if (Unreadable.is(list)) return [{ e: 0, value: list.text }];
  try {
    if (!Array.isArray(list))
      return [{ e: 0, value: `[errors is ${safeKind(list)}, not an array]` }];
    const length = list.length;
    const encoded: WireError[] = [];
    for (let i = 0; i < length && i < WIRE_LIMITS.aggregated; i++) {
      encoded.push(encode(get(list, i), depth, budget));
    }
    if (length > WIRE_LIMITS.aggregated) {
      encoded.push({ e: 0, value: `[${length - WIRE_LIMITS.aggregated} more errors not sent]` });
    }
    return encoded;
  } catch (error) {
    // A Proxy of an array: Array.isArray or length may throw.
    return [{ e: 0, value: describeUnreadable(error) }];
  }
}

function encode(value: unknown, depth: number, budget: { errors: number }): WireError {
  if (Unreadable.is(value)) return { e: 0, value: value.text };
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return { e: 0, value: cloneable(value) };
  }
  const isError = errorTest(value);
  if (Unreadable.is(isError)) return { e: 0, value: isError.text };
  if (!isError) return { e: 0, value: cloneable(value) };
  if (depth >= WIRE_LIMITS.depth) {
    return {
      e: 0,
      value: `[${text(get(value, 'name'))}: nested deeper than ${WIRE_LIMITS.depth} errors, not sent]`,
    };
  }
  if (budget.errors-- <= 0) {
    return {
      e: 0,
      value: `[${text(get(value, 'name'))}: more than ${WIRE_LIMITS.errors} errors, not sent]`,
    };
  }
  const stack = get(value, 'stack');
  const encoded: EncodedError = {
    e: 1,
    name: text(get(value, 'name')),
    message: text(get(value, 'message')),
    stack: stack === undefined ? undefined : text(stack),
    props: ownProps(value),
  };
  let hasCause: boolean | Unreadable;
  try {
    hasCause = 'cause' in value;
  } catch (error) {
    hasCause = new Unreadable(describeUnreadable(error));
  }
  if (Unreadable.is(hasCause)) encoded.cause = { e: 0, value: hasCause.text };
  else if (hasCause) encoded.cause = encode(get(value, 'cause'), depth + 1, budget);
  if (isAggregate(value))
    encoded.errors = encodeAggregated(get(value, 'errors'), depth + 1, budget);
  return encoded;
}

/** Encodes a thrown value (worker side). Never throws, whatever was thrown. */
export function encodeError(value: unknown): WireError {
  try {
    return encode(value, 0, { errors: WIRE_LIMITS.errors });
  } catch (error) {
    // Every read above is guarded; this is the last line for what nobody foresaw (a stack overflow).
    return { e: 0, value: describeUnreadable(error) };
  }
}

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Why `wire` is not an encoded error, or undefined if it is one (its nested errors unchecked). */
function malformation(wire: unknown): string | undefined {
  if (!isRecord(wire)) return `expected an object, got ${safeKind(wire)}`;
  if (wire.e === 0) return Object.hasOwn(wire, 'value') ? undefined : 'no value';
  if (wire.e !== 1) return 'no kind (e)';
  if (typeof wire.name !== 'string') return 'name is not a string';
  if (typeof wire.message !== 'string') return 'message is not a string';
  if (wire.stack !== undefined && typeof wire.stack !== 'string') return 'stack is not a string';
  if (!isRecord(wire.props)) return 'props is not an object';
  if (wire.errors !== undefined && !Array.isArray(wire.errors)) return 'errors is not an array';
  return undefined;
}

/** What a malformed error record decodes to: a `TypeError` coded `ERR_INVALID_WORKER_MESSAGE`. */
function invalid(message: string, cause?: unknown): TypeError {
  return argTypeError(
    message,
    codes.ERR_INVALID_WORKER_MESSAGE,
    cause === undefined ? undefined : { cause },
  );
}

function decode(wire: unknown, depth: number): unknown {
  const why = malformation(wire);
  if (why !== undefined) return invalid(`a worker sent an error that cannot be decoded: ${why}`);
  const w = wire as WireError;
  if (w.e === 0) return w.value;
  // A worker of this library never nests deeper (see WIRE_LIMITS); a message that does is forged.
  if (depth > WIRE_LIMITS.depth) {
    return invalid(`a worker sent errors nested deeper than ${WIRE_LIMITS.depth}, not decoded`);
  }
  let error: Error;
  if (w.errors !== undefined) {
    const errors = w.errors.slice(0, WIRE_LIMITS.aggregated + 1).map((e) => decode(e, depth + 1));
    error = new AggregateError(errors, w.message);
  } else {
    const Ctor = Object.hasOwn(BUILTIN_ERRORS, w.name) ? BUILTIN_ERRORS[w.name]! : Error;
    error = new Ctor(w.message);
  }
  const define = (key: string, value: unknown, enumerable = false): void => {
    // Defined, not assigned: a key such as "__proto__" stays an own property.
    Object.defineProperty(error, key, { value, writable: true, enumerable, configurable: true });
  };
  if (error.name !== w.name) define('name', w.name);
  define('stack', w.stack);
  if (w.cause !== undefined) define('cause', decode(w.cause, depth + 1));
  for (const key of Object.keys(w.props)) {
    if (!RESERVED.has(key)) define(key, w.props[key], true);
  }
  return error;
}

/**
 * Rebuilds a thrown value (parent side). Built-in error classes come back as
 * themselves; any other class as an `Error` whose `name` is the original class
 * name. `stack` is the worker-side stack, unchanged. Never throws: what a
 * worker sends is untrusted, and a malformed encoding becomes an Error saying so.
 */
export function decodeError(wire: WireError): unknown {
  try {
    return decode(wire, 0);
  } catch (error) {
    // Plain cloned data cannot throw when read; this is the last line for what nobody foresaw.
    return invalid('a worker sent an error that cannot be decoded', error);
  }
}
