// The peers' task functions: the same code as bench/tasks.ts, in plain JavaScript,
// because on Node 20 worker threads do not inherit the tsx loader.
import { threadId } from 'node:worker_threads';

export function noop() {}

export function double(x) {
  return x * 2;
}

/** The hand-batched idiom: one task maps a whole array. */
export function doubleAll(xs) {
  // Built by push: V8 clones a packed array several times faster than a preallocated (holey) one.
  const out = [];
  for (let i = 0; i < xs.length; i++) out.push(xs[i] * 2);
  return out;
}

export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export function whoami() {
  return `${process.pid}:${threadId}`;
}
