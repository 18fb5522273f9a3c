/**
 * The child-process transport: one `fork`ed Node process per pool worker, a
 * direct child of this process, over IPC with structured-clone ("advanced")
 * serialization so that Map, Set, Date, BigInt and typed arrays survive.
 */

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import { WORKER_ENTRY, workerExecArgv, type Transport } from './transport.js';

export interface ProcessTransportOptions {
  readonly execArgv: string[] | undefined;
  readonly env: NodeJS.Dict<string> | undefined;
}

const ENTRY_PATH = fileURLToPath(WORKER_ENTRY);

export function processTransport(options: ProcessTransportOptions): Transport {
  const { execArgv, env } = workerExecArgv(options.execArgv, options.env);
  return (events) => {
    const child = fork(ENTRY_PATH, [], {
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
    return {
      label: `child process ${child.pid ?? '(not started)'}`,
      send: (message) => void child.send(message),
      checkCloneable: (value) => void serialize(value),
      ref: () => {
        child.ref();
        child.channel?.ref();
      },
      unref: () => {
        child.unref();
        child.channel?.unref();
      },
      terminate: () => void child.kill('SIGTERM'),
      kill: () => void child.kill('SIGKILL'),
    };
  };
}
