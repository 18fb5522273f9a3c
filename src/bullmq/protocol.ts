/**
 * The wire format between a `BullMQExecutor` and its workers, in one place:
 * what a job's `data` holds, what its `returnvalue` holds, and the codec that
 * carries values through BullMQ's JSON.
 *
 * BullMQ stores JSON, which would turn a `Map` into `{}` and a `BigInt` into a
 * throw; values travel as V8 serialization (what `structuredClone` keeps, so
 * the same types as in the local pools) in base64, tagged with the codec and
 * its version so that a mismatch fails loudly instead of decoding garbage.
 * Errors a task throws travel as wire-error records (name, message, stack,
 * `cause` chain, own properties such as `code`), inside the same codec.
 *
 * Everything read from Redis is untrusted: any process that can write to the
 * queue can write anything, so every reader here checks shapes and sizes and
 * throws a {@link ProtocolError} that says what was wrong.
 *
 * @internal
 */

import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { argTypeError, codes, withCode } from '../errors.js';
import { isChunk, type TaskArgs } from '../pool/protocol.js';
import { MODULE_ID } from '../task-module.js';

/** The codec's name and version, in every encoded value. */
export const CODEC = 'v8';
export const CODEC_VERSION = 1;
/** The codec of values that JSON carries exactly (see {@link encode}), and its version. */
export const JSON_CODEC = 'json';
export const JSON_CODEC_VERSION = 1;
/** The version of the job layout, in every job's data. */
export const JOB_VERSION = 1;

/** Arguments or a result above this many bytes (before base64) are refused: 8 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

/** A value as it travels in JSON. */
export type Encoded =
  | {
      readonly codec: typeof CODEC;
      readonly v: typeof CODEC_VERSION;
      /** V8 serialization, base64. */
      readonly data: string;
    }
  | {
      readonly codec: typeof JSON_CODEC;
      readonly v: typeof JSON_CODEC_VERSION;
      /** The value as JSON text: plain data that JSON gives back exactly. */
      readonly data: string;
    };

/** A job's `data`: which task to run and its arguments. No code, only names. */
export interface JobData {
  /** The layout's version. */
  readonly cf: typeof JOB_VERSION;
  /** The task module's portable id (`taskModule(url, { id })`, `--tasks file=id`). */
  readonly module: string;
  /** The exported function's name. */
  readonly fn: string;
  /** True when `args` is a `map` chunk whose result is the list of results. */
  readonly chunk: boolean;
  /** The call's arguments, or the chunk ({@link TaskArgs}), encoded. */
  readonly args: Encoded;
  /** Milliseconds the call may run once started (a per-call `timeout`), if any. */
  readonly timeout?: number | undefined;
}

/** A job's `returnvalue`: the task's result, or what it threw (a task's exception is a result). */
export type JobOutcome =
  { readonly ok: true; readonly value: Encoded } | { readonly ok: false; readonly error: Encoded };

/** Something read from Redis is not what this protocol writes. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** A size error that says which side refused what, coded `ERR_PAYLOAD_TOO_LARGE`. */
export function payloadTooLarge(what: string, bytes: number, limit: number): RangeError {
  return withCode(
    new RangeError(
      `${what} encode to ${bytes} bytes, more than maxPayloadBytes (${limit}); ` +
        'pass a reference (a file path, a key) instead of the data, or raise maxPayloadBytes on both sides',
    ),
    codes.ERR_PAYLOAD_TOO_LARGE,
  );
}

/**
 * Encodes `value`; throws `TypeError` (`ERR_TASK_NOT_CLONEABLE`) for what V8
 * cannot serialize (functions, symbols) and `RangeError`
 * (`ERR_PAYLOAD_TOO_LARGE`) above `limit` bytes.
 *
 * Plain data that JSON gives back exactly (finite numbers but -0, strings,
 * booleans, null, dense arrays and plain objects of them, no object twice)
 * travels as JSON text: V8 serialization and base64 on both sides cost more
 * than the whole of a small job's own work. Anything else goes through V8.
 * Either way the value is copied now, as it is at the call.
 */
export function encode(value: unknown, limit: number, what: string): Encoded {
  if (isExactJson(value)) {
    const text = JSON.stringify(value);
    // UTF-8 takes 1 to 3 bytes per UTF-16 unit: count them only when it may matter.
    const bytes = text.length * 3 <= limit ? text.length : Buffer.byteLength(text);
    if (bytes > limit) throw payloadTooLarge(what, bytes, limit);
    return { codec: JSON_CODEC, v: JSON_CODEC_VERSION, data: text };
  }
  let bytes: Buffer;
  try {
    bytes = serialize(value);
  } catch (error) {
    throw argTypeError(
      `${what} cannot be sent through Redis: ${(error as Error).message}`,
      codes.ERR_TASK_NOT_CLONEABLE,
      { cause: error },
    );
  }
  if (bytes.length > limit) throw payloadTooLarge(what, bytes.length, limit);
  return { codec: CODEC, v: CODEC_VERSION, data: bytes.toString('base64') };
}

/** Decodes what {@link encode} made; throws {@link ProtocolError} for anything else. */
export function decode(encoded: unknown, limit: number, what: string): unknown {
  if (encoded === null || typeof encoded !== 'object') {
    throw new ProtocolError(`${what} is not an encoded value`);
  }
  const { codec, v, data } = encoded as Record<string, unknown>;
  if (codec === JSON_CODEC && v === JSON_CODEC_VERSION) {
    if (typeof data !== 'string') throw new ProtocolError(`${what} has no data`);
    // At least one byte per UTF-16 unit.
    if (data.length > limit) throw payloadTooLarge(what, data.length, limit);
    try {
      return JSON.parse(data) as unknown;
    } catch (error) {
      throw new ProtocolError(`${what} is not JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  if (codec !== CODEC || v !== CODEC_VERSION) {
    throw new ProtocolError(
      `${what} uses codec ${JSON.stringify(codec)} version ${JSON.stringify(v)}; this side reads ` +
        `${CODEC} version ${CODEC_VERSION} and ${JSON_CODEC} version ${JSON_CODEC_VERSION}: ` +
        'run the same version of concurrent-futures on both sides',
    );
  }
  if (typeof data !== 'string') throw new ProtocolError(`${what} has no data`);
  // base64 is 4 characters per 3 bytes: refuse before decoding anything big.
  if (data.length > Math.ceil(limit / 3) * 4) {
    throw payloadTooLarge(what, Math.floor((data.length * 3) / 4), limit);
  }
  try {
    return deserialize(Buffer.from(data, 'base64'));
  } catch (error) {
    throw new ProtocolError(`${what} cannot be decoded: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Values nested deeper than this go through V8. */
const JSON_DEPTH = 200;

/** True if `JSON.parse(JSON.stringify(value))` gives back what V8 serialization would. */
function isExactJson(value: unknown): boolean {
  let first: object | undefined;
  let seen: Set<object> | undefined;
  const exact = (v: unknown, depth: number): boolean => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        return Number.isFinite(v) && !Object.is(v, -0);
      case 'object':
        break;
      default:
        return false; // undefined, bigint, symbol, function
    }
    if (v === null) return true;
    if (depth > JSON_DEPTH) return false;
    // An object met twice is one object to V8 and two copies to JSON.
    if (first === undefined) first = v;
    else if (v === first || seen?.has(v) === true) return false;
    else (seen ??= new Set()).add(v);
    const proto: unknown = Object.getPrototypeOf(v);
    if (Array.isArray(v)) {
      if (proto !== Array.prototype) return false;
      for (let i = 0; i < v.length; i++) if (!(i in v) || !exact(v[i], depth + 1)) return false;
      // Named properties on an array: V8 keeps them, JSON does not.
      return Object.keys(v).length === v.length;
    }
    // A toJSON method is a function: refused below.
    if (proto !== Object.prototype && proto !== null) return false;
    for (const key of Object.keys(v)) {
      if (key === '__proto__' || !exact((v as Record<string, unknown>)[key], depth + 1)) {
        return false;
      }
    }
    return true;
  };
  return exact(value, 0);
}

/** Reads a job's data (worker side); throws {@link ProtocolError} when it is not ours. */
export function readJobData(data: unknown): JobData {
  if (data === null || typeof data !== 'object') {
    throw new ProtocolError('the job data is not an object: not a concurrent-futures job');
  }
  const d = data as Record<string, unknown>;
  if (d.cf !== JOB_VERSION) {
    throw new ProtocolError(
      `the job data has layout version ${JSON.stringify(d.cf)}; this worker reads version ${JOB_VERSION}`,
    );
  }
  if (typeof d.module !== 'string' || !MODULE_ID.test(d.module)) {
    throw new ProtocolError('the job data names no valid module id');
  }
  if (typeof d.fn !== 'string' || d.fn.length === 0 || d.fn.length > 200) {
    throw new ProtocolError('the job data names no function');
  }
  if (typeof d.chunk !== 'boolean') throw new ProtocolError('the job data has no chunk flag');
  if (d.timeout !== undefined && !(typeof d.timeout === 'number' && d.timeout > 0)) {
    throw new ProtocolError('the job data has an invalid timeout');
  }
  return d as unknown as JobData;
}

/** Checks decoded arguments: an argument list, or a chunk when `chunk` is set. */
export function checkTaskArgs(args: unknown, chunk: boolean): TaskArgs {
  if (chunk) {
    if (args === null || typeof args !== 'object' || !isChunk(args as TaskArgs)) {
      throw new ProtocolError('the job is a chunk without items');
    }
    const c = args as Record<string, unknown>;
    const ok = Array.isArray(c.flat) || (Array.isArray(c.lists) && c.lists.every(Array.isArray));
    if (!ok) throw new ProtocolError('the job is a chunk without items');
  } else if (!Array.isArray(args)) {
    throw new ProtocolError('the job has no argument list');
  }
  return args as TaskArgs;
}

/** Reads a job's `returnvalue` (executor side), as BullMQ stored it: JSON text or parsed. */
export function readOutcome(raw: unknown): JobOutcome {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ProtocolError('the job returned something that is not JSON');
    }
  }
  if (value === null || typeof value !== 'object') {
    throw new ProtocolError(
      'the job returned no outcome: was it run by a concurrent-futures worker?',
    );
  }
  const o = value as Record<string, unknown>;
  if (o.ok === true && 'value' in o) return o as unknown as JobOutcome;
  if (o.ok === false && 'error' in o) return o as unknown as JobOutcome;
  throw new ProtocolError(
    'the job returned no outcome: was it run by a concurrent-futures worker?',
  );
}

/**
 * The id of a task module given none: its file's name without extension
 * (`./dist/tasks.js` and `./src/tasks.ts` are both `tasks`); undefined for a
 * module that is not a file, or whose name is not a valid id.
 */
export function defaultModuleId(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const name = basename(fileURLToPath(url)).replace(/\.[^.]*$/, '');
  return MODULE_ID.test(name) ? name : undefined;
}
