/**
 * The raw BullMQ side of the bullmq benchmark: a plain BullMQ `Worker` whose
 * processor runs the task on its own event loop and returns the value as
 * BullMQ stores it (JSON), with the same functions our workers import
 * (bench/tasks.ts). Usage: bullmq-raw.ts REDIS_URL QUEUE CONCURRENCY [thread].
 * With `thread`, the processor hands each job to one bare worker thread (a
 * postMessage each way, nothing else) instead: the floor of any worker that,
 * as the issue requires, keeps tasks off the loop that renews BullMQ's locks.
 * Prints `ready` once it takes jobs; SIGTERM closes it.
 */

import { Worker as ThreadWorker } from 'node:worker_threads';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { double, fib } from '../tasks.js';

/** A job: one call (`args`) or a chunk of calls (`items`), as our executor's `map` sends them. */
interface RawJob {
  fn: 'double' | 'fib';
  args?: [number];
  items?: number[];
}

const [url, queue, concurrency, mode] = process.argv.slice(2);
if (url === undefined || queue === undefined || concurrency === undefined) {
  throw new Error('usage: bullmq-raw.ts REDIS_URL QUEUE CONCURRENCY [thread]');
}

/** The same functions, in a bare worker thread: a job in, its value out, by id. */
const THREAD = `
const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(new URL('./peer-tasks.mjs', import.meta.url).href)}).then((t) => {
  parentPort.on('message', ({ id, fn, args, items }) => {
    const task = fn === 'fib' ? t.fib : t.double;
    parentPort.postMessage({ id, value: items !== undefined ? items.map((x) => task(x)) : task(args[0]) });
  });
});`;
const thread = mode === 'thread' ? new ThreadWorker(THREAD, { eval: true }) : undefined;
const replies = new Map<number, (value: unknown) => void>();
let nextId = 0;
thread?.on('message', ({ id, value }: { id: number; value: unknown }) => {
  replies.get(id)?.(value);
  replies.delete(id);
});

function onThread(data: RawJob): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve) => {
    replies.set(id, resolve);
    thread!.postMessage({ id, ...data });
  });
}

const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker(
  queue,
  async (job: Job<RawJob>) => {
    if (thread !== undefined) return onThread(job.data);
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
