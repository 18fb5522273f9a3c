/**
 * The wire protocol between the pool (parent) and its workers, in one place.
 *
 * Batches are flat arrays, not arrays of objects: one message carries every
 * task handed over in a tick, and cloning a flat array is markedly cheaper.
 */

import type { MapChunk } from '../map.js';
import type { WireError } from './wire-error.js';

/** How a worker finds a task's function: its source text, or a module export. */
export type FunctionDef =
  | { readonly id: number; readonly kind: 'source'; readonly name: string; readonly source: string }
  | { readonly id: number; readonly kind: 'module'; readonly name: string; readonly url: string };

/** A chunk of `map`: the function is called once per item, results come back as a list. */
export type ChunkArgs = MapChunk;

/** Parent → worker. */
export type ParentMessage =
  | {
      readonly t: 'init';
      readonly initializer: FunctionDef | undefined;
      readonly initArgs: unknown[];
    }
  | {
      readonly t: 'run';
      /** Function definitions this worker has not seen yet. */
      readonly defs: FunctionDef[] | undefined;
      /** Triples: task id, function id, argument list (or {@link ChunkArgs}). */
      readonly tasks: unknown[];
    }
  | { readonly t: 'close' };

/** Result status codes in a results message. */
export const OK = 0;
export const FAILED = 1;

/** Worker → parent. */
export type WorkerMessage =
  | { readonly t: 'ready' }
  | { readonly t: 'initFailed'; readonly error: WireError }
  | {
      readonly t: 'results';
      /** Triples: task id, {@link OK} or {@link FAILED}, value (a {@link WireError} when failed). */
      readonly results: unknown[];
      /** Milliseconds the worker spent running the tasks settled since its last report. */
      readonly busy: number;
    };
