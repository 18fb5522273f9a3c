/**
 * The notebook's ProcessPoolExecutor example: CPU-bound factorials computed in
 * parallel child processes. The task function comes from a module
 * (./tasks.ts), so each worker imports it rather than receiving a closure.
 *
 * Run: npm run build && npx tsx examples/factorial.ts
 */
import { ProcessPoolExecutor, taskModule } from 'concurrent-futures';

const tasks = taskModule<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url));

const numbers = [5000, 6000, 7000, 8000];

{
  // Python: `with ProcessPoolExecutor(max_workers=4) as executor:`
  await using executor = new ProcessPoolExecutor({ maxWorkers: 4 });
  const results = executor.map(tasks.computeFactorial, numbers);

  // Python: `for num, result in zip(numbers, results):` (map yields in input order)
  let i = 0;
  for await (const result of results) {
    const num = numbers[i++];
    console.log(`Factorial of ${num} = ${result.toString().length} digits`);
  }
}
