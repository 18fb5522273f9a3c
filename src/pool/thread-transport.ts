/** The worker-thread transport: one `Worker` per pool worker, messages over its port. */

import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { WorkerMessage } from './protocol.js';
import { WORKER_ENTRY, workerExecArgv, type Transport } from './transport.js';

export interface ThreadTransportOptions {
  readonly resourceLimits: ResourceLimits | undefined;
  readonly execArgv: string[] | undefined;
  readonly env: NodeJS.Dict<string> | undefined;
}

export function threadTransport(options: ThreadTransportOptions): Transport {
  const { execArgv, env } = workerExecArgv(options.execArgv, options.env);
  return (events) => {
    const worker = new Worker(WORKER_ENTRY, {
      resourceLimits: options.resourceLimits,
      execArgv,
      ...(env !== undefined && { env }),
    });
    let error: unknown;
    worker.on('message', (message: WorkerMessage) => events.onMessage(message));
    // An uncaught error in the worker arrives here, just before 'exit'.
    worker.on('error', (e) => (error ??= e));
    worker.on('exit', (code) => events.onExit({ code, signal: null, error }));
    return {
      label: `worker thread ${worker.threadId}`,
      send: (message, transferList) => worker.postMessage(message, transferList),
      checkCloneable: (value) => void structuredClone(value),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: () => void worker.terminate(),
      kill: () => void worker.terminate(),
    };
  };
}
