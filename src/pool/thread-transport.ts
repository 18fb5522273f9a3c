/** The worker-thread transport: one `Worker` per pool worker, messages over its port. */

import { Worker, type ResourceLimits } from 'node:worker_threads';
import { WORKER_ENTRY, workerExecArgv, type Transport } from './transport.js';

export interface ThreadTransportOptions {
  readonly resourceLimits: ResourceLimits | undefined;
  readonly execArgv: string[] | undefined;
  readonly env: NodeJS.Dict<string> | undefined;
}

export function threadTransport(options: ThreadTransportOptions): Transport {
  const derived = workerExecArgv(options.execArgv, options.env);
  // Inherited Node options may include some a Worker refuses when given explicitly
  // (V8 flags such as --expose-gc): then the worker simply inherits them, tsx included
  // (and still registers tsx's hooks itself, which on Node 20 it has to anyway).
  let inherit =
    options.execArgv === undefined && derived.execArgv.length === process.execArgv.length;
  // A worker thread's stack is 4 MB by default, the main thread's about 1 MB: a
  // worker could then post a value nested too deeply for the parent to read
  // (its message would be lost). With the main thread's stack size, a value too
  // deep fails to serialize in the worker instead, and only its own task fails.
  const resourceLimits: ResourceLimits = { stackSizeMb: 1, ...options.resourceLimits };
  const start = (): Worker => {
    if (!inherit) {
      try {
        return new Worker(WORKER_ENTRY, {
          resourceLimits,
          execArgv: derived.execArgv,
          ...(derived.env !== undefined && { env: derived.env }),
        });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
        if (options.execArgv !== undefined) throw error;
        inherit = true;
      }
    }
    return new Worker(WORKER_ENTRY, {
      resourceLimits,
      ...(derived.env !== undefined && { env: derived.env }),
    });
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
      abortFlag: new Int32Array(new SharedArrayBuffer(8)),
      send: (message, transferList) => worker.postMessage(message, transferList),
      checkCloneable: (value) => void structuredClone(value),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: () => void worker.terminate(),
      kill: () => void worker.terminate(),
    };
  };
}
