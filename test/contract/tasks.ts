/**
 * Module tasks of the contract suite, the same references on all three
 * executors: the pool test tasks, plus a hold that keeps a worker (or, on the
 * ThreadPoolExecutor, a slot of the event loop) busy until the test lets go.
 */

import { hold, holdAsync } from '../pool/fixtures/tasks.js';
import { markStarted, type Latch } from '../pool/fixtures/latch.js';

export {
  add,
  double,
  echo,
  failOn,
  rejectWithCode,
  sleep,
  throwValue,
  throwWithCode,
} from '../pool/fixtures/tasks.js';

/**
 * Marks the latch started and settles with `value` once it is released.
 * `blocking` holds the thread (a worker runs nothing else meanwhile); the
 * ThreadPoolExecutor runs tasks on the test's own thread, so it awaits instead.
 */
export function gate<T>(latch: Latch, blocking: boolean, value: T): T | Promise<T> {
  return blocking ? hold(latch, value) : holdAsync(latch, value);
}

/** `x`, except that the item equal to `at` waits on the latch first (see {@link gate}). */
export function gateAt(
  latch: Latch,
  blocking: boolean,
  x: number,
  at: number,
): number | Promise<number> {
  return x === at ? gate(latch, blocking, x) : x;
}

/** As {@link gateAt}, first marking `ran`: the test counts the calls that ran. */
export function countedGateAt(
  ran: Latch,
  latch: Latch,
  blocking: boolean,
  x: number,
  at: number,
): number | Promise<number> {
  markStarted(ran);
  return gateAt(latch, blocking, x, at);
}
