/**
 * The life of a worker around its parent: no child process outlives its
 * parent by more than a moment (busy or idle, whether the parent exits or is
 * killed), output written by tasks is not lost at shutdown, a child whose
 * parent is gone leaves quietly, and workers start with only the parent's Node
 * options that make sense for them (`node -e`, `-p`, a script on stdin,
 * `--inspect`). Parents are run as child scripts; what is left is checked by pid.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { workerExecArgv } from '../../src/pool/exec-argv.js';
import { POOLS, TIMEOUT, processExists, runScript } from './helpers.js';

const DIST = new URL('../../dist/index.js', import.meta.url).href;

/** A running Node process whose output the test reads. */
interface Running {
  readonly child: ChildProcess;
  /** Resolves with the first match of `pattern` in what the process has written so far. */
  match(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray>;
  output(stream: 'stdout' | 'stderr'): string;
  /** Starts reading a stdout started 'paused'. */
  resumeStdout(): void;
  /** Resolves once the process has exited and every holder of its stdout and stderr is gone. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface StartOptions {
  /** Written to the process's stdin. */
  readonly input?: string;
  /** 'paused': nothing is read from stdout until `resumeStdout()`; 'closed': never. */
  readonly stdout?: 'read' | 'paused' | 'closed';
}

function start(args: string[], options: StartOptions = {}): Running {
  const { input, stdout: reading = 'read' } = options;
  const child = spawn(process.execPath, args, {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  const text = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const listen = (stream: 'stdout' | 'stderr'): void =>
    void child[stream]!.setEncoding('utf8').on('data', (s: string) => {
      text[stream] += s;
      for (const wake of waiters) wake();
    });
  listen('stderr');
  // A 'readable' listener keeps the stream paused even after the process exits (Node
  // resumes the stdio of an exited child that has no such listener, and drops the data).
  const paused = (): void => {};
  if (reading === 'read') listen('stdout');
  else if (reading === 'paused') child.stdout!.on('readable', paused);
  else child.stdout!.destroy();
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
  void closed.then(() => clearTimeout(killer));
  return {
    child,
    match: (stream, pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(text[stream]);
          if (match !== null) {
            waiters.delete(check);
            resolve(match);
          }
        };
        waiters.add(check);
        check();
        void closed.then(() => {
          if (waiters.delete(check))
            reject(new Error(`exited before printing ${pattern}:\n${text.stdout}\n${text.stderr}`));
        });
      }),
    output: (stream) => text[stream],
    resumeStdout: () => {
      child.stdout!.off('readable', paused);
      listen('stdout');
      child.stdout!.resume();
    },
    closed,
  };
}

function startFixture(
  name: string,
  args: string[],
  options: StartOptions & { nodeArgs?: string[] } = {},
): Running {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return start([...(options.nodeArgs ?? []), '--import', 'tsx', script, ...args], options);
}

/** True while `pid` runs: it exists and is not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // No /proc: existing is all we can tell.
  }
}

/**
 * Waits until none of `pids` runs, polling within a bound far above the
 * watchdog's period: on a busy machine the exact moment varies, but a child
 * that outlives its parent for good never passes. Kills the survivors.
 */
async function allGone(pids: number[], boundMs = 15_000): Promise<number[]> {
  const deadline = performance.now() + boundMs;
  while (performance.now() < deadline) {
    if (!pids.some(running)) return [];
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const left = pids.filter(running);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return left;
}

/** What a child process dying noisily prints. */
const NOISE = /EPIPE|ERR_IPC_CHANNEL_CLOSED|ERR_STREAM_DESTROYED|Error|at /;

void describe('a child process outlives its parent by a moment at most', () => {
  for (const [how, signal] of [
    ['is killed (SIGKILL: no exit handler runs)', 'SIGKILL'],
    ['exits normally (process.exit)', 'SIGTERM'],
  ] as const) {
    void it(
      `busy in a synchronous loop or idle, when the parent ${how}`,
      { timeout: TIMEOUT },
      async () => {
        const run = startFixture('parent-life.ts', ['spin']);
        const busy = Number((await run.match('stderr', /^busy (\d+)$/m))[1]);
        const idle = Number((await run.match('stderr', /^idle (\d+)$/m))[1]);
        await run.match('stderr', /^ready$/m);
        assert.ok(running(busy) && running(idle));
        run.child.kill(signal);
        assert.deepEqual(await allGone([busy, idle]), [], 'children left running');
        await run.closed;
        assert.doesNotMatch(run.output('stderr'), NOISE);
      },
    );
  }

  void it(
    'idle with output still on its way to a slow reader when the parent is killed: flushes it, then exits',
    { timeout: TIMEOUT },
    async () => {
      const bytes = 1 << 20;
      const run = startFixture('parent-life.ts', ['flood', `${bytes}`], { stdout: 'paused' });
      const idle = Number((await run.match('stderr', /^idle (\d+)$/m))[1]);
      await run.match('stderr', /^watching$/m);
      run.child.kill('SIGKILL');
      // The reader starts once the child knows its parent is gone, and has not left.
      await run.match('stderr', /^orphaned$/m);
      run.resumeStdout();
      assert.deepEqual(await allGone([idle]), [], 'child left running');
      await run.closed;
      assert.equal(run.output('stdout').length, bytes);
    },
  );

  void it(
    'idle with output nobody reads when the parent is killed: gives up after a grace period',
    { timeout: TIMEOUT },
    async () => {
      const run = startFixture('parent-life.ts', ['flood', `${8 << 20}`], { stdout: 'paused' });
      const idle = Number((await run.match('stderr', /^idle (\d+)$/m))[1]);
      await run.match('stderr', /^ready$/m);
      run.child.kill('SIGKILL');
      assert.deepEqual(await allGone([idle]), [], 'child left running');
      run.child.stdout!.destroy();
      await run.closed;
    },
  );

  void it(
    'finishing its task after the parent was killed: exits quietly, no stack trace on stderr',
    { timeout: TIMEOUT },
    async () => {
      const run = startFixture('parent-life.ts', ['late']);
      const busy = Number((await run.match('stderr', /^busy (\d+)$/m))[1]);
      const idle = Number((await run.match('stderr', /^idle (\d+)$/m))[1]);
      await run.match('stderr', /^ready$/m);
      run.child.kill('SIGKILL');
      assert.deepEqual(await allGone([busy, idle]), [], 'children left running');
      await run.closed;
      assert.doesNotMatch(run.output('stderr'), NOISE);
    },
  );
});

void describe('output written by tasks', () => {
  for (const pool of POOLS) {
    void it(
      `${pool.name}: reaches a slow reader in full before shutdown() resolves`,
      { timeout: TIMEOUT },
      async () => {
        const bytes = 8 << 20;
        // The reader takes nothing until shutdown() is called, then all it can.
        const run = startFixture('flood.ts', [pool.name, `${bytes}`], { stdout: 'paused' });
        await run.match('stderr', /shutting down/);
        run.resumeStdout();
        const { code } = await run.closed;
        assert.equal(code, 0, run.output('stderr'));
        // Everything the task wrote, then the parent's line after shutdown() resolved.
        const out = run.output('stdout');
        assert.equal(out.length, bytes + '\nshut down\n'.length);
        assert.equal(out.slice(-20), 'xxxxxxxxx\nshut down\n');
      },
    );
  }

  void it(
    'ProcessPoolExecutor: to a stdout whose reader is gone, does not crash the child nor print a stack trace',
    { timeout: TIMEOUT },
    async () => {
      // Nobody will ever read this stdout.
      const run = startFixture('broken-stdout.ts', [], { stdout: 'closed' });
      const { code } = await run.closed;
      const stderr = run.output('stderr');
      assert.equal(code, 0, stderr);
      const first = /^first EPIPE (\d+)$/m.exec(stderr);
      const second = /^second false (\d+)$/m.exec(stderr);
      assert.ok(first !== null && second !== null, stderr);
      assert.equal(first[1], second[1], 'the child was replaced: it crashed');
      assert.doesNotMatch(stderr, / at |Error/);
    },
  );
});

void describe("workers start with only the parent's Node options that make sense for them", () => {
  // The depth guard turns a fork bomb into a clear failure: a worker that runs the
  // parent's code prints "re-run" and exits.
  const program = (importLine: string): string => `
    if (process.env.CF_CHILD_LIFE_DEPTH) { console.log('re-run'); process.exit(3); }
    process.env.CF_CHILD_LIFE_DEPTH = '1';
    ${importLine}
    for (const Executor of [ProcessPoolExecutor, InterpreterPoolExecutor]) {
      const executor = new Executor({ maxWorkers: 1 });
      try { console.log(Executor.name, await executor.submit((a, b) => a + b, 2, 3)); }
      finally { await executor.shutdown(); }
    }`;
  const esm = program(
    `const { ProcessPoolExecutor, InterpreterPoolExecutor } = await import(${JSON.stringify(DIST)});`,
  );
  const cases: { name: string; args: string[]; input?: string }[] = [
    { name: 'node --input-type=module -e', args: ['--input-type=module', '-e', esm] },
    {
      name: 'node -p',
      args: [
        '-p',
        `import(${JSON.stringify(DIST)}).then(async ({ ProcessPoolExecutor, InterpreterPoolExecutor }) => {${program('')}}), 'printed'`,
      ],
    },
    {
      name: 'a script on stdin, with options a Worker refuses (node --expose-gc --max-old-space-size=256 --input-type=module -)',
      args: ['--expose-gc', '--max-old-space-size=256', '--input-type=module', '-'],
      input: esm,
    },
  ];
  for (const { name, args, input } of cases) {
    void it(`${name}: both parallel executors run tasks`, { timeout: TIMEOUT }, async () => {
      const run = start(args, { input });
      const { code } = await run.closed;
      const out = run.output('stdout');
      assert.equal(code, 0, `${out}\n${run.output('stderr')}`);
      assert.match(out, /^ProcessPoolExecutor 5$/m);
      assert.match(out, /^InterpreterPoolExecutor 5$/m);
      assert.doesNotMatch(out, /re-run/);
    });
  }

  void it(
    'under --inspect=127.0.0.1:<port>, each child process gets a port of its own; threads work',
    { timeout: TIMEOUT },
    async () => {
      const port = await freePort();
      const run = await runScript('no-shutdown.ts', [], 45_000, [`--inspect=127.0.0.1:${port}`]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^interpreter 3 42$/m);
      assert.match(run.stdout, /^process 7 11 2,4,6$/m);
      assert.doesNotMatch(run.stderr, /address already in use/);
      // The parent and its two children each listened.
      assert.equal(run.stderr.match(/^Debugger listening on/gm)?.length, 3, run.stderr);
    },
  );

  void it(
    'under --inspect-brk, once a debugger lets the parent run, no worker waits for one',
    { timeout: TIMEOUT },
    async () => {
      const run = startFixture('no-shutdown.ts', [], { nodeArgs: ['--inspect-brk=127.0.0.1:0'] });
      // The whole line: stderr may arrive in pieces that cut the address short.
      const [, host, port, path] = await run.match('stderr', /ws:\/\/([\d.]+):(\d+)(\/[\w-]+)\n/);
      const debuggerSession = await runIfWaitingForDebugger(host!, Number(port), path!);
      // Stay attached until the parent has done its work: a debugger that leaves at once can
      // race Node's break on the first statement and leave the parent paused with nobody to
      // resume it (seen about once in 25 runs under load).
      await run.match('stdout', /^process .*\n/m);
      debuggerSession.end();
      const { code } = await run.closed;
      const stdout = run.output('stdout');
      assert.equal(code, 0, run.output('stderr'));
      assert.match(stdout, /^interpreter 3 42$/m);
      assert.match(stdout, /^process 7 11 2,4,6$/m);
    },
  );

  void describe('the options derived from the parent', () => {
    const derive = (kind: 'process' | 'thread', args: string[], env: NodeJS.Dict<string> = {}) =>
      workerExecArgv(undefined, env, kind, args).execArgv;

    void it('drop what says what to run, with its value, and keep the rest', () => {
      const kept = ['--max-old-space-size=256', '--conditions', 'dev', '--enable-source-maps'];
      for (const parentOnly of [
        ['-e', 'code'],
        ['--eval=code'],
        ['-p', 'code'],
        ['--print', 'code'],
        ['-pe', 'code'],
        ['-i'],
        ['--interactive'],
        ['-c'],
        ['--check'],
        ['--input-type', 'module'],
        ['--input-type=commonjs'],
        ['--test'],
        ['--test-reporter', 'spec'],
        ['--test-name-pattern=x'],
        ['--test-only'],
        ['--experimental-test-coverage'],
        ['--experimental-test-isolation=none'],
        ['--watch'],
        ['--watch-path', 'src'],
        ['--watch-preserve-output'],
        ['--run', 'build'],
        ['--snapshot-blob', 'snap.blob'],
        ['--build-snapshot'],
        ['--experimental-sea-config', 'sea.json'],
        ['--entry-url'],
        ['--bench'],
        ['--bench-name-pattern', 'x'],
        ['--build-sea', 'sea.json'],
      ]) {
        for (const kind of ['process', 'thread'] as const) {
          assert.deepEqual(
            derive(kind, [kept[0]!, ...parentOnly, ...kept.slice(1)]),
            kept,
            parentOnly.join(' '),
          );
        }
      }
    });

    void it('give a child process a port of its own, and no wait for a debugger', () => {
      const cases: [string[], string[]][] = [
        [['--inspect'], ['--inspect', '--inspect-port=0']],
        [['--inspect=0.0.0.0:9229'], ['--inspect=0.0.0.0:9229', '--inspect-port=0']],
        [['--inspect-brk'], ['--inspect', '--inspect-port=0']],
        [['--inspect-brk=9230'], ['--inspect=9230', '--inspect-port=0']],
        [['--inspect-wait=[::1]:9230'], ['--inspect=[::1]:9230', '--inspect-port=0']],
        [['--inspect-brk-node'], ['--inspect', '--inspect-port=0']],
        [
          ['--inspect-port', '9230', '--inspect'],
          ['--inspect-port=9230', '--inspect', '--inspect-port=0'],
        ],
        [['--debug-port=9230'], ['--debug-port=9230', '--inspect-port=0']],
      ];
      for (const [args, expected] of cases) {
        assert.deepEqual(derive('process', args), expected, args.join(' '));
        // A thread is debugged through its process's inspector.
        assert.deepEqual(derive('thread', args), [], args.join(' '));
      }
      assert.deepEqual(derive('process', [], { NODE_OPTIONS: '--inspect=9230' }), [
        '--inspect-port=0',
      ]);
      assert.deepEqual(derive('process', [], { NODE_OPTIONS: '--max-old-space-size=64' }), []);
      const env = (nodeOptions: string): NodeJS.Dict<string> | undefined =>
        workerExecArgv(undefined, { NODE_OPTIONS: nodeOptions, KEPT: '1' }, 'process', []).env;
      assert.deepEqual(env('--inspect-brk=9230 --inspect-wait --max-old-space-size=64'), {
        NODE_OPTIONS: '--inspect=9230 --inspect --max-old-space-size=64',
        KEPT: '1',
      });
      assert.deepEqual(env('--inspect'), { NODE_OPTIONS: '--inspect', KEPT: '1' });
    });

    void it("keep the caller's execArgv as given", () => {
      assert.deepEqual(workerExecArgv(['-e', 'x', '--inspect'], undefined, 'process').execArgv, [
        '-e',
        'x',
        '--inspect',
      ]);
    });
  });
});

/**
 * Attaches to an inspector as a debugger would, to let a process started with
 * --inspect-brk run: a WebSocket handshake, one masked text frame (the
 * protocol's `Runtime.runIfWaitingForDebugger`) and its answer. Resolves with
 * the socket, for the caller to end once the process has done its work.
 */
function runIfWaitingForDebugger(host: string, port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.on('error', reject);
    socket.once('data', () => {
      const payload = Buffer.from('{"id":1,"method":"Runtime.runIfWaitingForDebugger"}');
      const mask = randomBytes(4);
      const frame = Buffer.concat([
        Buffer.from([0x81, 0x80 | payload.length]),
        mask,
        payload.map((byte, i) => byte ^ mask[i % 4]!),
      ]);
      socket.write(frame);
      // Once the inspector has answered, it has let the process run.
      socket.once('data', () => resolve(socket));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
