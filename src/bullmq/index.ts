/**
 * `concurrent-futures/bullmq`: the Executor contract on BullMQ and Redis, with
 * workers on any machine (`npx concurrent-futures worker`). Needs the optional
 * peer dependencies `bullmq` and `ioredis` (`npm install bullmq ioredis`);
 * the core entry point never loads them.
 *
 * @packageDocumentation
 * @module concurrent-futures/bullmq
 */

import { loadDependencies } from './deps.js';

// Before anything else: a missing package fails here, with the command that installs it.
await loadDependencies();

export {
  BullMQExecutor,
  BullMQFuture,
  type BullMQExecutorOptions,
  type BullMQJobOptions,
  type KeepJobs,
} from './executor.js';
export type { RedisConnection } from './bullmq-engine.js';
export { TaskWorker, type TaskWorkerOptions } from './worker.js';
