/**
 * What only some runtimes offer, each test skipped with its reason where the
 * Node running it lacks the feature (CI runs these on Node 20, 22, 24 and 26),
 * and the smoke program that CI also runs on Bun and Deno.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { runNode } from './helpers.js';

const fixture = (path: string): string =>
  fileURLToPath(new URL(`./fixtures/${path}`, import.meta.url));

/** This environment without anything that would bring tsx into a child process. */
function envWithoutTsx(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.CONCURRENT_FUTURES_TSX;
  return env;
}

/** 'strip' or 'transform' where Node runs `.ts` files itself (22.18+, 23.6+), else false. */
const typeStripping = (process.features as { typescript?: string | false }).typescript ?? false;

void test(
  "TypeScript task modules run on Node's own type stripping, with no tsx anywhere",
  {
    timeout: 120_000,
    skip: typeStripping
      ? false
      : `Node ${process.version} does not run TypeScript files itself (type stripping: 22.18+, 24+)`,
  },
  async () => {
    const run = await runNode([fixture('type-stripping/main.ts')], 60_000, envWithoutTsx());
    assert.equal(run.signal, null, `main.ts did not exit by itself\n${run.stderr}`);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'InterpreterPoolExecutor 5 9 tsx=false',
      'ProcessPoolExecutor 5 9 tsx=false',
      'main tsx=false',
    ]);
  },
);

/** True if this runtime parses `await using` (explicit resource management, Node 24+). */
function hasAwaitUsing(): boolean {
  try {
    new Script('(async () => { await using x = null; })'); // compiled, never run
    return true;
  } catch {
    return false;
  }
}

void test(
  'native `await using` in plain JavaScript shuts every executor down when its block throws',
  {
    timeout: 120_000,
    skip: hasAwaitUsing()
      ? false
      : `Node ${process.version} has no native \`await using\` (Node 24+)`,
  },
  async () => {
    const run = await runNode([fixture('await-using.mjs')], 60_000, envWithoutTsx());
    assert.equal(run.signal, null, `await-using.mjs did not exit by itself\n${run.stderr}`);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'ThreadPoolExecutor shut down',
      'InterpreterPoolExecutor shut down',
      'ProcessPoolExecutor shut down',
    ]);
  },
);

void test(
  'the smoke program that CI runs on Bun and Deno passes on this Node',
  { timeout: 120_000 },
  async () => {
    const smoke = fileURLToPath(new URL('./smoke/smoke.mjs', import.meta.url));
    const run = await runNode([smoke], 90_000, envWithoutTsx());
    assert.equal(run.signal, null, `the smoke program did not exit by itself\n${run.stdout}`);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(
      lines.at(-1)!,
      new RegExp(`^smoke: ok on node ${process.versions.node} \\(\\d+ checks\\)$`),
    );
    for (const line of lines.slice(0, -1)) assert.match(line, /^ {2}(ok|skip) /);
    assert.ok(lines.length > 10, run.stdout);
  },
);
