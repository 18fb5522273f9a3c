/**
 * The notebook's factorial example (examples/factorial.ts) on a cluster: the
 * same `map` over the same task module, through a `BullMQExecutor`, run by
 * two worker processes started with the `concurrent-futures worker` command.
 * Prints on stdout exactly what the local example prints; what it starts and
 * stops goes to stderr.
 *
 * It starts a redis-server on a free port in a temporary folder, or uses
 * `REDIS_URL` when set, and stops everything it started when it is done, on
 * an error, and on Ctrl-C.
 *
 * Run: npm run demo:distributed   (or REDIS_URL=redis://host:6379 npm run demo:distributed)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { taskModule } from 'concurrent-futures';
import { BullMQExecutor } from 'concurrent-futures/bullmq';
import { startRedisServer } from './redis-server.js';

const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url));

const numbers = [5000, 6000, 7000, 8000];

const CLI = fileURLToPath(new URL('../dist/bullmq/cli.js', import.meta.url));
const TASKS = fileURLToPath(new URL('./tasks.ts', import.meta.url));
/** A queue of its own: on a shared REDIS_URL, nobody else's jobs or workers mix in. */
const QUEUE = `factorial-demo-${process.pid}`;
/** How long a worker may take to connect and load its tasks (a busy machine is slow). */
const START_TIMEOUT_MS = 60_000;

const log = (line: string): void => void process.stderr.write(`[demo] ${line}\n`);

/** What to undo, in reverse order of starting. */
const stops: (() => Promise<void>)[] = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => log(`while stopping: ${String(error)}`));
    }
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything this demo started`);
    void stopAll().finally(() => process.exit(130));
  });
}

/**
 * Starts one worker process, as `npx concurrent-futures worker ...` would
 * (through tsx, so that the TypeScript task module loads), and resolves once
 * it says it has started. Its log lines are passed on to stderr.
 */
async function startWorker(n: number, redisUrl: string): Promise<void> {
  const args = ['worker', '--redis', redisUrl, '--queue', QUEUE, '--tasks', TASKS];
  args.push('--pool', 'process', '--max-workers', '2');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  stops.push(async () => {
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // finishes its running jobs, then exits
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    log(`stopped worker ${n} (pid ${child.pid})`);
  });
  log(`worker ${n}: pid ${child.pid}: concurrent-futures ${args.join(' ')}`);

  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker ${n} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      process.stderr.write(text.replace(/^(?=.)/gm, `[worker ${n}] `));
      output += text;
      if (output.includes('concurrent-futures worker: started')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!stopped) reject(new Error(`worker ${n} exited (${code ?? signal}) unexpectedly`));
    });
  });
}

try {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '') {
    const redis = await startRedisServer();
    stops.push(async () => {
      await redis.stop();
      log(`stopped redis-server (pid ${redis.pid})`);
    });
    redisUrl = redis.url;
    log(`redis-server: pid ${redis.pid} on ${redisUrl}`);
  } else {
    log(`using REDIS_URL ${redisUrl}`);
  }
  await Promise.all([startWorker(1, redisUrl), startWorker(2, redisUrl)]);

  // From here on, the local example with one line changed: the executor.
  {
    await using executor = new BullMQExecutor({ connection: redisUrl, queue: QUEUE });
    const results = executor.map(tasks.computeFactorial, numbers);

    let i = 0;
    for await (const result of results) {
      const num = numbers[i++];
      console.log(`Factorial of ${num} = ${result.toString().length} digits`);
    }
  }
} catch (error) {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
