/**
 * Tracing through `node:diagnostics_channel`, so that OpenTelemetry and APM
 * tools can follow every call without the library depending on them. Each
 * channel is published to only when somebody subscribes: without subscribers a
 * call pays one property read per event.
 *
 * Channels and their messages (`executor` is the executor's class name):
 * - `concurrent-futures:submit` `{ future, name, executor }`: a call was submitted;
 * - `concurrent-futures:start` `{ future, name, executor }`: it was handed to a worker (started);
 * - `concurrent-futures:end` `{ future, name, executor }`: it is over (done, failed or cancelled);
 * - `concurrent-futures:error` `{ future, name, executor, error }`: it failed.
 */

import { channel } from 'node:diagnostics_channel';
import type { Future } from './future.js';

/** The message published on each task channel. */
export interface TaskTraceMessage {
  /** The call's future. */
  readonly future: Future<unknown>;
  /** The function's name. */
  readonly name: string;
  /** The executor's class name. */
  readonly executor: string;
  /** On `concurrent-futures:error` only: what the call failed with. */
  readonly error?: unknown;
}

/** @internal */
export const traceSubmit = channel('concurrent-futures:submit');
/** @internal */
export const traceStart = channel('concurrent-futures:start');
/** @internal */
export const traceEnd = channel('concurrent-futures:end');
/** @internal */
export const traceError = channel('concurrent-futures:error');

/**
 * @internal Publishes the end of a call (and its error), for subscribers only.
 * Takes what names the call rather than the name: a function's `name` is an
 * accessor, read here only when somebody listens (it showed in profiles).
 */
export function traceOver(
  future: Future<unknown>,
  named: { readonly name: string },
  executor: string,
): void {
  if (traceError.hasSubscribers && future._failed) {
    traceError.publish({ future, name: named.name, executor, error: future._error });
  }
  if (traceEnd.hasSubscribers) traceEnd.publish({ future, name: named.name, executor });
}
