/**
 * Turns a submitted function into what a worker can rebuild: a module
 * reference, or the function's source text. Each function gets one id, so its
 * definition travels to a worker once and is compiled there once.
 */

import { argTypeError, codes } from '../errors.js';
import { taskRefOf } from '../task-module.js';
import type { FunctionDef } from './protocol.js';

const defs = new WeakMap<object, FunctionDef>();
/**
 * Definitions by source text: an arrow written inside a loop is a new function
 * object each time round, but one definition, compiled once per worker.
 */
const bySource = new Map<string, FunctionDef>();
const MAX_SOURCES = 10_000;
let nextId = 1;

/** The definition for `fn`; throws `TypeError` for what cannot be shipped (native, bound, class). */
export function functionDef(fn: unknown, what: string): FunctionDef {
  if (typeof fn !== 'function') {
    throw argTypeError(`${what} must be a function, got ${fn === null ? 'null' : typeof fn}`);
  }
  const known = defs.get(fn);
  if (known !== undefined) return known;
  const ref = taskRefOf(fn);
  let def: FunctionDef;
  if (ref !== undefined) {
    def = { id: nextId++, kind: 'module', name: ref.name, url: ref.url };
  } else {
    const source = Function.prototype.toString.call(fn);
    const own = readName(fn);
    const name = own || 'anonymous';
    if (own.startsWith('bound ')) {
      throw argTypeError(
        `${what}: the bound function "${name}" cannot be sent to a worker (its bound this and arguments ` +
          'cannot travel); pass them as arguments instead, or use a module task (taskModule)',
        codes.ERR_TASK_NOT_SENDABLE,
      );
    }
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw argTypeError(
        `${what}: the native function "${name}" cannot be sent to a worker; wrap the call in a ` +
          'self-contained function that reaches it through a global, e.g. (x) => Math.sqrt(x)',
        codes.ERR_TASK_NOT_SENDABLE,
      );
    }
    if (/^class\b/.test(source)) {
      throw argTypeError(
        `${what}: "${name}" is a class; submit a function`,
        codes.ERR_TASK_NOT_SENDABLE,
      );
    }
    const shared = bySource.get(source);
    if (shared !== undefined && shared.name === name) {
      def = shared;
    } else {
      def = { id: nextId++, kind: 'source', name, source };
      if (bySource.size >= MAX_SOURCES) bySource.clear();
      bySource.set(source, def);
    }
  }
  defs.set(fn, def);
  return def;
}

/** `fn.name` if it is a string; '' if it is not one (redefined) or its getter throws. */
function readName(fn: object): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}
