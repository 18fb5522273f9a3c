/**
 * How many items an iterator of results will yield, for progress bars: `map`'s
 * iterator and `asCompleted` answer through a getter under {@link EXPECTED}.
 * Internal: `concurrent-futures/progress` reads it; nothing else should.
 */

/** @internal The key of the getter that answers {@link Expected}. */
export const EXPECTED: unique symbol = Symbol('concurrent-futures.expected');

/** @internal What an iterator of results expects to yield. */
export interface Expected {
  /** The total if `known`; otherwise the items submitted so far (more may come). */
  readonly items: number;
  /** True once `items` is the final total. */
  readonly known: boolean;
}

/** @internal An iterator that can tell how many items it expects. */
export interface HasExpected {
  readonly [EXPECTED]: Expected;
}

/**
 * @internal The number of items a `map` input will give, when it can be told
 * without reading it (arrays, typed arrays, Sets, Maps); otherwise undefined.
 */
export function knownSize(source: unknown): number | undefined {
  if (Array.isArray(source)) return source.length;
  if (ArrayBuffer.isView(source)) return (source as unknown as ArrayLike<unknown>).length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}
