/**
 * The {@link JobEngine} on BullMQ and Redis. Jobs are added with BullMQ's own
 * `addBulk` (one round trip per batch, the executor's ids making it
 * idempotent); completion is read from BullMQ's events stream with plain
 * XREAD on a dedicated connection, never with a listener per job
 * (`job.waitUntilFinished` hangs when a job is removed: bullmq#2341).
 *
 * Two connections, both ours (a connection the user passes is duplicated,
 * never closed): one for commands and the `Queue`, one for the blocking XREAD.
 * Both have `maxRetriesPerRequest: null`, so a command sent while Redis is
 * away waits for it to come back instead of failing; the executor bounds that wait.
 *
 * @internal
 */

import type { Queue } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { dependencies } from './deps.js';
import type { EventBatch, JobEngine, JobEvent, JobSpec, StoredOutcome } from './engine.js';

/** A `redis://` URL, ioredis options, or an ioredis client (which is duplicated, not used itself). */
export type RedisConnection = string | RedisOptions | Redis;

/** @internal */
export interface BullMQEngineOptions {
  readonly connection: RedisConnection;
  readonly queue: string;
  readonly prefix: string;
  /** Job options every job gets (retention, priority). */
  readonly jobOptions: Record<string, unknown>;
  /** The events stream's approximate length (BullMQ's `streams.events.maxLen`). */
  readonly eventsMaxLen: number;
  /** Told once when Redis's `maxmemory-policy` is not `noeviction`. */
  readonly warn: (message: string) => void;
}

/** Events read per round trip. */
const READ_COUNT = 1000;
/** Reads go on at most this long (ms) without asking Redis whether events were lost. */
const GAP_CHECK_MS = 1000;

/**
 * Removes a job only if it is waiting (in the wait, paused or prioritized
 * structures) and was never taken by a worker (no `processedOn`): atomic, so
 * a job this removes never runs. BullMQ's own `remove` also removes finished
 * jobs, and would report a job that ran as removed.
 */
const REMOVE_IF_WAITING = `
if redis.call('HEXISTS', KEYS[4], 'processedOn') == 1 then return 0 end
local n = redis.call('LREM', KEYS[1], 0, ARGV[1]) + redis.call('LREM', KEYS[2], 0, ARGV[1])
  + redis.call('ZREM', KEYS[3], ARGV[1])
if n == 0 then return 0 end
redis.call('DEL', KEYS[4], KEYS[4] .. ':logs')
redis.call('XADD', KEYS[5], '*', 'event', 'removed', 'jobId', ARGV[1], 'prev', 'waiting')
return 1
`;

/** @internal A client of our own, on what the user gave. */
export function makeClient(connection: RedisConnection, name: string): Redis {
  const { Redis } = dependencies();
  // BullMQ requires this on blocking connections; on both, it makes commands wait for Redis.
  const overrides = { maxRetriesPerRequest: null, lazyConnect: true, connectionName: name };
  if (typeof connection === 'string') return new Redis(connection, overrides);
  if (typeof (connection as Redis).duplicate === 'function') {
    return (connection as Redis).duplicate(overrides);
  }
  return new Redis({ ...(connection as RedisOptions), ...overrides });
}

/**
 * Stream ids (`ms-seq`, as Redis writes them) compared as numbers. Each part
 * is a decimal of up to 20 digits without leading zeros, so the longer one is
 * the larger, and equal lengths compare as text (a BigInt per part cost more
 * than the rest of an events read).
 *
 * @internal
 */
export function compareIds(a: string, b: string): number {
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const ms = compareDecimals(
    aDash === -1 ? a : a.slice(0, aDash),
    bDash === -1 ? b : b.slice(0, bDash),
  );
  if (ms !== 0) return ms;
  return compareDecimals(
    aDash === -1 ? '0' : a.slice(aDash + 1),
    bDash === -1 ? '0' : b.slice(bDash + 1),
  );
}

function compareDecimals(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * From an XINFO STREAM reply (field, value, ...): true if entries after
 * `cursor` may have been removed from the stream.
 *
 * Redis 7 tells deletions and trimming apart: `max-deleted-entry-id` is the
 * largest id XDEL removed (trimming leaves it alone), and a stream that lost
 * entries to trimming has had more entries added than it holds, the first of
 * those left being `recorded-first-entry-id`. If that first one is after the
 * cursor, entries after the cursor may be among the trimmed ones (or the
 * cursor was the last one trimmed and nothing came between: a false alarm
 * only a reader a whole stream's length behind can meet). (A stream
 * made after the cursor, which lost nothing, is no gap: its first read once
 * counted as one, and the needless reconciliation raced the events.) Older
 * Redis reports only the first entry: if it is after the cursor, entries may
 * have been trimmed (or the stream is new: a false alarm, which costs a
 * reconciliation).
 *
 * @internal
 */
export function lostSince(info: unknown[], cursor: string): boolean {
  const field = (name: string): unknown => {
    const at = info.indexOf(name);
    return at === -1 ? undefined : info[at + 1];
  };
  const maxDeleted = field('max-deleted-entry-id');
  const recordedFirst = field('recorded-first-entry-id');
  const added = field('entries-added');
  if (typeof maxDeleted === 'string' && typeof recordedFirst === 'string') {
    if (compareIds(maxDeleted, cursor) > 0) return true;
    const trimmed = typeof added === 'number' && added > Number(field('length'));
    return trimmed && compareIds(recordedFirst, cursor) > 0;
  }
  const first = (field('first-entry') as StreamEntry | null | undefined)?.[0];
  return typeof first === 'string' && compareIds(first, cursor) > 0;
}

function parseEvent(fields: string[]): JobEvent | undefined {
  let event: string | undefined;
  let jobId: string | undefined;
  let returnvalue: string | undefined;
  let reason: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i];
    const value = fields[i + 1]!;
    if (key === 'event') event = value;
    else if (key === 'jobId') jobId = value;
    else if (key === 'returnvalue') returnvalue = value;
    else if (key === 'failedReason') reason = value;
  }
  if (jobId === undefined) return undefined;
  switch (event) {
    case 'active':
      return { kind: 'active', jobId };
    case 'completed':
      return { kind: 'completed', jobId, returnvalue: returnvalue ?? '' };
    case 'failed':
      return { kind: 'failed', jobId, reason: reason ?? '(no reason given)' };
    case 'removed':
      return { kind: 'removed', jobId };
    default:
      return undefined;
  }
}

/** @internal The {@link JobEngine} on BullMQ: see the top of this module. */
export class BullMQEngine implements JobEngine {
  readonly #options: BullMQEngineOptions;
  readonly #client: Redis;
  readonly #reader: Redis;
  #queue: Queue | undefined;
  readonly #keys: {
    events: string;
    wait: string;
    paused: string;
    prioritized: string;
    job: string;
    cancel: string;
  };
  /**
   * Whether events were lost is asked of Redis (XINFO STREAM) only now and
   * then, for everything after `start`: the cursor at the last ask, before
   * which every event was read. Asking on every read cost more than the read.
   */
  readonly #gapWindow = { start: '0-0', cursor: '0-0', read: 0, askedAt: -Infinity, full: false };
  #idle = true;
  #closed = false;
  readonly #reconnectListeners: (() => void)[] = [];
  #policyChecked = false;

  constructor(options: BullMQEngineOptions) {
    this.#options = options;
    const base = `${options.prefix}:${options.queue}`;
    this.#keys = {
      events: `${base}:events`,
      wait: `${base}:wait`,
      paused: `${base}:paused`,
      prioritized: `${base}:prioritized`,
      job: `${base}:`,
      cancel: `${base}:cf:cancel`,
    };
    this.#client = makeClient(options.connection, 'concurrent-futures');
    this.#reader = makeClient(options.connection, 'concurrent-futures:events');
    for (const client of [this.#client, this.#reader]) this.#watch(client);
  }

  /** Keeps a client's socket and reconnect timer from holding the process while idle. */
  #watch(client: Redis): void {
    let ready = false;
    // Errors surface as commands that wait (and the executor's bounded wait); the
    // listener only keeps ioredis from printing each reconnection attempt.
    client.on('error', () => {});
    const apply = (): void => this.#applyRef(client);
    client.on('connecting', apply);
    client.on('connect', apply);
    client.on('reconnecting', apply);
    client.on('ready', () => {
      apply();
      if (ready) for (const listener of this.#reconnectListeners) listener();
      ready = true;
    });
  }

  #applyRef(client: Redis): void {
    const internals = client as unknown as {
      stream?: { ref?(): void; unref?(): void };
      reconnectTimeout?: { ref?(): void; unref?(): void } | null;
    };
    const method = this.#idle ? 'unref' : 'ref';
    internals.stream?.[method]?.();
    internals.reconnectTimeout?.[method]?.();
  }

  setIdle(idle: boolean): void {
    if (this.#idle === idle) return;
    this.#idle = idle;
    this.#applyRef(this.#client);
    this.#applyRef(this.#reader);
  }

  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  #getQueue(): Queue {
    if (this.#queue === undefined) {
      const { bullmq } = dependencies();
      const { queue, prefix, eventsMaxLen } = this.#options;
      this.#queue = new bullmq.Queue(queue, {
        connection: this.#client,
        prefix,
        streams: { events: { maxLen: eventsMaxLen } },
      });
      // The Queue reports connection errors as events; they are retried like any command.
      this.#queue.on('error', () => {});
      this.#checkPolicy();
    }
    return this.#queue;
  }

  /** Warns once if Redis may evict keys: jobs would vanish under memory pressure (bullmq#1046). */
  #checkPolicy(): void {
    if (this.#policyChecked) return;
    this.#policyChecked = true;
    this.#client.config('GET', 'maxmemory-policy').then(
      (reply) => {
        const policy = reply[1];
        if (policy !== undefined && policy !== 'noeviction') {
          this.#options.warn(
            `Redis's maxmemory-policy is '${policy}': under memory pressure Redis may evict jobs ` +
              `and their results; set it to 'noeviction' for BullMQ`,
          );
        }
      },
      // CONFIG is often disabled on managed Redis: nothing to check then.
      () => {},
    );
  }

  async eventsEnd(): Promise<string> {
    const last = (await this.#client.xrevrange(this.#keys.events, '+', '-', 'COUNT', 1)) as
      StreamEntry[] | null;
    return last?.[0]?.[0] ?? '0-0';
  }

  async enqueue(jobs: readonly JobSpec[]): Promise<void> {
    const queue = this.#getQueue();
    await queue.addBulk(
      jobs.map((job) => ({
        name: job.name,
        data: job.data,
        opts: { ...this.#options.jobOptions, jobId: job.id },
      })),
    );
  }

  async tryRemove(jobId: string): Promise<boolean> {
    const k = this.#keys;
    const removed = await this.#client.eval(
      REMOVE_IF_WAITING,
      5,
      k.wait,
      k.paused,
      k.prioritized,
      k.job + jobId,
      k.events,
      jobId,
    );
    return removed === 1;
  }

  async requestCancel(jobId: string): Promise<void> {
    await this.#client.publish(this.#keys.cancel, jobId);
  }

  async readEvents(cursor: string, blockMs: number): Promise<EventBatch> {
    const key = this.#keys.events;
    const window = this.#gapWindow;
    if (cursor !== window.cursor) {
      // A reader started afresh (from the stream's end): nothing before its cursor concerns it.
      window.start = cursor;
      window.read = 0;
    }
    // Redis 7's XINFO STREAM reports the largest id ever trimmed or deleted:
    // if it is after the window's start, events this reader had not read may
    // be gone (a gap). Older Redis reports only the first entry: if it is
    // after the start, entries may have been trimmed (or the stream is new: a
    // false alarm). Either way a gap costs a reconciliation (the stored state
    // is read), never a lost event. It is asked with a read that does not
    // block (so that no wait for events holds up the answer) once a second, after half the stream's length
    // was read (before the trimming of events already read could pass the
    // window's start: a false alarm), and after a full batch (the reader is
    // behind). A deletion is caught by the first ask after it, whenever that
    // comes, since the window starts before every event not yet read.
    const now = performance.now();
    const ask =
      window.full ||
      window.read >= this.#options.eventsMaxLen / 2 ||
      now - window.askedAt >= GAP_CHECK_MS;
    const pipeline = this.#reader.pipeline();
    if (ask) {
      // The answer comes with the read's: a read that asks does not wait for events.
      pipeline.xinfo('STREAM', key).xread('COUNT', READ_COUNT, 'STREAMS', key, cursor);
    } else {
      pipeline.xread('COUNT', READ_COUNT, 'BLOCK', blockMs, 'STREAMS', key, cursor);
    }
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('the events read was aborted');
    const readReply = replies[ask ? 1 : 0]!;
    if (readReply[0] !== null) throw readReply[0];
    const streams = readReply[1] as [string, StreamEntry[]][] | null;
    const entries = streams?.[0]?.[1] ?? [];
    let gap = false;
    if (ask) {
      const [error, info] = replies[0]!;
      // No stream (an error): nothing was ever written, so nothing was trimmed.
      gap = error === null && lostSince(info as unknown[], window.start);
      window.start = cursor;
      window.read = 0;
      window.askedAt = now;
    }
    const events: JobEvent[] = [];
    for (const [, fields] of entries) {
      const event = parseEvent(fields);
      if (event !== undefined) events.push(event);
    }
    const next = entries.at(-1)?.[0] ?? cursor;
    window.cursor = next;
    window.read += entries.length;
    window.full = entries.length >= READ_COUNT;
    return { events, cursor: next, gap };
  }

  async readOutcomes(jobIds: readonly string[]): Promise<StoredOutcome[]> {
    const pipeline = this.#client.pipeline();
    for (const id of jobIds) {
      pipeline.hmget(
        this.#keys.job + id,
        'timestamp',
        'processedOn',
        'finishedOn',
        'returnvalue',
        'failedReason',
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, fields]): StoredOutcome => {
      if (error !== null) throw error;
      const [timestamp, processedOn, finishedOn, returnvalue, failedReason] = fields as [
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
      ];
      if (timestamp === null && finishedOn === null) return { state: 'missing' };
      if (finishedOn !== null && returnvalue !== null) return { state: 'completed', returnvalue };
      if (finishedOn !== null) return { state: 'failed', reason: failedReason ?? '(no reason)' };
      return processedOn !== null ? { state: 'active' } : { state: 'waiting' };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The reader may be blocked in XREAD: cut it off rather than wait for the block to end.
    this.#reader.disconnect();
    try {
      await this.#queue?.close();
    } finally {
      if (this.#client.status === 'ready') {
        await this.#client.quit().catch(() => this.#client.disconnect());
      } else {
        this.#client.disconnect();
      }
    }
  }
}
