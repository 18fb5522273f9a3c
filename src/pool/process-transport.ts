/**
 * The child-process transport: one `fork`ed Node process per pool worker, a
 * direct child of this process, over IPC with structured-clone ("advanced")
 * serialization so that Map, Set, Date, BigInt and typed arrays survive.
 */

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { workerExecArgv } from './exec-argv.js';
import { WORKER_ENTRY, type Transport } from './transport.js';

/**
 * `node:child_process` and `node:v8`, loaded when the first process pool is
 * made rather than when the package is imported: `child_process` brings in
 * `net`, streams and `dgram`, several milliseconds of every program's start-up,
 * most of which never start a child process.
 */
let builtins:
  | {
      fork: typeof import('node:child_process').fork;
      serialize: typeof import('node:v8').serialize;
    }
  | undefined;

function loadBuiltins(): NonNullable<typeof builtins> {
  if (builtins === undefined) {
    const require = createRequire(import.meta.url);
    const { fork } = require('node:child_process') as typeof import('node:child_process');
    const { serialize } = require('node:v8') as typeof import('node:v8');
    builtins = { fork, serialize };
  }
  return builtins;
}

export interface ProcessTransportOptions {
  readonly execArgv: string[] | undefined;
  readonly env: NodeJS.Dict<string> | undefined;
}

const ENTRY_PATH = fileURLToPath(WORKER_ENTRY);

/**
 * Node's and Bun's `send()` throw synchronously when a message cannot be
 * cloned, as the pool expects; Deno's reports it later, to the callback, and
 * its channel does not survive that: there a message is checked before it is sent.
 */
const CHECK_BEFORE_SEND = 'Deno' in globalThis;

export function processTransport(options: ProcessTransportOptions): Transport {
  const { execArgv, env } = workerExecArgv(options.execArgv, options.env, 'process');
  const { fork, serialize } = loadBuiltins();
  return (events) => {
    // The child's watchdog compares its parent pid with this one (see child-guard.ts).
    const child = fork(ENTRY_PATH, [String(process.pid)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv,
      ...(env !== undefined && { env }),
    });
    let error: unknown;
    child.on('message', (message: unknown) => events.onMessage(message));
    // 'error' means the process could not be spawned, signalled or written to.
    child.on('error', (e) => (error ??= e));
    // 'exit' can come before the last messages have been read from the IPC pipe:
    // report the exit only once the channel is closed too, so that no result is lost.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let channelOpen = child.connected;
    const report = (): void => {
      if (exit !== undefined && !channelOpen) events.onExit({ ...exit, error });
    };
    child.on('disconnect', () => {
      channelOpen = false;
      report();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      report();
    });
    // A send that fails after it returned has lost its message: end the child,
    // so that the pool sees it exit and fails what it held instead of waiting forever.
    const onSent = (e: Error | null): void => {
      if (!e) return;
      error ??= e;
      child.kill('SIGKILL');
    };
    return {
      label: `child process ${child.pid ?? '(not started)'}`,
      send: (message) => {
        if (CHECK_BEFORE_SEND) serialize(message);
        child.send(message, onSent);
      },
      checkCloneable: (value) => void serialize(value),
      // Bun's channel has neither ref() nor unref(): there the child's own ref() covers it.
      ref: () => {
        child.ref();
        if (typeof child.channel?.ref === 'function') child.channel.ref();
      },
      unref: () => {
        child.unref();
        if (typeof child.channel?.unref === 'function') child.channel.unref();
      },
      terminate: () => void child.kill('SIGTERM'),
      kill: () => void child.kill('SIGKILL'),
    };
  };
}
