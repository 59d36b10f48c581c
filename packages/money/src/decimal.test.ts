import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { divideRoundHalfUp, formatScaledDecimal, parseScaledDecimal } from './decimal.js';

describe('scaled decimals', () => {
  it('parse plain decimals exactly into scaled integers', () => {
    assert.equal(parseScaledDecimal('1.25', 6), 1_250_000n);
    assert.equal(parseScaledDecimal('0.000001', 6), 1n);
    assert.equal(parseScaledDecimal('3', 6), 3_000_000n);
    assert.equal(parseScaledDecimal('-0.5', 6), -500_000n);
    assert.equal(parseScaledDecimal('123456789012.123456', 6), 123_456_789_012_123_456n);
    assert.equal(parseScaledDecimal('7', 0), 7n);
  });

  it('refuse excess precision and anything that is not a plain decimal, instead of rounding', () => {
    for (const bad of ['0.0000001', '1.', '.5', '+1', '1e3', ' 1', '1,5', '', 'NaN', '0x10']) {
      assert.throws(() => parseScaledDecimal(bad, 6), RangeError, bad);
    }
  });

  it('format scaled integers without trailing zeros', () => {
    assert.equal(formatScaledDecimal(1_250_000n, 6), '1.25');
    assert.equal(formatScaledDecimal(1n, 6), '0.000001');
    assert.equal(formatScaledDecimal(3_000_000n, 6), '3');
    assert.equal(formatScaledDecimal(-500_000n, 6), '-0.5');
    assert.equal(formatScaledDecimal(0n, 6), '0');
    assert.equal(formatScaledDecimal(42n, 0), '42');
  });

  it('round half up (away from zero at exact halves) when dividing', () => {
    const cases: Array<[bigint, bigint, bigint]> = [
      [5n, 10n, 1n],
      [4n, 10n, 0n],
      [15n, 10n, 2n],
      [25n, 10n, 3n],
      [24_999n, 10_000n, 2n],
      [25_000n, 10_000n, 3n],
      [-25n, 10n, -3n],
      [-24n, 10n, -2n],
      [0n, 7n, 0n],
      [1_000_000n, 1_000_000n, 1n],
      [499_999n, 1_000_000n, 0n],
      [500_000n, 1_000_000n, 1n],
      [2n ** 70n + 1n, 2n, 2n ** 69n + 1n],
    ];
    for (const [numerator, denominator, expected] of cases) {
      assert.equal(divideRoundHalfUp(numerator, denominator), expected, `${numerator}/${denominator}`);
    }
    assert.throws(() => divideRoundHalfUp(1n, 0n), RangeError);
  });
});
