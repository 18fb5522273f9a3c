/**
 * `npm run bench` runs every section in order; `npm run bench -- thread pool`
 * runs only the sections named. A new section is one module whose default
 * export is a {@link Section}, plus one line in `SECTIONS` below.
 */

import { loadAverage, machine, type Section } from './lib.js';

/** Every section, in run order; each is loaded only when it runs. */
const SECTIONS: readonly (readonly [name: string, load: () => Promise<{ default: Section }>])[] = [
  ['thread', () => import('./thread.js')],
  ['pool', () => import('./pool.js')],
  ['crash', () => import('./crash.js')],
  ['control', () => import('./control.js')],
  ['progress', () => import('./progress.js')],
  ['bullmq', () => import('./bullmq.js')],
];

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = wanted.filter((name) => !SECTIONS.some(([n]) => n === name));
if (unknown.length > 0) {
  console.error(
    `unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.map(([n]) => n).join(', ')}`,
  );
  process.exit(2);
}

console.log(`machine: ${machine()}`);
console.log(`at start: ${loadAverage()}`);
for (const [name, load] of SECTIONS) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const section = (await load()).default;
  console.log(`\n## ${section.name}: ${section.title}\n`);
  await section.run();
}
