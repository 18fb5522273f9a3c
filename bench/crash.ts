/**
 * Crash containment: 10,000 short tasks of which a seeded 2% call
 * `process.exit`, on two workers. The figure is the share of the other
 * futures (the bystanders) that failed with the dying workers: tasks handed
 * ahead to a worker and never started are run elsewhere, so it should be 0.
 */

import {
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  taskModule,
  type Future,
} from 'concurrent-futures';
import { now, printTable, type Section } from './lib.js';

const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url));
const TASKS = 10_000;
const SHARE = 0.02;

async function storm(make: () => InterpreterPoolExecutor | ProcessPoolExecutor): Promise<string[]> {
  const ex = make();
  let seed = 2024;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const crashing: Future<unknown>[] = [];
  const bystanders: Future<number>[] = [];
  const start = now();
  try {
    for (let i = 0; i < TASKS; i++) {
      if (random() < SHARE) crashing.push(ex.submit(tasks.exitNow, 9));
      else bystanders.push(ex.submit(tasks.double, i));
    }
    const outcomes = await Promise.allSettled([...bystanders, ...crashing]);
    const failed = outcomes.slice(0, bystanders.length).filter((o) => o.status === 'rejected');
    return [
      String(crashing.length),
      `${failed.length} of ${bystanders.length}`,
      `${((100 * failed.length) / bystanders.length).toFixed(1)}%`,
      `${((now() - start) / 1000).toFixed(1)} s`,
    ];
  } finally {
    await ex.shutdown();
  }
}

const section: Section = {
  name: 'crash',
  title: `crash containment: ${TASKS} short tasks, ${SHARE * 100}% call process.exit, 2 workers`,
  async run() {
    const rows = [
      [
        'InterpreterPoolExecutor',
        ...(await storm(() => new InterpreterPoolExecutor({ maxWorkers: 2 }))),
      ],
      ['ProcessPoolExecutor', ...(await storm(() => new ProcessPoolExecutor({ maxWorkers: 2 })))],
    ];
    printTable(['executor', 'crashing tasks', 'bystanders failed', 'share', 'time'], rows, [
      'left',
      'right',
      'right',
      'right',
      'right',
    ]);
  },
};

export default section;
