/**
 * The ThreadPoolExecutor's queue of calls. Measured: with a million calls
 * queued at once, garbage collection dominated, so a queued call costs no
 * object of its own here (see {@link CallQueue}).
 */

import type { TaskFunction } from './executor.js';
import type { Future } from './future.js';

/**
 * Slots per queued call: future, fn, argument count, the argument (one) or
 * arguments (several). The count of a call timed for `stats()` is stored
 * complemented (`~argc`, below zero), so that telling it apart costs no lookup.
 */
const STRIDE = 4;
/** Calls per block of the queue. */
const BLOCK_CALLS = 1024;

class Block {
  readonly slots = new Array<unknown>(BLOCK_CALLS * STRIDE);
  next: Block | undefined = undefined;
}

/**
 * The queued calls, FIFO, stored flat in fixed-size blocks: a queued call costs
 * no object of its own (and a one-argument call no array), pushing never copies
 * what is already queued, and a drained block is reused when it is the last.
 * With a million calls queued at once, every object saved per call is one the
 * garbage collector does not have to copy out of the young generation.
 */
export class CallQueue {
  /** The block holding the oldest call, and the slot index of that call in it. */
  head = new Block();
  headIndex = 0;
  #tail = this.head;
  #tailIndex = 0;

  get empty(): boolean {
    return this.head === this.#tail && this.headIndex === this.#tailIndex;
  }

  push(future: Future<unknown>, fn: TaskFunction, args: unknown[], timed: boolean): void {
    let block = this.#tail;
    let i = this.#tailIndex;
    if (i === BLOCK_CALLS * STRIDE) {
      block = block.next = new Block();
      this.#tail = block;
      i = 0;
    }
    const slots = block.slots;
    const argc = args.length;
    slots[i] = future;
    slots[i + 1] = fn;
    slots[i + 2] = timed ? ~argc : argc;
    slots[i + 3] = argc === 1 ? args[0] : argc === 0 ? undefined : args;
    this.#tailIndex = i + STRIDE;
  }

  /** Drops the oldest call (read it through `head.slots[headIndex ..]` first). */
  drop(): void {
    const block = this.head;
    const slots = block.slots;
    const i = this.headIndex;
    slots[i] = slots[i + 1] = slots[i + 3] = undefined;
    if (i + STRIDE < BLOCK_CALLS * STRIDE) {
      this.headIndex = i + STRIDE;
      if (block === this.#tail && this.headIndex === this.#tailIndex) {
        this.headIndex = this.#tailIndex = 0; // empty: start the block over
      }
    } else if (block.next !== undefined) {
      this.head = block.next;
      this.headIndex = 0;
    } else {
      this.headIndex = this.#tailIndex = 0; // the last block, drained: reuse it
    }
  }

  /** Removes every queued call and returns their futures, oldest first. */
  drainFutures(): Future<unknown>[] {
    const futures: Future<unknown>[] = [];
    while (!this.empty) {
      futures.push(this.head.slots[this.headIndex] as Future<unknown>);
      this.drop();
    }
    return futures;
  }
}
