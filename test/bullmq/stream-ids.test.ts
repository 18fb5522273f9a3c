/**
 * Stream ids compared as the numbers they are: the events reader judges a gap
 * (events trimmed before it read them) by comparing the largest deleted id
 * with its cursor, so a wrong order would either miss lost events or
 * reconcile after every read.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareIds } from '../../src/bullmq/bullmq-engine.js';

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
