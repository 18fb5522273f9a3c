/**
 * The raw BullMQ side of the bullmq benchmark: a plain BullMQ `Worker` whose
 * processor runs the task on its own event loop and returns the value as
 * BullMQ stores it (JSON), with the same functions our workers import
 * (bench/tasks.ts). Usage: bullmq-raw.ts REDIS_URL QUEUE CONCURRENCY.
 * Prints `ready` once it takes jobs; SIGTERM closes it.
 */

import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { double, fib } from '../tasks.js';

/** A job: one call (`args`) or a chunk of calls (`items`), as our executor's `map` sends them. */
interface RawJob {
  fn: 'double' | 'fib';
  args?: [number];
  items?: number[];
}

const [url, queue, concurrency] = process.argv.slice(2);
if (url === undefined || queue === undefined || concurrency === undefined) {
  throw new Error('usage: bullmq-raw.ts REDIS_URL QUEUE CONCURRENCY');
}
const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker(
  queue,
  async (job: Job<RawJob>) => {
    const { fn, args, items } = job.data;
    const task = fn === 'fib' ? fib : double;
    if (items !== undefined) return items.map((x) => task(x));
    return task(args![0]);
  },
  { connection, concurrency: Number(concurrency) },
);
worker.on('error', (error) => console.error(`raw worker: ${error.message}`));
await worker.waitUntilReady();
console.log('ready');
process.once('SIGTERM', () => {
  void worker
    .close()
    .then(() => connection.quit())
    .finally(() => process.exit(0));
});
