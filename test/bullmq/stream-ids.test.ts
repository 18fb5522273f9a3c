/**
 * How the events reader judges a gap (events removed before it read them),
 * against a real redis-server: from XINFO STREAM, with stream ids compared as
 * the numbers they are. A wrong judgement either misses lost events (futures
 * wait for a silence) or reconciles after reads that lost nothing.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { compareIds, lostSince } from '../../src/bullmq/bullmq-engine.js';
import { startRedis, type RedisServer } from './redis.js';

void describe('compareIds', () => {
  void it('orders by milliseconds, then by sequence, as numbers (not as text)', () => {
    const ascending = [
      '0-0',
      '0-1',
      '9-0',
      '10-0',
      '1733151234567-0',
      '1733151234567-9',
      '1733151234567-10',
      '1733151234567-18446744073709551615',
      '1733151234568-0',
      '18446744073709551615-18446744073709551615',
    ];
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const expected = Math.sign(i - j);
        assert.equal(
          compareIds(ascending[i]!, ascending[j]!),
          expected,
          `${ascending[i]} vs ${ascending[j]}`,
        );
      }
    }
  });

  void it('reads an id without a sequence as sequence 0', () => {
    assert.equal(compareIds('5', '5-0'), 0);
    assert.equal(compareIds('5', '5-1'), -1);
    assert.equal(compareIds('6', '5-99'), 1);
  });
});

void describe('lostSince, on the XINFO STREAM of a real redis-server', () => {
  let redis: RedisServer;
  let client: Redis;
  let n = 0;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    // Exact trimming (one entry per node), so that MAXLEN trims to the entry.
    await client.config('SET', 'stream-node-max-entries', '1');
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  /** A new stream with `count` entries; their ids. */
  async function stream(count: number): Promise<{ key: string; ids: string[] }> {
    const key = `events-${n++}`;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await client.xadd(key, '*', 'i', String(i)))!);
    return { key, ids };
  }

  const info = async (key: string): Promise<unknown[]> =>
    (await client.xinfo('STREAM', key)) as unknown[];

  void it('a stream made after the cursor, which lost nothing, is no gap', async () => {
    const { key } = await stream(3);
    assert.equal(lostSince(await info(key), '0-0'), false);
  });

  void it('trimming past the cursor is a gap; trimming only entries before it is not', async () => {
    const { key, ids } = await stream(10);
    await client.xtrim(key, 'MAXLEN', 4); // ids[0..5] are gone
    assert.equal(lostSince(await info(key), ids[3]!), true, 'ids 4 and 5 were not read');
    assert.equal(lostSince(await info(key), ids[6]!), false, 'everything trimmed was read');
    assert.equal(lostSince(await info(key), ids[9]!), false);
    // At ids[5] itself (the last one trimmed) Redis cannot tell whether entries came between it
    // and ids[6]: a false alarm is allowed there, and costs a reconciliation.
  });

  void it('a deletion after the cursor is a gap; one before it is not', async () => {
    const { key, ids } = await stream(10);
    await client.xdel(key, ids[2]!);
    assert.equal(lostSince(await info(key), ids[1]!), true);
    assert.equal(lostSince(await info(key), ids[2]!), false);
    assert.equal(lostSince(await info(key), ids[8]!), false);
  });
});
