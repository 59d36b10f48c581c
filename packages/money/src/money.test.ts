import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Money, isCurrencyCode, minorUnitExponent } from './index.js';

describe('Money', () => {
  it('keeps exact integer minor units beyond the float range', () => {
    const big = Money.of(9_007_199_254_740_993n, 'EUR');
    assert.equal(big.plus(Money.of(1, 'EUR')).amountMinor, 9_007_199_254_740_994n);
  });

  it('formats minor units by the currency\'s exponent', () => {
    assert.equal(Money.of(1250, 'EUR').toDecimalString(), '12.50');
    assert.equal(Money.of(-5, 'EUR').toDecimalString(), '-0.05');
    assert.equal(Money.of(1250, 'JPY').toDecimalString(), '1250');
    assert.equal(Money.of(1250, 'KWD').toDecimalString(), '1.250');
  });

  it('refuses to add different currencies', () => {
    assert.throws(() => Money.of(1, 'EUR').plus(Money.of(1, 'USD')), /Currency mismatch/);
  });

  it('refuses fractional or unsafe minor units instead of rounding them', () => {
    assert.throws(() => Money.of(1.5, 'EUR'), /safe integer/);
    assert.throws(() => Money.of('12.5', 'EUR'), /integer/);
    assert.throws(() => Money.of(1, 'EUX'), /Unknown currency/);
  });

  it('knows ISO 4217 codes and their minor units', () => {
    assert.ok(isCurrencyCode('CHF'));
    assert.ok(!isCurrencyCode('eur'));
    assert.equal(minorUnitExponent('JPY' as never), 0);
  });
});
