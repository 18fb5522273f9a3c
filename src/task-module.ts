/**
 * Module tasks: functions a worker imports by module URL and export name, what
 * pickling by reference is in Python. `taskModule` gives typed stand-ins, so
 * `executor.submit(tasks.computeFactorial, 5000)` checks its arguments against
 * the real export and yields `Future<ReturnType>`.
 */

import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { argTypeError, codes } from './errors.js';
import { importExport } from './pool/import-module.js';
import { checkKnownOptions, checkOptionsObject, describe } from './validate.js';

const TASK_REF = Symbol.for('concurrent-futures.task-ref');

/** Where a worker finds a module task. */
export interface TaskRef {
  /** The module's URL (`file:` or `data:`). */
  readonly url: string;
  /** The name of the exported function. */
  readonly name: string;
  /**
   * The module's portable id, when `taskModule` was given one: what names the
   * module on another machine, where its file URL differs (see `BullMQExecutor`).
   */
  readonly id?: string | undefined;
}

/** Options of {@link taskModule}. */
export interface TaskModuleOptions {
  /**
   * A portable name for the module (letters, digits, `.`, `_`, `-`, `@`, `/`),
   * the same on every machine: a remote worker started with
   * `--tasks ./dist/tasks.js=imaging` runs the tasks of
   * `taskModule(url, { id: 'imaging' })`, whatever the file's URL there.
   */
  id?: string | undefined;
}

/** @internal What a module id may contain: plain names that read the same in a URL, a key and a shell. */
export const MODULE_ID = /^[A-Za-z0-9@][A-Za-z0-9._@/-]{0,199}$/;

/** The function exports of module `M`, as task references typed like the functions themselves. */
export type TaskModule<M> = {
  readonly [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K];
};

/**
 * Typed references to the functions a module exports, for any executor:
 * `const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url))`.
 * Workers import the module themselves, so its functions may use imports and
 * module state. `url` is a URL, a `file:` URL string or an absolute path;
 * `options.id` names the module for workers on other machines.
 */
export function taskModule<M>(url: URL | string, options?: TaskModuleOptions): TaskModule<M> {
  const href = moduleHref(url);
  const id = moduleId(options);
  const stubs = new Map<string, (...args: unknown[]) => never>();
  return new Proxy({} as TaskModule<M>, {
    get(_target, key) {
      // Not a thenable, not a symbol-keyed protocol: only export names make references.
      if (typeof key !== 'string' || key === 'then') return undefined;
      let stub = stubs.get(key);
      if (stub === undefined) {
        stub = makeStub(href, key, id);
        stubs.set(key, stub);
      }
      return stub;
    },
  });
}

/**
 * The schemes a worker can import from. `node:` names a builtin module;
 * `data:` carries the module's source. Node itself imports nothing else
 * (`http:` and `https:` only behind an experimental flag).
 */
const SCHEMES = new Set(['file:', 'data:', 'node:']);

function moduleHref(url: URL | string): string {
  if (url instanceof URL) return checkScheme(url.protocol, url.href);
  if (typeof url !== 'string') {
    throw argTypeError(`taskModule: url must be a URL or a string, got ${typeof url}`);
  }
  if (isAbsolute(url)) return pathToFileURL(url).href;
  // Two letters at least: "C:" starts a Windows path, not a URL.
  const scheme = /^[a-z][a-z0-9+.-]+:/i.exec(url)?.[0];
  if (scheme !== undefined) return checkScheme(scheme.toLowerCase(), url);
  throw argTypeError(
    `taskModule: '${url}' is relative; pass new URL('${url}', import.meta.url) so that workers find the same file`,
    codes.ERR_INVALID_ARG_VALUE,
  );
}

function checkScheme(scheme: string, href: string): string {
  if (SCHEMES.has(scheme)) return href;
  throw argTypeError(
    `taskModule: the '${scheme}' scheme of '${href}' is not supported; workers import task ` +
      `modules from file: URLs (or data: and node:)`,
    codes.ERR_INVALID_ARG_VALUE,
  );
}

function moduleId(options: TaskModuleOptions | undefined): string | undefined {
  checkOptionsObject(options, 'taskModule options');
  checkKnownOptions(options, ['id'], 'taskModule');
  const id = options?.id;
  if (id === undefined) return undefined;
  if (typeof id !== 'string')
    throw argTypeError(`taskModule: id must be a string, got ${describe(id)}`);
  if (!MODULE_ID.test(id)) {
    throw argTypeError(
      `taskModule: id '${id}' must be 1 to 200 letters, digits, '.', '_', '-', '@' or '/', starting with a letter, digit or '@'`,
      codes.ERR_INVALID_ARG_VALUE,
    );
  }
  return id;
}

function makeStub(
  url: string,
  name: string,
  id: string | undefined,
): (...args: unknown[]) => never {
  const stub = (): never => {
    throw argTypeError(
      `${name} from taskModule('${url}') is a task reference: submit it to an executor, ` +
        `or import the module to call ${name} directly`,
      codes.ERR_TASK_REFERENCE_CALLED,
    );
  };
  Object.defineProperty(stub, 'name', { value: name });
  Object.defineProperty(stub, TASK_REF, { value: { url, name, id } satisfies TaskRef });
  return stub;
}

/** The module reference a `taskModule` stand-in carries, or undefined for any other function. */
export function taskRefOf(fn: unknown): TaskRef | undefined {
  return (fn as { [TASK_REF]?: TaskRef } | null | undefined)?.[TASK_REF];
}

const localCallables = new WeakMap<object, (...args: unknown[]) => Promise<unknown>>();

/** An in-process caller for a module task (the ThreadPoolExecutor runs module tasks by importing them). */
export function localCallable(
  stub: object,
  ref: TaskRef,
): (...args: unknown[]) => Promise<unknown> {
  let fn = localCallables.get(stub);
  if (fn === undefined) {
    fn = async (...args) => (await importExport(ref.url, ref.name))(...args);
    localCallables.set(stub, fn);
  }
  return fn;
}
