/**
 * Small helpers shared by the core tests. Everything here synchronises on
 * promises the test controls; nothing sleeps to "let things happen".
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setCallbackErrorHandler, type Future } from 'concurrent-futures';

/** A promise the test resolves (or rejects) by hand. */
export interface Gate<T = void> {
  readonly promise: Promise<T>;
  open(value: T): void;
  fail(error: unknown): void;
}

export function gate<T = void>(): Gate<T> {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  // A gate that is failed but never awaited must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, open, fail };
}

/** Lets every queued microtask and one full turn of the event loop run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Several turns of the event loop: enough for chains of microtasks and immediates to settle. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
}

/** A real delay, only for tests that are about time itself (deadlines, timeouts). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The reason `promise` rejects with; fails if it resolves. Unlike
 * `assert.rejects`, works for any rejection value (`undefined`, `0`).
 */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got a value: ${String(value)}`);
}

/** The raw state of a future (`PENDING`, `RUNNING`, `CANCELLED`, `CANCELLED_AND_NOTIFIED`, `FINISHED`). */
export function stateOf(future: Future<unknown>): string {
  return (future as unknown as { _state: string })._state;
}

/** Waits until `predicate()` holds, polling once per event-loop turn (bounded). */
export async function until(predicate: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (predicate()) return;
    await tick();
  }
  throw new Error('condition never held');
}

/** Routes done-callback errors into a list for the duration of a test. */
export function captureCallbackErrors(): {
  errors: { error: unknown; future: Future<unknown> }[];
  restore(): void;
} {
  const errors: { error: unknown; future: Future<unknown> }[] = [];
  const previous = setCallbackErrorHandler((error, future) => errors.push({ error, future }));
  return { errors, restore: () => void setCallbackErrorHandler(previous) };
}

/** Records every `unhandledRejection` and `uncaughtException` while installed. */
export function watchUnhandled(): { events: unknown[]; stop(): void } {
  const events: unknown[] = [];
  const onRejection = (reason: unknown): void => void events.push(reason);
  const onException = (error: unknown): void => void events.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    events,
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Spins the CPU for `ms` milliseconds: a synchronous, CPU-bound task. */
export function spin(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

export interface FixtureRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `test/fixtures/<name>` in a child Node process (through tsx), killing it
 * after `killAfterMs` so that a fixture that never exits fails the test instead
 * of hanging it.
 */
export function runFixture(
  name: string,
  args: string[] = [],
  killAfterMs = 30_000,
): Promise<FixtureRun> {
  return runScriptFile(new URL(`./fixtures/${name}`, import.meta.url), args, killAfterMs);
}

/** Runs a TypeScript script in a child Node process (through tsx), killed after `killAfterMs`. */
export function runScriptFile(
  url: URL,
  args: string[],
  killAfterMs: number,
  nodeArgs: string[] = [],
): Promise<FixtureRun> {
  return runNode([...nodeArgs, '--import', 'tsx', fileURLToPath(url), ...args], killAfterMs);
}

/** Runs this Node with `args` (and `env`, if given), killed after `killAfterMs`. */
export function runNode(
  args: string[],
  killAfterMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<FixtureRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env !== undefined && { env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}
