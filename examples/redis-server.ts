/**
 * A throwaway redis-server for the distributed demo and the BullMQ benchmark:
 * on a free port, in a temporary folder, with no persistence (nothing here
 * needs to survive), stopped by its pid and its folder removed.
 *
 * Production Redis for BullMQ needs `maxmemory-policy noeviction`; it is set
 * here too, so the executor's start-up check stays quiet.
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server this process started. */
export interface LocalRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL if it lingers) and removes its folder. */
  stop(): Promise<void>;
}

const INSTALL =
  'redis-server was not found: install it (Debian/Ubuntu: `apt-get install -y redis-server`, ' +
  'macOS: `brew install redis`), set REDIS_SERVER to its path, or point REDIS_URL at a running Redis';

function findBinary(): string {
  const candidates = [process.env.REDIS_SERVER, 'redis-server', '/usr/bin/redis-server'];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  throw new Error(INSTALL);
}

/** A port nobody listens on right now (the kernel's choice). */
function freePort(): Promise<number> {
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

/** Starts one server; rejects with its output if it exits before it is ready. */
async function launch(binary: string, dir: string, port: number): Promise<LocalRedis> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  args.push('--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining, or a full pipe would block the server
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`)),
    );
  });
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * Starts a redis-server on a free port in a new temporary folder; resolves
 * once it accepts connections. Another process may take the port between the
 * check and the start: then it tries again on another port.
 */
export async function startRedisServer(): Promise<LocalRedis> {
  const binary = findBinary();
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'cf-redis-'));
    try {
      return await launch(binary, dir, await freePort());
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt === 3) throw error;
    }
  }
}
