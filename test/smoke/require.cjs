/**
 * A CommonJS program: `require()` of the package, an ES module (Node 20.19+,
 * 22.12+, Bun, Deno). Would fail if a top-level await crept into the package.
 */

/* eslint-disable @typescript-eslint/no-require-imports -- require() is what this file tests */

const {
  InterpreterPoolExecutor,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
} = require('concurrent-futures');

async function main() {
  const results = [];
  for (const Executor of [ThreadPoolExecutor, InterpreterPoolExecutor, ProcessPoolExecutor]) {
    const executor = new Executor({ maxWorkers: 1 });
    try {
      results.push(await executor.submit((a, b) => a + b, 20, 22));
    } finally {
      await executor.shutdown();
    }
  }
  console.log(`require ${results.join(' ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
