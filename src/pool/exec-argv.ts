/**
 * The Node options a worker starts with when the caller gives none: this
 * process's own (`process.execArgv`), minus what only makes sense for the
 * program as a whole.
 *
 * A deny-list, not an allow-list. Node's options are open-ended (V8 flags,
 * `--experimental-*`, new ones in every release) and most of them are exactly
 * what a worker should share with its parent: memory limits, `--conditions`,
 * `--import` of a user's preload, `--enable-source-maps`, `--permission` and
 * its `--allow-*` grants (dropping those would quietly lift a sandbox). An
 * allow-list would drop the ones it does not know. What must not reach a
 * worker is one small, stable kind: the options that say what program to run
 * or how to run it as a whole: eval and print code, the REPL, syntax checking,
 * the test runner, watch mode, `--run`, snapshots. A worker given one of these
 * re-runs the parent's `-e` code (a fork bomb), or dies (`--input-type` with a
 * file entry point is ERR_INPUT_TYPE_NOT_ALLOWED), or never runs its entry.
 * And the inspector: every child process asks for its own port (port 0: the
 * system picks a free one, printed on stderr as "Debugger listening on ...")
 * instead of failing on the parent's with "address already in use"; a worker
 * thread is debugged through its process's inspector and gets none.
 */

import { TSX_ENV } from './transport.js';

/** Options that say what to run or how to run the whole program. */
const PARENT_ONLY = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '-i',
  '--interactive',
  '-c',
  '--check',
  '--input-type',
  '--run',
  '--entry-url',
  '--build-snapshot',
  '--build-snapshot-config',
  '--snapshot-blob',
  '--experimental-sea-config',
  '--build-sea',
  '--completion-bash',
  '-h',
  '--help',
  '-v',
  '--version',
  '--v8-options',
  '--prof-process',
]);
/** Families of parent-only options: the test and benchmark runners and watch mode. */
const PARENT_ONLY_PREFIXES = ['--test', '--experimental-test-', '--watch', '--bench'];
/** Parent-only options whose value may come as the next argument (`-e code`). */
const TAKES_VALUE = new Set([
  '-e',
  '--eval',
  '-pe',
  '--input-type',
  '--run',
  '--build-snapshot-config',
  '--snapshot-blob',
  '--experimental-sea-config',
  '--build-sea',
  '--inspect-port',
  '--debug-port',
]);

/** Inspector options: `--inspect[=[host:]port]` and kin; the port ones take a value. */
const INSPECT = /^--(inspect(-brk|-brk-node|-wait|-port)?|debug-port)$/;
/** The inspector options that wait for a debugger, in NODE_OPTIONS. */
const WAITS = /--inspect-(brk|brk-node|wait)(?=[=\s]|$)/g;
const INSPECT_ANYWHERE = /(^|\s)--(inspect(-brk|-brk-node|-wait|-port)?|debug-port)(=|\s|$)/;

const TSX_ARG = /(^|[/\\])tsx([/\\]|$)/;
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

export type WorkerKind = 'process' | 'thread';

/**
 * The Node options for a new worker: the caller's `execArgv` as given, or
 * this process's filtered as described above, and without tsx's flags.
 * Loading tsx eagerly costs every worker tens of milliseconds and megabytes
 * (and on Node 20 its hooks do not even reach worker threads), so a worker
 * registers tsx itself, only when it first imports a task module, if `env`
 * carries {@link TSX_ENV}.
 */
export function workerExecArgv(
  execArgv: string[] | undefined,
  env: NodeJS.Dict<string> | undefined,
  kind: WorkerKind,
  args: readonly string[] = process.execArgv,
): { execArgv: string[]; env: NodeJS.Dict<string> | undefined } {
  if (execArgv !== undefined) return { execArgv, env };
  const kept: string[] = [];
  let tsx = false;
  let inspector = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const next = args[i + 1];
    // The value of an option given as `--flag value`, to drop along with it.
    const valueFollows =
      eq === -1 && next !== undefined && (TAKES_VALUE.has(flag) || !next.startsWith('-'));
    if (LOADER_FLAGS.has(flag)) {
      const value = eq === -1 ? next : arg.slice(eq + 1);
      if (value !== undefined && TSX_ARG.test(value)) {
        tsx = true;
        if (eq === -1) i++;
        continue;
      }
    } else if (PARENT_ONLY.has(flag) || PARENT_ONLY_PREFIXES.some((p) => flag.startsWith(p))) {
      if (valueFollows) i++;
      continue;
    } else if (INSPECT.test(flag)) {
      const isPort = flag === '--inspect-port' || flag === '--debug-port';
      if (isPort && valueFollows) i++;
      if (kind === 'thread') continue;
      inspector = true;
      // A child does not wait for a debugger (-brk, -wait): on a port of its own that
      // nobody knows in advance, it would only stall the pool.
      if (!isPort) kept.push(eq === -1 ? '--inspect' : `--inspect${arg.slice(eq)}`);
      else kept.push(valueFollows ? `${arg}=${next}` : arg);
      continue;
    }
    kept.push(arg);
  }
  let childEnv = tsx ? { ...(env ?? process.env), [TSX_ENV]: '1' } : env;
  if (kind === 'process') {
    // NODE_OPTIONS reaches a child as it is: the inspector options in it too.
    const nodeOptions = (childEnv ?? process.env)['NODE_OPTIONS'];
    const inherited = nodeOptions !== undefined && INSPECT_ANYWHERE.test(nodeOptions);
    const noWait = inherited ? nodeOptions.replace(WAITS, '--inspect') : nodeOptions;
    if (noWait !== nodeOptions) childEnv = { ...(childEnv ?? process.env), NODE_OPTIONS: noWait };
    if (inspector || inherited)
      // Last one wins, and keeps the host given before it: a port of the child's own.
      kept.push('--inspect-port=0');
  }
  return { execArgv: kept, env: childEnv };
}
