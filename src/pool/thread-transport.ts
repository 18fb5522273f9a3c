/** The worker-thread transport: one `Worker` per pool worker, messages over its port. */

import { Worker, type ResourceLimits } from 'node:worker_threads';
import { workerExecArgv } from './exec-argv.js';
import { createControlCells } from './protocol.js';
import { WORKER_ENTRY, type Transport } from './transport.js';

export interface ThreadTransportOptions {
  readonly resourceLimits: ResourceLimits | undefined;
  readonly execArgv: string[] | undefined;
  readonly env: NodeJS.Dict<string> | undefined;
}

export function threadTransport(options: ThreadTransportOptions): Transport {
  const derived = workerExecArgv(options.execArgv, options.env, 'thread');
  const env = derived.env !== undefined ? { env: derived.env } : {};
  // The options to pass; undefined: the worker inherits this process's, as they are
  // (nothing was filtered out of them).
  let execArgv: string[] | undefined =
    options.execArgv === undefined && derived.execArgv.length === process.execArgv.length
      ? undefined
      : derived.execArgv;
  // A worker thread's stack is 4 MB by default, the main thread's about 1 MB: a
  // worker could then post a value nested too deeply for the parent to read
  // (its message would be lost). With the main thread's stack size, a value too
  // deep fails to serialize in the worker instead, and only its own task fails.
  const resourceLimits: ResourceLimits = { stackSizeMb: 1, ...options.resourceLimits };
  const start = (): Worker => {
    for (;;) {
      if (execArgv === undefined) return new Worker(WORKER_ENTRY, { resourceLimits, ...env });
      try {
        return new Worker(WORKER_ENTRY, { resourceLimits, execArgv, ...env });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
        if (options.execArgv !== undefined) throw error;
        execArgv = withoutRefused(execArgv, error as Error);
      }
    }
  };
  return (events) => {
    const worker = start();
    let error: unknown;
    worker.on('message', (message: unknown) => events.onMessage(message));
    worker.on('messageerror', (e) => events.onUnreadable(e));
    // An uncaught error in the worker arrives here, just before 'exit'.
    worker.on('error', (e) => (error ??= e));
    worker.on('exit', (code) => events.onExit({ code, signal: null, error }));
    return {
      label: `worker thread ${worker.threadId}`,
      cells: createControlCells(),
      send: (message, transferList) => worker.postMessage(message, transferList),
      checkCloneable: (value) => void structuredClone(value),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: () => void worker.terminate(),
      kill: () => void worker.terminate(),
    };
  };
}

/**
 * Inherited Node options a Worker refuses are process-wide ones (V8 flags such
 * as --expose-gc or --max-old-space-size, --title): they are in effect for the
 * thread anyway. Drops the ones the error names ("... invalid execArgv flags:
 * --expose-gc, --title=x"); if it names none of them, the worker inherits
 * every option (tsx included, which it then registers itself as well).
 */
function withoutRefused(execArgv: string[], error: Error): string[] | undefined {
  const named = new Set(error.message.slice(error.message.indexOf(': ') + 2).split(', '));
  const kept = execArgv.filter((arg) => !named.has(arg));
  return kept.length < execArgv.length ? kept : undefined;
}
