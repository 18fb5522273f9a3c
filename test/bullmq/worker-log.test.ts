/**
 * The worker command's failure log, on its own: each kind of failure once,
 * repeats counted, one line when the connection is back, and a bounded memory
 * of kinds (messages may name jobs, and a worker runs for months).
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RepeatedFailures } from '../../src/bullmq/worker.js';

void describe('the worker command: its failure log', () => {
  void it('logs each kind once, counts repeats, and says when the connection is back', () => {
    const lines: string[] = [];
    const log = new RepeatedFailures((line) => lines.push(line));
    log.over();
    assert.deepEqual(lines, [], 'nothing to say when nothing failed');
    for (let i = 0; i < 5; i++) log.failed('connect ECONNREFUSED');
    log.failed('read ECONNRESET');
    log.failed('read ECONNRESET');
    assert.deepEqual(lines, [
      'concurrent-futures worker: connect ECONNREFUSED',
      'concurrent-futures worker: read ECONNRESET',
    ]);
    log.over();
    assert.equal(
      lines[2],
      'concurrent-futures worker: connected to Redis again (5 more failures were not logged)',
    );
    log.failed('connect ECONNREFUSED');
    assert.equal(
      lines[3],
      'concurrent-futures worker: connect ECONNREFUSED',
      'a new outage is logged',
    );
  });

  void it('remembers at most 100 kinds: the oldest is forgotten (and logged again), the newest still counted', () => {
    const lines: string[] = [];
    const log = new RepeatedFailures((line) => lines.push(line));
    for (let i = 0; i < 150; i++) log.failed(`job ${i} failed`);
    assert.equal(lines.length, 150);
    log.failed('job 149 failed');
    assert.equal(lines.length, 150, 'a kind it remembers is counted, not logged');
    log.failed('job 0 failed');
    assert.equal(lines.length, 151, 'a kind it forgot is logged again');
    assert.equal(lines[150], 'concurrent-futures worker: job 0 failed');
  });
});
