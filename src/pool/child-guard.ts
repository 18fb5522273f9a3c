/**
 * How a pool worker ends, and what keeps a child process from outliving its
 * parent. Used by the worker entry module only.
 *
 * - {@link exitWhenFlushed}: a worker asked to close (or a child whose parent
 *   went away) first lets what its tasks wrote to stdout and stderr reach
 *   their consumer, then exits: `process.exit()` would drop whatever a slow
 *   reader has not taken yet.
 * - {@link guardChildProcess}: inside a child process, a watchdog thread that
 *   kills the process when the parent is gone even while a task keeps the
 *   event loop busy (the IPC 'disconnect' is seen only when the loop turns),
 *   and quiet handling of the errors a dead parent leaves behind (a closed
 *   channel, a broken pipe), which would otherwise print stack traces into
 *   the shared stderr.
 *
 * The watchdog starts with the child, not lazily: a task that blocks the event
 * loop from its first message on must already be watched. It costs about 9 MB
 * of resident memory per child (a worker thread's isolate; 45 → 54 MB on Node
 * 20), about 1.5 ms of the child's main thread to construct (it boots beside
 * it), no CPU while idle (it sleeps in `Atomics.wait`), and a few milliseconds
 * at exit. The parent has no 'exit' handler that kills its children: the
 * watchdog covers every way a parent ends, SIGKILL included, and an idle child
 * leaves by itself on 'disconnect' after flushing its output, which a kill
 * from the parent would cut off.
 */

import { SHARE_ENV, Worker } from 'node:worker_threads';

/** How often the watchdog looks for its parent; a child outlives its parent by about this much. */
const POLL_MS = 250;
/**
 * How long an orphan that is only flushing its output (its event loop turns)
 * may go on after its parent is gone before the watchdog kills it.
 */
const ORPHAN_FLUSH_MS = 2_000;

/** The watchdog's one shared cell: what the process is doing (0 at first: running tasks). */
const FLUSHING = 1;
const EXITED = 2;

let cell: Int32Array | undefined;

function setState(state: number): void {
  if (cell === undefined) return;
  Atomics.store(cell, 0, state);
  Atomics.notify(cell, 0);
}

let exiting = false;

/**
 * Exits with code 0 once everything written to stdout and stderr so far has
 * been handed to the operating system (or, in a worker thread, to the parent
 * thread). A stream that has failed (its reader is gone) is not waited for.
 */
export function exitWhenFlushed(): void {
  if (exiting) return;
  exiting = true;
  setState(FLUSHING);
  let pending = 0;
  const done = (): void => {
    if (--pending === 0) process.exit(0);
  };
  pending++;
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || stream.writableLength === 0) continue;
    pending++;
    // Writes complete in order: this callback runs once everything before it is out.
    stream.write('', done);
  }
  done();
}

/**
 * Source of the watchdog thread (CommonJS, evaluated). It sleeps on the shared
 * cell, waking every POLL_MS to compare its parent process id with the one
 * it was started by: when a parent dies, its children are re-parented.
 * Where that does not happen (Windows), a probe of the parent pid tells.
 */
const WATCHDOG = `'use strict';
const { workerData } = require('node:worker_threads');
const [cell, parent, pollMs, flushMs] = workerData;
const gone = () => {
  if (process.ppid !== parent) return true;
  try { process.kill(parent, 0); return false; } catch (e) { return e.code === 'ESRCH'; }
};
let flushDeadline = Infinity;
for (let state; (state = Atomics.load(cell, 0)) !== ${EXITED}; Atomics.wait(cell, 0, state, pollMs)) {
  if (!gone()) continue;
  if (state === ${FLUSHING}) {
    flushDeadline = Math.min(flushDeadline, Date.now() + flushMs);
    if (Date.now() < flushDeadline) continue;
  }
  process.kill(process.pid, 'SIGKILL');
}
`;

/** Ignores errors of the process's IPC channel and output streams once the parent is gone. */
function quiet(): void {}

/**
 * Sets up a child process of the pool: `parentPid` is the pool's process,
 * passed on the child's command line (reading `process.ppid` at start-up
 * would race with a parent dying early).
 */
export function guardChildProcess(parentPid: number): void {
  // A failed send (EPIPE, ERR_IPC_CHANNEL_CLOSED) is emitted on `process`: it means the
  // parent is gone, and nobody is left to receive the results. Leave quietly.
  process.on('error', exitWhenFlushed);
  // A reader that went away must not crash the worker (nor print a stack trace into the
  // stderr it shares with its parent): what a task writes after that is dropped.
  process.stdout.on('error', quiet);
  process.stderr.on('error', quiet);
  // The parent is gone (or closed the channel): nobody can receive results any more.
  process.on('disconnect', exitWhenFlushed);
  if (!Number.isSafeInteger(parentPid) || parentPid <= 0) return;
  const shared = new Int32Array(new SharedArrayBuffer(4));
  let watchdog: Worker;
  try {
    watchdog = new Worker(WATCHDOG, {
      eval: true,
      workerData: [shared, parentPid, POLL_MS, ORPHAN_FLUSH_MS],
      // None of the child's own Node options (preloaded modules, loaders) concern it.
      execArgv: [],
      env: SHARE_ENV,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
    });
  } catch {
    // No threads allowed here (the permission model without --allow-worker): the child
    // still leaves when the parent is gone, but only once its event loop turns.
    return;
  }
  // A watchdog that cannot run (out of memory, say) must not take the worker down with it.
  watchdog.on('error', quiet);
  watchdog.unref();
  cell = shared;
  process.on('exit', () => setState(EXITED));
}
