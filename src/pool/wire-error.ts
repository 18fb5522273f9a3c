/**
 * Errors across the worker boundary. Structured clone keeps an error's message
 * and stack but drops its own properties (`code`, `errno`, ...) and any custom
 * class; this encoding keeps name, message, stack, the `cause` chain, own
 * properties and `AggregateError.errors`. A thrown non-Error travels as itself.
 */

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

const RESERVED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

function isErrorLike(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (value !== null &&
      typeof value === 'object' &&
      typeof (value as Error).message === 'string' &&
      typeof (value as Error).stack === 'string')
  );
}

/** A copy of `value` that survives structured clone, or a description of it. */
function cloneable(value: unknown): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value === 'symbol' ? String(value) : value;
  }
  try {
    return structuredClone(value);
  } catch {
    return `[${typeof value === 'function' ? 'Function' : Object.prototype.toString.call(value).slice(8, -1)} (not cloneable)]`;
  }
}

/** Encodes a thrown value (worker side). Never throws. */
export function encodeError(value: unknown, depth = 0): WireError {
  if (!isErrorLike(value) || depth > 16) return { e: 0, value: cloneable(value) };
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!RESERVED.has(key))
      props[key] = cloneable((value as unknown as Record<string, unknown>)[key]);
  }
  const encoded: {
    -readonly [K in keyof Extract<WireError, { e: 1 }>]: Extract<WireError, { e: 1 }>[K];
  } = {
    e: 1,
    name: String(value.name),
    message: value.message,
    stack: value.stack,
    props,
  };
  if ('cause' in value) encoded.cause = encodeError(value.cause, depth + 1);
  if (value instanceof AggregateError && Array.isArray(value.errors)) {
    encoded.errors = value.errors.map((e: unknown) => encodeError(e, depth + 1));
  }
  return encoded;
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

/**
 * Rebuilds a thrown value (parent side). Built-in error classes come back as
 * themselves; any other class as an `Error` whose `name` is the original class
 * name. `stack` is the worker-side stack, unchanged.
 */
export function decodeError(wire: WireError): unknown {
  if (wire.e === 0) return wire.value;
  let error: Error;
  if (wire.errors !== undefined) {
    error = new AggregateError(wire.errors.map(decodeError), wire.message);
  } else {
    const Ctor = Object.hasOwn(BUILTIN_ERRORS, wire.name) ? BUILTIN_ERRORS[wire.name]! : Error;
    error = new Ctor(wire.message);
  }
  if (error.name !== wire.name) {
    Object.defineProperty(error, 'name', { value: wire.name, writable: true, configurable: true });
  }
  Object.defineProperty(error, 'stack', { value: wire.stack, writable: true, configurable: true });
  if (wire.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: decodeError(wire.cause),
      writable: true,
      configurable: true,
    });
  }
  Object.assign(error, wire.props);
  return error;
}
