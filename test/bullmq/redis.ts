/**
 * A real redis-server for the BullMQ tests: on a free port, in a temporary
 * folder, with an append-only file synced on every write (so that a `kill -9`
 * and a restart on the same folder loses nothing acknowledged), stopped by its
 * pid. No mock: when redis-server is missing the tests fail and say how to
 * install it.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export const INSTALL_HINT =
  'redis-server is needed by the BullMQ tests and was not found: install it with ' +
  '`apt-get update && apt-get install -y redis-server` (or set REDIS_SERVER to its path)';

function findBinary(): string {
  for (const candidate of [BINARY, 'redis-server']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  throw new Error(INSTALL_HINT);
}

/** A port nobody listens on right now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** The running server's pid. */
  readonly pid: number;
  /** `kill -9` of the server (nothing is flushed beyond what the AOF already holds). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder (after {@link kill}). */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Starts a redis-server; resolves once it accepts connections. */
export async function startRedis(): Promise<RedisServer> {
  const binary = findBinary();
  const dir = mkdtempSync(join(tmpdir(), 'cf-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          proc.stdout.off('data', onData);
          proc.stdout.resume();
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.resume();
      proc.once('error', reject);
      proc.once('exit', (code, signal) =>
        reject(
          new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`),
        ),
      );
    });
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child!.pid!;
    },
    kill,
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
