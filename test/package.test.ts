/**
 * Packaging check: the tarball `npm pack` makes installs into an empty project
 * without the network, imports by its name, runs a task and type-checks.
 *
 * The pack runs in a copy of the repository (sharing its node_modules), so that
 * its prepack build does not rewrite the dist/ that other test files import
 * while they run. It also makes sure that a clean build, not a stale dist/,
 * is what ships.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const isWindows = process.platform === 'win32';
const npm = isWindows ? 'npm.cmd' : 'npm';

/** Top-level entries of the repository that the copy leaves out. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', '.tmp', 'coverage']);

/**
 * The environment for nested npm commands, without the npm_* variables that an
 * outer `npm test` sets (npm_config_prefix and friends would redirect them).
 */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')),
);

async function npmRun(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run(npm, args, {
    cwd,
    env,
    shell: isWindows,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

const CONSUMER_SCRIPT = `
import { createRequire } from 'node:module';
import { ThreadPoolExecutor, Future, RuntimeError, asCompleted } from 'concurrent-futures';
import { progress } from 'concurrent-futures/progress';

const executor = new ThreadPoolExecutor({ maxWorkers: 2 });
try {
  const future = executor.submit(async (a, b) => a + b, 20, 22);
  console.log('result: ' + (await future.result()));
  const squares = [];
  for await (const x of executor.map((n) => n * n, [1, 2, 3])) squares.push(x);
  console.log('map: ' + squares.join(','));
  let completed = 0;
  for await (const f of asCompleted([future])) completed += f instanceof Future ? 1 : 0;
  console.log('asCompleted: ' + completed);
  // The progress entry point, with its dependency (cli-progress) installed by npm.
  const lines = [];
  const stream = { write: (text) => lines.push(text) };
  const tripled = [];
  for await (const x of progress(executor.map((n) => n * 3, [1, 2, 3]), { stream, label: 'p' })) {
    tripled.push(x);
  }
  console.log('progress: ' + tripled.join(',') + ' ' + lines.at(-1).split(' | ').slice(0, 2).join(' | '));
} finally {
  await executor.shutdown();
}
try {
  executor.submit(() => 0);
} catch (error) {
  console.log('after shutdown: ' + (error instanceof RuntimeError) + ' ' + error.message);
}
const pkg = createRequire(import.meta.url)('concurrent-futures/package.json');
console.log('version: ' + pkg.version);
`;

/** CommonJS: require() of the ES module package (Node 20.19+, 22.12+); fails on a top-level await. */
const CONSUMER_CJS = `
const { ProcessPoolExecutor, ThreadPoolExecutor, wait } = require('concurrent-futures');

async function main() {
  const threads = new ThreadPoolExecutor({ maxWorkers: 2 });
  const processes = new ProcessPoolExecutor({ maxWorkers: 1 });
  try {
    const futures = [threads.submit((a, b) => a + b, 1, 2), processes.submit((a, b) => a * b, 6, 7)];
    const { done } = await wait(futures);
    console.log('done: ' + done.size);
    console.log('results: ' + (await Promise.all(futures)).join(','));
  } finally {
    await Promise.all([threads.shutdown(), processes.shutdown()]);
  }
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const CONSUMER_TS = `
import { ThreadPoolExecutor, wait, type Future } from 'concurrent-futures';
import { progress, type ProgressOptions } from 'concurrent-futures/progress';

const executor = new ThreadPoolExecutor({ maxWorkers: 2 });
try {
  const future: Future<number> = executor.submit((a: number, b: string) => a + b.length, 1, 'xy');
  const n: number = await future;
  const { done } = await wait([future]);
  for await (const s of executor.map((x: number) => String(x), [n, done.size])) {
    const t: string = s;
    void t;
  }
  const options: ProgressOptions = { label: 'typed', stream: { write: () => true } };
  for await (const s of progress(executor.map((x: number) => String(x), [1]), options)) {
    const t: string = s;
    void t;
  }
  // @ts-expect-error: the arguments are checked against the function's parameters
  executor.submit((a: number) => a, 'not a number');
} finally {
  await executor.shutdown();
}
`;

void test(
  'the packed tarball installs into an empty project and works',
  { timeout: 300_000 },
  async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'concurrent-futures-pack-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));

    // A copy of the repository to pack, sharing the installed dev dependencies.
    const repo = join(base, 'repo');
    cpSync(root, repo, {
      recursive: true,
      filter: (source) => {
        const path = relative(root, source);
        const parts = path.split(sep);
        // No node_modules at any depth: .ci/runtimes holds the pinned runtimes, hundreds of MB.
        return (
          !NOT_COPIED.has(parts[0]!) && !parts.includes('node_modules') && !path.endsWith('.tgz')
        );
      },
    });
    symlinkSync(join(root, 'node_modules'), join(repo, 'node_modules'), 'junction');

    const packed = JSON.parse(
      await npmRun(['pack', '--json', '--pack-destination', base], repo),
    ) as PackResult[];
    assert.equal(packed.length, 1);
    const { filename, files } = packed[0]!;
    const paths = files.map((f) => f.path);

    await t.test('the tarball holds the build and no sources or tests', () => {
      for (const required of [
        'package.json',
        'README.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/progress.js',
        'dist/progress.d.ts',
        'dist/bullmq/index.js',
        'dist/bullmq/index.d.ts',
        'dist/bullmq/cli.js',
        'docs/python-differences.md',
        'docs/stability.md',
        'docs/guides/errors.md',
        'CHANGELOG.md',
      ]) {
        assert.ok(paths.includes(required), `${required} is missing from the tarball`);
      }
      const forbidden = paths.filter((p) =>
        /^(src|test|examples|bench|node_modules|\.tmp|docs\/api)\//.test(p),
      );
      assert.deepEqual(
        forbidden,
        [],
        'the tarball must not ship sources, tests, examples or the generated API reference',
      );
    });

    const app = join(base, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    // --prefer-offline, not --offline: the tarball's one dependency (cli-progress, for the
    // progress entry point) comes from the npm cache when `npm ci` left it there, but a fresh
    // machine has only the tarballs the lockfile named, not the registry's metadata for it.
    await npmRun(
      [
        'install',
        join(base, filename),
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--prefix',
        app,
      ],
      app,
    );

    await t.test('a plain JavaScript consumer imports it by name and runs a task', async () => {
      writeFileSync(join(app, 'check.mjs'), CONSUMER_SCRIPT);
      const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: app, env });
      const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        version: string;
      };
      assert.deepEqual(stdout.trim().split('\n'), [
        'result: 42',
        'map: 1,4,9',
        'asCompleted: 1',
        'progress: 3,6,9 p 100% | 3/3',
        'after shutdown: true cannot schedule new futures after shutdown',
        `version: ${version}`,
      ]);
    });

    await t.test('a CommonJS consumer requires it by name and runs tasks', async () => {
      writeFileSync(join(app, 'check.cjs'), CONSUMER_CJS);
      const { stdout } = await run(process.execPath, ['check.cjs'], { cwd: app, env });
      assert.deepEqual(stdout.trim().split('\n'), ['done: 2', 'results: 3,42']);
    });

    await t.test('a TypeScript consumer type-checks against the shipped declarations', async () => {
      writeFileSync(join(app, 'check.ts'), CONSUMER_TS);
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2022', 'ESNext.Disposable'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            // A Node project has @types/node (the declarations refer to Node's types); use ours.
            typeRoots: [join(root, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['check.ts'],
        }),
      );
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, env }).catch(
        (error: { stdout?: string; message: string }) => {
          assert.fail(`tsc failed:\n${error.stdout ?? error.message}`);
        },
      );
    });

    // bullmq and ioredis are optional peer dependencies: npm did not install them here.
    await t.test(
      'without bullmq and ioredis, the bullmq entry point and the worker command name the install command',
      async () => {
        const failure = await run(
          process.execPath,
          ['--input-type=module', '-e', "await import('concurrent-futures/bullmq')"],
          { cwd: app, env },
        ).then(
          () => assert.fail('importing concurrent-futures/bullmq without bullmq succeeded'),
          (error: { stderr: string }) => error.stderr,
        );
        assert.match(failure, /npm install bullmq ioredis/);
        const bin = join(app, 'node_modules', '.bin', 'concurrent-futures');
        const help = await run(bin, ['--help'], { cwd: app, env, shell: isWindows });
        assert.match(help.stdout, /--tasks FILE\[=ID\]/);
        const worker = await run(bin, ['worker', '--queue', 'q', '--tasks', 'tasks.js=t'], {
          cwd: app,
          env,
          shell: isWindows,
        }).then(
          () => assert.fail('the worker command started without bullmq'),
          (error: { stderr: string; code: number }) => error,
        );
        assert.equal(worker.code, 2);
        assert.match(worker.stderr, /npm install bullmq ioredis/);
      },
    );
  },
);
