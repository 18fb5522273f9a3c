/**
 * The notebook's `as_completed()` example: five tasks of random duration
 * (1 to 3 seconds) on three workers, handled in the order they finish rather
 * than the order they were submitted.
 *
 * Run: npm run build && npx tsx examples/as-completed.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadPoolExecutor, asCompleted } from 'concurrent-futures';

/** Simulates a task with a random duration; resolves to that duration in seconds. */
async function processTask(taskId: number): Promise<number> {
  const duration = 1 + Math.random() * 2;
  console.log(`Task ${taskId} starting...`);
  await sleep(duration * 1000);
  return duration;
}

{
  await using executor = new ThreadPoolExecutor({ maxWorkers: 3 });

  // Python: `futures = {executor.submit(process_task, i): i for i in range(5)}`
  const futures = new Map(
    Array.from({ length: 5 }, (_, i) => [executor.submit(processTask, i), i] as const),
  );

  // Process results as they complete; asCompleted takes the Map's keys.
  for await (const future of asCompleted(futures)) {
    const taskId = futures.get(future);
    const duration = await future.result();
    console.log(`✓ Task ${taskId} completed in ${duration.toFixed(2)}s`);
  }
}
