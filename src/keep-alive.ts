/**
 * Keeps the process alive while an executor has pending work, as Python waits
 * for queued work at exit, and lets it exit as soon as the executor is idle.
 * One long, unreferenced interval per executor, referenced only while held:
 * toggling a timer's ref is far cheaper than creating a timer per task.
 */
export class KeepAlive {
  #timer: NodeJS.Timeout | undefined;

  hold(): void {
    (this.#timer ??= setInterval(noop, 2 ** 30)).ref();
  }

  release(): void {
    this.#timer?.unref();
  }

  /** Drops the timer for good (the executor is shut down and idle). */
  dispose(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function noop(): void {}
