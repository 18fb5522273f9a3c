/**
 * Up-front validation of options. A wrong type is a `TypeError`, a value out of
 * range a `RangeError`; every message names the option and says what it takes.
 */

import { isProxy } from 'node:util/types';
import { argTypeError, argValueError, codes } from './errors.js';

/** The longest delay Node's timers accept; anything longer counts as "no limit". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timeout in milliseconds: `undefined`/`null` or more than Node's timer range
 * means no limit (Infinity); a negative number means "do not wait" (0).
 */
export function checkTimeout(value: unknown, name: string): number {
  if (value === undefined || value === null) return Infinity;
  if (typeof value !== 'number') {
    throw argTypeError(
      `${name} must be a number of milliseconds or undefined, got ${typeof value}`,
    );
  }
  if (Number.isNaN(value)) throw argValueError(`${name} must be a number of milliseconds, got NaN`);
  if (value > MAX_TIMER_MS) return Infinity;
  return value < 0 ? 0 : value;
}

/** A whole number of at least 1, or `undefined` when the option may be left out. */
export function checkPositiveInt(value: unknown, name: string): number;
export function checkPositiveInt(value: unknown, name: string, optional: true): number | undefined;
export function checkPositiveInt(
  value: unknown,
  name: string,
  optional = false,
): number | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number') {
    throw argTypeError(`${name} must be a positive integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 1) {
    throw argValueError(`${name} must be a positive integer (1 or more), got ${value}`);
  }
  return value;
}

/** A function, or `undefined` when left out. */
export function checkOptionalFunction(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw argTypeError(`${name} must be a function, got ${describe(value)}`);
  }
}

/** An options object, or `undefined`. */
export function checkOptionsObject(value: unknown, name: string): void {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw argTypeError(`${name} must be an object, got ${describe(value)}`);
  }
}

/** An array of arguments, or `undefined`. */
export function checkOptionalArray(value: unknown, name: string): void {
  if (value !== undefined && !Array.isArray(value)) {
    throw argTypeError(`${name} must be an array of arguments, got ${describe(value)}`);
  }
}

/** The type of a value for an error message: `null`, `an array` or its `typeof`. Never throws. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (isProxy(value)) return typeof value; // Array.isArray throws on a revoked Proxy
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * What kind of value this is (`Object`, `Array`, `Map`, `Proxy`, `number` ...),
 * found without running its code: no Proxy trap, at most a `Symbol.toStringTag`
 * getter, guarded. For describing values that may be hostile.
 */
export function safeKind(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  if (isProxy(value)) return 'Proxy';
  if (typeof value === 'function') return 'Function';
  try {
    return Object.prototype.toString.call(value).slice(8, -1);
  } catch {
    return 'Object';
  }
}

/**
 * `[unreadable: <why>]` (or `[unreadable <what>: <why>]`) for an error thrown
 * while reading a value (a getter,
 * a Proxy trap). The thrown value may be hostile too: only its `name` and
 * `message` are read, if they are strings, and nothing that throws escapes.
 */
export function describeUnreadable(error: unknown, what?: string): string {
  return `[unreadable${what === undefined ? '' : ` ${what}`}: ${reasonText(error)}]`;
}

function reasonText(error: unknown): string {
  if (error === null || (typeof error !== 'object' && typeof error !== 'function')) {
    return String(error);
  }
  try {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (typeof message === 'string') {
      return typeof name === 'string' && name !== '' ? `${name}: ${message}` : message;
    }
  } catch {
    // A hostile error thrown by a hostile getter: say what it is, no more.
  }
  return `a thrown ${safeKind(error)}`;
}

/** `shutdown()`'s options, with their defaults (`wait: true`, `cancelFutures: false`). */
export function checkShutdownOptions(options: unknown): {
  wait: boolean;
  cancelFutures: boolean;
  abortRunning: boolean;
} {
  checkOptionsObject(options, 'shutdown options');
  checkKnownOptions(
    options as object | undefined,
    ['wait', 'cancelFutures', 'abortRunning'],
    'shutdown',
  );
  const {
    wait = true,
    cancelFutures = false,
    abortRunning = false,
  } = (options ?? {}) as {
    wait?: unknown;
    cancelFutures?: unknown;
    abortRunning?: unknown;
  };
  if (typeof abortRunning !== 'boolean') {
    throw argTypeError(`abortRunning must be a boolean, got ${describe(abortRunning)}`);
  }
  if (typeof wait !== 'boolean')
    throw argTypeError(`wait must be a boolean, got ${describe(wait)}`);
  if (typeof cancelFutures !== 'boolean') {
    throw argTypeError(`cancelFutures must be a boolean, got ${describe(cancelFutures)}`);
  }
  return { wait, cancelFutures: cancelFutures || abortRunning, abortRunning };
}

/**
 * Rejects option names a function does not know, as Python rejects unknown
 * keyword arguments: a typo (`timout`, `chunkSize`, `cancel_futures`) must not
 * pass silently. Used by every function that takes an options object.
 */
export function checkKnownOptions(
  options: object | undefined,
  known: readonly string[],
  name: string,
): void {
  if (options === undefined) return;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const close = known.find((k) => isCloseTo(key, k));
      throw argTypeError(
        `${name}: unknown option '${key}'${close === undefined ? '' : ` (did you mean '${close}'?)`}; ` +
          `the options are ${known.join(', ')}`,
        codes.ERR_UNKNOWN_OPTION,
      );
    }
  }
}

/** Same letters but for case and `_`/`-`, or one letter added, dropped or changed. */
function isCloseTo(typed: string, option: string): boolean {
  const a = typed.toLowerCase().replace(/[-_]/g, '');
  const b = option.toLowerCase();
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  return Math.max(a.length, b.length) - i - j <= 1;
}
