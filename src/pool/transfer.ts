/**
 * Zero-copy hand-over for the worker-thread pool: `transfer(value)` moves the
 * ArrayBuffers it names instead of copying them. The marker is recognised by a
 * registered symbol, so a copy of this module inside a worker works alike.
 */

import type { TransferListItem } from 'node:worker_threads';

import { argTypeError } from '../errors.js';

const TRANSFER = Symbol.for('concurrent-futures.transfer');

interface TransferMarker {
  readonly [TRANSFER]: true;
  readonly value: unknown;
  readonly transferList: TransferListItem[];
}

/**
 * Marks `value` (an argument, or a task's result) to be transferred rather
 * than copied. `transferList` defaults to the value's own buffer: an
 * `ArrayBuffer`, a typed array's or DataView's buffer, or a `MessagePort`.
 * After the hand-over the sender's buffer is detached (length 0).
 * `SharedArrayBuffer`s need no marker: they are always shared, never copied.
 * Child processes cannot share memory, so the process pool copies instead.
 */
export function transfer<T>(value: T, transferList?: readonly TransferListItem[]): T {
  let list: TransferListItem[];
  if (transferList !== undefined) {
    if (!Array.isArray(transferList as unknown)) {
      throw argTypeError('transfer: transferList must be an array');
    }
    list = Array.from(transferList);
    list.forEach((item: unknown, i) => {
      if (item === null || (typeof item !== 'object' && typeof item !== 'function')) {
        throw argTypeError(
          `transfer: transferList[${i}] must be an ArrayBuffer, a MessagePort or another transferable object, got ${item === null ? 'null' : typeof item}`,
        );
      }
    });
  } else if (value instanceof ArrayBuffer) {
    list = [value];
  } else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) {
    list = [value.buffer];
  } else if (value !== null && typeof value === 'object' && 'postMessage' in value) {
    list = [value as unknown as TransferListItem];
  } else {
    throw argTypeError(
      'transfer: pass an ArrayBuffer, a typed array or a MessagePort, or give the transferList explicitly',
    );
  }
  const marker: TransferMarker = { [TRANSFER]: true, value, transferList: list };
  return marker as unknown as T;
}

/** The value and transfer list of a marker made by {@link transfer}; undefined for any other value. */
export function takeTransfer(
  value: unknown,
): { value: unknown; transferList: TransferListItem[] } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    if (!(TRANSFER in value)) return undefined;
    const marker = value as TransferMarker;
    return { value: marker.value, transferList: marker.transferList };
  } catch {
    // A Proxy whose traps throw is no marker; cloning it fails next, and only its own future.
    return undefined;
  }
}
