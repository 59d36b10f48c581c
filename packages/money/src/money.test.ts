import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Money, isCurrencyCode, isValidIban, minorUnitExponent, normalizeIban } from './index.js';

describe('Money', () => {
  it('keeps exact integer minor units beyond the float range', () => {
    const big = Money.of(9_007_199_254_740_993n, 'EUR');
    assert.equal(big.plus(Money.of(1, 'EUR')).amountMinor, 9_007_199_254_740_994n);
  });

  it("formats minor units by the currency's exponent", () => {
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

describe('IBAN', () => {
  it('accepts valid IBANs (spaces and case ignored) and refuses wrong check digits and shapes', () => {
    assert.equal(isValidIban('DE89 3704 0044 0532 0130 00'), true);
    assert.equal(isValidIban('de89370400440532013000'), true);
    assert.equal(isValidIban('AT611904300234573201'), true);
    assert.equal(isValidIban('DE88370400440532013000'), false);
    assert.equal(isValidIban('DE89'), false);
    assert.equal(isValidIban(''), false);
    assert.equal(normalizeIban('de89 3704'), 'DE893704');
  });
});
