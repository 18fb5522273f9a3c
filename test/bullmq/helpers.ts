/**
 * Helpers of the BullMQ tests: worker processes started with the real
 * `concurrent-futures worker` command (through tsx, so the TypeScript task
 * fixture loads), the fixture's task references, and unique queue names.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskModule } from 'concurrent-futures';

export const tasks = taskModule<typeof import('./fixtures/tasks.js')>(
  new URL('./fixtures/tasks.js', import.meta.url),
  { id: 'cftest' },
);

export const CLI = fileURLToPath(new URL('../../dist/bullmq/cli.js', import.meta.url));
export const TASKS_FILE = fileURLToPath(new URL('./fixtures/tasks.ts', import.meta.url));

/** A generous bound for one test: a busy 2-core machine starts processes slowly. */
export const TIMEOUT = 120_000;

let queues = 0;
/** A queue name no other test uses. */
export function queueName(label: string): string {
  return `${label}-${process.pid}-${++queues}`;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the worker wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
}

/** Runs the worker command with `args` (after `worker`); does not wait for it to start. */
export function spawnWorker(args: string[], env?: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env !== undefined && { env }),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    pid: child.pid!,
    stderr: () => stderr,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits until `text` appears in the worker's output (or it exits, which fails). */
export async function waitForOutput(worker: WorkerProcess, text: string): Promise<void> {
  let exited = false;
  void worker.exited.then(() => (exited = true));
  const deadline = performance.now() + TIMEOUT;
  while (!worker.stderr().includes(text)) {
    if (exited) throw new Error(`the worker exited before printing '${text}':\n${worker.stderr()}`);
    if (performance.now() > deadline)
      throw new Error(`no '${text}' from the worker:\n${worker.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface WorkerSetup {
  queue: string;
  pool?: 'interpreter' | 'process';
  maxWorkers?: number;
  concurrency?: number;
  extra?: string[];
}

/** Starts a worker on the fixture tasks and waits for its start line. */
export async function startWorker(url: string, setup: WorkerSetup): Promise<WorkerProcess> {
  const worker = spawnWorker([
    'worker',
    '--redis',
    url,
    '--queue',
    setup.queue,
    '--tasks',
    `${TASKS_FILE}=cftest`,
    '--pool',
    setup.pool ?? 'interpreter',
    '--max-workers',
    String(setup.maxWorkers ?? 2),
    ...(setup.concurrency !== undefined ? ['--concurrency', String(setup.concurrency)] : []),
    ...(setup.extra ?? []),
  ]);
  await waitForOutput(worker, 'concurrent-futures worker: started');
  return worker;
}

/** A folder for run counters; the lines of `dir/name`. */
export function counterDir(): { dir: string; lines(name?: string): string[]; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cf-runs-'));
  return {
    dir,
    lines(name = 'runs') {
      try {
        return readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Polls `condition` once per 10 ms until it holds (within {@link TIMEOUT}); for state in Redis or files. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = TIMEOUT,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
