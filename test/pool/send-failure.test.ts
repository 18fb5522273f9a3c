/**
 * A message to a child process that fails after `send()` returned (how Deno
 * reports every send error, and how Node reports one on a closed channel) is
 * lost: the pool must not wait for an answer that cannot come.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenProcessPool, ProcessPoolExecutor } from 'concurrent-futures';
import { makeLatch, rejection, TIMEOUT } from './helpers.js';

void test(
  'a child process that closed its channel but lives on is ended when a send to it fails, and its futures fail',
  { timeout: TIMEOUT },
  async () => {
    const latch = makeLatch('file');
    const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      // Cuts its IPC channel, keeps its process alive, and never answers.
      const cut = executor.submit(
        async (dir: string) => {
          const { appendFileSync } = await import('node:fs');
          process.removeAllListeners('disconnect');
          process.disconnect();
          setInterval(() => {}, 2 ** 30);
          appendFileSync(`${dir}/started`, `${process.pid} 0\n`);
          return new Promise<never>(() => {});
        },
        latch.latch.kind === 'file' ? latch.latch.dir : '',
      );
      await latch.started();
      // Handed to the same worker (the only one): its send fails after returning.
      const next = executor.submit((x: number) => x, 1);
      for (const future of [cut, next]) {
        const error = await rejection(future);
        assert.ok(
          error instanceof BrokenProcessPool,
          `expected BrokenProcessPool, got ${String(error)}`,
        );
      }
      assert.equal(await executor.submit((x: number) => x + 1, 1), 2, 'a new worker took over');
    } finally {
      latch.dispose();
      await executor.shutdown({ cancelFutures: true });
    }
  },
);
