/**
 * The API reference's `@example` blocks are programs: each one is extracted
 * from the TSDoc comments in src/, run as a script (importing the built
 * package, as a user would) and must print what its comments say.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runScriptFile } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Example {
  /** The name the comment documents: `ThreadPoolExecutor`, `wait`, `map`, ... */
  readonly name: string;
  readonly file: string;
  readonly code: string;
}

/** Every ```ts block under an `@example` tag in src/, with the name of what it documents. */
function examples(): Example[] {
  const found: Example[] = [];
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' });
  for (const file of files.filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(root, 'src', file), 'utf8');
    for (const match of source.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(?=([^\n]*))/g)) {
      const comment = match[1]!.replace(/^[ \t]*\* ?/gm, '');
      const name = /^(?:export\s+)?(?:abstract\s+)?(?:class|function|const)?\s*(\w+)/.exec(
        match[2]!,
      )?.[1];
      const tag = comment.indexOf('@example');
      if (tag === -1 || name === undefined) continue;
      const block = /```ts\n([\s\S]*?)```/.exec(comment.slice(tag));
      assert.ok(block, `the @example of ${name} in src/${file} has a \`\`\`ts block`);
      found.push({ name, file, code: block[1]! });
    }
  }
  return found;
}

/** What each example must print: its comments' claims, line by line. */
const EXPECTED: Record<string, string> = {
  ThreadPoolExecutor: 'a.pdf downloaded\nb.pdf downloaded',
  InterpreterPoolExecutor: '75025\n55\n610\n6765',
  ProcessPoolExecutor: 'true\nERR_BROKEN_POOL\n2',
  wait: 'true true\n2 0',
  asCompleted: 'task 2: z.pdf downloaded\ntask 1: y.pdf downloaded\ntask 0: x.pdf downloaded',
  map: '10\n40\n90',
  codes: 'true',
  taskSignal: 'TimeoutError: the task "anonymous" ran longer than its timeout of 50 ms',
  with: 'AbortError: This operation was aborted',
  progress: '30',
};

/** What an example may write to stderr (nothing, unless listed): the progress bar's lines. */
const STDERR: Record<string, RegExp> = {
  progress: /^squares 0% \| 0\/4 \| .*\nsquares 100% \| 4\/4 \| [\d.,]+\/s \| \d+s\n$/,
};

void describe('API reference examples', { timeout: 180_000 }, () => {
  const all = examples();

  void it('every executor, wait, asCompleted, map and progress has one, and every example is checked', () => {
    assert.deepEqual(all.map((e) => e.name).sort(), Object.keys(EXPECTED).sort());
  });

  const dir = join(root, '.tmp', 'doc-examples');
  mkdirSync(dir, { recursive: true });
  for (const example of all) {
    void it(`${example.name} (src/${example.file}) runs and prints what it says`, async () => {
      const script = join(dir, `${example.name}.ts`);
      writeFileSync(script, example.code);
      const run = await runScriptFile(pathToFileURL(script), [], 60_000);
      const stderr = STDERR[example.name];
      if (stderr === undefined) assert.equal(run.stderr, '');
      else assert.match(run.stderr, stderr);
      assert.equal(run.code, 0);
      assert.equal(run.stdout.trim(), EXPECTED[example.name]);
    });
  }
});
