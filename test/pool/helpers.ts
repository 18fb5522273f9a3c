/**
 * Shared helpers of the pool tests: the two executors to run every shared
 * behaviour on, latches that hold a worker busy until the test lets go, and a
 * runner for child scripts. Nothing here sleeps to "let things happen".
 */

import { rejection, runScriptFile, type FixtureRun } from '../helpers.js';

export { rejection };
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BrokenInterpreterPool,
  BrokenProcessPool,
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  taskModule,
  type BrokenExecutor,
  type ParallelExecutorOptions,
} from 'concurrent-futures';
import { IDS, MAX_IDS, RELEASED, STARTED, type Latch } from './fixtures/latch.js';

export const tasks = taskModule<typeof import('./fixtures/tasks.js')>(
  new URL('./fixtures/tasks.js', import.meta.url),
);

export type PoolExecutor = InterpreterPoolExecutor | ProcessPoolExecutor;

export interface PoolKind {
  readonly name: 'InterpreterPoolExecutor' | 'ProcessPoolExecutor';
  readonly make: <I extends unknown[] = unknown[]>(
    options?: ParallelExecutorOptions<I>,
  ) => PoolExecutor;
  readonly Broken: new (message?: string) => BrokenExecutor;
  /** Worker threads share memory with the test; child processes do not. */
  readonly latchKind: Latch['kind'];
  /** The property of `whoAmI()` that tells workers apart. */
  readonly idKey: 'threadId' | 'pid';
}

export const POOLS: readonly PoolKind[] = [
  {
    name: 'InterpreterPoolExecutor',
    make: (options) => new InterpreterPoolExecutor(options),
    Broken: BrokenInterpreterPool,
    latchKind: 'sab',
    idKey: 'threadId',
  },
  {
    name: 'ProcessPoolExecutor',
    make: (options) => new ProcessPoolExecutor(options),
    Broken: BrokenProcessPool,
    latchKind: 'file',
    idKey: 'pid',
  },
];

/** A generous bound for one test: a busy 2-core machine starts workers slowly. */
export const TIMEOUT = 60_000;

/** The test's side of a {@link Latch}. */
export interface TestLatch {
  /** What to pass to `tasks.hold` and friends. */
  readonly latch: Latch;
  /** Resolves once `n` holders have started. */
  started(n?: number): Promise<void>;
  /** How many holders have started so far. */
  startedCount(): number;
  /** The process ids of the holders that started (file latches only). */
  startedPids(): number[];
  /** The worker ids of the holders that started: thread ids (shared latch) or process ids (file latch). */
  startedIds(): number[];
  /** Lets every holder, present and future, go on. Idempotent. */
  readonly release: () => void;
  /** Releases, and removes what the latch left on disk. */
  dispose(): void;
}

export function makeLatch(kind: Latch['kind']): TestLatch {
  if (kind === 'sab') {
    const cells = new Int32Array(new SharedArrayBuffer(4 * (IDS + MAX_IDS)));
    const latch: Latch = { kind, cells };
    const release = (): void => {
      Atomics.store(cells, RELEASED, 1);
      Atomics.notify(cells, RELEASED);
    };
    return {
      latch,
      async started(n = 1) {
        const deadline = performance.now() + TIMEOUT;
        for (;;) {
          const seen = Atomics.load(cells, STARTED);
          if (seen >= n) return;
          if (performance.now() > deadline) throw new Error(`latch: ${seen} of ${n} started`);
          // Atomics.waitAsync: a wake-up on the next markStarted, no polling.
          const { value } = waitAsync(cells, STARTED, seen, 1_000);
          if (typeof value !== 'string') await value;
        }
      },
      startedCount: () => Atomics.load(cells, STARTED),
      startedPids: () => {
        throw new Error('startedPids: only file latches record process ids');
      },
      startedIds: () => [...cells.subarray(IDS)].filter((id) => id !== 0),
      release,
      dispose: release,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'cf-latch-'));
  latchDirs.add(dir);
  const latch: Latch = { kind, dir };
  const lines = (): string[] => {
    try {
      return readFileSync(join(dir, 'started'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const release = (): void => writeFileSync(join(dir, 'release'), '');
  return {
    latch,
    async started(n = 1) {
      // A child process cannot notify this process's memory: look at the file
      // once per turn of the event loop, within a bound.
      const deadline = performance.now() + TIMEOUT;
      while (lines().length < n) {
        if (performance.now() > deadline)
          throw new Error(`latch: ${lines().length} of ${n} started`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    startedCount: () => lines().length,
    startedPids: () => lines().map((line) => Number(line.split(' ')[0])),
    startedIds: () => lines().map((line) => Number(line.split(' ')[0])),
    release,
    dispose() {
      // The release file must stay while a holder may still look for it: the
      // directory goes when this process exits.
      release();
    },
  };
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: boolean; value: 'not-equal' | 'timed-out' | Promise<'ok' | 'timed-out'> };

const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** File latch directories, removed when the test process exits (no worker looks at them then). */
const latchDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of latchDirs) rmSync(dir, { recursive: true, force: true });
});

/** True if a process with this id exists (signal 0 probes without sending anything). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export type ScriptRun = FixtureRun;

/**
 * Runs `test/pool/fixtures/<name>` in a child Node process through tsx, killing
 * it after `killAfterMs` so that a script that never exits fails the test
 * instead of hanging it.
 */
export function runScript(
  name: string,
  args: string[] = [],
  killAfterMs = 45_000,
  nodeArgs: string[] = [],
): Promise<ScriptRun> {
  return runScriptFile(new URL(`./fixtures/${name}`, import.meta.url), args, killAfterMs, nodeArgs);
}

/** The OS threads of this process (Linux), or undefined where /proc is not there. */
export function osThreads(): number | undefined {
  try {
    return Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}
