/**
 * `forEachExecutor(title, body)`: a describe block per executor kind, the body
 * written once. Test files of the contract suite are built from it.
 */

import { describe } from 'node:test';
import { EXECUTORS, TIMEOUT, type ExecutorKind } from './executors.js';

export function forEachExecutor(title: string, body: (kind: ExecutorKind) => void): void {
  for (const kind of EXECUTORS) {
    void describe(`${kind.name}: ${title}`, { timeout: TIMEOUT }, () => body(kind));
  }
}
