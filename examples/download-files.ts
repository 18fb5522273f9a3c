/**
 * The notebook's first example: five simulated two-second downloads on a
 * ThreadPoolExecutor with three workers. Downloads are I/O, so they overlap on
 * the event loop: three start at once, the other two start as soon as workers
 * free up, and the whole batch takes about four seconds (two waves) instead of ten.
 *
 * Run: npm run build && npx tsx examples/download-files.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadPoolExecutor } from 'concurrent-futures';

const start = performance.now();
/** Seconds since the script started, so the two waves are visible. */
const elapsed = (): string => `[${((performance.now() - start) / 1000).toFixed(1)}s]`;

/** Simulates a file download. */
async function downloadFile(fileName: string): Promise<string> {
  console.log(`${elapsed()} Starting download: ${fileName}`);
  await sleep(2000); // simulate I/O
  console.log(`${elapsed()} Completed download: ${fileName}`);
  return `${fileName} downloaded`;
}

const files = ['file1.pdf', 'file2.pdf', 'file3.pdf', 'file4.pdf', 'file5.pdf'];

{
  // Python: `with ThreadPoolExecutor(max_workers=3) as executor:`
  await using executor = new ThreadPoolExecutor({ maxWorkers: 3 });

  // Submit tasks and get Future objects.
  const futures = files.map((file) => executor.submit(downloadFile, file));

  // Get results, in submission order.
  for (const future of futures) {
    const result = await future.result(); // waits until the result is available
    console.log(`${elapsed()} Result: ${result}`);
  }
} // leaving the block shuts the executor down and waits for its work

console.log(`${elapsed()} All downloads done`);
