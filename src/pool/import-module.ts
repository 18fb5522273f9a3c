/**
 * Imports a task module by URL. TypeScript sources are named with `.js` in
 * `import` specifiers (NodeNext style), and tsx maps them to `.ts` only for
 * importers that are TypeScript themselves; this loader is not, so it tries
 * the TypeScript twin (`.ts`, `.mts`, `.cts`) when the `.js` file does not exist.
 */

import { argTypeError, codes } from '../errors.js';
import { TSX_ENV } from './transport.js';

const TWINS: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' };

export async function importModule(url: string): Promise<Record<string, unknown>> {
  await ensureTypeScript();
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const ext = /\.[cm]?js$/.exec(url)?.[0];
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND' || ext === undefined)
      throw error;
    try {
      return (await import(url.slice(0, -ext.length) + TWINS[ext])) as Record<string, unknown>;
    } catch {
      throw error;
    }
  }
}

let typeScriptReady: Promise<void> | undefined;

/**
 * A worker of a parent running under tsx starts without tsx's flags (see
 * `workerExecArgv`; on Node 20 its hooks would not reach a worker thread
 * anyway, nodejs/node#47747): it registers tsx's hooks itself, once, before
 * its first task module import, so TypeScript task modules and their imports load.
 */
function ensureTypeScript(): Promise<void> {
  return (typeScriptReady ??= (async () => {
    if (process.env[TSX_ENV] !== '1') return;
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
    throw argTypeError(
      `the module ${url} has no exported function named "${name}"`,
      codes.ERR_TASK_EXPORT_NOT_FOUND,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}
