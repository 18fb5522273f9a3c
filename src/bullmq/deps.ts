/**
 * BullMQ and ioredis, loaded once by the `concurrent-futures/bullmq` entry
 * point. They are optional peer dependencies: a static `import` would fail at
 * link time with a bare "Cannot find package", before any code of ours could
 * say what to do, so they are imported dynamically and a missing one is
 * reported with the command that installs them. The core entry point never
 * reaches this module.
 *
 * @internal
 */

import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

export interface Dependencies {
  readonly bullmq: typeof BullMQ;
  readonly Redis: typeof IORedis.Redis;
}

let loaded: Dependencies | undefined;

const INSTALL = 'npm install bullmq ioredis';

async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `concurrent-futures/bullmq needs the packages bullmq and ioredis, and '${name}' ` +
          `cannot be found: install them with \`${INSTALL}\``,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Imports both packages (once); rejects with the install command if one is missing. */
export async function loadDependencies(): Promise<Dependencies> {
  if (loaded !== undefined) return loaded;
  const [bullmq, ioredis] = await Promise.all([
    load<typeof BullMQ>('bullmq'),
    load<typeof IORedis>('ioredis'),
  ]);
  loaded = { bullmq, Redis: ioredis.Redis };
  return loaded;
}

/** The packages, once {@link loadDependencies} has run (the entry point awaits it). */
export function dependencies(): Dependencies {
  if (loaded === undefined) {
    throw new Error('concurrent-futures/bullmq: import the package entry point, not its files');
  }
  return loaded;
}
