/**
 * Imports a task module by URL. TypeScript sources are named with `.js` in
 * `import` specifiers (NodeNext style), and tsx maps them to `.ts` only for
 * importers that are TypeScript themselves; this loader is not, so it tries
 * the TypeScript twin (`.ts`, `.mts`, `.cts`) when the `.js` file does not exist.
 */

import { isMainThread } from 'node:worker_threads';

const TWINS: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' };

export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?ts$/.test(url)) await ensureTypeScript();
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const ext = /\.[cm]?js$/.exec(url)?.[0];
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND' || ext === undefined)
      throw error;
    await ensureTypeScript();
    try {
      return (await import(url.slice(0, -ext.length) + TWINS[ext])) as Record<string, unknown>;
    } catch {
      throw error;
    }
  }
}

let typeScriptReady: Promise<void> | undefined;

/**
 * On Node 20 a worker thread does not inherit the module hooks that
 * `--import tsx` installs in the main thread (nodejs/node#47747), so a worker
 * of a parent running under tsx registers tsx's hooks itself, once, and only
 * when it first meets a TypeScript module. Child processes run `--import` as usual.
 */
function ensureTypeScript(): Promise<void> {
  if (isMainThread) return Promise.resolve();
  return (typeScriptReady ??= (async () => {
    if (!process.execArgv.some((arg) => /(^|[/\\])tsx([/\\]|$)/.test(arg))) return;
    const specifier = 'tsx/esm/api';
    try {
      const api = (await import(specifier)) as { register(): unknown };
      api.register();
    } catch {
      // No tsx to be found from here: the import below reports the real problem.
    }
  })());
}

/** The function `name` exported by the module at `url`. */
export async function importExport(
  url: string,
  name: string,
): Promise<(...args: unknown[]) => unknown> {
  const fn = (await importModule(url))[name];
  if (typeof fn !== 'function') {
    throw new TypeError(`the module ${url} has no exported function named "${name}"`);
  }
  return fn as (...args: unknown[]) => unknown;
}
