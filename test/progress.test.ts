/**
 * `concurrent-futures/progress`: the values pass through unchanged, the bar
 * counts items (not chunks) against the total `map` and `asCompleted` tell it,
 * prints plain lines off a terminal, and stops cleanly however the loop ends.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  Future,
  InterpreterPoolExecutor,
  ThreadPoolExecutor,
  asCompleted,
  wait,
  type TaskFunction,
} from 'concurrent-futures';
import { progress, type ProgressStream } from 'concurrent-futures/progress';
import { gate, rejection, runFixture, until } from './helpers.js';
import { tasks } from './pool/helpers.js';

const run = promisify(execFile);
/** The escape character that starts terminal control sequences. */
const ESC = String.fromCharCode(27);

/** A stream that keeps what is written; a terminal if asked. */
class Sink implements ProgressStream {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY = false,
    readonly columns?: number,
  ) {}
  write(text: string): boolean {
    this.chunks.push(text);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

/** A ThreadPoolExecutor that remembers every future `submit` (and so `map`) created. */
class RecordingExecutor extends ThreadPoolExecutor {
  readonly futures: Future<unknown>[] = [];
  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    const f = super.submit(fn, ...args);
    this.futures.push(f);
    return f;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** `L 42% | 42/100 | ...` → [done, total]; `L 7 | ...` → [7, undefined]. */
function counts(line: string): [number, number | undefined] {
  const match = /^L (?:\d+% \| (\d+)\/(\d+)|(\d+)) \|/.exec(line);
  assert.ok(match, `unexpected line: ${line}`);
  return match[3] !== undefined
    ? [Number(match[3]), undefined]
    : [Number(match[1]), Number(match[2])];
}

void describe('progress: plain lines off a terminal', { timeout: 60_000 }, () => {
  void it('counts the items inside chunks against the total, one line per item with interval 0, then a final line', async () => {
    await using ex = new InterpreterPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    const items = Array.from({ length: 100 }, (_, i) => i);
    const results = await collect(
      progress(ex.map(tasks.double, items, { chunksize: 10 }), {
        stream: sink,
        label: 'L',
        interval: 0,
      }),
    );
    assert.deepEqual(
      results,
      items.map((x) => x * 2),
    );
    const lines = sink.lines;
    assert.equal(lines.length, 1 + 100 + 1, 'a start line, a line per item, a final line');
    // Every item moves the count by one: results of a chunk are counted one by one.
    lines.slice(0, 101).forEach((line, i) => assert.deepEqual(counts(line), [i, 100]));
    assert.match(lines[0]!, /^L 0% \| 0\/100 \| /);
    assert.match(lines[100]!, /^L 100% \| 100\/100 \| /);
    const final = lines[101]!;
    assert.match(final, /^L 100% \| 100\/100 \| [\d,.]+\/s \| \d+s$/);
    assert.ok(!sink.text.includes(ESC), 'no terminal control codes in plain lines');
  });

  void it('with the default interval prints far fewer lines, and always the final one', async () => {
    await using ex = new InterpreterPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    const n = 20_000;
    let count = 0;
    for await (const x of progress(ex.map(tasks.double, range(n), { chunksize: 1_000 }), {
      stream: sink,
      label: 'L',
    })) {
      assert.equal(x, count * 2);
      count++;
    }
    assert.equal(count, n);
    const lines = sink.lines;
    assert.ok(lines.length >= 2 && lines.length < 100, `${lines.length} lines`);
    assert.deepEqual(counts(lines[0]!), [0, n]);
    assert.deepEqual(counts(lines.at(-1)!), [n, n]);
    // Counts never go back.
    const seen = lines.map((line) => counts(line)[0]);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
  });

  void it('over an async input shows a count and a rate until the total is known', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    const release = gate();
    async function* input(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) yield i;
      await release.promise;
      for (let i = 5; i < 8; i++) yield i;
    }
    const out: number[] = [];
    for await (const x of progress(
      ex.map(async (x: number) => x + 1, input()),
      { stream: sink, label: 'L', interval: 0 },
    )) {
      out.push(x);
      if (out.length === 5) release.open();
    }
    assert.deepEqual(out, [1, 2, 3, 4, 5, 6, 7, 8]);
    const lines = sink.lines;
    assert.deepEqual(counts(lines[0]!), [0, undefined], 'no total while the input is being read');
    assert.match(lines[0]!, /^L 0 \| [\d.]+\/s \| \d+s$/);
    assert.deepEqual(counts(lines.at(-1)!), [8, 8]);
  });

  void it('a total given as an option wins over what the source tells', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    await collect(
      progress(
        ex.map(async (x: number) => x, [1, 2, 3, 4]),
        {
          stream: sink,
          label: 'L',
          total: 8,
        },
      ),
    );
    assert.deepEqual(counts(sink.lines[0]!), [0, 8]);
    assert.match(sink.lines.at(-1)!, /^L 50% \| 4\/8 \| /);
  });

  void it('a map with buffersize over an array knows its total from the start', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    await collect(
      progress(
        ex.map(async (x: number) => x, new Set([1, 2, 3, 4, 5]), { buffersize: 2 }),
        {
          stream: sink,
          label: 'L',
        },
      ),
    );
    assert.deepEqual(counts(sink.lines[0]!), [0, 5]);
    assert.deepEqual(counts(sink.lines.at(-1)!), [5, 5]);
  });
});

void describe('progress: values and the end of the loop', { timeout: 60_000 }, () => {
  void it('passes on the very same values in the same order', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 4 });
    const objects = Array.from({ length: 50 }, (_, i) => ({ i }));
    const results = await collect(
      progress(
        ex.map(async (o: { i: number }) => {
          // Later items finish first: the order comes from map, and progress keeps it.
          await new Promise((resolve) => setTimeout(resolve, (50 - o.i) % 7));
          return o;
        }, objects),
        { stream: new Sink() },
      ),
    );
    assert.equal(results.length, objects.length);
    results.forEach((r, i) => assert.equal(r, objects[i], `same object at ${i}`));
  });

  void it('writes nothing and starts nothing until iterated', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 });
    const sink = new Sink();
    const it = progress(
      ex.map(async (x: number) => x, [1, 2]),
      { stream: sink },
    );
    assert.deepEqual(sink.chunks, []);
    await it.return!();
    assert.deepEqual(sink.chunks, []);
  });

  void it('break stops the bar with a final line and closes map, which cancels what has not started', async () => {
    const ex = new RecordingExecutor({ maxWorkers: 1 });
    const sink = new Sink();
    const hold = gate();
    const seen: number[] = [];
    for await (const r of progress(
      ex.map(
        async (x: number) => {
          if (x === 2) await hold.promise;
          return x;
        },
        [1, 2, 3, 4],
      ),
      { stream: sink, label: 'L', interval: 0 },
    )) {
      seen.push(r);
      await until(() => ex.futures[1]!.running());
      break;
    }
    assert.deepEqual(seen, [1]);
    const [, second, third, fourth] = ex.futures;
    assert.equal(second!.running(), true);
    assert.equal(third!.cancelled(), true, 'return() reached map: the rest was cancelled');
    assert.equal(fourth!.cancelled(), true);
    assert.equal((await wait([third!, fourth!])).done.size, 2);
    assert.match(sink.lines.at(-1)!, /^L 25% \| 1\/4 \| .* \| stopped$/);
    assert.ok(sink.text.endsWith('\n'), 'the last line is finished');
    const written = sink.chunks.length;
    hold.open();
    await ex.shutdown();
    assert.equal(sink.chunks.length, written, 'nothing is written after the bar stopped');
  });

  void it('an error from the source propagates as itself, after a final line', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink();
    const boom = new Error('item 3 failed');
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const r of progress(
          ex.map(
            async (x: number) => {
              if (x === 3) throw boom;
              return x;
            },
            [1, 2, 3, 4, 5],
          ),
          { stream: sink, label: 'L', interval: 0 },
        )) {
          seen.push(r);
        }
      })(),
    );
    assert.equal(error, boom);
    assert.deepEqual(seen, [1, 2]);
    assert.match(sink.lines.at(-1)!, /^L 40% \| 2\/5 \| .* \| failed$/);
  });

  void it('wraps any async iterable: no total without the hook; a next() that throws stops the bar', async () => {
    const sink = new Sink();
    const boom = new Error('thrown by next()');
    let calls = 0;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next(): Promise<IteratorResult<number>> {
          if (++calls > 2) throw boom;
          return Promise.resolve({ done: false, value: calls });
        },
      }),
    };
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const x of progress(source, { stream: sink, label: 'L', interval: 0 })) {
          seen.push(x);
        }
      })(),
    );
    assert.equal(error, boom);
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(sink.lines.map(counts), [
      [0, undefined],
      [1, undefined],
      [2, undefined],
      [2, undefined],
    ]);
    assert.match(sink.lines.at(-1)!, /^L 2 \| .* \| failed$/);
  });

  void it('wraps asCompleted: the same futures, each once, counted against their number', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 3 });
    const sink = new Sink();
    const gates = [gate<number>(), gate<number>(), gate<number>()];
    const futures = gates.map((g) => ex.submit(() => g.promise));
    const order: Future<number>[] = [];
    const iterating = (async () => {
      for await (const f of progress(asCompleted(futures), {
        stream: sink,
        label: 'L',
        interval: 0,
      })) {
        order.push(f);
      }
    })();
    gates[2]!.open(2);
    await until(() => order.length === 1);
    gates[0]!.open(0);
    gates[1]!.open(1);
    await iterating;
    assert.deepEqual(order, [futures[2], futures[0], futures[1]]);
    assert.deepEqual(sink.lines.slice(0, 4).map(counts), [
      [0, 3],
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    assert.match(sink.lines.at(-1)!, /^L 100% \| 3\/3 \| /);
  });

  void it('rejects a source that is not async iterable, and bad options, at the call', () => {
    assert.throws(() => progress([1, 2] as never), TypeError);
    assert.throws(() => progress(null as never), TypeError);
    const source = (async function* () {})();
    assert.throws(() => progress(source, { total: -1 }), RangeError);
    assert.throws(() => progress(source, { total: Number.NaN }), RangeError);
    assert.throws(() => progress(source, { interval: '1' as never }), TypeError);
    assert.throws(() => progress(source, { label: 3 as never }), TypeError);
    assert.throws(() => progress(source, { stream: {} as never }), TypeError);
    assert.throws(
      () => progress(source, { totl: 3 } as never),
      (error: unknown) => error instanceof TypeError && /unknown option 'totl'/.test(error.message),
    );
  });
});

void describe('progress: on a terminal', { timeout: 60_000 }, () => {
  void it('draws a bar with cli-progress, cut to the width, and ends the line', async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 });
    const sink = new Sink(true, 60);
    const results = await collect(
      progress(
        ex.map(async (x: number) => x * 3, range(30)),
        { stream: sink, label: 'L' },
      ),
    );
    assert.deepEqual(
      results,
      range(30).map((x) => x * 3),
    );
    const text = sink.text;
    assert.ok(text.includes(`${ESC}[`), 'moves the cursor: an animated bar, not plain lines');
    assert.ok(text.endsWith('\n'));
    // The drawn frames, without control codes: each fits the width, the last is complete.
    const frames = sink.chunks
      .filter((c) => c.startsWith('L '))
      .map((c) => c.replace(new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, 'g'), ''));
    assert.ok(frames.length >= 2, `${frames.length} frames`);
    for (const frame of frames) assert.ok(frame.length <= 60, frame);
    assert.match(frames.at(-1)!, /^L \[=+\] 100% \| 30\/30 \| /);
  });
});

void describe('progress: the process lifetime', { timeout: 120_000 }, () => {
  for (const mode of ['break', 'error', 'abandon', 'abandon-tty']) {
    void it(`no timer keeps the process alive after the loop (${mode})`, async () => {
      const run = await runFixture('progress-exit.ts', [mode]);
      assert.equal(run.signal, null, 'exited on its own instead of being killed');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), `${mode}: main done`);
    });
  }

  void it('importing the core entry point never loads cli-progress; the progress entry point does', async () => {
    // Plain node, no tsx: nothing but the package itself loads modules.
    const script = fileURLToPath(new URL('./fixtures/loaded-modules.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [script]);
    const loaded = JSON.parse(stdout) as { afterCore: string[]; afterProgress: string[] };
    assert.deepEqual(loaded.afterCore, [], 'the core loads no package');
    assert.ok(loaded.afterProgress.includes('cli-progress'), 'the check sees cli-progress load');
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
