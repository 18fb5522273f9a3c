/**
 * How many items an iterator of results will yield, for progress bars: `map`'s
 * iterator and `asCompleted` answer through a getter under {@link EXPECTED}.
 * Internal: `concurrent-futures/progress` reads it; nothing else should. The
 * getters are marked `@internal` (left out of the declarations with
 * `stripInternal`); this module is not exported from any entry point.
 */

/** The key of the getter that answers {@link Expected}. */
export const EXPECTED: unique symbol = Symbol('concurrent-futures.expected');

/** What an iterator of results expects to yield. */
export interface Expected {
  /** The total if `known`; otherwise the items submitted so far (more may come). */
  readonly items: number;
  /** True once `items` is the final total. */
  readonly known: boolean;
}

/** An iterator that can tell how many items it expects. */
export interface HasExpected {
  readonly [EXPECTED]: Expected;
}

/** The key of a method that returns the next result if it is ready now, without a promise. */
export const NEXT_READY: unique symbol = Symbol('concurrent-futures.nextReady');

/**
 * An iterator that can hand over a result that is already there (the rest of a
 * map chunk) synchronously: `progress` passes it on without a promise reaction
 * per item, and so costs next to nothing per item.
 */
export interface HasNextReady {
  /** The next result if it is ready now; undefined if it has to be awaited (through `next()`). */
  [NEXT_READY](): IteratorResult<unknown, undefined> | undefined;
}

/**
 * The number of items a `map` input will give, when it can be told
 * without reading it (arrays, typed arrays, Sets, Maps); otherwise undefined.
 */
export function knownSize(source: unknown): number | undefined {
  if (Array.isArray(source)) return source.length;
  if (ArrayBuffer.isView(source)) return (source as unknown as ArrayLike<unknown>).length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}
