import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEDGER_ENTRY_TYPES } from '@saldo/events';
import { LedgerEntryType } from '../ledger/index.js';
import { MAX_UNIT_PRICE_MICROS, formatUnitPrice, parseUnitPrice } from '../shared/unit-price.js';
import { MAX_QUANTITY, usageCost } from './pricing.js';

describe('usage pricing', () => {
  it('parses and prints unit prices as exact decimals of minor units', () => {
    assert.equal(parseUnitPrice('1.25'), 1_250_000n);
    assert.equal(parseUnitPrice('0.000001'), 1n);
    assert.equal(parseUnitPrice('0'), 0n);
    assert.equal(formatUnitPrice(1_250_000n), '1.25');
    assert.equal(formatUnitPrice(parseUnitPrice('12.340000')), '12.34');
    for (const bad of ['-1', '0.0000001', '1e2', '', 'abc', '1000000.000001']) assert.throws(() => parseUnitPrice(bad), RangeError, bad);
    assert.equal(parseUnitPrice('1000000'), MAX_UNIT_PRICE_MICROS);
  });

  it('charges quantity x price rounded half up to the minor unit, per event', () => {
    const cases: Array<[bigint, string, bigint]> = [
      [1n, '1.25', 1n], // 1.25 -> 1
      [2n, '1.25', 3n], // 2.5 -> 3 (half up, not to even)
      [3n, '1.25', 4n], // 3.75 -> 4
      [1n, '0.5', 1n], // exactly half -> up
      [1n, '0.499999', 0n], // just below half -> down
      [1n, '0.4', 0n], // a sub-half price on one unit costs nothing
      [10n, '0.4', 4n],
      [1n, '2.5', 3n],
      [1n, '3.5', 4n],
      [7n, '0.142857', 1n], // 0.999999 -> 1
      [1n, '0', 0n],
      [60n, '1.666667', 100n], // 100.00002 -> 100
    ];
    for (const [quantity, price, expected] of cases) assert.equal(usageCost(quantity, parseUnitPrice(price)), expected, `${quantity} x ${price}`);
  });

  it('rounds each event on its own: two half-cent events cost two cents, not one', () => {
    const price = parseUnitPrice('0.5');
    assert.equal(usageCost(1n, price) + usageCost(1n, price), 2n);
    assert.equal(usageCost(2n, price), 1n);
  });

  it('stays exact at the largest quantity and price, far beyond float precision', () => {
    const cost = usageCost(BigInt(MAX_QUANTITY), MAX_UNIT_PRICE_MICROS);
    assert.equal(cost, 2_147_483_647_000_000n);
    assert.ok(cost <= BigInt(Number.MAX_SAFE_INTEGER));
    assert.equal(usageCost(BigInt(MAX_QUANTITY), 999_999n), 2_147_481_500n); // 2147483647 x 0.999999 = 2147481499.516353 -> ...500
  });

  it('refuses non-positive quantities and negative prices', () => {
    assert.throws(() => usageCost(0n, 1n), RangeError);
    assert.throws(() => usageCost(-1n, 1n), RangeError);
    assert.throws(() => usageCost(1n, -1n), RangeError);
  });

  it('keeps the entry types of the ledger and of its event contracts identical', () => {
    assert.deepEqual([...LEDGER_ENTRY_TYPES].sort(), Object.values(LedgerEntryType).sort());
  });
});
