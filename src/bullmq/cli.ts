#!/usr/bin/env node
/**
 * `npx concurrent-futures worker ...`: runs a {@link TaskWorker} until
 * SIGTERM (or SIGINT). The first signal finishes the running jobs and exits;
 * a second exits now (the interrupted jobs run again elsewhere once their
 * locks expire).
 *
 * @internal
 */

import { parseArgs } from 'node:util';
import type { TaskWorker } from './worker.js';

const HELP = `Usage: concurrent-futures worker --redis URL --queue NAME --tasks FILE[=ID] [options]

Runs the jobs a BullMQExecutor (concurrent-futures/bullmq) puts on a queue, on a
local pool of worker threads or child processes.

  --redis URL              Redis to connect to (redis://host:port[/db]); default
                           $REDIS_URL, else redis://127.0.0.1:6379
  --queue NAME             the queue's name, as given to BullMQExecutor (required)
  --tasks FILE[=ID]        a task module this worker runs, and the id producers name
                           it by (taskModule(url, { id })); ID defaults to the file's
                           name without extension. Repeat for several modules. Only
                           these modules are ever imported (required)
  --prefix PREFIX          BullMQ's key prefix, as the executor's (default: bull)
  --pool interpreter|process
                           run tasks on worker threads (default) or child processes
  --max-workers N          the local pool's size (default: the number of CPUs)
  --concurrency C          jobs held at once (default: --max-workers)
  --max-payload-bytes B    largest encoded arguments or result (default: 8388608)
  --lock-duration MS       BullMQ lock duration: a dead worker's jobs run again
                           after about this long (default: 30000)
  --stalled-interval MS    how often stalled jobs are looked for (default: 30000)
  --help                   show this help

Logs one line to stderr per start, stop and failed job. SIGTERM or SIGINT finishes
the running jobs and exits; a second one exits at once.
`;

function fail(message: string): never {
  process.stderr.write(`concurrent-futures: ${message}\nRun with --help for usage.\n`);
  process.exit(2);
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a whole number above 0, got '${value}'`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        redis: { type: 'string' },
        queue: { type: 'string' },
        tasks: { type: 'string', multiple: true },
        prefix: { type: 'string' },
        pool: { type: 'string' },
        'max-workers': { type: 'string' },
        concurrency: { type: 'string' },
        'max-payload-bytes': { type: 'string' },
        'lock-duration': { type: 'string' },
        'stalled-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(HELP);
    return;
  }
  if (positionals[0] !== 'worker' || positionals.length !== 1) {
    fail(`unknown command '${positionals.join(' ')}': the command is 'worker'`);
  }
  if (values.queue === undefined) fail('--queue is required');
  if (values.tasks === undefined) fail('--tasks is required (a module of task functions)');
  const pool = values.pool ?? 'interpreter';
  if (pool !== 'interpreter' && pool !== 'process') {
    fail(`--pool must be 'interpreter' or 'process', got '${pool}'`);
  }
  // Signals are handled from before the first wait: a worker that cannot reach
  // Redis retries until it answers, and must still stop when asked.
  const starting = new AbortController();
  let worker: TaskWorker | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      process.stderr.write(`concurrent-futures worker: ${signal}: stopping now\n`);
      if (worker === undefined) process.exit(1);
      void worker.close({ force: true }).finally(() => process.exit(1));
    } else if (worker === undefined) {
      process.stderr.write(
        `concurrent-futures worker: ${signal}: stopping before taking any job (${signal} again to stop now)\n`,
      );
      starting.abort();
    } else {
      process.stderr.write(
        `concurrent-futures worker: ${signal}: finishing the running jobs (${signal} again to stop now)\n`,
      );
      worker.close().then(
        () => {
          if (signals === 1) process.exit(0);
        },
        (error: unknown) => {
          process.stderr.write(`concurrent-futures worker: ${String(error)}\n`);
          process.exit(1);
        },
      );
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { moduleUrl } = await import('./worker.js');
  const { defaultModuleId } = await import('./protocol.js');
  const tasks: Record<string, string> = {};
  for (const spec of values.tasks) {
    const eq = spec.lastIndexOf('=');
    const file = eq === -1 ? spec : spec.slice(0, eq);
    const url = moduleUrl(file);
    const id = eq === -1 ? defaultModuleId(url) : spec.slice(eq + 1);
    if (id === undefined) fail(`--tasks ${spec}: give the module an id: ${file}=ID`);
    if (Object.hasOwn(tasks, id)) fail(`--tasks: two modules have the id '${id}'`);
    tasks[id] = url;
  }

  // The optional packages: a missing one fails here, with the command that installs it.
  try {
    const { loadDependencies } = await import('./deps.js');
    await loadDependencies();
  } catch (error) {
    fail((error as Error).message);
  }
  const { TaskWorker } = await import('./worker.js');
  try {
    worker = await TaskWorker.start({
      connection: values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      queue: values.queue,
      prefix: values.prefix,
      tasks,
      pool,
      maxWorkers: count(values['max-workers'], '--max-workers'),
      concurrency: count(values.concurrency, '--concurrency'),
      maxPayloadBytes: count(values['max-payload-bytes'], '--max-payload-bytes'),
      lockDuration: count(values['lock-duration'], '--lock-duration'),
      stalledInterval: count(values['stalled-interval'], '--stalled-interval'),
      signal: starting.signal,
    });
  } catch (error) {
    if (starting.signal.aborted) {
      // Stopped by a signal before it started: a normal stop.
      process.stderr.write('concurrent-futures worker: stopped\n');
      process.exit(0);
    }
    process.stderr.write(
      `concurrent-futures worker: failed to start: ${(error as Error).message}\n`,
    );
    process.exit(1);
  }
}

await main(process.argv.slice(2));
