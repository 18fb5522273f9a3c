/**
 * Up-front validation of options. A wrong type is a `TypeError`, a value out of
 * range a `RangeError`; every message names the option and says what it takes.
 */

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

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** `shutdown()`'s options, with their defaults (`wait: true`, `cancelFutures: false`). */
export function checkShutdownOptions(options: unknown): { wait: boolean; cancelFutures: boolean } {
  checkOptionsObject(options, 'shutdown options');
  const { wait = true, cancelFutures = false } = (options ?? {}) as {
    wait?: unknown;
    cancelFutures?: unknown;
  };
  if (typeof wait !== 'boolean')
    throw argTypeError(`wait must be a boolean, got ${describe(wait)}`);
  if (typeof cancelFutures !== 'boolean') {
    throw argTypeError(`cancelFutures must be a boolean, got ${describe(cancelFutures)}`);
  }
  return { wait, cancelFutures };
}

/** Rejects option names the constructor does not know: a typo must not pass silently. */
export function checkKnownOptions(options: object, known: readonly string[], name: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw argTypeError(
        `${name}: unknown option '${key}'; the options are ${known.join(', ')}`,
        codes.ERR_UNKNOWN_OPTION,
      );
    }
  }
}
