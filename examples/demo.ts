/**
 * Runs the examples one after another, each in its own Node process, with a
 * heading per example. `npm run demo` builds the package first, because the
 * examples import it by its name, as a user would.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const examples: { file: string; title: string }[] = [
  {
    file: 'download-files.ts',
    title: 'ThreadPoolExecutor: five 2-second downloads on 3 workers (two waves, ~4 s)',
  },
  {
    file: 'as-completed.ts',
    title: 'asCompleted: five tasks of random duration, handled as they finish',
  },
  {
    file: 'factorial.ts',
    title: 'ProcessPoolExecutor: factorials of 5000..8000 in parallel child processes',
  },
];

const root = fileURLToPath(new URL('..', import.meta.url));
let failed = 0;

for (const { file, title } of examples) {
  console.log(`\n=== ${file}: ${title} ===\n`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', `examples/${file}`], {
    cwd: root,
    stdio: 'inherit',
  });
  if (child.status !== 0) {
    failed++;
    console.error(
      `\n${file} failed (${child.error?.message ?? `exit code ${child.status ?? child.signal}`})`,
    );
  }
}

if (failed > 0) process.exitCode = 1;
