/**
 * `npm run demo:distributed` end to end: the demo starts its own
 * redis-server and two worker processes, prints exactly what the local
 * factorial example prints, and leaves no process behind, also when it is
 * interrupted with Ctrl-C.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers.js';
import { freePort } from './redis.js';
import { TIMEOUT } from './helpers.js';
import { processExists } from '../pool/helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = fileURLToPath(new URL('../../examples/distributed.ts', import.meta.url));
const LOCAL = fileURLToPath(new URL('../../examples/factorial.ts', import.meta.url));

/** The pids the demo says it started: redis-server's and the workers'. */
function startedPids(stderr: string): { redis: number[]; workers: number[] } {
  const pids = (re: RegExp) => [...stderr.matchAll(re)].map((m) => Number(m[1]));
  return {
    redis: pids(/^\[demo\] redis-server: pid (\d+)/gm),
    workers: pids(/^\[demo\] worker \d: pid (\d+)/gm),
  };
}

/** The environment without REDIS_URL, so that the demo starts a redis-server of its own. */
function envWithoutRedisUrl(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.REDIS_URL;
  return env;
}

void describe('npm run demo:distributed', () => {
  void it(
    'prints what the local example prints, then stops its redis-server and both workers',
    { timeout: TIMEOUT * 2 },
    async () => {
      const local = await runNode(['--import', 'tsx', LOCAL], TIMEOUT);
      assert.equal(local.code, 0, local.stderr);
      const demo = await runNode(['--import', 'tsx', DEMO], TIMEOUT, envWithoutRedisUrl());
      assert.equal(demo.code, 0, demo.stderr);

      assert.equal(demo.stdout, local.stdout);
      assert.equal(
        demo.stdout,
        [16326, 20066, 23878, 27753]
          .map((digits, i) => `Factorial of ${5000 + 1000 * i} = ${digits} digits\n`)
          .join(''),
      );
      const started = demo.stderr.match(/^\[worker \d\] concurrent-futures worker: started/gm);
      assert.equal(started?.length, 2, demo.stderr);
      const { redis, workers } = startedPids(demo.stderr);
      assert.equal(redis.length, 1, demo.stderr);
      assert.equal(workers.length, 2, demo.stderr);
      for (const pid of workers)
        assert.match(demo.stderr, new RegExp(`stopped worker \\d \\(pid ${pid}\\)`));
      assert.match(demo.stderr, new RegExp(`stopped redis-server \\(pid ${redis[0]}\\)`));
      for (const pid of [...redis, ...workers])
        assert.equal(processExists(pid), false, `pid ${pid}`);
    },
  );

  void it(
    'on Ctrl-C stops the workers it started and exits with 130',
    { timeout: TIMEOUT },
    async () => {
      // A Redis nobody runs: the workers wait to connect, so the demo is certainly
      // still starting them when the signal comes.
      const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
      const child = spawn(process.execPath, ['--import', 'tsx', DEMO], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
      const exited = new Promise<number | string>((resolve) =>
        child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
      );
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      await new Promise<void>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          stderr += s;
          if (startedPids(stderr).workers.length === 2) resolve();
        });
        void exited.then(() => resolve());
      });
      child.kill('SIGINT');
      const code = await exited;
      clearTimeout(killer);

      assert.equal(code, 130, stderr);
      assert.equal(stdout, '');
      assert.match(stderr, /\[demo\] SIGINT: stopping everything this demo started/);
      const { redis, workers } = startedPids(stderr);
      assert.deepEqual(redis, []);
      assert.equal(workers.length, 2, stderr);
      for (const pid of workers) {
        assert.match(stderr, new RegExp(`stopped worker \\d \\(pid ${pid}\\)`));
        assert.equal(processExists(pid), false, `pid ${pid}`);
      }
    },
  );
});
