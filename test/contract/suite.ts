/**
 * `forEachExecutor(title, body)`: a describe block per executor kind, the body
 * written once; `test(name, fn)`: one test in it, bounded by {@link TIMEOUT}.
 * Test files of the contract suite are built from these.
 */

import { describe, it } from 'node:test';
import { EXECUTORS, TIMEOUT, type ExecutorKind } from './executors.js';

export function forEachExecutor(title: string, body: (kind: ExecutorKind) => void): void {
  for (const kind of EXECUTORS) void describe(`${kind.name}: ${title}`, () => body(kind));
}

/** A test of the contract suite: a busy 2-core machine starts workers slowly, hence the bound. */
export function test(name: string, fn: () => Promise<void>): void {
  void it(name, { timeout: TIMEOUT }, fn);
}
