/**
 * The cost of `progress` over `map`: 1,000,000 tiny tasks (x => x * 2) on an
 * InterpreterPoolExecutor with chunksize 10,000, iterated with and without
 * `progress` (writing its plain lines to a sink that is not a terminal, at the
 * default interval). Goal: at most 5% slower.
 */

import { availableParallelism } from 'node:os';
import { InterpreterPoolExecutor, taskModule } from 'concurrent-futures';
import { progress } from 'concurrent-futures/progress';
import { formatInt, measure, printThroughput, type Case, type Section } from './lib.js';

const N = 1_000_000;
const CHUNKSIZE = 10_000;
const RUNS = 11;
const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.ts', import.meta.url));

/** A stream that is not a terminal and keeps only the number of lines written. */
const sink = {
  lines: 0,
  write(): boolean {
    this.lines++;
    return true;
  },
};

const section: Section = {
  name: 'progress',
  title: `map over ${formatInt(N)} items (chunksize ${formatInt(CHUNKSIZE)}) with and without progress`,
  async run() {
    const input = Array.from({ length: N }, (_, i) => i);
    const expected = N * (N - 1);
    const executor = new InterpreterPoolExecutor({ maxWorkers: availableParallelism() });
    const verify = (sum: number): void => {
      if (sum !== expected) throw new Error(`bench/progress: sum ${sum}, expected ${expected}`);
    };
    try {
      const cases: Case[] = [
        {
          name: 'map, for await',
          async run() {
            let sum = 0;
            for await (const v of executor.map(tasks.double, input, { chunksize: CHUNKSIZE })) {
              sum += v;
            }
            verify(sum);
          },
        },
        {
          name: 'progress(map), for await',
          async run() {
            let sum = 0;
            const results = executor.map(tasks.double, input, { chunksize: CHUNKSIZE });
            for await (const v of progress(results, { stream: sink })) sum += v;
            verify(sum);
          },
        },
      ];
      const results = await measure(cases, { n: N, runs: RUNS, warmups: 2 });
      printThroughput(results, 'map, for await', 'items/s');
      console.log(`\n${formatInt(sink.lines)} progress lines written in all (interval 1 s).`);
    } finally {
      await executor.shutdown();
    }
  },
};

export default section;
