/**
 * One `abort` listener per signal, however many calls share it. A listener per
 * call would give a signal passed to a `map` of 100,000 calls 100,000
 * listeners: Node warns past ten, and each removal scans the list, so that
 * settling them all takes quadratic time.
 *
 * @internal
 */
export class AbortWatch<T> {
  readonly #watched = new Map<AbortSignal, { calls: Set<T>; listener: () => void }>();
  readonly #onAbort: (call: T, reason: unknown) => void;

  /** `onAbort` is called for each call still watched when its signal aborts, in the order added. */
  constructor(onAbort: (call: T, reason: unknown) => void) {
    this.#onAbort = onAbort;
  }

  /** Watches `call` until {@link AbortWatch.delete} or the abort; `signal` must not be aborted yet. */
  add(signal: AbortSignal, call: T): void {
    const watched = this.#watched.get(signal);
    if (watched !== undefined) {
      watched.calls.add(call);
      return;
    }
    const calls = new Set([call]);
    const listener = (): void => {
      this.#watched.delete(signal);
      for (const c of calls) this.#onAbort(c, signal.reason);
    };
    this.#watched.set(signal, { calls, listener });
    signal.addEventListener('abort', listener, { once: true });
  }

  /** Stops watching `call`; the signal loses its listener with its last call. */
  delete(signal: AbortSignal, call: T): void {
    const watched = this.#watched.get(signal);
    if (watched === undefined || !watched.calls.delete(call) || watched.calls.size > 0) return;
    this.#watched.delete(signal);
    signal.removeEventListener('abort', watched.listener);
  }
}
