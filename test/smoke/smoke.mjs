/**
 * The smoke program CI runs on Bun and Deno (and the unit tests run on every
 * Node): plain JavaScript against the built package, no test runner, no tsx.
 * For each executor: submit, a module task, map with chunksize, asCompleted,
 * an argument that cannot be cloned, cancellation, a crash through process.exit
 * (parallel pools), shutdown. Then whole programs, each of which must exit by
 * itself: one that never shuts its executors down, a CommonJS one, and where
 * the runtime has them, native `await using` and TypeScript task modules.
 *
 * Prints one line per check (or skip, with its reason) and a last line `smoke: ok ...`; exits non-zero on
 * the first failure. Waits on futures and files, never on sleeps for ordering.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import {
  asCompleted,
  BrokenInterpreterPool,
  BrokenProcessPool,
  CancelledError,
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  RuntimeError,
  taskModule,
  ThreadPoolExecutor,
} from '../../dist/index.js';

const tasks = taskModule(new URL('./tasks.mjs', import.meta.url));

const runtime = globalThis.Deno
  ? `deno ${globalThis.Deno.version.deno}`
  : process.versions.bun
    ? `bun ${process.versions.bun}`
    : `node ${process.versions.node}`;

/** The command that runs a script on this runtime. */
function scriptCommand(script, args) {
  const deno = globalThis.Deno ? ['run', '-A'] : [];
  return [process.execPath, [...deno, script, ...args]];
}

/** Runs in the sub-run: work on every executor, no shutdown; the process must still exit. */
async function noShutdown() {
  const thread = new ThreadPoolExecutor({ maxWorkers: 2 });
  const interpreter = new InterpreterPoolExecutor({ maxWorkers: 2 });
  const processes = new ProcessPoolExecutor({ maxWorkers: 2 });
  const results = await Promise.all([
    thread.submit((a, b) => a + b, 1, 2),
    interpreter.submit((a, b) => a + b, 3, 4),
    processes.submit((a, b) => a + b, 5, 6),
  ]);
  const doubled = [];
  for await (const x of processes.map((n) => n * 2, [1, 2, 3], { chunksize: 2 })) doubled.push(x);
  console.log(`no-shutdown ${results.join(' ')} ${doubled.join(',')}`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'concurrent-futures-smoke-'));
  let checks = 0;
  const check = (name) => {
    checks++;
    console.log(`  ok ${name}`);
  };
  const skip = (name, reason) => console.log(`  skip ${name}: ${reason}`);
  try {
    const kinds = [
      { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
      {
        name: 'InterpreterPoolExecutor',
        make: (o) => new InterpreterPoolExecutor(o),
        Broken: BrokenInterpreterPool,
      },
      {
        name: 'ProcessPoolExecutor',
        make: (o) => new ProcessPoolExecutor(o),
        Broken: BrokenProcessPool,
      },
    ];
    for (const kind of kinds) {
      await smokeExecutor(kind, dir, (what) => check(`${kind.name}: ${what}`));
    }
    await smokePrograms(check, skip);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`smoke: ok on ${runtime} (${checks} checks)`);
}

/**
 * A task that waits, polling, until the file `path` exists: holds a worker
 * until the smoke lets go. Self-contained, as functions sent to workers must be.
 */
async function holdUntil(path, value) {
  const { existsSync } = await import('node:fs');
  while (!existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 5));
  return value;
}

async function until(predicate, what) {
  for (let i = 0; i < 20_000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting until ${what}`);
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

let latches = 0;

async function smokeExecutor(kind, dir, check) {
  const ex = kind.make({ maxWorkers: 2 });
  const release = join(dir, `release-${++latches}`);
  try {
    assert.equal(await ex.submit((a, b) => a * b, 6, 7), 42);
    check('submit');

    assert.equal(await ex.submit(tasks.joinPath, 'a', 'b'), join('a', 'b'));
    check('a module task (taskModule)');

    const squares = [];
    for await (const x of ex.map((n) => n * n, [1, 2, 3, 4, 5], { chunksize: 2 })) squares.push(x);
    assert.deepEqual(squares, [1, 4, 9, 16, 25]);
    check('map with chunksize');

    const futures = [1, 2, 3].map((n) => ex.submit((x) => x + 100, n));
    const seen = [];
    for await (const f of asCompleted(futures)) seen.push(await f);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [101, 102, 103],
    );
    check('asCompleted');

    if (kind.Broken !== undefined) {
      // A function argument cannot be cloned: only its own future fails.
      const bad = ex.submit(
        (f) => typeof f,
        () => 1,
      );
      const good = ex.submit((x) => x, 'fine');
      const error = await rejection(bad);
      assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
      assert.match(error.message, /argument 0 .* cannot be sent to a worker/);
      assert.equal(await good, 'fine');
      check('an uncloneable argument fails only its future');
    }

    // Cancellation: one worker held, tasks queued behind it; the last is still in the queue.
    const one = kind.make({ maxWorkers: 1 });
    try {
      const held = one.submit(holdUntil, release, 'held');
      const queued = [1, 2, 3, 4].map((n) => one.submit((x) => x, n));
      await until(() => held.running(), 'the held task runs');
      assert.equal(held.cancel(), false, 'a running task cannot be cancelled');
      const last = queued[3];
      assert.equal(last.cancel(), true, 'a queued task can be cancelled');
      assert.ok(last.cancelled());
      assert.ok((await rejection(last.result())) instanceof CancelledError);
      writeFileSync(release, '');
      assert.equal(await held, 'held');
      assert.deepEqual(await Promise.all(queued.slice(0, 3)), [1, 2, 3]);
      check('cancellation of a queued task');
    } finally {
      writeFileSync(release, '');
      await one.shutdown();
    }

    if (kind.Broken !== undefined) {
      // A task exits its worker: that future fails, the task on the other worker does not.
      const crashRelease = join(dir, `release-${++latches}`);
      const other = ex.submit(holdUntil, crashRelease, 'survived');
      await until(() => other.running(), 'the other task runs');
      const crash = ex.submit(() => process.exit(3));
      const error = await rejection(crash);
      assert.ok(error instanceof kind.Broken, `expected ${kind.Broken.name}, got ${error}`);
      assert.match(error.message, /code 3\b/);
      writeFileSync(crashRelease, '');
      assert.equal(await other, 'survived');
      assert.equal(await ex.submit((x) => x + 1, 1), 2, 'the pool replaced the worker');
      check('a crash through process.exit fails only its future');
    }

    const last = ex.submit((x) => x, 'before shutdown');
    await ex.shutdown();
    assert.equal(await last, 'before shutdown');
    assert.throws(() => ex.submit((x) => x, 1), RuntimeError);
    check('shutdown waits for pending work and refuses new work');
  } finally {
    await ex.shutdown({ cancelFutures: true });
  }
}

/**
 * Runs `script` (relative to this file) as its own program on this runtime; it
 * must exit by itself, with code 0, and print `expected`.
 */
async function subRun(script, args, expected) {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const [command, argv] = scriptCommand(path, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  // A sub-run kept alive by an idle pool would never exit: kill it after a generous bound.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(killer);
  assert.equal(signal, null, `${script} did not exit by itself (killed after 60 s)`);
  assert.equal(code, 0, `${script} failed`);
  assert.deepEqual(stdout.trim().split('\n'), expected);
}

/** True if this runtime parses `await using` (Node 24+, Bun, Deno). */
function hasAwaitUsing() {
  try {
    new Script('(async () => { await using x = null; })'); // compiled, never run
    return true;
  } catch {
    return false;
  }
}

/** True if this runtime runs TypeScript files itself (Node 22.18+ and 24+, Bun, Deno). */
const runsTypeScript = Boolean(
  globalThis.Deno || process.versions.bun || process.features.typescript,
);

async function smokePrograms(check, skip) {
  await subRun('./smoke.mjs', ['--no-shutdown'], ['no-shutdown 3 7 11 2,4,6']);
  check('a program that never calls shutdown exits by itself');

  await subRun('./require.cjs', [], ['require 42 42 42']);
  check('a CommonJS program requires the package');

  if (hasAwaitUsing()) {
    await subRun(
      '../fixtures/await-using.mjs',
      [],
      [
        'ThreadPoolExecutor shut down',
        'InterpreterPoolExecutor shut down',
        'ProcessPoolExecutor shut down',
      ],
    );
    check('native await using shuts every executor down when its block throws');
  } else {
    skip('native await using', `${runtime} has no native await using`);
  }

  if (runsTypeScript) {
    await subRun(
      '../fixtures/type-stripping/main.ts',
      [],
      [
        'InterpreterPoolExecutor 5 9 tsx=false',
        'ProcessPoolExecutor 5 9 tsx=false',
        'main tsx=false',
      ],
    );
    check('TypeScript task modules run without tsx');
  } else {
    skip('TypeScript task modules without tsx', `${runtime} does not run .ts files itself`);
  }
}

if (process.argv.includes('--no-shutdown')) {
  await noShutdown();
} else {
  await main();
}
